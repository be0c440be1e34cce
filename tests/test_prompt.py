"""Where the code comes from: --mfa-command, and the prompt on the real terminal (a pty)."""

from __future__ import annotations

import json
import os
import pty
import stat
import sys
from pathlib import Path

import pexpect
import pytest

from mfa_env import prompt
from mfa_env.errors import MfaEnvError
from tests.helpers import IamUser, mfa_env


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "otp"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_mfa_command_supplies_the_code(user: IamUser, tmp_path: Path):
    otp = _script(tmp_path, 'echo "Touch your key..." >&2; echo "code: 123456"')
    done = mfa_env(user.name, "-s", "bash", "--mfa-command", f"{otp} --account 'aws prod'")
    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    assert "Touch your key" in done.stderr  # its own prompts reach the user


def test_mfa_command_from_the_environment(user: IamUser, tmp_path: Path):
    otp = _script(tmp_path, "echo 123456")
    done = mfa_env(user.name, "-s", "bash", env={**os.environ, "MFA_ENV_MFA_COMMAND": str(otp)})
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("exit 3", "exit status 3"),
        ("echo no code here", "printed no six-digit code"),
        ("echo 123456 654321", "more than one"),
    ],
)
def test_mfa_command_failures_are_one_line(tmp_path: Path, body: str, words: str):
    with pytest.raises(MfaEnvError, match=words):
        prompt.from_command(str(_script(tmp_path, body)))


def test_mfa_command_is_stopped_when_it_hangs(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(prompt, "MFA_COMMAND_TIMEOUT", 1)
    with pytest.raises(MfaEnvError, match="gave no code within 1 s"):
        prompt.from_command(str(_script(tmp_path, "sleep 30")))


def test_mfa_command_is_not_run_through_a_shell(tmp_path: Path):
    marker = tmp_path / "ran"
    with pytest.raises(MfaEnvError, match="not found"):
        prompt.from_command(f"nonexistent-otp; touch {marker}")
    assert not marker.exists()


def _spawn(tmp_path: Path, *args: str) -> tuple[pexpect.spawn, Path]:
    """mfa-env on a real pseudo-terminal, its stdout captured by $(…) as a user's eval does."""
    out = tmp_path / "stdout"
    cmd = " ".join([sys.executable, "-m", "mfa_env", *args])
    child = pexpect.spawn(
        "bash", ["--norc", "-c", f'printf %s "$({cmd})" > {out}'], encoding="utf-8", timeout=30
    )
    return child, out


def test_the_prompt_asks_on_the_terminal_and_never_on_stdout(user: IamUser, tmp_path: Path):
    child, out = _spawn(tmp_path, user.name, "-s", "bash")
    child.expect("MFA code for arn:aws:iam::")
    child.sendline("12 34 56")  # spaces, as some apps show the code, are dropped
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    text = out.read_text()
    assert "export AWS_SESSION_TOKEN=" in text
    assert "MFA code" not in text


def test_a_wrong_shape_is_asked_again(user: IamUser, tmp_path: Path):
    child, _out = _spawn(tmp_path, user.name, "-s", "bash")
    child.expect("MFA code for")
    child.sendline("12345")
    child.expect("six digits")
    child.expect("MFA code for")
    child.sendline("123456")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.parametrize(("key", "words"), [("intr", "cancelled"), ("eof", "end of input")])
def test_ctrl_c_and_ctrl_d_end_cleanly(user: IamUser, tmp_path: Path, key: str, words: str):
    child, out = _spawn(tmp_path, user.name, "-s", "bash")
    child.expect("MFA code for")
    child.sendintr() if key == "intr" else child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert words in child.before
    assert "Traceback" not in child.before
    if key == "eof":
        # Ctrl-C stops the whole foreground job, the evaluating shell too; end of input does not,
        # and the shell then sees only the failing statement ($(…) drops the newline).
        assert out.read_text() == "false"


def test_the_prompt_is_on_the_terminal_when_stdout_and_stderr_are_files(
    user: IamUser, tmp_path: Path
):
    """As botocore runs a credential_process: both streams captured, the terminal still there."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    cmd = [sys.executable, "-m", "mfa_env", "--format", "json", "--serial", user.serial, user.name]
    child = pexpect.spawn(
        "bash",
        ["--norc", "-c", f'exec "$@" > {out} 2> {err}', "bash", *cmd],
        encoding="utf-8",
        timeout=30,
    )
    child.expect(f"MFA code for {user.serial}: ")
    child.sendline("12345")
    child.expect("the code must be six digits")
    child.expect("MFA code for")
    child.sendline("123456")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, err.read_text()
    assert json.loads(out.read_text())["Version"] == 1
    assert "MFA code" not in err.read_text()
    assert "six digits" not in err.read_text()


def test_ctrl_c_with_stderr_captured_ends_the_prompt_line(user: IamUser, tmp_path: Path):
    err = tmp_path / "stderr"
    cmd = [sys.executable, "-m", "mfa_env", "--format", "json", user.name]
    child = pexpect.spawn(
        "bash", ["--norc", "-c", f'exec "$@" 2> {err}', "bash", *cmd], encoding="utf-8", timeout=30
    )
    child.expect("MFA code for")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.before.endswith("\r\n")  # the prompt's line is ended on the terminal
    assert "cancelled at the MFA prompt" in err.read_text()
    assert "Traceback" not in err.read_text()


def test_a_hostile_label_is_escaped_on_the_terminal():
    """In process, on a pseudo-terminal pair: the serial may come from IAM."""
    leader, follower = pty.openpty()
    try:
        os.write(leader, b"123456\n")
        assert prompt._ask(follower, "arn\x1b]0;pwned\x07\u202e\x9b2J") == "123456"
        screen = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert "MFA code for arn\\x1b]0;pwned\\x07\\u202e\\x9b2J: " in screen
    assert not {"\x1b", "\x07", "\u202e", "\x9b"}.intersection(screen)
