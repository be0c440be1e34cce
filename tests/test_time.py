"""Sessions over hours, end to end: the installed command under a clock moved forward
(faketime), against a local STS whose clock moves with it, with no code and no terminal."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests import hostile
from tests.helpers import detached, no_tty, require

ROLE = "arn:aws:iam::123456789012:role/ops"
SERIAL = "arn:aws:iam::123456789012:mfa/hostile-user"
KEYS = "[default]\naws_access_key_id = AKIALONGTERMTIME0001\naws_secret_access_key = s\n"
ROLE_PROFILE = (
    f"[profile ops]\nrole_arn = {ROLE}\nsource_profile = default\nmfa_serial = {SERIAL}\n"
)


class Clock:
    """The STS's idea of now: real time plus the same offset the command runs under."""

    def __init__(self) -> None:
        self.offset = 0
        self.issued = 0

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.offset)

    def credentials(self, form: dict[str, list[str]], action: str) -> hostile.Reply:
        self.issued += 1
        seconds = int(form.get("DurationSeconds", ["43200"])[0])
        ends = (self.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = hostile.credentials(key=f"ASIATIME{self.issued:012d}", expiration=ends)
        if action == "AssumeRole":
            body += (
                b"<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/ops/s</Arn>"
                b"<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
            )
        return hostile.ok(action, body)


@pytest.fixture
def sts(isolate: Path) -> Iterator[tuple[hostile.Responder, Clock]]:
    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "credentials").write_text(KEYS)
    (isolate / ".aws" / "config").write_text(ROLE_PROFILE)
    clock = Clock()
    replies = {
        action: (lambda form, action=action: clock.credentials(form, action))
        for action in ("GetSessionToken", "AssumeRole")
    }
    with hostile.responder(replies) as server:  # type: ignore[arg-type]
        yield server, clock


def later(server: hostile.Responder, clock: Clock, seconds: int, *args: str, url: str = ""):
    """mfa-env run `seconds` from now, by its own clock and the STS's alike (or against `url`)."""
    clock.offset = seconds
    env = {**os.environ, "AWS_ENDPOINT_URL": url or server.url}
    if not url:
        # Socket timeouts keep real time. Not against `url`, where botocore retries, and
        # libfaketime's sleep fails with EINVAL while the monotonic clock is real.
        env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1"
    argv = [require("faketime"), "-f", f"+{seconds}", sys.executable, "-m", "mfa_env", *args]
    return detached(argv, env)


def expiration(stdout: str) -> datetime:
    return datetime.fromisoformat(json.loads(stdout)["Expiration"].replace("Z", "+00:00"))


def test_a_role_is_renewed_from_the_mfa_session_55_minutes_on(sts):
    server, clock = sts
    first = later(server, clock, 0, "--profile", "ops", "--format", "json", "123456")
    assert first.returncode == 0, first.stderr
    assert server.calls == ["GetSessionToken", "AssumeRole"]

    done = later(server, clock, 55 * 60, "--profile", "ops", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert server.calls == ["GetSessionToken", "AssumeRole", "AssumeRole"]  # no new code
    left = expiration(done.stdout) - clock.now()
    assert left > timedelta(minutes=15)
    assert done.stderr == ""  # a credential_process succeeds in silence
    told = later(server, clock, 55 * 60, "--profile", "ops", "--format", "json", "--debug")
    assert "reused the cached session for role" in told.stderr  # --debug says the rest


def test_credential_process_hands_out_the_mfa_session_to_its_last_minutes(sts):
    server, clock = sts
    first = later(server, clock, 0, "--format", "json", "123456", "--serial", SERIAL)
    assert first.returncode == 0, first.stderr
    done = later(server, clock, 11 * 3600 + 52 * 60, "--format", "json", "--serial", SERIAL)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["AccessKeyId"] == json.loads(first.stdout)["AccessKeyId"]
    assert server.calls == ["GetSessionToken"]
    # And the shell, which wants 15 minutes, would ask for a code: with no terminal to ask on,
    # it takes the session still valid, with a warning; with --refresh it wants the code.
    shell = later(server, clock, 11 * 3600 + 52 * 60, "-s", "bash", "--serial", SERIAL)
    assert shell.returncode == 0, shell.stderr
    assert "no terminal to ask on, so the cached session is handed out" in shell.stderr
    fresh = later(server, clock, 11 * 3600 + 52 * 60, "-s", "bash", "--serial", SERIAL, "--refresh")
    assert fresh.returncode == 1
    assert "no terminal" in fresh.stderr
    assert server.calls == ["GetSessionToken"]


def test_a_900_second_session_is_reused_a_minute_later(sts):
    server, clock = sts
    first = later(server, clock, 0, "-d", "900", "-s", "bash", "123456", "--serial", SERIAL)
    assert first.returncode == 0, first.stderr
    done = later(server, clock, 60, "-s", "bash", "--serial", SERIAL)
    assert done.returncode == 0, done.stderr
    assert done.stdout == first.stdout
    assert "reused the cached session" in done.stderr
    assert server.calls == ["GetSessionToken"]


def test_a_role_of_900_seconds_keeps_a_long_mfa_session(sts):
    server, clock = sts
    first = no_tty(
        "--role-arn", ROLE, "-d", "900", "--serial", SERIAL, "-s", "bash", "123456",
        env={**os.environ, "AWS_ENDPOINT_URL": server.url},
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    # The next run, past the role session's reuse window, needs no code.
    done = later(server, clock, 12 * 60, "--role-arn", ROLE, "-d", "900", "--serial", SERIAL)
    assert done.returncode == 0, done.stderr
    assert server.calls == ["GetSessionToken", "AssumeRole", "AssumeRole"]


def test_50_minutes_into_a_role_with_sts_unreachable_the_cached_role_is_handed_out(sts, dead_url):
    """Renewal fails (the network is gone): the role session still has 10 minutes, so a
    credential_process gets it, with one warning, instead of an error the SDK would raise."""
    server, clock = sts
    first = later(server, clock, 0, "--profile", "ops", "--format", "json", "123456")
    assert first.returncode == 0, first.stderr
    done = later(server, clock, 50 * 60, "--profile", "ops", "--format", "json", url=dead_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == first.stdout
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, done.stderr
    assert "could not renew the role session (AssumeRole: cannot connect to" in warnings[0]
    assert "it ends in 9 min" in warnings[0] or "it ends in 10 min" in warnings[0]
    assert server.calls == ["GetSessionToken", "AssumeRole"]


def test_a_fresh_900_second_role_serves_ten_sdk_calls_with_one_assume_role(sts, isolate):
    """boto3 runs the credential_process on every call while a session lies inside its
    15-minute refresh window, as a 900 s role session always does: each run is a cache hit."""
    server, clock = sts
    with open(isolate / ".aws" / "config", "a") as f:
        f.write(
            "duration_seconds = 900\n"
            f"[profile ops-mfa]\ncredential_process = {sys.executable} -m mfa_env --profile ops "
            "--format json\n"
        )
    first = later(server, clock, 0, "--profile", "ops", "--format", "json", "123456")
    assert first.returncode == 0, first.stderr
    env = {"AWS_ENDPOINT_URL": server.url}
    script = (
        "import boto3\n"
        "client = boto3.Session(profile_name='ops-mfa').client('sts', region_name='us-east-1')\n"
        "for _ in range(10):\n"
        "    client.get_caller_identity()\n"
    )
    done = detached([sys.executable, "-c", script], {**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert server.calls.count("AssumeRole") == 1  # the first run's: none more
    assert server.calls.count("GetCallerIdentity") == 10
