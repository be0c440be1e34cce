"""The package as users get it: a wheel that installs into a clean venv and runs; an sdist that
carries the completion scripts."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mfa_env import __version__
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def test_wheel_installs_into_a_clean_venv_and_runs(dist: Path, tmp_path: Path):
    wheel = next(dist.glob("mfa_env-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=600)
    version = subprocess.run(
        [str(venv / "bin" / "mfa-env"), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout == f"mfa-env {__version__}\n"
    helptext = subprocess.run(
        [str(venv / "bin" / "mfa-env"), "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage: mfa-env" in helptext.stdout


def test_sdist_carries_completions_and_readme(dist: Path):
    sdist = next(dist.glob("mfa_env-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames()}
    for needed in (
        "README.md",
        "completions/mfa-env.bash",
        "completions/mfa-env.zsh",
        "completions/mfa-env.fish",
        "completions/mfa-env.ps1",
        "contrib/direnvrc",
    ):
        assert needed in names
