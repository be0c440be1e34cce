"""Where the MFA code comes from: the argument, --mfa-command, or a prompt on the terminal."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

from mfa_env.config import CODE_RE, matches
from mfa_env.errors import MfaEnvError, UsageError

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
    """Ask on the controlling terminal: stdout is captured by $(…) and stdin may be a pipe."""
    try:
        tty = open("/dev/tty", "r+b", buffering=0)  # noqa: SIM115 - closed below
    except OSError:
        raise MfaEnvError(
            "no MFA code given and no terminal to ask on; pass the code as an argument, "
            "or use --mfa-command"
        ) from None
    try:
        for _attempt in range(3):
            # The prompt goes to stderr, like every message; the answer is read from the terminal.
            sys.stderr.write(f"MFA code for {label}: ")
            sys.stderr.flush()
            line = _read_line(tty)
            if line is None:
                sys.stderr.write("\n")
                raise MfaEnvError("no MFA code entered (end of input)")
            code = line.strip().replace(" ", "")
            if matches(CODE_RE, code):
                return code
            sys.stderr.write("mfa-env: the code must be six digits\n")
        raise UsageError("no valid six-digit MFA code entered")
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        raise MfaEnvError("cancelled at the MFA prompt") from None
    finally:
        tty.close()


def _read_line(tty: object) -> str | None:
    data = bytearray()
    fd = tty.fileno()  # type: ignore[attr-defined]
    while True:
        chunk = os.read(fd, 1)
        if not chunk or chunk == b"\x04":
            return None if not data else data.decode("utf-8", "replace")
        if chunk in (b"\n", b"\r"):
            return data.decode("utf-8", "replace")
        data += chunk


def get_code(code: str | None, command: str | None, label: str) -> str:
    if code is not None:
        return code
    if command:
        return from_command(command)
    return from_terminal(label)
