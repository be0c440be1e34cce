"""`mfa-env --init SHELL`: the rc-file line, then the plain `mfa-env` in that very shell.

One interactive session per shell (bash, zsh, fish) on a real pseudo-terminal, its rc file
running the --init line as the README says, does every check of the issue in turn; the sh
family runs the same script non-interactively. PowerShell, which cannot run here, is checked in
tests/fast/test_init.py against its documented rules, and here through the command's half of its
protocol."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest

from mfa_env import init
from tests.helpers import IamUser, bin_dir, mfa_env, require
from tests.test_shells import parse_pwsh

PROMPT = "READY> "
SESSION = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class Dialect:
    """What differs between the shells for the same checks."""

    program: str
    argv: tuple[str, ...]
    rc: str  # the rc file, relative to HOME
    rc_text: str  # the README's line, and a prompt the test can wait for
    status: str  # the last command's exit status
    setup: tuple[str, ...] = ()  # typed first: the user's own options


DIALECTS = {
    "bash": Dialect(
        "bash",
        ("--rcfile", "{home}/.bashrc", "-i"),
        ".bashrc",
        f"PS1='{PROMPT}'\neval \"$(mfa-env --init bash)\"\n",
        "$?",
        # The user's own strictness: the function must neither break nor print under it.
        ("set -u -o pipefail",),
    ),
    "zsh": Dialect(
        "zsh",
        ("-i",),
        ".zshrc",
        "autoload -Uz compinit && compinit -u\n"
        f"PS1='{PROMPT}'\nunsetopt PROMPT_SP\neval \"$(mfa-env --init zsh)\"\n",
        "$?",
        ("setopt nounset",),
    ),
    "fish": Dialect(
        "fish",
        ("-i",),
        ".config/fish/config.fish",
        f"function fish_prompt; printf '{PROMPT}'; end\nset -g fish_greeting\n"
        "mfa-env --init fish | source\n",
        "$status",
    ),
}


class Session:
    """A shell on a pseudo-terminal: type a line, wait for its end marker, keep the whole screen.

    Each line is followed by `echo __END__<status>`: the typed text shows `$?` or `$status`,
    only the shell's answer shows digits, whatever the shell repaints meanwhile (fish redraws
    its prompt on every key)."""

    def __init__(self, dialect: Dialect, home: Path, env: dict[str, str]):
        (home / dialect.rc).parent.mkdir(parents=True, exist_ok=True)
        (home / dialect.rc).write_text(dialect.rc_text)
        self.screen = io.StringIO()
        argv = [a.format(home=home) for a in dialect.argv]
        self.child = pexpect.spawn(
            require(dialect.program),
            argv,
            env=env,
            cwd=str(home),
            encoding="utf-8",
            timeout=60,
            dimensions=(24, 250),
            # Ctrl-C as a login terminal has it, whatever pytest inherited.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.child.logfile_read = self.screen
        self.child.expect_exact(PROMPT)
        self.status_word = dialect.status
        for line in dialect.setup:
            assert self.status(line) == 0

    def send(self, line: str) -> None:
        self.child.sendline(f"{line}; echo __END__{self.status_word}")

    def wait(self) -> tuple[int, str]:
        self.child.expect(r"__END__(\d+)\r?\n")
        return int(self.child.match.group(1)), self.child.before

    def run(self, line: str) -> str:
        """Type LINE; return what the terminal showed until it ended."""
        self.send(line)
        return self.wait()[1]

    def status(self, line: str) -> int:
        self.send(line)
        return self.wait()[0]

    def env(self, path: Path) -> dict[str, str]:
        """The environment this shell hands to the commands it starts."""
        path.unlink(missing_ok=True)
        assert self.status(f"env -0 > {path}") == 0
        pairs = path.read_bytes().decode().split("\0")
        return dict(pair.split("=", 1) for pair in pairs if pair)

    def close(self) -> str:
        self.child.sendline("exit")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.screen.getvalue()


@pytest.fixture
def on_path(tmp_path: Path) -> dict[str, str]:
    """This test's environment with `mfa-env` (this checkout) first on PATH."""
    return {**os.environ, "PATH": f"{bin_dir(tmp_path)}:{os.environ['PATH']}", "TERM": "dumb"}


@pytest.mark.parametrize("shell", sorted(DIALECTS))
def test_the_plain_command_sets_this_shell(
    shell: str, user: IamUser, isolate: Path, tmp_path: Path, on_path: dict[str, str]
):
    session = Session(DIALECTS[shell], isolate, on_path)
    dump = tmp_path / "env.out"

    # A new session with a code: this shell holds it, no eval typed.
    assert session.status(f"mfa-env {user.name} 123456") == 0
    held = session.env(dump)
    assert all(held.get(name) for name in SESSION)
    assert held["AWS_ACCESS_KEY_ID"] != user.access_key_id

    # --unset ends it in this shell.
    assert session.status("mfa-env --unset") == 0
    assert not {*SESSION, "AWS_CREDENTIAL_EXPIRATION"} & set(session.env(dump))

    # Not statements: as the command does. JSON into a file...
    json_file = tmp_path / "creds.json"
    assert session.status(f"mfa-env --format json {user.name} > {json_file}") == 0
    document = json.loads(json_file.read_text())
    assert document["Version"] == 1
    assert document["SessionToken"] == held["AWS_SESSION_TOKEN"]
    # ...and none on the terminal, where the command says how to run it instead.
    shown = session.run(f"mfa-env --format json {user.name}")
    assert "stdout is a terminal, so nothing was printed" in shown
    assert held["AWS_SESSION_TOKEN"] not in shown
    # Exec mode: the command runs with the session; this shell gets nothing.
    exec_file = tmp_path / "exec.out"
    assert session.status(f"mfa-env {user.name} -- env > {exec_file}") == 0
    assert f"AWS_SESSION_TOKEN={held['AWS_SESSION_TOKEN']}" in exec_file.read_text()
    assert "MFA_ENV_FUNCTION" not in exec_file.read_text()  # the function's, not the command's
    assert not set(SESSION) & set(session.env(dump))
    assert session.status(f"mfa-env {user.name} -- sh -c 'exit 7'") == 7
    # --help and --init itself: stdout as the command prints it.
    assert "Usage: mfa-env" in session.run("mfa-env --help")
    assert "# mfa-env for bash, from `eval" in session.run("mfa-env --init bash | head -1")

    # A failure sets nothing and returns non-zero; a usage error returns 2.
    assert session.status(f"mfa-env --profile nosuch {user.name}") == 1
    assert session.status("mfa-env --no-such-option") == 2
    assert not set(SESSION) & set(session.env(dump))

    # The code asked on the terminal from inside the function.
    session.send(f"mfa-env --refresh {user.name}")
    session.child.expect_exact("MFA code for ")
    session.child.sendline("654321")
    assert session.wait()[0] == 0
    renewed = session.env(dump)
    assert renewed["AWS_SESSION_TOKEN"]
    assert "MFA_ENV_FUNCTION" not in renewed

    # Tab completion, for the function as for the command.
    session.child.send("mfa-env --p\t")
    session.child.expect_exact("--profile")
    # The line erased as a key (Ctrl-U), read in order with what follows: Ctrl-C is a signal,
    # and under load the next line's first keys could come before it and be lost with it.
    session.child.sendcontrol("u")
    assert session.status("true") == 0

    screen = session.close()
    for secret in (held["AWS_SECRET_ACCESS_KEY"], held["AWS_SESSION_TOKEN"]):
        assert secret not in screen
    assert renewed["AWS_SESSION_TOKEN"] not in screen
    assert user.secret_access_key not in screen


def _script(shell: str, script: str, where: Path) -> subprocess.CompletedProcess[str]:
    """SHELL -c SCRIPT in WHERE, with an `mfa-env` launcher for this checkout on PATH."""
    env = {**os.environ, "PATH": f"{bin_dir(where)}:{os.environ['PATH']}"}
    return subprocess.run(
        [require(shell), "-c", script],
        env=env,
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("shell", "tracing", "untrace"),
    [("bash", "set -xv", "set +xv"), ("zsh", "setopt xtrace verbose", "unsetopt xtrace verbose")],
)
def test_tracing_never_shows_the_statements(
    shell: str, tracing: str, untrace: str, user: IamUser, tmp_path: Path
):
    """The user's `set -x` traces what the function does, never the statements it evaluates,
    and is on again after it."""
    script = (
        f'eval "$(mfa-env --init {shell})"\n{tracing}\nmfa-env {user.name} 123456\n'
        f"echo still-traced\n{untrace}\n"
        'printf "%s" "$AWS_SESSION_TOKEN" > token\n'
    )
    done = _script(shell, script, tmp_path)
    assert done.returncode == 0, done.stderr
    token = (tmp_path / "token").read_text()
    assert token
    assert token not in done.stderr
    assert "AWS_SESSION_TOKEN" not in done.stderr
    assert "echo still-traced" in done.stderr


def test_bash_with_errexit_and_nounset(user: IamUser, tmp_path: Path):
    """`set -eu`: the function neither breaks nor exits early; a failure is an ordinary failing
    command, which `if` handles and errexit would otherwise act on."""
    script = (
        "set -eu\n"
        'eval "$(mfa-env --init bash)"\n'
        f"mfa-env {user.name} 123456\n"
        'test -n "$AWS_SESSION_TOKEN"\n'
        "if mfa-env --profile nosuch; then echo wrong; else echo failed=$?; fi\n"
        "mfa-env --unset\n"
        'echo "left=${AWS_SESSION_TOKEN-none}"\n'
        "mfa-env --profile nosuch\n"
        "echo not-reached\n"
    )
    done = _script("bash", script, tmp_path)
    assert done.stdout.splitlines() == ["failed=1", "left=none"]
    assert done.returncode == 1


@pytest.mark.parametrize("shell", ["ksh", "dash"])
def test_the_sh_family_through_an_alias(shell: str, user: IamUser, tmp_path: Path):
    script = (
        "set -u\n"
        f'eval "$(mfa-env --init {shell})"\n'
        f"mfa-env {user.name} 123456\n"
        'echo "set=${AWS_SESSION_TOKEN:+yes} status=$?"\n'
        "mfa-env --unset\n"
        'echo "left=${AWS_SESSION_TOKEN-none}"\n'
        f"mfa-env --format json {user.name} > creds.json\n"
        "mfa-env --profile nosuch; echo failed=$?\n"
        f"mfa-env {user.name} -- sh -c 'exit 7'; echo exec=$?\n"
        'echo "still=${AWS_SESSION_TOKEN-none} scratch=${__mfa_env_out-none}"\n'
    )
    done = _script(shell, script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "set=yes status=0",
        "left=none",
        "failed=1",
        "exec=7",
        "still=none scratch=none",
    ]
    assert json.loads((tmp_path / "creds.json").read_text())["Version"] == 1


# --- PowerShell: the command's half of the function's protocol --------------------------------
# The function (mfa_env/functions/mfa-env.ps1) captures stdout with MFA_ENV_FUNCTION=pwsh set.
def _as_pwsh_function(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mfa_env", *args],
        env={**os.environ, init.VARIABLE: "pwsh"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_pwsh_statements_follow_their_marker(user: IamUser):
    done = _as_pwsh_function(user.name, "123456")
    assert done.returncode == 0, done.stderr
    first, rest = done.stdout.split("\n", 1)
    assert first == init.STATEMENTS
    assert {"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"} <= set(parse_pwsh(rest))
    unset = _as_pwsh_function("--unset")
    assert unset.stdout.startswith(init.STATEMENTS + "\n")
    assert parse_pwsh(unset.stdout.split("\n", 1)[1])["AWS_SESSION_TOKEN"] is None


@pytest.mark.parametrize(
    "args",
    [("--format", "json", "USER"), ("--format", "dotenv", "USER"), ("USER", "--", "env")],
)
def test_pwsh_any_other_use_is_run_again_plainly(user: IamUser, args: tuple[str, ...]):
    """Nothing done: no session asked for, no command run, only the request to run it plainly."""
    done = _as_pwsh_function(*(user.name if a == "USER" else a for a in args))
    assert (done.returncode, done.stdout, done.stderr) == (0, init.RUN_PLAIN + "\n", "")
    assert not list(Path(os.environ["XDG_CACHE_HOME"]).glob("mfa-env/*"))


def test_pwsh_a_failure_has_no_statement_to_run(user: IamUser):
    done = _as_pwsh_function("--profile", "nosuch", user.name)
    assert done.returncode == 1
    assert done.stdout.split("\n")[0] == init.STATEMENTS  # the function throws, evaluating none
    assert "AWS_" not in done.stdout


def test_pwsh_help_and_init_pass_through():
    helptext = _as_pwsh_function("--help")
    assert helptext.returncode == 0
    assert helptext.stdout.startswith("Usage: mfa-env")
    assert _as_pwsh_function("--init", "pwsh").stdout == init.script("pwsh")


def test_a_stray_function_variable_is_ignored_with_a_warning(user: IamUser):
    """Set by hand, or inherited where no function made it: the plain command, and one line."""
    done = mfa_env(user.name, "123456", "-s", "bash", env={**os.environ, init.VARIABLE: "bash:9"})
    assert done.returncode == 0
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    assert "ignoring MFA_ENV_FUNCTION" in done.stderr


# --- elvish, nushell, xonsh: stdout captured, and any other use run again as the command ------
# Each script prints one line per check; `env` shows what the commands the shell starts get.
ELVISH = """
# rc.elv's line editor, stood in for: its two hooks are all the init text uses of it.
var completers = [&]
var completion = (ns [&arg-completer=$completers])
var edit = (ns [&add-var~={|name value| } &completion:=$completion])
eval (mfa-env --init elvish | slurp) &ns=(ns [&edit:=$edit]) &on-end={|n|
    var mfa-env~ = $n[mfa-env~]
    mfa-env USER 123456
    echo set (has-env AWS_SESSION_TOKEN)
    e:env > env.out
    mfa-env --unset
    echo unset (has-env AWS_SESSION_TOKEN)
    mfa-env --format json USER > creds.json
    mfa-env USER -- sh -c 'echo "exec ${AWS_SESSION_TOKEN:+yes}"'
    try { mfa-env --profile nosuch USER } catch e { echo failed }
    echo after (has-env AWS_SESSION_TOKEN)
    echo completes [($completion[arg-completer][mfa-env] mfa-env --p)]
}
"""
# The README's once-only step, `mfa-env --init nu | save -f …`, is done before: nushell reads a
# sourced file when it parses the script.
NU = """
source init.nu
mfa-env USER 123456
print $"set ($env.AWS_SESSION_TOKEN? != null)"
^env o> env.out
mfa-env --unset
print $"unset ($env.AWS_SESSION_TOKEN? != null)"
mfa-env --format json USER o> creds.json
mfa-env USER -- sh -c 'echo "exec ${AWS_SESSION_TOKEN:+yes}"'
try { mfa-env --profile nosuch USER } catch { print "failed" }
print $"after ($env.AWS_SESSION_TOKEN? != null)"
print $"completes (nu-complete mfa-env 'mfa-env --p' | to nuon)"
"""
XONSH = """
execx($(mfa-env --init xonsh))
mfa-env USER 123456
print("set", "AWS_SESSION_TOKEN" in ${...})
env > env.out
mfa-env --unset
print("unset", "AWS_SESSION_TOKEN" in ${...})
mfa-env --format json USER > creds.json
mfa-env USER -- sh -c 'echo "exec ${AWS_SESSION_TOKEN:+yes}"'
if !(mfa-env --profile nosuch USER).returncode == 1:
    print("failed")
print("after", "AWS_SESSION_TOKEN" in ${...})
"""
CAPTURING = {
    "elvish": (["-norc"], ELVISH, ["set $true", "unset $false"], ["completes [--profile]"]),
    "nu": (["-n"], NU, ["set true", "unset false"], ["completes [--profile]"]),
    "xonsh": (["--no-rc"], XONSH, ["set True", "unset False"], []),
}


@pytest.mark.parametrize("shell", sorted(CAPTURING))
def test_the_shells_whose_function_captures_stdout(shell: str, user: IamUser, tmp_path: Path):
    flags, script, states, completes = CAPTURING[shell]
    script_file = tmp_path / "script"
    script_file.write_text(script.replace("USER", user.name))
    env = {**os.environ, "PATH": f"{bin_dir(tmp_path)}:{os.environ['PATH']}"}
    (tmp_path / "init.nu").write_text(mfa_env("--init", "nu").stdout)
    done = subprocess.run(
        [require(shell), *flags, str(script_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    after = "after $false" if shell == "elvish" else f"after {states[1].split()[1]}"
    assert done.stdout.splitlines() == [*states, "exec yes", "failed", after, *completes]
    held = dict(line.split("=", 1) for line in (tmp_path / "env.out").read_text().splitlines())
    assert (
        json.loads((tmp_path / "creds.json").read_text())["SessionToken"]
        == held["AWS_SESSION_TOKEN"]
    )
    assert held["AWS_SESSION_TOKEN"] not in done.stdout + done.stderr
