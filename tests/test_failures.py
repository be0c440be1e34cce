"""Every failure: exit 1 (2 for usage), one line on stderr, `false` alone on stdout, eval fails,
no secret shown, and no file changed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests import hostile
from tests.error_matrix import CASES, LONG_TERM_SECRET, Case, with_table
from tests.helpers import (
    ROOT,
    make_user,
    mfa_env,
    no_tty,
    require,
    snapshot,
    write_credentials,
)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_is_clean(case: Case, isolate: Path, tmp_path: Path, dead_url: str):
    case.setup(isolate)
    before = snapshot(isolate)
    with hostile.responder(case.replies) as server:
        url = server.url if case.endpoint == "hostile" else dead_url
        env = {**os.environ, "AWS_ENDPOINT_URL": url, **case.env}
        shell = [] if "MFA_ENV_SHELL" in case.env else ["--shell", "bash"]
        # Run it under setsid so /dev/tty cannot be opened: no terminal, as in CI or direnv.
        start = time.monotonic()
        done = no_tty(*shell, *case.args, env=env)
        elapsed = time.monotonic() - start
    assert done.returncode == case.exit, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mfa-env: error: ")
    assert case.words in lines[0]
    assert "Traceback" not in done.stderr
    assert LONG_TERM_SECRET not in done.stderr
    assert done.stdout == case.stdout
    # The documented bound: each call has CALL_DEADLINE (12 s) as a whole, retries included.
    assert elapsed < 15, f"took {elapsed:.1f} s"
    after = snapshot(isolate)
    if case.keeps_session:
        after = {k: v for k, v in after.items() if not k.startswith(".cache/mfa-env/session-")}
    assert after == before, "a file was changed"
    # The statement makes the user's eval fail, so `eval "$(mfa-env …)" || …` sees it.
    if case.stdout:
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


def test_the_troubleshooting_table_is_the_error_matrix():
    page = (ROOT / "docs" / "troubleshooting.md").read_text()
    assert page == with_table(page), (
        "run: python -m tests.error_matrix --write docs/troubleshooting.md"
    )
