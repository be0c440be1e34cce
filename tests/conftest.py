"""Fixtures: a real moto server on loopback, and a private HOME for every test.

Helpers that tests import live in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import IamUser, dead_endpoint, make_user, moto_server, write_credentials


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything outside tests/fast runs the installed command, servers or real shells."""
    for item in items:
        if "tests/fast/" not in item.nodeid:
            item.add_marker(pytest.mark.e2e)


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
