"""An endpoint that returns credential values built to break quoting: the session still comes out
exactly, in every real shell, and nothing in it ever runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import hostile
from tests.error_matrix import keys
from tests.helpers import no_tty
from tests.shellrun import IDIOMS, READERS, eval_in_shell

MARKER = "mfa_env_pwned"
NASTY = {
    "key": "ASIA'$(touch mfa_env_pwned)'",
    "secret": "s3cr3t\"`touch mfa_env_pwned`\\'\u2019; touch mfa_env_pwned #",
    "token": "tok\nen;$HOME|%PATH%!x^&{touch mfa_env_pwned}\u2018\u201b",
}


def _run(url: str, *args: str) -> subprocess.CompletedProcess:
    return no_tty("--no-cache", "123456", *args, env={**os.environ, "AWS_ENDPOINT_URL": url})


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
    if done.returncode != 0:
        # A shell that cannot hold such a value says so, in one line, with nothing to evaluate
        # but the failing statement.
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "AWS_" in done.stderr
        return
    names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
    got = eval_in_shell(run, done.stdout, names, tmp_path)
    assert got == {
        "AWS_ACCESS_KEY_ID": NASTY["key"].encode(),
        "AWS_SECRET_ACCESS_KEY": NASTY["secret"].encode(),
        "AWS_SESSION_TOKEN": NASTY["token"].encode(),
    }
    assert not (tmp_path / MARKER).exists(), "a value was executed"
    for secret in (NASTY["secret"], NASTY["token"]):
        assert secret not in done.stderr
