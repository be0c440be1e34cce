"""Our own exception types. cli.py turns each into one line on stderr and an exit status."""

from __future__ import annotations


class MfaEnvError(Exception):
    """A failure the user can fix; the message is one sentence that says how."""

    exit_code = 1


class UsageError(MfaEnvError):
    """Bad input on the command line or in the environment (exit 2)."""

    exit_code = 2


class ConfigError(MfaEnvError):
    """The AWS files or the source credentials cannot be used."""


class AwsError(MfaEnvError):
    """AWS (or the endpoint standing in for it) refused or failed a call."""


class UnsafeValueError(MfaEnvError):
    """A value cannot be written safely for the chosen shell or file format."""


class CredentialsFileError(MfaEnvError):
    """The shared credentials file cannot be written safely; it was left as it was."""
