"""Which shell is calling us, and one renderer per shell: pure functions of name -> value.

A value of None means "unset this variable". Each renderer knows only its own quoting; a value
that its shell cannot hold safely raises UnsafeValueError, never a mangled line.
"""

from __future__ import annotations

import os

from mfa_env import platform
from mfa_env.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeAlias

    Assignments: TypeAlias = Mapping[str, "str | None"]

# shellingham's own list of names it recognises as shells.
_SHELL_NAMES = frozenset(
    [
        "sh",
        "bash",
        "dash",
        "ash",
        "csh",
        "tcsh",
        "ksh",
        "zsh",
        "fish",
        "cmd",
        "powershell",
        "pwsh",
        "elvish",
        "xonsh",
        "nu",
    ]
)


def is_name(name: str) -> bool:
    """`[A-Za-z_][A-Za-z0-9_]*`, a variable name every shell takes; without `re`, which costs a
    cached run ~3 ms to import (tests/fast/test_fast_path.py holds each such check to its
    pattern)."""
    return name.isascii() and name[:1] not in "0123456789" and name.replace("_", "a").isalnum()


def _check(name: str, value: str | None, shell: str) -> None:
    if not is_name(name):
        from mfa_env.errors import UnsafeValueError

        raise UnsafeValueError(f"{name!r} is not a valid environment variable name")
    if value is None:
        return
    if "\0" in value:
        from mfa_env.errors import UnsafeValueError

        raise UnsafeValueError(
            f"the value of {name} holds a NUL byte, which no {shell} variable can"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        from mfa_env.errors import UnsafeValueError

        raise UnsafeValueError(
            f"the value of {name} is not valid Unicode text and cannot be written for {shell}"
        ) from None


# Every statement ends in ";" where the habit `eval $(mfa-env …)` (unquoted, as ssh-agent's
# README has it) would join the lines into one command: word splitting turns each line break
# into a word boundary and eval joins the words with spaces (POSIX 2.6.5, 2.14 "eval"; fish's
# command substitution splits at newlines). Without it, `unset A export B=…` sets nothing, and
# ksh prints the secret in its "invalid variable name" error. Values stay intact in that form
# as long as they hold no run of blanks, as AWS's values do not.
def posix(assignments: Assignments) -> str:
    """sh, bash, dash, ash, zsh, ksh: inside '…' nothing is special but ' itself (POSIX 2.2.2)."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "POSIX shell")
        if value is None:
            lines.append(f"unset {name};")
        else:
            quoted = value.replace("'", "'\\''")
            lines.append(f"export {name}='{quoted}';")
    return "\n".join(lines) + "\n"


def fish(assignments: Assignments) -> str:
    """fish: inside '…' only \\' and \\\\ are escapes (fish docs, "Quotes")."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "fish")
        if value is None:
            # `set -e` of an unset variable returns 4, and `set -gx` keeps the previous status,
            # so without `or true` a good `| source` would report failure.
            lines.append(f"set -e {name}; or true;")
        else:
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            lines.append(f"set -gx {name} '{quoted}';")
    return "\n".join(lines) + "\n"


# PowerShell treats the typographic single quotes as quote characters too, and a doubled quote
# character stands for one (PowerShell Language Specification 3.0, §2.3.5.2).
PWSH_QUOTES = "'\u2018\u2019\u201a\u201b"


def pwsh_quoted(value: str) -> str:
    """Each PowerShell quote character of `value` doubled."""
    for quote in PWSH_QUOTES:
        value = value.replace(quote, quote * 2)
    return value


def pwsh(assignments: Assignments) -> str:
    """PowerShell (pwsh and Windows PowerShell): verbatim '…' strings, quote characters doubled."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "PowerShell")
        if value is None:
            lines.append(f"Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue;")
        else:
            quoted = pwsh_quoted(value)
            # ";" as in posix(): `Invoke-Expression "$(mfa-env …)"` joins the lines with spaces.
            lines.append(f"$Env:{name} = '{quoted}';")
    return "\n".join(lines) + "\n"


# Unquoted values are the only ones python-dotenv, direnv's dotenv and `docker --env-file` all
# read alike: docker takes everything after "=" verbatim (quotes included), python-dotenv strips
# quotes and a trailing " #comment". STS values (base64, ISO times) fit this set.
DOTENV_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.:,@-")


def dotenv(assignments: Assignments) -> str:
    """KEY=value lines; unsets cannot be expressed and are left out."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "dotenv")
        if value is None:
            continue
        if not DOTENV_SAFE.issuperset(value):
            from mfa_env.errors import UnsafeValueError

            raise UnsafeValueError(
                f"the value of {name} holds characters that dotenv readers disagree on; "
                "use --format json or a shell format"
            )
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


# tcsh(1), "Lexical structure": inside '…' nothing is special but ' itself, ! and a newline.
# History substitution ("History substitution") runs on every line tcsh reads, in scripts,
# `source` and `eval` too (tcsh 6.24: 'x!y' fails with "y: Event not found"), so each ' and !
# goes outside the quotes as \' or \!, which a backslash always makes literal. Refused:
# - a newline: `eval "`mfa-env`"` splits the output into words at newlines ("Command
#   substitution": within "…" only newlines force new words) and eval joins the words with
#   spaces, so a newline would arrive as a space. That is also why every statement ends in ";".
# - non-ASCII text: in a non-UTF-8 locale (LANG=C), tcsh 6.24 loses up to 15 bytes of
#   backquoted output that holds bytes over 0x7f and runs past 4 KiB (seen here; with UTF-8 it
#   is exact). AWS values are ASCII, and the renderer cannot know the user's locale.
def tcsh(assignments: Assignments) -> str:
    """tcsh and csh: `setenv K '…';` with ' and ! escaped outside the quotes."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "tcsh")
        if value is None:
            lines.append(f"unsetenv {name};")
            continue
        if "\n" in value or not value.isascii():
            what = "a newline" if "\n" in value else "non-ASCII text"
            from mfa_env.errors import UnsafeValueError

            raise UnsafeValueError(
                f'the value of {name} holds {what}, which tcsh\'s `eval "`…`"` cannot carry '
                "exactly; use another shell or --format json"
            )
        quoted = value.replace("'", "'\\''").replace("!", "'\\!'")
        lines.append(f"setenv {name} '{quoted}';")
    return "\n".join(lines) + "\n"


# cmd reads our lines with `for /f "delims=" %i in ('mfa-env …') do @%i`. FOR /F hands each
# non-empty output line, whole ("delims=" turns tokenising off), to the body; lines starting
# with the eol character ";" are skipped (`for /?`; ss64.com/nt/for_f.html). The body's %i is
# put in after the body was parsed, so % & | < > ( ) in the line are plain characters there
# (stackoverflow.com/questions/4094699, phases 1, 2 and 4), and & | < > ( ) stay so inside "…"
# when the lines are run from a batch file. `set "K=V"` takes everything between the first "
# and the last " (`set /?`; ss64.com/nt/set.html). tests/test_cmd.py models these rules.
# Refused:
# - " : it would end the quotes early in a batch file, where & and | would become operators;
# - % : expanded when the lines are run from a batch file or through CALL;
# - ! and ^ : with delayed expansion on (cmd /V:ON, setlocal EnableDelayedExpansion), !X! is
#   expanded after %i is put in, and carets are consumed (phase 5); CALL doubles quoted carets
#   (ss64.com/nt/call.html);
# - control characters: FOR /F splits lines at LF and drops a CR before it; the others are
#   refused too, so that every line cmd runs is plain text;
# - non-ASCII text: FOR /F decodes the output in the console code page (OEM, e.g. 437), which
#   is not what Python writes to a pipe on Windows (the ANSI code page);
# - an empty value: `set "K="` removes K; cmd cannot hold an empty variable;
# - a line over 8191 characters, the command line limit (Microsoft Learn, "Command prompt
#   (Cmd.exe) command-line string limitation").
_CMD_UNSAFE = frozenset('"%!^\x7f' + "".join(map(chr, range(0x20))))
_CMD_MAX_LINE = 8191


def cmd(assignments: Assignments) -> str:
    """Windows cmd.exe: `set "K=V"` lines for FOR /F; values cmd would alter are refused."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "cmd")
        if value is None:
            lines.append(f'set "{name}="')
            continue
        bad = next((c for c in value if c in _CMD_UNSAFE or c > "\x7f"), None)
        if bad is not None or not value:
            what = f"the character {bad!r}" if bad is not None else "an empty string"
            from mfa_env.errors import UnsafeValueError

            raise UnsafeValueError(
                f"the value of {name} holds {what}, which cmd cannot carry safely; "
                "use PowerShell (--shell pwsh) or --format json"
            )
        line = f'set "{name}={value}"'
        if len(line) > _CMD_MAX_LINE:
            from mfa_env.errors import UnsafeValueError

            raise UnsafeValueError(
                f"the value of {name} is longer than cmd's {_CMD_MAX_LINE}-character command "
                "line; use PowerShell (--shell pwsh) or --format json"
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


def _nuon_string(value: str) -> str:
    # A double-quoted NUON string: \" \\ and \u{…} are escapes (nushell book, "Working with
    # strings"); every character outside printable ASCII is written as \u{…}, so the output
    # is plain ASCII whatever the terminal or locale.
    out = []
    for c in value:
        if c in '"\\':
            out.append("\\" + c)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append(f"\\u{{{ord(c):x}}}")
    return '"' + "".join(out) + '"'


def nu(assignments: Assignments) -> str:
    """nushell: one NUON record for `from nuon | load-env`; data, never code.

    A variable to remove is null: `load-env` cannot hide a variable, but nushell 0.98 and later
    leave a null-valued variable out of the environment of every command they start (0.91 kept
    the old value), and that environment is what the tools that read AWS_* see. `$env.K` is
    then null rather than absent; `hide-env K` removes it from nushell's own view too.
    """
    items = []
    for name, value in assignments.items():
        _check(name, value, "nushell")
        items.append(f'"{name}": {"null" if value is None else _nuon_string(value)}')
    return "{" + ", ".join(items) + "}\n"


def xonsh(assignments: Assignments) -> str:
    """xonsh: `$K = '…'` with the value as a Python literal; ascii() escapes all but ASCII."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "xonsh")
        if value is None:
            # `del $K` raises KeyError when K is not set; pop does not.
            lines.append(f"${{...}}.pop({name!r}, None)")
        else:
            lines.append(f"${name} = {value!a}")
    return "\n".join(lines) + "\n"


def elvish(assignments: Assignments) -> str:
    """elvish: inside '…' nothing is special but ', written '' (elvish language reference,
    "Single-quoted string"); newlines included."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "elvish")
        if value is None:
            lines.append(f"unset-env {name}")
        else:
            quoted = value.replace("'", "''")
            lines.append(f"set-env {name} '{quoted}'")
    return "\n".join(lines) + "\n"


class Shell(Record):
    """How to speak to one family of shells."""

    name: str
    render: Callable[[Assignments], str]
    # Printed alone on stdout when mfa-env fails, so that the evaluating eval fails too.
    fail: str
    # How the user should call us in this shell, for the hint when stdout is a terminal.
    usage: str


_POSIX = Shell("sh", posix, "false\n", 'eval "$(mfa-env …)"')
_FISH = Shell("fish", fish, "false\n", "mfa-env … | source")
_PWSH = Shell(
    "pwsh", pwsh, "throw 'mfa-env failed: see the message above'\n", "mfa-env … | Invoke-Expression"
)

# tcsh has no `false` builtin, but /bin/false is everywhere; `exit` would end the user's shell.
_TCSH = Shell("tcsh", tcsh, "false\n", 'eval "`mfa-env …`"')
# Run by FOR /F's body like any other line: a child cmd that exits 1 leaves ERRORLEVEL 1 behind
# for `if errorlevel 1`. `exit /b 1` would close an interactive cmd (ss64.com/nt/exit.html); /d
# skips the AutoRun commands of the registry.
_CMD = Shell("cmd", cmd, "cmd /d /c exit 1\n", "for /f \"delims=\" %i in ('mfa-env …') do @%i")
# A NUON string, not a record: `load-env` refuses it ("expects a single record"), and the
# pipeline fails with nothing set.
_NU = Shell(
    "nu", nu, '"mfa-env failed: see the message above"\n', "mfa-env … | from nuon | load-env"
)
# execx raises it; an exception ends a script but never an interactive xonsh (SystemExit would).
_XONSH = Shell(
    "xonsh",
    xonsh,
    "raise RuntimeError('mfa-env failed: see the message above')\n",
    "execx($(mfa-env …))",
)
_ELVISH = Shell(
    "elvish", elvish, "fail 'mfa-env failed: see the message above'\n", "eval (mfa-env … | slurp)"
)

SHELLS: dict[str, Shell] = {
    "bash": _POSIX,
    "zsh": _POSIX,
    "sh": _POSIX,
    "dash": _POSIX,
    "ash": _POSIX,
    "ksh": _POSIX,
    "fish": _FISH,
    "pwsh": _PWSH,
    "powershell": _PWSH,
    "tcsh": _TCSH,
    "csh": _TCSH,
    "cmd": _CMD,
    "nu": _NU,
    "xonsh": _XONSH,
    "elvish": _ELVISH,
}


class Output(Record):
    """What stdout will carry, decided before anything is printed."""

    fmt: str  # shell, json, dotenv, or exec (stdout is the command's)
    shell: Shell
    tty: bool

    def usage(self, arguments: str) -> str:
        """How this output is meant to be used, for the hint when stdout is a terminal."""
        if self.fmt == "shell":
            return self.shell.usage.replace("…", arguments)
        return f"mfa-env {arguments} --format {self.fmt} | cat (or as a credential_process)"

    def fail_statement(self) -> str:
        # A terminal, another format, or exec mode's child's stdout: nothing to make fail.
        return self.shell.fail if self.fmt == "shell" and not self.tty else ""


# Before the shell is known, a failure still makes a POSIX eval fail: eval is POSIX by default.
POSIX_OUTPUT = Output("shell", _POSIX, tty=False)


class Detected(Record):
    name: str
    hint: str | None = None  # said on stderr when the guess may be wrong


def detect(explicit: str | None) -> Detected:
    """--shell / MFA_ENV_SHELL, then bash inside direnv, then the calling shell, else the
    platform's fallback: POSIX sh, or PowerShell on Windows."""
    if explicit:
        return Detected(explicit.lower())
    if os.environ.get("DIRENV_IN_ENVRC") == "1":
        # direnv evaluates .envrc with bash whatever the user's login shell is.
        return Detected("bash")
    try:
        name = _proc_shell()
    except OSError:
        # No /proc (macOS, the BSDs, Windows): shellingham asks ps, or reads the Windows
        # process tree.
        name = _shellingham()
    if name in SHELLS:
        return Detected(name)
    fallback, shown = platform.fallback_shell()
    if name is None:
        return Detected(
            fallback, f"could not tell which shell is calling; writing {shown} (use --shell)"
        )
    return Detected(
        fallback,
        f"the calling shell looks like {name!r}, which mfa-env does not know; "
        f"writing {shown} (use --shell)",
    )


def _shellingham() -> str | None:
    # Imported only here: it loads subprocess for its ps fallback, ~2 ms on every cached run.
    import shellingham

    try:
        name, _path = shellingham.detect_shell()
    except (shellingham.ShellDetectionFailure, OSError, RuntimeError):
        # OSError: a Win32 call it makes failed; RuntimeError: a platform it does not know.
        return None
    return str(name).lower()


def _proc_shell(max_depth: int = 10) -> str | None:
    """The nearest ancestor that is a shell, read from /proc as shellingham reads it on Linux,
    with two differences: a login shell (argv0 "-zsh") is named by its argv0, where shellingham
    answers $SHELL; and a title that xonsh rewrote with setproctitle ("xonsh --no-rc", one
    string) is still xonsh. Raises OSError where there is no /proc to read.
    """
    pid = os.getppid()
    for depth in range(max_depth):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                # The command name may hold spaces and parentheses; the ppid follows the last ")".
                parent = int(f.read().rsplit(b")", 1)[1].split()[1])
        except OSError:
            if depth == 0:
                raise
            return None  # an ancestor went away, or is not ours to read
        except (ValueError, IndexError):
            return None
        argv0 = argv[0].decode(errors="replace")
        name = os.path.basename(argv0.lstrip("-")).lower()
        if name in _SHELL_NAMES:
            return name
        first = os.path.basename(argv0.split(" ", 1)[0]).lower()
        if first in _SHELL_NAMES:
            return first  # a title set by setproctitle
        if name.startswith("python") and any(os.path.basename(a) == b"xonsh" for a in argv[1:3]):
            # xonsh run by its interpreter, as shellingham also sees it (sarugaku/shellingham#26).
            return "xonsh"
        if parent <= 1:
            return None
        pid = parent
    return None


def lookup(name: str) -> Shell:
    try:
        return SHELLS[name]
    except KeyError:
        known = ", ".join(sorted(SHELLS))
        from mfa_env.errors import UsageError

        raise UsageError(f"unknown shell {name!r}: use one of {known}") from None
