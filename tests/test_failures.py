"""Every failure: exit 1 (2 for usage), one line on stderr, `false` alone on stdout, eval fails,
no secret shown, and no file changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import hostile
from tests.conftest import free_port, make_user, mfa_env, require, snapshot, write_credentials

LONG_TERM_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzLONGTERM"


def _keys(home: Path, extra: str = "") -> None:
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIALONGTERMEXAMPLE\n"
        f"aws_secret_access_key = {LONG_TERM_SECRET}\n{extra}"
    )


@dataclass
class Case:
    id: str
    args: list[str]
    exit: int
    words: str
    setup: Callable[[Path], None] = _keys
    replies: dict[str, hostile.Reply] = field(default_factory=dict)
    endpoint: str = "hostile"  # or "closed" (nothing listens), or "moto"


CASES = [
    Case(
        "wrong-code",
        ["123456"],
        1,
        "MFA code was refused",
        replies={
            "GetSessionToken": hostile.error(
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
            )
        },
    ),
    Case(
        "bad-access-key",
        ["123456"],
        1,
        "does not know the access key",
        replies={
            "GetCallerIdentity": hostile.error(
                "InvalidClientTokenId", "The security token included in the request is invalid."
            )
        },
    ),
    Case(
        "bad-secret-key",
        ["--serial", "arn:aws:iam::123456789012:mfa/x", "123456"],
        1,
        "secret key",
        replies={
            "GetSessionToken": hostile.error(
                "SignatureDoesNotMatch", "The request signature we calculated does not match."
            )
        },
    ),
    Case(
        "clock-skew",
        ["123456"],
        1,
        "clock",
        replies={
            "GetCallerIdentity": hostile.error(
                "SignatureDoesNotMatch",
                "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z",
            )
        },
    ),
    Case(
        "session-creds-as-source",
        ["123456"],
        1,
        "temporary credentials",
        setup=lambda home: _keys(home, "aws_session_token = stale-token\n"),
    ),
    Case("no-credentials", ["123456"], 1, "no AWS credentials", setup=lambda home: None),
    Case("unknown-profile", ["--profile", "nope", "123456"], 1, "profile 'nope' is not in"),
    Case(
        "malformed-config",
        ["123456"],
        1,
        "cannot parse ~/.aws/config",
        setup=lambda home: (_keys(home), (home / ".aws/config").write_text("region = x\n[oops\n")),
    ),
    Case(
        "malformed-credentials",
        ["123456"],
        1,
        "cannot parse ~/.aws/credentials",
        setup=lambda home: (
            (home / ".aws").mkdir() or (home / ".aws/credentials").write_text("junk\n")
        ),
    ),
    Case(
        "no-mfa-device",
        ["123456"],
        1,
        "has no virtual or hardware MFA device",
        replies={
            "ListMFADevices": hostile.ok(
                "ListMFADevices", b"<MFADevices/><IsTruncated>false</IsTruncated>", hostile.IAM_NS
            )
        },
    ),
    Case(
        "list-mfa-devices-denied",
        ["someone", "123456"],
        1,
        "pass --serial",
        replies={
            "ListMFADevices": hostile.error(
                "AccessDenied", "not authorized to perform: iam:ListMFADevices", ns=hostile.IAM_NS
            )
        },
    ),
    Case("endpoint-unreachable", ["123456"], 1, "cannot connect", endpoint="closed"),
    Case(
        "endpoint-silent",
        ["123456"],
        1,
        "did not answer in time",
        replies={"GetCallerIdentity": hostile.Reply(hang=30)},
    ),
    Case(
        "throttled",
        ["123456"],
        1,
        "throttling",
        replies={"GetCallerIdentity": hostile.error("Throttling", "Rate exceeded", 400)},
    ),
    Case(
        "server-error",
        ["123456"],
        1,
        "InternalFailure",
        replies={"GetCallerIdentity": hostile.error("InternalFailure", "oops", 500)},
    ),
    Case(
        "malformed-xml",
        ["123456"],
        1,
        "malformed",
        replies={"GetSessionToken": hostile.Reply(200, b"<GetSessionTokenResponse><unclosed")},
    ),
    Case(
        "no-credentials-in-answer",
        ["123456"],
        1,
        "no usable credentials",
        replies={"GetSessionToken": hostile.ok("GetSessionToken", b"")},
    ),
    Case("code-too-short", ["someone", "12345"], 2, "six digits"),
    Case("code-not-digits", ["someone", "12a456"], 2, "six digits"),
    Case("duration-too-long", ["-d", "200000", "123456"], 2, "between 900 and 129600"),
    Case("duration-not-a-number", ["-d", "1h", "123456"], 2, "whole number"),
    Case("unknown-option", ["--bogus"], 2, "No such option"),
    Case("too-many-arguments", ["a", "123456", "extra"], 2, "at most USER and CODE"),
    Case("u2f-serial", ["--serial", "arn:aws:iam::123456789012:u2f/user/x/k", "123456"], 2, "U2F"),
    Case("no-code-no-terminal", [], 1, "no terminal"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_is_clean(case: Case, isolate: Path, tmp_path: Path):
    case.setup(isolate)
    before = snapshot(isolate)
    with hostile.responder(case.replies) as server:
        url = server.url if case.endpoint == "hostile" else f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "AWS_ENDPOINT_URL": url}
        # Run it under setsid so /dev/tty cannot be opened: no terminal, as in CI or direnv.
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mfa_env", "--shell", "bash", *case.args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            start_new_session=True,
        )
        elapsed = time.monotonic() - start
    assert done.returncode == case.exit, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mfa-env: error: ")
    assert case.words in lines[0]
    assert "Traceback" not in done.stderr
    assert LONG_TERM_SECRET not in done.stderr
    assert done.stdout == "false\n"
    assert elapsed < 15, f"took {elapsed:.1f} s"
    assert snapshot(isolate) == before, "a file was changed"
    # The statement makes the user's eval fail, so `eval "$(mfa-env …)" || …` sees it.
    evaluated = subprocess.run(
        [require("bash"), "--norc", "-c", 'eval "$1"', "-", done.stdout], capture_output=True
    )
    assert evaluated.returncode != 0


def test_user_without_mfa_device_in_moto(moto_url: str, isolate: Path):
    made = make_user(moto_url, devices=0)
    write_credentials(isolate, made)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_url}
    done = mfa_env(made.name, "123456", "-s", "bash", env=env)
    assert done.returncode == 1
    assert f"user {made.name!r} has no virtual or hardware MFA device" in done.stderr
    assert done.stdout == "false\n"


def test_json_failure_leaves_stdout_empty(isolate: Path):
    done = mfa_env("--format", "json", "12345")
    assert done.returncode == 2
    assert done.stdout == ""
