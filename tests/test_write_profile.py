"""--write-profile through the real command: the seed script's workflow, done safely."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IamUser, mfa_env, require, snapshot

OTHER = "# my keys\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n"


def test_write_profile_then_use_it_by_name(user: IamUser, isolate: Path):
    creds = isolate / ".aws" / "credentials"
    creds.write_text(creds.read_text() + OTHER)
    before = creds.read_bytes()
    script = (
        f'eval "$({sys.executable} -m mfa_env -w mfa {user.name} 123456)" || exit 9\n'
        'printf %s "$AWS_SESSION_TOKEN"'
    )
    done = subprocess.run([require("bash"), "--norc", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote [mfa] to ~/.aws/credentials" in done.stderr
    after = creds.read_bytes()
    assert after.startswith(before)  # every byte that was there is still there
    assert creds.stat().st_mode & 0o777 == 0o644  # the user's mode is kept, with a warning:
    assert "can be read or changed by group or others" in done.stderr
    import boto3

    frozen = boto3.Session(profile_name="mfa").get_credentials().get_frozen_credentials()
    assert frozen.token == done.stdout
    again = mfa_env("-w", "mfa", user.name, "-s", "bash")  # cached: the file is left alone
    assert again.returncode == 0, again.stderr
    assert creds.read_bytes() == after


def test_a_terminal_gets_the_written_line_and_no_secret(user: IamUser, isolate: Path):
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mfa_env", "-w", "mfa", user.name, "123456", "-s", "bash"],
            stdout=follower,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "wrote [mfa] to ~/.aws/credentials; new session" in stderr
    assert "valid until" in stderr
    assert "stdout is a terminal" not in stderr  # the profile is what was asked for
    assert "aws_session_token" not in stderr


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("default", "source"),  # the source profile itself
        ("other", "long-term"),  # a section with long-term keys
    ],
)
def test_refusals_cost_no_code_and_change_nothing(
    user: IamUser, isolate: Path, name, words, dead_url: str
):
    creds = isolate / ".aws" / "credentials"
    creds.write_text(creds.read_text() + OTHER)
    before = creds.read_bytes()
    env = {**os.environ, "AWS_ENDPOINT_URL": dead_url}  # refused before any call
    done = mfa_env("-w", name, user.name, "123456", "-s", "bash", env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert words in lines[0]
    assert done.stdout == "false\n"
    assert creds.read_bytes() == before


def test_a_held_lock_fails_before_a_code_is_asked_for(
    user: IamUser, isolate: Path, dead_url: str, tmp_path: Path
):
    """Another writer holds the credentials file's lock: -w fails at once, naming it, before the
    code source runs or STS is reached, and the session cache is as it was."""
    creds = isolate / ".aws" / "credentials"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); "
            "print('held', flush=True); sys.stdin.read()",
            f"{creds}.lock",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        ran = tmp_path / "code-asked"
        command = f"sh -c 'touch {ran}; echo 123456'"
        cache_before = snapshot(isolate / ".cache")
        env = {**os.environ, "AWS_ENDPOINT_URL": dead_url}
        done = mfa_env("-w", "mfa", "--mfa-command", command, user.name, "-s", "bash", env=env)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert f"is locked by process {holder.pid}" in lines[0]
        assert done.stdout == "false\n"
        assert not ran.exists()  # the code was never asked for
        assert snapshot(isolate / ".cache") == cache_before
    finally:
        holder.kill()
        holder.wait()
