"""Where the code comes from: --mfa-command, and the prompt on the real terminal (a pty)."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from mfa_env import prompt
from mfa_env.errors import MfaEnvError, UsageError
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


def test_a_background_child_holding_stdout_is_not_waited_for(user: IamUser, tmp_path: Path):
    """The real command end to end: `sleep 300 &` keeps the pipe open long after the code."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = "sh -c 'echo 123456; sleep 300 &'"
    args = ["--mfa-command", command, "--serial", user.serial, user.name, "--format", "json"]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        # Its own session, so that the stray sleep can be found, and cleaned up, below.
        proc = subprocess.Popen(
            [sys.executable, "-m", "mfa_env", *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        status = proc.wait(timeout=60)  # waiting for the sleep would take 300 s
        # The order of events, not a time: mfa-env is done while the sleep still runs.
        stray_alive = _group_alive(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert status == 0, err.read_text()
    assert stray_alive, "mfa-env ended only after the command's child did"
    assert json.loads(out.read_text())["Version"] == 1


def _group_alive(group: int) -> bool:
    """Whether a process of the group is still running (not a zombie waiting to be reaped)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                return True
    return False


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize(
    ("command", "secrets"),
    [
        ("oathtool --totp -b 'SEEDSEED", ["oathtool", "totp", "SEEDSEED", "'"]),
        ("sh -c 'exit 3' SEEDSEED", ["SEEDSEED", "exit 3"]),
    ],
)
def test_no_message_shows_the_command_line(user: IamUser, command: str, secrets: list[str]):
    done = mfa_env(user.name, "--serial", user.serial, "--mfa-command", command)
    assert done.returncode != 0
    assert "--mfa-command" in done.stderr
    for secret in secrets:
        assert secret not in done.stderr


@contextlib.contextmanager
def _killed_afterwards(path: Path) -> Iterator[None]:
    """Kills the process whose pid the test's command wrote to PATH: a stray child of ours."""
    try:
        yield
    finally:
        if path.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(path.read_text()), signal.SIGKILL)


def test_the_code_is_taken_when_the_command_exits_though_a_child_holds_the_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Waiting for the pipe's end would run into this (the child sleeps 300 s): another message.
    monkeypatch.setattr(prompt, "MFA_COMMAND_TIMEOUT", 20)
    pid = tmp_path / "child.pid"
    otp = _script(tmp_path, f"echo 123456; sleep 300 & echo $! > {pid}")
    with _killed_afterwards(pid):
        assert prompt.from_command(str(otp)) == "123456"
        # The order of events: the code was taken while the child still held the pipe.
        assert _alive(int(pid.read_text()))


def test_what_a_leftover_child_prints_after_the_command_exits_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The child prints its code only once this test lets it (a line into a FIFO), which is
    after from_command has answered: an answer that waited for the child never comes."""
    monkeypatch.setattr(prompt, "MFA_COMMAND_TIMEOUT", 20)
    gate, pid = tmp_path / "gate", tmp_path / "child.pid"
    os.mkfifo(gate)
    otp = _script(tmp_path, f"(read go < {gate}; echo 123456) & echo $! > {pid}")
    with _killed_afterwards(pid):
        with pytest.raises(MfaEnvError, match="printed no six-digit code"):
            prompt.from_command(str(otp))
        assert _alive(int(pid.read_text()))  # still waiting at the gate: it printed nothing
        with open(gate, "w") as opened:  # let it go, into a pipe nobody reads any more
            opened.write("go\n")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("printf 123456", "123456"),  # no newline: end of file ends the line
        ("echo 'code: 012345 (30 s left)'", "012345"),
        ("echo 1234567 12345; echo 654321", "654321"),  # a run of seven digits is no code
    ],
)
def test_mfa_command_output_shapes(tmp_path: Path, body: str, code: str):
    assert prompt.from_command(str(_script(tmp_path, body))) == code


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("echo 123456; sleep 0.3; echo 654321", "more than one"),  # the second comes later
        ("echo 123456; exit 1", "failed with exit status 1"),  # a failing tool's code is not used
        ("kill -TERM $$", "was killed by SIGTERM"),
    ],
)
def test_mfa_command_is_read_to_its_exit(tmp_path: Path, body: str, words: str):
    with pytest.raises(MfaEnvError, match=words):
        prompt.from_command(str(_script(tmp_path, body)))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("echo 123456; exec sleep 300", "printed a code but did not exit within 1 s"),
        ("exec >&-; exec sleep 300", "gave no code within 1 s"),  # stdout closed, still running
    ],
)
def test_mfa_command_that_does_not_exit_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, words: str
):
    """Stopped at the timeout (the message names it, from the product's own clock), and gone
    when from_command returns: killed and reaped, not left to sleep its 300 s."""
    monkeypatch.setattr(prompt, "MFA_COMMAND_TIMEOUT", 1)
    pid = tmp_path / "command.pid"
    with _killed_afterwards(pid):
        with pytest.raises(MfaEnvError, match=words):
            prompt.from_command(str(_script(tmp_path, f"echo $$ > {pid}; {body}")))
        assert not _alive(int(pid.read_text()))


def test_a_runaway_command_is_stopped():
    with pytest.raises(MfaEnvError, match="more than 64 KiB"):
        prompt.from_command("yes 1")


def test_mfa_command_that_cannot_run(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.write_text("echo 123456\n")
    with pytest.raises(MfaEnvError, match="is not executable"):
        prompt.from_command(str(plain))
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x7fELF\x00\x00")
    garbage.chmod(0o755)
    with pytest.raises(MfaEnvError, match="could not be run: Exec format error"):
        prompt.from_command(str(garbage))


def test_argv0_is_escaped_in_messages():
    with pytest.raises(MfaEnvError) as caught:
        prompt.from_command("'/nonexistent/\x1b]0;owned\x07\u202e' --seed SEEDSEED")
    message = str(caught.value)
    assert "'/nonexistent/\\x1b]0;owned\\x07\\u202e' was not found" in message
    assert not {"\x1b", "\x07", "\u202e"}.intersection(message)
    assert "SEEDSEED" not in message


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("oathtool --totp -b 'SEEDSEED", "could not be split"),
        ("oathtool --totp -b SEEDSEED\\", "could not be split"),
        ("  ", "is empty"),
    ],
)
def test_unusable_command_lines_are_usage_errors(command: str, words: str):
    with pytest.raises(UsageError, match=words) as caught:
        prompt.from_command(command)
    assert "SEEDSEED" not in str(caught.value)
    assert "oathtool" not in str(caught.value)


def _bash(*args: str) -> pexpect.spawn:
    """bash on a real pseudo-terminal, with Ctrl-C as a login terminal has it. A SIGINT that
    pytest inherited ignored (started with `&` from a script, or under nohup) would otherwise
    be ignored by all of them, and no ^C test could pass."""
    return pexpect.spawn(
        "bash",
        ["--norc", *args],
        encoding="utf-8",
        timeout=30,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _spawn(tmp_path: Path, *args: str) -> tuple[pexpect.spawn, Path]:
    """mfa-env on a real pseudo-terminal, its stdout captured by $(…) as a user's eval does."""
    out = tmp_path / "stdout"
    cmd = " ".join([sys.executable, "-m", "mfa_env", *args])
    return _bash("-c", f'printf %s "$({cmd})" > {out}'), out


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
    child = _bash("-c", f'exec "$@" > {out} 2> {err}', "bash", *cmd)
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
    child = _bash("-c", f'exec "$@" 2> {err}', "bash", *cmd)
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
        # The echo of the typed line and the prompt may arrive in separate reads, and late on
        # a busy machine: read until both are there (a generous bound only against a hang),
        # then whatever else is already waiting.
        screen = ""
        shown = "MFA code for arn\\x1b]0;pwned\\x07\\u202e\\x9b2J: "
        while not (shown in screen and "123456" in screen):
            assert select.select([leader], [], [], 30)[0], f"nothing more after {screen!r}"
            screen += os.read(leader, 4096).decode()
        while select.select([leader], [], [], 0)[0]:
            screen += os.read(leader, 4096).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert "MFA code for arn\\x1b]0;pwned\\x07\\u202e\\x9b2J: " in screen
    assert not {"\x1b", "\x07", "\u202e", "\x9b"}.intersection(screen)


def test_ctrl_c_while_the_mfa_command_runs_ends_cleanly(user: IamUser, tmp_path: Path):
    # It shares our terminal's foreground group: the interrupt reaches it and us alike.
    otp = _script(tmp_path, "echo 'Touch your key' >&2; sleep 30")
    child, _out = _spawn(tmp_path, user.name, "-s", "bash", "--mfa-command", str(otp))
    child.expect("Touch your key")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert f"cancelled while --mfa-command '{otp}' was running" in child.before
    assert "Traceback" not in child.before


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Python's own Ctrl-C, as mfa-env has it on a terminal, whatever pytest inherited."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_the_moment_the_command_starts_is_the_same_clean_cancel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The race behind the flaky test above, made certain: the interrupt arrives while Popen
    has the child but from_command does not yet. Sent to us alone, so the command itself runs
    on and only our clean-up can stop it."""
    real_popen = subprocess.Popen
    started: list[subprocess.Popen[bytes]] = []

    def popen_then_ctrl_c(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        os.kill(os.getpid(), signal.SIGINT)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen_then_ctrl_c)
    otp = _script(tmp_path, "exec sleep 30")
    try:
        with pytest.raises(MfaEnvError, match=re.escape(f"cancelled while --mfa-command '{otp}'")):
            prompt.from_command(str(otp))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped from_command as a KeyboardInterrupt")
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert started[0].returncode == -signal.SIGKILL  # stopped and reaped by us
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("ctrl_c_raises")
def test_ctrl_c_is_seen_while_a_command_that_closed_its_stdout_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """After end of file the command is waited for in steps that notice Ctrl-C: a tool that
    outlives the interrupt (here it is not even sent one) is stopped, not waited on. Missed,
    the run would end at the timeout with "gave no code" instead."""
    monkeypatch.setattr(prompt, "MFA_COMMAND_TIMEOUT", 10)
    # The pause puts the interrupt after end of file has been read, when not under load.
    otp = _script(tmp_path, "exec >&-; sleep 0.3; kill -INT $PPID; exec sleep 30")
    try:
        with pytest.raises(MfaEnvError, match="cancelled while"):
            prompt.from_command(str(otp))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped from_command as a KeyboardInterrupt")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_ctrl_c_stays_ignored(tmp_path: Path):
    """Started with SIGINT ignored (`&` in a script, nohup), mfa-env and its command stay so."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        otp = _script(tmp_path, "kill -INT $PPID; kill -INT $$; echo 123456")
        assert prompt.from_command(str(otp)) == "123456"
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_at_the_prompt_ends_with_130_so_what_follows_does_not_run(
    user: IamUser, tmp_path: Path
):
    """`mfa-env USER -- cmd; next`: Ctrl-C at the prompt ends mfa-env with 130, as shells end on
    SIGINT, and a script that checks the status stops. The pty stands in for the terminal; bash
    writes the status it saw."""
    status = tmp_path / "status"
    cmd = " ".join([sys.executable, "-m", "mfa_env", user.name, "--", "true"])
    # bash goes on after a child that handled SIGINT itself and exited (it did not die of it).
    child = _bash("-c", f"{cmd}; echo $? > {status}")
    child.expect("MFA code for")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert status.read_text() == "130\n"
    assert "mfa-env: error: cancelled at the MFA prompt" in child.before
