"""Where the MFA code comes from: the argument, --mfa-command, or a prompt on the terminal."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

from mfa_env.config import CODE_RE, matches
from mfa_env.errors import MfaEnvError, UsageError, printable

MFA_COMMAND_TIMEOUT = 60
_CODE_IN_OUTPUT = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")


def from_command(command: str) -> str:
    """Run COMMAND without a shell and take the six-digit code it prints."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UsageError(f"cannot split --mfa-command {command!r}: {exc}") from None
    if not argv:
        raise UsageError("--mfa-command is empty")
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,  # its own messages (a touch prompt, say) reach the user directly
            timeout=MFA_COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise MfaEnvError(
            f"--mfa-command: {argv[0]!r} not found; check the command and PATH"
        ) from None
    except PermissionError:
        raise MfaEnvError(f"--mfa-command: {argv[0]!r} is not executable") from None
    except subprocess.TimeoutExpired:
        raise MfaEnvError(
            f"--mfa-command {argv[0]!r} gave no code within {MFA_COMMAND_TIMEOUT} s; it was stopped"
        ) from None
    if done.returncode != 0:
        raise MfaEnvError(f"--mfa-command {argv[0]!r} failed with exit status {done.returncode}")
    codes = _CODE_IN_OUTPUT.findall(done.stdout.decode("utf-8", "replace"))
    if len(codes) != 1:
        found = "no" if not codes else "more than one"
        raise MfaEnvError(f"--mfa-command {argv[0]!r} printed {found} six-digit code")
    return codes[0]


def from_terminal(label: str) -> str:
    """Ask on the controlling terminal, and only there: stdout is captured by $(…), stdin may be
    a pipe, and stderr may be captured too (botocore and the AWS CLI keep a credential_process's
    stderr), so the prompt is written to the same /dev/tty the answer is read from."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise MfaEnvError(
            "no MFA code given and no terminal to ask on; pass the code as an argument, "
            "or use --mfa-command"
        ) from None
    try:
        return _ask(fd, label)
    finally:
        os.close(fd)


def _ask(fd: int, label: str) -> str:
    """Up to three tries on the terminal FD; the label may come from IAM, so it is escaped."""
    encoding = os.device_encoding(fd) or "utf-8"
    try:
        for _attempt in range(3):
            _show(fd, f"MFA code for {printable(label)}: ", encoding)
            line = _read_line(fd, encoding)
            if line is None:
                _show(fd, "\n", encoding)
                raise MfaEnvError("no MFA code entered (end of input)")
            code = line.strip().replace(" ", "")
            if matches(CODE_RE, code):
                return code
            _show(fd, "mfa-env: the code must be six digits\n", encoding)
        raise UsageError("no valid six-digit MFA code entered")
    except KeyboardInterrupt:
        # The terminal echoed ^C after the prompt: end that line before the error is printed.
        _show(fd, "\n", encoding)
        raise MfaEnvError("cancelled at the MFA prompt") from None
    except OSError:
        raise MfaEnvError("the terminal went away at the MFA prompt") from None


def _show(fd: int, text: str, encoding: str) -> None:
    data = text.encode(encoding, "backslashreplace")
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        # A terminal that cannot be written to cannot be read either: the read says so.
        pass


def _read_line(fd: int, encoding: str) -> str | None:
    # A byte at a time: a terminal left in raw mode hands over keys, not lines.
    data = bytearray()
    while True:
        chunk = os.read(fd, 1)
        if not chunk or chunk == b"\x04":
            return None if not data else data.decode(encoding, "replace")
        if chunk in (b"\n", b"\r"):
            return data.decode(encoding, "replace")
        data += chunk


def get_code(code: str | None, command: str | None, label: str) -> str:
    if code is not None:
        return code
    if command:
        return from_command(command)
    return from_terminal(label)
