"""`--init SHELL` in-process: the text each shell gets, the same bytes before click as through
it, the function's variable taken and checked, and the PowerShell function held to its rules.

The functions themselves run in the real shells in tests/test_init.py."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mfa_env import cli, init, shells
from mfa_env.errors import UsageError

PACKAGE = Path(init.__file__).parent


# How each function sets the variable for its one run: the shell, and descriptor 3 where the
# function captures that descriptor instead of stdout.
SETS = {
    "pwsh": f"$env:{init.VARIABLE} = 'pwsh'",
    "powershell": f"$env:{init.VARIABLE} = 'pwsh'",
    "fish": f"env {init.VARIABLE}=fish:3 mfa-env $argv 3>&1 1>&4 4>&-",
    "elvish": f"e:env {init.VARIABLE}=elvish mfa-env $@args",
    "nu": f'with-env {{{init.VARIABLE}: "nu"}} {{ ^mfa-env ...$args }}',
    "xonsh": f'env={{**env, "{init.VARIABLE}": "xonsh"}}',
}
CAPTURING = {"pwsh", "powershell", "elvish", "nu", "xonsh"}


@pytest.mark.parametrize("name", sorted(init.SHELLS))
def test_each_shell_gets_its_function_and_completion(name: str):
    text = init.script(name)
    assert text.isascii()  # whatever the locale, no shell misreads a byte of it
    assert "@SHELL@" not in text
    assert "@COMPLETION@" not in text
    _function, completion = init.SHELLS[name]
    if completion:  # click's own script, from the package, whole
        assert (PACKAGE / "completions" / completion).read_text().rstrip("\n") in text
    # The POSIX shells: the variable names this shell, descriptor 3 is the statements'.
    sets = SETS.get(name, f'{init.VARIABLE}={name}:3 command mfa-env "$@" 3>&1 1>&4 4>&-)')
    assert sets in text
    # Where stdout is captured, the function knows both of the command's first lines.
    assert (init.STATEMENTS in text and init.RUN_PLAIN in text) == (name in CAPTURING)


def test_the_sh_family_names_the_function_through_an_alias():
    """ksh93 and dash refuse "-" in a function name ("invalid function name")."""
    text = init.script("ksh")
    assert "\n__mfa_env() {" in text
    assert "\nalias mfa-env=__mfa_env\n" in text
    assert "mfa-env()" not in text


@pytest.mark.parametrize("name", sorted(init.CANNOT))
def test_shells_that_cannot_hold_the_function_say_why(name: str):
    with pytest.raises(UsageError, match=rf"--init {name}: .*; use the eval form"):
        init.script(name)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--init", "bash", "alice"], "--init SHELL takes no other option or argument"),
        (["--init", "bash", "--debug"], "--init SHELL takes no other option or argument"),
        (["--init", "bash", "--min-ttl", "0"], "--init SHELL takes no other option or argument"),
        (["--init", "bash", "-f", "json"], "--init SHELL takes no other option or argument"),
        (["--init", "bash", "--", "env"], "--init SHELL takes no other option or argument"),
        (["--init", "bogus"], "--init takes a shell: one of bash, zsh"),
        (["--init", "tcsh"], "--init tcsh: tcsh and csh have no functions"),
    ],
)
def test_init_alone_or_a_usage_error(args: list[str], words: str):
    done = CliRunner().invoke(cli.cli, args)
    assert done.exit_code == 2
    assert done.stderr.startswith(f"mfa-env: error: {words}")
    assert done.stdout == "false\n"  # `eval "$(mfa-env --init …)"` fails too


@pytest.mark.parametrize(
    "argv", [["--init", "bash"], ["--init=zsh"], ["--init", "fish"], ["--init", "pwsh"]]
)
def test_before_click_the_same_bytes_as_the_command(
    argv: list[str], capfd: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as fast:
        init.start(argv)
    fast_out = capfd.readouterr()
    cli.main(argv)  # returns: click's standalone_mode is off
    slow_out = capfd.readouterr()
    assert (fast.value.code, *fast_out) == (0, *slow_out)
    assert fast_out.out.startswith("# mfa-env for ")


@pytest.mark.parametrize(
    "argv", [["--init", "BASH"], ["--init", "tcsh"], ["--init"], ["--init", "bash", "x"], ["x"]]
)
def test_anything_else_is_left_to_the_command(argv: list[str], capfd: pytest.CaptureFixture[str]):
    init.start(argv)  # returns: click decides, and says what is wrong
    assert capfd.readouterr() == ("", "")


def test_tab_completion_is_left_to_click(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("_MFA_ENV_COMPLETE", "bash_complete")
    init.start(["--init", "bash"])  # returns: argv is not what is being completed


def test_init_completes_its_shells():
    assert init.complete_shell(None, None, "p") == ["pwsh", "powershell"]


# --- the variable the function sets for one run ----------------------------------------------
@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(init, "_adopted", False)
    monkeypatch.setattr(init, "_function", None)


def test_the_descriptor_is_taken_out_of_reach_of_children(
    fresh: None, monkeypatch: pytest.MonkeyPatch
):
    read, write = os.pipe()
    try:
        monkeypatch.setenv(init.VARIABLE, f"zsh:{write}")
        init.adopt()
        assert init.VARIABLE not in os.environ  # exec mode's command never sees it
        shell, fd = init._function or ("", None)
        assert (shell, init.function_shell()) == ("zsh", "zsh")
        assert fd is not None
        assert fd != write
        assert not os.get_inheritable(fd)  # closed on exec: a daemon never holds the pipe
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(write)  # the shell's descriptor itself is closed
        os.close(fd)
    finally:
        os.close(read)


@pytest.mark.parametrize("value", ["bash:CLOSED", "bash:x", "tcsh:0", "nosuch", "bash:"])
def test_a_value_no_function_set_is_ignored_with_a_warning(
    fresh: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
):
    read, write = os.pipe()
    os.close(read)
    os.close(write)  # a descriptor that is surely not open
    monkeypatch.setenv(init.VARIABLE, value.replace("CLOSED", str(write)))
    init.adopt()
    assert init.function_shell() is None
    assert init.VARIABLE not in os.environ
    assert capsys.readouterr().err == (
        "mfa-env: warning: ignoring MFA_ENV_FUNCTION, which only the mfa-env --init function sets\n"
    )


def test_a_terminal_is_never_taken_for_the_function(
    fresh: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """Statements sent to it would be on the screen."""
    import pty

    leader, follower = pty.openpty()
    try:
        monkeypatch.setenv(init.VARIABLE, f"bash:{follower}")
        init.adopt()
        assert init.function_shell() is None
        assert "ignoring MFA_ENV_FUNCTION" in capsys.readouterr().err
    finally:
        os.close(leader)
        os.close(follower)


def test_without_the_function_the_output_is_untouched(fresh: None):
    output = shells.Output("shell", shells.lookup("bash"), tty=True)
    assert init.route(output) is output


# --- PowerShell: cannot run here, so its function is held to the rules it relies on ----------
# The code alone: comment lines out, so that a word in a comment proves nothing.
PWSH = "".join(
    line
    for line in init.script("pwsh").splitlines(keepends=True)
    if not line.lstrip().startswith("#")
)


def test_pwsh_the_function_calls_the_command_not_itself():
    # about_Command_Precedence: a function is found before an application of the same name, so
    # `& mfa-env` inside would recurse. Get-Command -CommandType Application finds the program.
    body = PWSH.split("function mfa-env {", 1)[1]
    assert "Get-Command -Name mfa-env -CommandType Application -ErrorAction Stop" in body
    calls = re.findall(r"& (\S+) @args", body)
    assert calls == ["$mfaEnvCommand", "$mfaEnvCommand"]


def test_pwsh_the_variable_is_set_for_the_one_run_and_put_back():
    # about_Environment_Variables: $env: is the process's environment, which the native command
    # inherits; assigning $null removes the variable again when it was not set.
    body = PWSH.split("function mfa-env {", 1)[1]
    assert f"$env:{init.VARIABLE} = 'pwsh'\n    try {{" in body
    assert "} finally {\n" in body
    assert f"$env:{init.VARIABLE} = $mfaEnvSaved" in body.split("} finally {", 1)[1]


def test_pwsh_the_markers_are_the_commands():
    """The function's half of the protocol names exactly what the command prints."""
    assert f"$mfaEnvOut[0] -ceq '{init.STATEMENTS}'" in PWSH
    assert f"$mfaEnvOut[0] -ceq '{init.RUN_PLAIN}'" in PWSH
    assert "'" not in init.STATEMENTS + init.RUN_PLAIN  # verbatim strings (spec §2.3.5.2)


def test_pwsh_only_a_success_is_evaluated():
    body = PWSH.split(f"-ceq '{init.STATEMENTS}') {{", 1)[1].split("} elseif", 1)[0]
    check, evaluate = body.split("throw 'mfa-env failed: see the message above'")
    assert "if ($mfaEnvStatus -ne 0) {" in check
    assert "Invoke-Expression" not in check
    # The statements without the marker line, joined as `| Out-String` would.
    assert '($mfaEnvOut | Select-Object -Skip 1) -join "`n" | Invoke-Expression' in evaluate
    # The failing statement the command prints for PowerShell is the same throw.
    assert shells.lookup("pwsh").fail == "throw 'mfa-env failed: see the message above'\n"


def test_pwsh_completion_is_registered_for_the_name():
    # Register-ArgumentCompleter -Native keys on the command's name: CompleteCommandArgument
    # looks it up by name, whether the name is this function or the program.
    assert "Register-ArgumentCompleter -Native -CommandName mfa-env -ScriptBlock {" in PWSH
    assert PWSH.index("function mfa-env {") < PWSH.index("Register-ArgumentCompleter")
