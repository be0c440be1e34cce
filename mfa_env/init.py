"""Shell integration: the text of `--init SHELL`, and the command's side of the function it
defines.

The function (mfa_env/functions/) runs the command with MFA_ENV_FUNCTION set for that one run:
- `SHELL:FD` (POSIX shells, fish): the function captures descriptor FD while stdout stays its
  own (the terminal, a pipe, a file). Statements for SHELL go to FD and are evaluated; any other
  output (--format json, --help, exec mode's command) goes to stdout, byte for byte.
- `SHELL` (PowerShell, which hands a native command no descriptor but stdout and stderr; elvish,
  nushell and xonsh, where capturing stdout is the simple way): the function captures stdout.
  Statements for SHELL follow a STATEMENTS line; any other use prints RUN_PLAIN alone, having
  done nothing yet, and the function runs the plain command.
The command decides, in route(), where the run's output is settled (mfa_env.deliver.output_for),
so no shell re-implements the option parser.

start() runs first in every process (mfa_env.main): it takes the descriptor, so that nothing
the command starts inherits it, and answers `--init SHELL` before click is imported, since a
shell runs it on every start. Nothing here imports click, and start() needs nothing else of
ours: under the function, `--status --brief` is answered with it and mfa_env.clock alone.
"""

from __future__ import annotations

import os
import stat
import sys

from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NoReturn

    from mfa_env import shells

VARIABLE = "MFA_ENV_FUNCTION"
STATEMENTS = "#mfa-env:statements"
RUN_PLAIN = "#mfa-env:run-plain"

# The shells whose function we write: name -> (function file, completion file or "").
SHELLS = {
    "bash": ("mfa-env.bash", "mfa-env.bash"),
    "zsh": ("mfa-env.zsh", "mfa-env.zsh"),
    "fish": ("mfa-env.fish", "mfa-env.fish"),
    "pwsh": ("mfa-env.ps1", "mfa-env.ps1"),
    "powershell": ("mfa-env.ps1", "mfa-env.ps1"),
    "ksh": ("mfa-env.sh", ""),
    "sh": ("mfa-env.sh", ""),
    "dash": ("mfa-env.sh", ""),
    "ash": ("mfa-env.sh", ""),
    "elvish": ("mfa-env.elv", ""),
    "nu": ("mfa-env.nu", ""),
    "xonsh": ("mfa-env.xsh", ""),
}
# The shells mfa-env writes for that cannot hold such a function, and why.
_CSH = (
    "tcsh and csh have no functions, and their backquote joins the command's lines into words, "
    "so an alias cannot tell the statements from any other output"
)
CANNOT = {
    "tcsh": _CSH,
    "csh": _CSH,
    "cmd": "cmd has no functions, and a doskey macro cannot tell the statements from any other "
    "output",
}

_DIR = os.path.dirname(os.path.abspath(__file__))
# (shell, descriptor or None) while this run is the function's; None otherwise or once routed.
_function: tuple[str, int | None] | None = None
_adopted = False


def start(argv: list[str]) -> None:
    """First in every run: take the function's descriptor, and answer `--init SHELL` (exits)."""
    adopt()
    if "_MFA_ENV_COMPLETE" in os.environ:  # Tab completion: click reads COMP_WORDS, not argv
        return
    if len(argv) == 2 and argv[0] == "--init" and argv[1] in SHELLS:
        answer(argv[1])
        sys.exit(0)
    if len(argv) == 1 and argv[0].startswith("--init=") and argv[0][7:] in SHELLS:
        answer(argv[0][7:])
        sys.exit(0)


def adopt() -> None:
    """Read MFA_ENV_FUNCTION once, and take it out of the environment that children inherit.

    The descriptor is moved to one that is closed on exec, so that exec mode's command, or a
    daemon it leaves behind, never holds the function's pipe open (the function would wait)."""
    global _function, _adopted
    if _adopted:
        return
    _adopted = True
    value = os.environ.pop(VARIABLE, None)
    if value is None:
        return
    shell, colon, number = value.partition(":")
    fd = None
    try:
        if shell not in SHELLS:
            raise ValueError(shell)
        if colon:
            # A pipe, or the temporary file ksh93 collects a command substitution in; never
            # the terminal, which would show the statements.
            mode = os.fstat(int(number)).st_mode
            if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISREG(mode)):
                raise ValueError(number)
            fd = os.dup(int(number))  # non-inheritable (PEP 446)
            os.close(int(number))
    except (ValueError, OSError):
        from mfa_env import deliver

        deliver.say(f"warning: ignoring {VARIABLE}, which only the mfa-env --init function sets")
        return
    _function = (shell, fd)


def function_shell() -> str | None:
    """The shell whose function runs this command, if one does: the default for --shell."""
    adopt()
    return _function[0] if _function else None


def route(output: shells.Output) -> shells.Output:
    """Where this run's stdout goes, once what it carries is known (before anything is done).

    Statements for the function's shell go to the function; any other output goes where the
    command would put it, or (a function that captures stdout) the function runs the command
    again, plainly. Not under the function: the output, as it was."""
    global _function
    adopt()
    if _function is None:
        return output
    from mfa_env import shells

    (shell, fd), _function = _function, None
    mine = output.fmt == "shell" and output.shell is shells.lookup(shell)
    if fd is None:
        _print(f"{STATEMENTS}\n" if mine else f"{RUN_PLAIN}\n")
        if not mine:
            sys.exit(0)
        return output
    if mine:
        if sys.stdout is not None:
            sys.stdout.flush()
        os.dup2(fd, 1)
        output = shells.Output(output.fmt, output.shell, tty=False)
    os.close(fd)
    return output


def script(name: str) -> str:
    """The text of `--init NAME`: the function, then Tab completion where click writes one."""
    from mfa_env.errors import UsageError

    name = name.lower()
    if name in CANNOT:
        raise UsageError(
            f"--init {name}: {CANNOT[name]}; use the eval form in the README's Every shell "
            f"section, or --init with one of {', '.join(SHELLS)}"
        )
    if name not in SHELLS:
        raise UsageError(f"--init takes a shell: one of {', '.join(SHELLS)}")
    function, completion = SHELLS[name]
    text = _read("functions", function).replace("@SHELL@", name)
    completion_text = _read("completions", completion).rstrip("\n") if completion else ""
    return text.replace("@COMPLETION@", completion_text)


def answer(name: str) -> None:
    """Print the text of `--init NAME` on stdout (a terminal too: it holds no secret)."""
    _print(script(name))


def complete_shell(_ctx: object, _param: object, incomplete: str) -> list[str]:
    """Tab completion of `--init`'s value."""
    return [name for name in SHELLS if name.startswith(incomplete)]


def _read(folder: str, name: str) -> str:
    with open(os.path.join(_DIR, folder, name), encoding="utf-8") as f:
        return f.read()


def _print(text: str) -> None:
    try:
        if sys.stdout is not None:
            sys.stdout.write(text)
            sys.stdout.flush()
    except (OSError, ValueError) as exc:
        _lost(exc)


def _lost(exc: OSError | ValueError) -> NoReturn:
    from mfa_env import deliver

    deliver.stdout_lost(exc)
