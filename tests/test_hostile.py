"""An endpoint that returns credential values built to break quoting: the session still comes out
exactly, in every real shell, and nothing in it ever runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mfa_env import shells
from tests import hostile
from tests.error_matrix import keys
from tests.helpers import FORBIDDEN, no_tty
from tests.shellrun import IDIOMS, READERS, eval_in_shell

MARKER = "mfa_env_pwned"
NASTY = {
    "key": "ASIA'$(touch mfa_env_pwned)'",
    "secret": "s3cr3t\"`touch mfa_env_pwned`\\'\u2019; touch mfa_env_pwned #",
    "token": "tok\nen;$HOME|%PATH%!x^&{touch mfa_env_pwned}\u2018\u201b",
}


def _run(url: str, *args: str) -> subprocess.CompletedProcess:
    return no_tty("--no-cache", "123456", *args, env={**os.environ, "AWS_ENDPOINT_URL": url})


# The one shell that cannot hold these values: tcsh, whose `eval "`…`"` turns the token's newline
# into a space (and may lose bytes of its non-ASCII text), so it must refuse them
# (test_shells.CANNOT_HOLD). Every other shell, POSIX ones, fish, elvish, xonsh and nushell,
# must carry them exactly.
REFUSED_BY = {"tcsh"}


@pytest.mark.parametrize("run", sorted([*READERS, *IDIOMS]))
def test_hostile_values_round_trip_or_are_refused(run: str, isolate: Path, tmp_path: Path):
    shell = IDIOMS[run].shell if run in IDIOMS else run
    keys(isolate)
    creds = hostile.credentials(NASTY["key"], NASTY["secret"], NASTY["token"])
    with hostile.responder({"GetSessionToken": hostile.ok("GetSessionToken", creds)}) as server:
        expected = json.loads(_run(server.url, "--format", "json").stdout)
        done = _run(server.url, "--shell", shell)
    assert (expected["AccessKeyId"], expected["SecretAccessKey"], expected["SessionToken"]) == (
        NASTY["key"],
        NASTY["secret"],
        NASTY["token"],
    )
    for secret in (NASTY["secret"], NASTY["token"]):
        assert secret not in done.stderr
    if shell in REFUSED_BY:
        # It says so, in one line, with nothing to evaluate but the failing statement.
        assert done.returncode == 1, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "AWS_" in done.stderr
        assert done.stdout == shells.lookup(shell).fail
    else:
        assert done.returncode == 0, done.stderr
        names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
        got = eval_in_shell(run, done.stdout, names, tmp_path)
        assert got == {
            "AWS_ACCESS_KEY_ID": NASTY["key"].encode(),
            "AWS_SECRET_ACCESS_KEY": NASTY["secret"].encode(),
            "AWS_SESSION_TOKEN": NASTY["token"].encode(),
        }
    assert not (tmp_path / MARKER).exists(), "a value was executed"


EVIL = "\u009b31m\u202eexe.txt\u2028mfa-env: error: forged\x7f"
DEVICE = "<member><UserName>u</UserName><SerialNumber>{}</SerialNumber><EnableDate>2026-01-01T00:00:00Z</EnableDate></member>"  # noqa: E501


@pytest.mark.parametrize(
    ("args", "replies"),
    [
        (
            ["--serial", "arn:aws:iam::123456789012:mfa/x"],
            {"GetSessionToken": hostile.error("AccessDenied", EVIL)},
        ),
        (
            [],
            {
                "GetCallerIdentity": hostile.ok(
                    "GetCallerIdentity",
                    f"<Arn>arn:aws:sts::123456789012:assumed-role/{EVIL}</Arn><UserId>A</UserId>"
                    "<Account>123456789012</Account>".encode(),
                )
            },
        ),
        (
            ["u"],
            {
                "ListMFADevices": hostile.ok(
                    "ListMFADevices",
                    (
                        "<MFADevices>"
                        + DEVICE.format("arn:aws:iam::123456789012:mfa/u")
                        + DEVICE.format(f"arn:aws:iam::123456789012:mfa/{EVIL}")
                        + "</MFADevices><IsTruncated>false</IsTruncated>"
                    ).encode(),
                    hostile.IAM_NS,
                )
            },
        ),
    ],
    ids=["aws-error-message", "caller-arn", "second-device-serial"],
)
def test_text_from_the_endpoint_reaches_stderr_escaped(isolate: Path, args, replies):
    keys(isolate)
    with hostile.responder(replies) as server:
        done = no_tty(
            "--shell", "bash", *args, "123456", env={**os.environ, "AWS_ENDPOINT_URL": server.url}
        )
    lines = done.stderr.split("\n")
    assert lines[-1] == ""
    assert not FORBIDDEN.intersection("".join(lines)), done.stderr
    assert "\\x9b31m\\u202eexe.txt" in done.stderr  # shown, escaped, not dropped
    assert "forged\\x7f" in done.stderr
    assert not any(line.startswith("mfa-env: error: forged") for line in lines)
