"""Which shell is calling us, and one renderer per shell: pure functions of name -> value.

A value of None means "unset this variable". Each renderer knows only its own quoting; a value
that its shell cannot hold safely raises UnsafeValueError, never a mangled line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mfa_env.errors import UnsafeValueError, UsageError

Assignments = Mapping[str, "str | None"]

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
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check(name: str, value: str | None, shell: str) -> None:
    if not _NAME.match(name):
        raise UnsafeValueError(f"{name!r} is not a valid environment variable name")
    if value is None:
        return
    if "\0" in value:
        raise UnsafeValueError(
            f"the value of {name} holds a NUL byte, which no {shell} variable can"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeValueError(
            f"the value of {name} is not valid Unicode text and cannot be written for {shell}"
        ) from None


def posix(assignments: Assignments) -> str:
    """sh, bash, dash, ash, zsh, ksh: inside '…' nothing is special but ' itself (POSIX 2.2.2)."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "POSIX shell")
        if value is None:
            lines.append(f"unset {name}")
        else:
            quoted = value.replace("'", "'\\''")
            lines.append(f"export {name}='{quoted}'")
    return "\n".join(lines) + "\n"


def fish(assignments: Assignments) -> str:
    """fish: inside '…' only \\' and \\\\ are escapes (fish docs, "Quotes")."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "fish")
        if value is None:
            # `set -e` of an unset variable returns 4, and `set -gx` keeps the previous status,
            # so without `or true` a good `| source` would report failure.
            lines.append(f"set -e {name}; or true")
        else:
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            lines.append(f"set -gx {name} '{quoted}'")
    return "\n".join(lines) + "\n"


# PowerShell treats the typographic single quotes as quote characters too, and a doubled quote
# character stands for one (PowerShell Language Specification 3.0, §2.3.5.2).
_PWSH_QUOTES = re.compile("['\u2018\u2019\u201a\u201b]")


def pwsh(assignments: Assignments) -> str:
    """PowerShell (pwsh and Windows PowerShell): verbatim '…' strings, quote characters doubled."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "PowerShell")
        if value is None:
            lines.append(f"Remove-Item -Path Env:{name} -ErrorAction SilentlyContinue")
        else:
            quoted = _PWSH_QUOTES.sub(lambda m: m.group(0) * 2, value)
            lines.append(f"$Env:{name} = '{quoted}'")
    return "\n".join(lines) + "\n"


# Unquoted values are the only ones python-dotenv, direnv's dotenv and `docker --env-file` all
# read alike: docker takes everything after "=" verbatim (quotes included), python-dotenv strips
# quotes and a trailing " #comment". STS values (base64, ISO times) fit this set.
_DOTENV_SAFE = re.compile(r"[A-Za-z0-9+/=_.:,@-]*\Z")


def dotenv(assignments: Assignments) -> str:
    """KEY=value lines; unsets cannot be expressed and are left out."""
    lines = []
    for name, value in assignments.items():
        _check(name, value, "dotenv")
        if value is None:
            continue
        if not _DOTENV_SAFE.match(value):
            raise UnsafeValueError(
                f"the value of {name} holds characters that dotenv readers disagree on; "
                "use --format json or a shell format"
            )
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Shell:
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
}


@dataclass(frozen=True)
class Detected:
    name: str
    hint: str | None = None  # said on stderr when the guess may be wrong


def detect(explicit: str | None) -> Detected:
    """--shell / MFA_ENV_SHELL, then bash inside direnv, then shellingham, then POSIX sh."""
    if explicit:
        return Detected(explicit.lower())
    if os.environ.get("DIRENV_IN_ENVRC") == "1":
        # direnv evaluates .envrc with bash whatever the user's login shell is.
        return Detected("bash")
    # Imported here: the fast paths above should not pay for it.
    import shellingham

    try:
        name, _path = shellingham.detect_shell()
    except shellingham.ShellDetectionFailure:
        return Detected(
            "sh", "could not tell which shell is calling; writing POSIX sh (use --shell)"
        )
    name = name.lower()
    login = _login_shell_name()
    if login and login != name:
        # shellingham answers $SHELL for a login shell (argv0 "-zsh"); the argv0 is the truth.
        if login in SHELLS:
            return Detected(login)
        name = login
    if name in SHELLS:
        return Detected(name)
    return Detected(
        "sh",
        f"the calling shell looks like {name!r}, which mfa-env does not know; "
        "writing POSIX sh (use --shell)",
    )


def _login_shell_name(max_depth: int = 6) -> str | None:
    """The name in argv0 of the nearest ancestor started as a login shell ("-zsh"), on Linux."""
    pid = os.getppid()
    for _ in range(max_depth):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0", 1)[0].decode(errors="replace")
            with open(f"/proc/{pid}/stat", "rb") as f:
                # The command name may hold spaces and parentheses; the ppid follows the last ")".
                pid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        if argv0.startswith("-"):
            return os.path.basename(argv0[1:]).lower()
        if os.path.basename(argv0).lower() in _SHELL_NAMES:
            return None  # the nearest shell is not a login shell: shellingham saw it right
        if pid <= 1:
            return None
    return None


def lookup(name: str) -> Shell:
    try:
        return SHELLS[name]
    except KeyError:
        known = ", ".join(sorted(SHELLS))
        raise UsageError(f"unknown shell {name!r}: use one of {known}") from None
