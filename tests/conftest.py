"""Fixtures: a real moto server on loopback, and a private HOME for every test.

Helpers that tests import live in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything outside tests/fast runs the installed command, servers or real shells."""
    for item in items:
        if "tests/fast/" not in item.nodeid:
            item.add_marker(pytest.mark.e2e)
        if is_hypothesis_test(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.property)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many examples of each property test got to the check it exists for."""
    if REACHED:
        terminalreporter.write_sep("-", "property tests: examples that reached their assertion")
        for reach in REACHED:
            terminalreporter.write_line(reach.summary())


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
