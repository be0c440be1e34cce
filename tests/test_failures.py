"""Every failure: exit 1 (2 for usage), one line on stderr, `false` alone on stdout, eval fails,
no secret shown, and no file changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_env.sts import CALL_DEADLINE
from tests import hostile
from tests.error_matrix import CASES, LONG_TERM_SECRET, Case, with_table
from tests.helpers import (
    ROOT,
    detached,
    make_user,
    mfa_env,
    require,
    snapshot,
    write_credentials,
)

# What a failing run may spend past the call deadline, from the moment it gave up on the call
# to its exit: one line printed. Measured here in 50 runs with the other core busy: the drip
# case ended 11.994 to 12.006 s after its connection; a call that went on past its deadline (a
# retry, a second wait) costs seconds.
PAST_THE_DEADLINE = 1.0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_failure_is_clean(case: Case, isolate: Path, tmp_path: Path, dead_url: str):
    case.setup(isolate)
    before = snapshot(isolate)
    clock = tmp_path / "clock"
    with hostile.responder(case.replies) as server:
        url = server.url if case.endpoint == "hostile" else dead_url
        env = {**os.environ, "AWS_ENDPOINT_URL": url, **case.env}
        shell = [] if "MFA_ENV_SHELL" in case.env else ["--shell", "bash"]
        # Run it under setsid so /dev/tty cannot be opened: no terminal, as in CI or direnv.
        # Through tests/network_clock.py: the time on the network is read from inside the
        # process, not off this test's wall clock, which would also count start-up.
        argv = [sys.executable, str(ROOT / "tests" / "network_clock.py"), str(clock)]
        done = detached([*argv, *shell, *case.args], env=env)
        answered = list(server.answered)
    assert done.returncode == case.exit, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mfa-env: error: ")
    assert case.words in lines[0]
    assert "Traceback" not in done.stderr
    assert LONG_TERM_SECRET not in done.stderr
    assert done.stdout == case.stdout
    # The documented bound: each call has CALL_DEADLINE (12 s) as a whole, retries included;
    # no case here makes more than one slow call.
    on_the_network = network_time(clock)
    if on_the_network is not None:
        assert on_the_network < CALL_DEADLINE + PAST_THE_DEADLINE, f"{on_the_network:.2f} s"
    if case.id == "endpoint-drips":
        # Ended by the deadline while the endpoint was still sending (it would drip its answer
        # for 1000 s), and only then: not sooner than 12 s after the connection, less the
        # moments between the deadline's start and the connection (botocore signing the call).
        assert "GetCallerIdentity" not in answered, "the endpoint had finished its answer"
        assert on_the_network is not None
        assert on_the_network > CALL_DEADLINE - PAST_THE_DEADLINE, f"{on_the_network:.2f} s"
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


def network_time(clock: Path) -> float | None:
    """Seconds from the run's first connection to its end, as tests/network_clock.py noted them
    inside the process; None for a run that connected nowhere."""
    events = [line.split() for line in clock.read_text().splitlines()]
    connects = [float(at) for event, at in events if event == "connect"]
    ends = [float(at) for event, at in events if event == "exit"]
    assert len(ends) == 1, events
    return ends[0] - connects[0] if connects else None


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
