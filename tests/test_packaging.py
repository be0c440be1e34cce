"""The package as users get it: a wheel that installs into a clean venv and runs; an sdist that
carries the completion scripts."""

from __future__ import annotations

import os
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
    # No pip of its own (ensurepip's install of it is seconds): ours installs into it.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(venv / "bin" / "python"),
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
    # The rc-file line works from the wheel alone: its function and its completion are package
    # data, and bash takes the text (no checkout, no completions/ folder beside it).
    init = subprocess.run(
        [str(venv / "bin" / "mfa-env"), "--init", "bash"], capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    assert init.stdout.startswith("# mfa-env for bash")
    assert "complete " in init.stdout  # Tab completion comes with it
    script = 'eval "$1" && type -t mfa-env && complete -p mfa-env'
    defined = subprocess.run(
        ["bash", "--norc", "-c", script, "-", init.stdout],
        capture_output=True,
        text=True,
    )
    assert defined.returncode == 0, defined.stderr
    assert defined.stdout.splitlines()[0] == "function"
    completion = subprocess.run(
        [str(venv / "bin" / "mfa-env")],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "_MFA_ENV_COMPLETE": "bash_complete",
            "COMP_WORDS": "mfa-env --pro",
            "COMP_CWORD": "1",
        },
    )
    assert completion.returncode == 0, completion.stderr
    assert "plain,--profile" in completion.stdout.splitlines()


def test_sdist_and_wheel_pass_twine_check(dist: Path):
    """The release check PyPI's upload runs: metadata and the README as its long description."""
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_sdist_carries_completions_and_readme(dist: Path):
    sdist = next(dist.glob("mfa_env-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tar.getnames()}
    for needed in (
        "README.md",
        "mfa_env/completions/mfa-env.bash",
        "mfa_env/completions/mfa-env.zsh",
        "mfa_env/completions/mfa-env.fish",
        "mfa_env/completions/mfa-env.ps1",
        "mfa_env/functions/mfa-env.bash",
        "contrib/direnvrc",
    ):
        assert needed in names
