"""Roles assumed with the MFA session (one code for every role), and exec mode."""

from __future__ import annotations

import configparser
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IamUser, make_role, no_tty


def caller_arn(env_statements: str) -> str:
    """GetCallerIdentity with the session the statements export, in a real bash."""
    script = (
        f"{env_statements}\n"
        f"{sys.executable} -c 'import boto3; "
        'print(boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"])\''
    )
    done = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def roles(user: IamUser, moto_url: str, isolate: Path) -> dict[str, str]:
    arns = {name: make_role(moto_url, f"{name}-{user.name}") for name in ("admin", "ops")}
    (isolate / ".aws" / "config").write_text(
        "".join(
            f"[profile {name}]\nrole_arn = {arn}\nsource_profile = default\n"
            f"mfa_serial = {user.serial}\nrole_session_name = {name}-session\n"
            for name, arn in arns.items()
        )
    )
    return arns


def test_one_code_serves_every_role(user: IamUser, roles: dict[str, str], dead_url: str):
    first = no_tty("--profile", "admin", "123456", "-s", "bash")
    assert first.returncode == 0, first.stderr
    assert f"new session for role {roles['admin']}" in first.stderr
    admin_arn = caller_arn(first.stdout)
    assert admin_arn.startswith("arn:aws:sts::123456789012:assumed-role/admin-")
    assert admin_arn.endswith("/admin-session")

    # No code and no terminal: the cached MFA session assumes the second role.
    second = no_tty("--profile", "ops", "-s", "bash")
    assert second.returncode == 0, second.stderr
    assert "(from the MFA session)" in second.stderr
    ops_arn = caller_arn(second.stdout)
    assert ops_arn.startswith("arn:aws:sts::123456789012:assumed-role/ops-")
    assert ops_arn != admin_arn

    # And each role session is cached on its own: no network at all the third time.
    offline = {**os.environ, "AWS_ENDPOINT_URL": dead_url}
    third = no_tty("--profile", "admin", "-s", "bash", env=offline)
    assert third.returncode == 0, third.stderr
    assert f"reused the cached session for role {roles['admin']}" in third.stderr
    assert third.stdout == first.stdout


def test_role_arn_option(user: IamUser, moto_url: str):
    arn = make_role(moto_url, f"cli-{user.name}")
    done = no_tty(user.name, "123456", "--role-arn", arn, "--role-session-name", "me", "-s", "bash")
    assert done.returncode == 0, done.stderr
    assert caller_arn(done.stdout).endswith(f"assumed-role/cli-{user.name}/me")


def test_a_long_role_session_is_assumed_with_the_code(user: IamUser, roles: dict[str, str]):
    # Over an hour cannot be had by chaining: AssumeRole takes the serial and code itself.
    done = no_tty("--profile", "admin", "-d", "7200", "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr
    assert "(from the MFA session)" not in done.stderr
    assert caller_arn(done.stdout).startswith("arn:aws:sts::123456789012:assumed-role/admin-")


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = b\n"
            "[profile b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = a\n",
            "source_profile loops (a -> b -> a)",
        ),
        (
            "[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = temp\n",
            "holds temporary credentials",
        ),
        ("[profile a]\nrole_arn = arn:aws:iam::123456789012:role/a\n", "no source_profile"),
    ],
    ids=["loop", "temporary-source", "no-source"],
)
def test_broken_role_chains_are_one_clear_error(user: IamUser, isolate: Path, config, words):
    (isolate / ".aws" / "config").write_text(config)
    with open(isolate / ".aws" / "credentials", "a") as f:
        f.write(
            "[temp]\naws_access_key_id = ASIAX\naws_secret_access_key = x\naws_session_token = t\n"
        )
    done = no_tty("--profile", "a", "123456", "-s", "bash")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert words in lines[0]


def test_exec_runs_the_command_with_the_session_and_returns_its_status(user: IamUser):
    parent = {**os.environ, "AWS_PROFILE": "default", "AWS_SECURITY_TOKEN": "stale"}
    script = (
        'test -n "$AWS_SESSION_TOKEN" && test -n "$MFA_ENV_SESSION" '
        '&& test -z "${AWS_PROFILE+x}${AWS_SECURITY_TOKEN+x}" && exit 7'
    )
    done = no_tty(user.name, "123456", "--", "sh", "-c", script, env=parent)
    assert done.returncode == 7, done.stderr
    assert done.stdout == ""
    assert "AWS_SESSION_TOKEN" not in os.environ  # the parent never sees it


def test_exec_inside_exec_is_refused_unless_refresh(user: IamUser):
    nested = f"{sys.executable} -m mfa_env {user.name} -- true"
    done = no_tty(user.name, "123456", "--", "sh", "-c", nested)
    assert done.returncode == 2
    assert "already inside an mfa-env session" in done.stderr
    again = no_tty(
        user.name, "123456", "--", "sh", "-c", nested.replace(" --", " --refresh 123456 --")
    )
    assert again.returncode == 0, again.stderr


def test_exec_of_a_missing_command_is_one_line_and_127(user: IamUser, tmp_path: Path):
    """As shells say (POSIX 2.8.2): 127 for a command not found, 126 for one that cannot run."""
    done = no_tty(user.name, "123456", "--", "no-such-command-xyz")
    assert done.returncode == 127
    assert done.stderr.splitlines()[-1] == (
        "mfa-env: error: cannot run 'no-such-command-xyz': not found"
    )
    assert done.stdout == ""  # stdout is the command's, never a statement
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    done = no_tty(user.name, "--", str(script))
    assert done.returncode == 126
    assert "Permission denied" in done.stderr.splitlines()[-1]


def test_exec_gives_the_command_default_signal_dispositions(user: IamUser):
    # /proc/PID/status: SigIgn is a hex mask, bit N-1 for signal N (SIGPIPE 13, SIGXFSZ 25).
    done = no_tty(user.name, "123456", "--", "sh", "-c", "grep SigIgn /proc/$$/status")
    assert done.returncode == 0, done.stderr
    ignored = int(done.stdout.split()[1], 16)
    assert not ignored & (1 << (13 - 1)), done.stdout  # SIGPIPE
    assert not ignored & (1 << (25 - 1)), done.stdout  # SIGXFSZ


def test_a_pipeline_in_exec_mode_ends(user: IamUser):
    # With SIGPIPE ignored, `yes` would write into a closed pipe forever.
    done = no_tty(user.name, "123456", "--", "sh", "-c", "yes | head -1", timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "y\n"


def test_write_profile_works_in_exec_mode(user: IamUser, isolate: Path):
    done = no_tty("-w", "mfa", "-r", "eu-central-1", user.name, "123456", "--", "true")
    assert done.returncode == 0, done.stderr
    written = configparser.RawConfigParser()
    written.read(isolate / ".aws" / "credentials")
    assert written.get("mfa", "region") == "eu-central-1"
    assert written.get("mfa", "aws_session_token")
    assert "wrote [mfa]" in done.stderr


def test_exec_keeps_what_the_user_ignored(user: IamUser):
    # Under nohup SIGHUP is ignored; the command must stay immune to hangups.
    done = no_tty(
        user.name, "123456", "--", "sh", "-c", "grep SigIgn /proc/$$/status",
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[1], 16) & (1 << (signal.SIGHUP - 1))
