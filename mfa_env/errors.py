"""Our own exception types. cli.py turns each into one line on stderr and an exit status."""

from __future__ import annotations


class MfaEnvError(Exception):
    """A failure the user can fix; the message is one sentence that says how."""

    exit_code = 1
    # What the run had found before it failed (a distrusted cache entry, say): printed first,
    # since it may be why it failed.
    notes: tuple[str, ...] = ()


class UsageError(MfaEnvError):
    """Bad input on the command line or in the environment (exit 2)."""

    exit_code = 2


class NoCodeError(MfaEnvError):
    """No code given and none to be had: no terminal to ask on. A still-valid cached session
    may be handed out instead."""


class Cancelled(MfaEnvError):
    """Ctrl-C at a prompt or while the code command ran: 130, as shells end on SIGINT, so that
    `mfa-env … -- cmd; next` stops too."""

    exit_code = 130


class CommandNotRun(MfaEnvError):
    """Exec mode's command could not be started: 127 when it is not found, 126 when it cannot
    run, as shells say (POSIX 2.8.2)."""

    def __init__(self, message: str, not_found: bool) -> None:
        super().__init__(message)
        self.exit_code = 127 if not_found else 126


class ConfigError(MfaEnvError):
    """The AWS files or the source credentials cannot be used."""


class AwsError(MfaEnvError):
    """AWS (or the endpoint standing in for it) refused or failed a call."""


class UnsafeValueError(MfaEnvError):
    """A value cannot be written safely for the chosen shell or file format."""


class CredentialsFileError(MfaEnvError):
    """The shared credentials file cannot be written safely; it was left as it was."""


# Filled on the first call that needs it, so that importing this module (which the cached path
# does) builds nothing.
_ESCAPES: dict[int, str] = {}


def _escapes() -> dict[int, str]:
    if not _ESCAPES:
        codes = [
            *range(0x00, 0x09),  # C0 controls; tab (0x09) is harmless and kept
            *range(0x0A, 0x20),
            *range(0x7F, 0xA0),  # DEL, and the C1 controls (U+009B is CSI to xterm)
            0x061C,  # the bidi controls: they reorder what follows them on the line
            0x200E,
            0x200F,
            *range(0x202A, 0x202F),
            *range(0x2066, 0x206A),
            0x2028,  # line and paragraph separators: a line break to some terminals and logs
            0x2029,
            # Lone surrogates: what Python makes of bytes that are not UTF-8 in argv, the
            # environment or a file name; no stream can encode them, so writing one would fail.
            *range(0xD800, 0xE000),
        ]
        table = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in codes}
        table.update({0x0A: "\\n", 0x0D: "\\r"})
        _ESCAPES.update(table)
    return _ESCAPES


def printable(text: str) -> str:
    """TEXT with every character that could end the line, move the cursor, send a terminal
    command or reorder the line shown as an escape, so that outside text (a serial from IAM, a
    program's name) cannot forge or hide part of a message.

    The escapes are Python's repr spellings (`\\n`, `\\r`, `\\x1b`, `\\u202e`), so a message that
    shows one value with !r and another through this function reads the same.

    A backslash is left as it is, so the function is idempotent: a message part escaped here may
    be escaped again with its whole line, and shows the same. The price is that the escaping is
    injective only on text without backslashes: the four characters `\\x1b` and an ESC look alike.
    That confuses nobody's terminal, and text a message shows is never parsed back.
    """
    # In C, and true of nearly every message: every character escaped here is non-printable.
    if text.isprintable():
        return text
    return text.translate(_escapes())
