"""Tab completion: the scripts in the package (which --init embeds) are current, and they
complete in the real shells."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.helpers import ROOT, bin_dir, require

SCRIPT_DIR = ROOT / "mfa_env" / "completions"

SCRIPTS = {
    "bash": "mfa-env.bash",
    "zsh": "mfa-env.zsh",
    "fish": "mfa-env.fish",
    "powershell": "mfa-env.ps1",
}


def _protocol(shell: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mfa_env"],
        env={**os.environ, "_MFA_ENV_COMPLETE": f"{shell}", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_checked_in_script_is_current(shell: str):
    expected = _protocol(f"{shell}_source")
    assert (SCRIPT_DIR / SCRIPTS[shell]).read_text() == expected, "run: make completions"


@pytest.fixture
def on_path(tmp_path: Path) -> dict[str, str]:
    """An environment with `mfa-env` on PATH, running this checkout."""
    bindir = bin_dir(tmp_path)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "TERM": "dumb"}


def _interactive(argv: list[str], env: dict[str, str], setup: list[str]) -> pexpect.spawn:
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=20)
    child.setwinsize(24, 200)
    for line in setup:
        child.sendline(line)
    child.sendline("PS1='READY> '")
    child.expect_exact("READY> ")
    child.expect_exact("READY> ")
    return child


def _tab(child: pexpect.spawn, typed: str, completed: str) -> None:
    child.send(typed + "\t")
    child.expect_exact(completed)
    child.sendcontrol("u")


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_tab_completes_in_the_real_shell(shell: str, on_path: dict[str, str]):
    script = SCRIPT_DIR / SCRIPTS[shell]
    if shell == "bash":
        argv = [require("bash"), "--norc", "--noprofile", "-i"]
        setup = [f"source {script}"]
    else:
        argv = [require("zsh"), "-f", "-i"]
        setup = ["autoload -Uz compinit && compinit -u", f"source {script}"]
    child = _interactive(argv, on_path, setup)
    _tab(child, "mfa-env --sh", "mfa-env --shell ")
    _tab(child, "mfa-env --shell f", "mfa-env --shell fish ")
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_fish_offers_the_completions(on_path: dict[str, str]):
    script = SCRIPT_DIR / SCRIPTS["fish"]
    done = subprocess.run(
        [
            require("fish"),
            "--no-config",
            "-c",
            f"source {script}; complete -C 'mfa-env --sh'; echo ---; "
            "complete -C 'mfa-env --shell f'",
        ],
        env=on_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    options, _, shells = done.stdout.partition("---\n")
    assert [line.split("\t")[0] for line in options.splitlines()] == ["--shell"]
    assert [line.split("\t")[0] for line in shells.splitlines()] == ["fish"]


def test_profile_names_complete_from_the_aws_files(isolate: Path):
    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "credentials").write_text("[default]\n[work]\n")
    (isolate / ".aws" / "config").write_text("[profile work-admin]\n[profile home]\n")
    out = _protocol("bash_complete", COMP_WORDS="mfa-env --profile w", COMP_CWORD="2")
    assert out.splitlines() == ["plain,work", "plain,work-admin"]


def test_powershell_protocol_answers_in_triples():
    # PowerShell cannot run here: check the answer click's Register-ArgumentCompleter script
    # parses (type, value, help per completion) for the same two cases.
    out = _protocol("powershell_complete", COMP_WORDS="mfa-env --sh", COMP_CWORD="1")
    assert out.splitlines()[:2] == ["plain", "--shell"]
    out = _protocol("powershell_complete", COMP_WORDS="mfa-env --shell f", COMP_CWORD="2")
    assert out.splitlines()[:2] == ["plain", "fish"]


def test_write_profile_completes_only_what_it_would_write_in_bash(
    isolate: Path, on_path: dict[str, str]
):
    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n"
        "[mfa]\naws_access_key_id = ASIA1\naws_secret_access_key = s\naws_session_token = t\n"
        "[mfa-old]\nmanaged_by = mfa-env\n"
        "[mfa-keys]\naws_access_key_id = AKIA2\naws_secret_access_key = s\n"
    )
    (isolate / ".aws" / "config").write_text("[profile mfa-config]\nregion = eu-west-1\n")
    # bash's own completion function, called as readline calls it on `mfa-env -w mf<Tab>`.
    script = (
        f"source {SCRIPT_DIR / SCRIPTS['bash']}\n"
        "COMP_WORDS=(mfa-env -w mf); COMP_CWORD=2; _mfa_env_completion mfa-env\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [require("bash"), "--norc", "--noprofile", "-c", script],
        env={**on_path, "HOME": str(isolate)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mfa", "mfa-old"]  # not mfa-keys, not mfa-config
