"""It cannot hurt its user: file faults lose nothing, and no secret leaks anywhere it should not be.

Each file-fault case asserts that every byte of the user's data is intact afterwards, and that the
session still reaches the user where it could be had.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import IamUser, make_role, mfa_env, no_tty, on_terminal, snapshot


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a directory unwritable even for root (the immutable flag), or by its mode otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(mode)


def _limit_file_size(size: int):
    def preexec() -> None:
        # Without this, the kernel kills the writer with SIGXFSZ instead of failing the write.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return preexec


# -- file faults ------------------------------------------------------------------------------


def test_unwritable_cache_still_prints_the_session(user: IamUser, isolate: Path):
    cache = isolate / ".cache" / "mfa-env"
    cache.mkdir(parents=True, mode=0o700)
    before = snapshot(isolate)
    with read_only(cache):
        done = no_tty(user.name, "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    assert "warning: could not write the session cache" in done.stderr
    assert snapshot(isolate) == before


def test_cache_write_beyond_the_file_size_limit_is_a_warning(user: IamUser, isolate: Path):
    before = snapshot(isolate)
    done = no_tty(user.name, "123456", "-s", "bash", preexec_fn=_limit_file_size(64))
    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    assert "could not write the session cache" in done.stderr
    assert snapshot(isolate) == before  # no half-written entry, no temporary file left
    assert not list((isolate / ".cache" / "mfa-env").iterdir())


def test_write_profile_beyond_the_file_size_limit_loses_nothing(user: IamUser, isolate: Path):
    creds = isolate / ".aws" / "credentials"
    others = "".join(f"# comment\n[other{i}]\naws_access_key_id = X\n" for i in range(3))
    creds.write_text(creds.read_text() + others)
    before = creds.read_bytes()
    mfa_env(user.name, "123456", "-s", "bash")  # cache the session first
    done = no_tty(user.name, "-w", "mfa", "-s", "bash", preexec_fn=_limit_file_size(len(before)))
    assert done.returncode == 1
    assert "left unchanged" in done.stderr
    assert done.stdout == "false\n"
    assert creds.read_bytes() == before
    assert sorted(p.name for p in creds.parent.iterdir()) == ["credentials", "credentials.lock"]


def test_read_only_aws_directory_refuses_cleanly(user: IamUser, isolate: Path):
    aws = isolate / ".aws"
    before = snapshot(aws)
    with read_only(aws):
        done = no_tty(user.name, "123456", "-w", "mfa", "-s", "bash")
    assert done.returncode == 1, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == "false\n"
    assert snapshot(aws) == before
    # Without --write-profile, ~/.aws is only read: the same state gives a session.
    with read_only(aws):
        done = no_tty(user.name, "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr


def test_dangling_symlink_credentials_file(user: IamUser, isolate: Path):
    """No source keys there: a clear error. With keys in the environment, -w writes through."""
    creds = isolate / ".aws" / "credentials"
    creds.unlink()
    target = isolate / "dotfiles" / "aws-credentials"
    creds.symlink_to(target)
    done = no_tty(user.name, "123456", "-s", "bash")
    assert done.returncode == 1
    assert "no AWS credentials found" in done.stderr
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": user.access_key_id,
        "AWS_SECRET_ACCESS_KEY": user.secret_access_key,
    }
    done = no_tty(user.name, "123456", "-w", "mfa", "-s", "bash", env=env)
    assert done.returncode == 0, done.stderr
    assert creds.is_symlink()
    assert os.readlink(creds) == str(target)
    assert "[mfa]" in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600


def test_new_files_are_private_under_umask_000(user: IamUser, isolate: Path):
    (isolate / ".aws" / "credentials").unlink()
    (isolate / ".aws").rmdir()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": user.access_key_id,
        "AWS_SECRET_ACCESS_KEY": user.secret_access_key,
    }
    done = no_tty(
        user.name, "123456", "-w", "mfa", "-s", "bash", env=env, preexec_fn=lambda: os.umask(0)
    )
    assert done.returncode == 0, done.stderr
    for directory in (isolate / ".aws", isolate / ".cache" / "mfa-env"):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    for path in [isolate / ".aws" / "credentials", *(isolate / ".cache" / "mfa-env").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o600, path


# -- the secrets sweep ------------------------------------------------------------------------


def _secrets_of(json_text: str) -> set[str]:
    data = json.loads(json_text)
    return {data["SecretAccessKey"], data["SessionToken"]}


def test_no_secret_leaks_on_any_path(user: IamUser, isolate: Path, moto_url: str, tmp_path: Path):
    """Every path: new, cached, role, --write-profile, --debug, errors, --mfa-command and exec.

    No long-term secret, session secret or token may appear on stderr, in any file but the cache
    entries and the credentials file, or in any child process's argv.
    """
    role = make_role(moto_url, f"sweep-{user.name}")
    argv_log = tmp_path / "argv.log"
    otp = tmp_path / "otp"
    otp.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" >> {argv_log}\necho 123456\n')
    otp.chmod(0o755)
    child = f"cat /proc/$$/cmdline >> {argv_log}; echo >> {argv_log}"

    runs = [
        [user.name, "123456", "-s", "bash", "--debug"],  # new
        [user.name, "-s", "fish", "--debug"],  # cached
        [user.name, "--refresh", "--mfa-command", f"{otp} --arg", "-s", "pwsh", "--debug"],
        [user.name, "--role-arn", role, "-s", "bash", "--debug"],  # role, from the MFA session
        [user.name, "-w", "mfa", "-s", "bash", "--debug"],  # --write-profile
        [user.name, "-w", "default", "-s", "bash"],  # an error: the source profile
        [user.name, "--role-arn", "nope", "-s", "bash"],  # a usage error
        [user.name, "--debug", "--", "sh", "-c", child],  # exec
        [user.name, "--format", "dotenv"],
    ]
    stderr = ""
    for args in runs:
        done = no_tty(*args)
        stderr += done.stderr
    secrets = {user.secret_access_key}
    secrets |= _secrets_of(mfa_env(user.name, "--format", "json").stdout)
    secrets |= _secrets_of(mfa_env(user.name, "--role-arn", role, "--format", "json").stdout)
    assert "debug:" in stderr  # the sweep did see debug output
    assert "wrote [mfa]" in stderr
    assert argv_log.read_text().count("123456") == 0  # the children's argv were logged
    assert "--arg" in argv_log.read_text()
    for secret in secrets:
        assert secret not in stderr, "a secret reached stderr"
        assert secret not in argv_log.read_text(), "a secret reached a child's argv"
    allowed = {".aws/credentials"}
    for name, data in snapshot(isolate).items():
        if name in allowed or name.startswith(".cache/mfa-env/session-"):
            continue
        for secret in secrets:
            assert secret.encode() not in data, f"a secret was written to {name}"


@pytest.mark.parametrize("fmt", ["shell", "json", "dotenv"])
def test_a_terminal_never_gets_a_secret(user: IamUser, fmt: str):
    secrets = _secrets_of(mfa_env(user.name, "123456", "--format", "json").stdout)
    status, screen, _ = on_terminal(user.name, "--format", fmt, "-s", "bash", stderr_too=True)
    assert status == 0
    # The summary, or for a credential_process (silent on success) how to use it.
    said = b"stdout is a terminal" if fmt == "json" else b"reused the cached session"
    assert said in screen
    for secret in secrets:
        assert secret.encode() not in screen
