"""Our own exception types. cli.py turns each into one line on stderr and an exit status.

A cache hit raises none, and never imports this module: each is imported where it is raised or
caught (an `except` clause names it only once something is raised).
"""

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
