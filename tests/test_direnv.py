"""direnv end to end: `direnv allow`, then `direnv exec` gets the cached session with no prompt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT, IamUser, mfa_env, require
from tests.helpers import bin_dir as make_bin_dir


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return make_bin_dir(tmp_path)


def _direnv(project: Path, bindir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", **env}
    return subprocess.run(
        [require("direnv"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=environ,
        stdin=subprocess.DEVNULL,
        timeout=60,
        start_new_session=True,  # no terminal: nothing can prompt
    )


def _project(tmp_path: Path, envrc: str) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".envrc").write_text(envrc)
    return project


@pytest.mark.parametrize("login_shell", ["bash", "fish"])
def test_envrc_gets_the_cached_session_with_no_prompt(
    user: IamUser, tmp_path: Path, bin_dir: Path, login_shell: str, dead_url: str
):
    first = mfa_env(user.name, "123456", "--format", "json")
    assert first.returncode == 0, first.stderr
    project = _project(tmp_path, f'eval "$(mfa-env {user.name})"\n')
    assert _direnv(project, bin_dir, "allow", str(project)).returncode == 0
    done = _direnv(
        project,
        bin_dir,
        "exec",
        str(project),
        "printenv",
        "AWS_SESSION_TOKEN",
        SHELL=shutil.which(login_shell) or login_shell,
        AWS_ENDPOINT_URL=dead_url,  # the network is gone
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in first.stdout
    assert "reused the cached session" in done.stderr


def test_empty_cache_and_no_terminal_fails_promptly_with_one_line(
    user: IamUser, tmp_path: Path, bin_dir: Path
):
    """No terminal and no code: mfa-env fails at once rather than wait for input. Its stdin is
    a pipe this test holds open and never writes to, so a run that waited for a code there (or
    anywhere) would still be waiting when the test gives up, a minute later."""
    project = _project(tmp_path, f'eval "$(mfa-env {user.name})"\n')
    _direnv(project, bin_dir, "allow", str(project))
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    reader, writer = os.pipe()
    try:
        done = subprocess.run(
            [require("direnv"), "exec", str(project), "printenv", "AWS_SESSION_TOKEN"],
            cwd=project,
            capture_output=True,
            text=True,
            env=environ,
            stdin=reader,
            timeout=60,
            start_new_session=True,  # no terminal: nothing can prompt
        )
    finally:
        os.close(reader)
        os.close(writer)
    assert done.returncode != 0
    assert "mfa-env: error: no MFA code given and no terminal" in done.stderr
    assert "Traceback" not in done.stderr


def test_use_mfa_env_helper_watches_the_cache(user: IamUser, tmp_path: Path, bin_dir: Path):
    rc_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "direnv"
    rc_dir.mkdir(parents=True)
    shutil.copy(ROOT / "contrib" / "direnvrc", rc_dir / "direnvrc")
    # The session first, as a terminal makes it: a code in an .envrc would ask for a new
    # session at every load, and so rewrite the very cache directory direnv watches.
    assert mfa_env(user.name, "123456", "-s", "bash").returncode == 0
    project = _project(tmp_path, f"use mfa_env {user.name}\n")
    _direnv(project, bin_dir, "allow", str(project))
    done = _direnv(project, bin_dir, "exec", str(project), "printenv", "AWS_SESSION_TOKEN")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    # As in a terminal: load the .envrc once, then direnv reloads it at a prompt only when a
    # watched file changed. A refresh elsewhere rewrites an entry in the cache directory.
    cache_dir = Path(os.environ["XDG_CACHE_HOME"]) / "mfa-env"
    script = f"""
        eval "$(direnv export bash)"
        test -n "$AWS_SESSION_TOKEN" || exit 3
        test -z "$(direnv export bash)" || exit 4   # nothing changed: no reload
        touch -d "@$(( $(date +%s) + 5 ))" {cache_dir}
        test -n "$(direnv export bash)" || exit 5   # the cache changed: reload
    """
    environ = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    shell = subprocess.run(
        [require("bash"), "--norc", "-c", script],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert shell.returncode == 0, shell.stderr
