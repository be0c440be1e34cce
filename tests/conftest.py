"""Fixtures: a real moto server on loopback, and a private HOME for every test.

Helpers that tests import live in tests/helpers.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings

from tests.helpers import (
    REACHED,
    IamUser,
    closing_aws_file_copies,
    dead_endpoint,
    make_user,
    moto_server,
    write_credentials,
)

# `make fuzz`: new examples on every run, from the seed it prints (--hypothesis-seed), in CI
# too, where hypothesis's own "ci" profile would derandomize them.
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "property: a hypothesis property test (`make fuzz` runs these, randomized)"
    )
    _bytecode_once(config)


def _bytecode_once(config: pytest.Config) -> None:
    """Byte-compile once for the whole session what the processes the tests start import.

    Under PYTHONDONTWRITEBYTECODE (as here and in CI) nothing of the editable package is ever
    written, so every `python -m mfa_env` compiled it from source again: tens of milliseconds
    of CPU in each of a thousand-odd runs. The processes write their bytecode under a prefix
    of the session's instead, outside the checkout and the venv, and later ones read it there
    (checked against the source's mtime as ever, so an edited module is compiled again).
    xdist's workers inherit the prefix from the controller that made it; one the user set is
    left alone."""
    if "PYTHONPYCACHEPREFIX" in os.environ:
        return
    prefix = tempfile.mkdtemp(prefix="mfa-env-pycache-")
    config.add_cleanup(lambda: shutil.rmtree(prefix, ignore_errors=True))
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


# The tests that take ten seconds or more (a deadline waited out, hundreds of processes, a
# build): run first, so that under `pytest -n` none of them is left running alone at the end.
LONG = (
    "tests/test_file_kinds.py::",
    "tests/test_packaging.py::",
    "tests/test_failures.py::test_failure_is_clean[endpoint-",
    "tests/fast/test_boundaries.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything outside tests/fast runs the installed command, servers or real shells."""
    for item in items:
        if "tests/fast/" not in item.nodeid:
            item.add_marker(pytest.mark.e2e)
        if is_hypothesis_test(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.property)
    items.sort(key=lambda item: not item.nodeid.startswith(LONG))  # stable: else as collected


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`pytest -n auto`: a worker more than the cores. Most tests spend part of their time
    waiting on a process, a server or a deadline; the extra worker fills those waits (on 2
    cores, 3 workers took 156 s where 2 took 190)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return (len(affinity(0)) if affinity else os.cpu_count() or 1) + 1


# What xdist's workers counted (pytest -n), handed to the controller as each one ends.
_WORKERS_REACHED: list[str] = []


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set in an xdist worker only
    if output is not None:
        output["reached"] = [reach.summary() for reach in REACHED]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    _WORKERS_REACHED.extend(getattr(node, "workeroutput", {}).get("reached", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many examples of each property test got to the check it exists for."""
    summaries = sorted([*(reach.summary() for reach in REACHED), *_WORKERS_REACHED])
    if summaries:
        terminalreporter.write_sep("-", "property tests: examples that reached their assertion")
        for summary in summaries:
            terminalreporter.write_line(summary)


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto server over HTTP on 127.0.0.1; the product finds it via AWS_ENDPOINT_URL."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def dead_url() -> Iterator[str]:
    """An endpoint that refuses every connection: the network is gone."""
    with dead_endpoint() as url:
        yield url


@pytest.fixture(autouse=True)
def _aws_file_copies_closed() -> Iterator[None]:
    """What the engine leaves open when run in-process is closed after each test, so that a
    session may run the suite twice (or a thousand examples) without running out."""
    with closing_aws_file_copies():
        yield


@pytest.fixture(autouse=True)
def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, XDG dirs and AWS files, and no AWS_*/MFA_ENV_* variables."""
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith(("AWS_", "MFA_ENV_", "DIRENV_", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    # Belt and braces: never let a test probe the EC2 metadata address (the product also drops
    # the instance and container providers, which only ever give temporary credentials).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    return home


@pytest.fixture
def user(moto_url: str, isolate: Path, monkeypatch: pytest.MonkeyPatch) -> IamUser:
    """An IAM user in moto whose long-term keys are the [default] profile of this test's HOME."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    made = make_user(moto_url)
    write_credentials(isolate, made)
    return made
