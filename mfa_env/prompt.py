"""Where the MFA code comes from: the argument, --mfa-command, or a prompt on the terminal."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import NoReturn

from mfa_env import platform
from mfa_env.config import as_code
from mfa_env.deliver import printable
from mfa_env.errors import Cancelled, MfaEnvError, NoCodeError, UsageError

MFA_COMMAND_TIMEOUT = 60
# Far more than any OTP tool prints; a runaway command (`yes`) is stopped, not buffered.
MFA_COMMAND_MAX_OUTPUT = 64 * 1024
# How often to look whether the command itself has exited while its stdout stays open: a
# background child it left behind may hold the pipe for as long as it likes.
_EXIT_POLL = 0.05
_CODE_IN_OUTPUT = re.compile(rb"(?<![0-9])[0-9]{6}(?![0-9])")


def from_command(command: str) -> str:
    """Run COMMAND without a shell and take the one six-digit code it prints.

    Its stdout is read until end of file or until the command itself has exited, whichever comes
    first: children it left running may keep the pipe open, and are never waited for (what they
    print after the command exited is not read). The code is taken only once the command has
    exited, with status 0 and exactly one code in its output: a tool that fails may have printed
    a stale code, and more codes could follow while it runs. A command that prints a code and
    keeps running is stopped at MFA_COMMAND_TIMEOUT like one that prints nothing.

    It runs in our session and process group, so it can ask for a PIN or password on /dev/tty
    and Ctrl-C reaches it; in a new session it would lose the terminal, in a new group it would
    be stopped for reading it. The price: on a timeout only the command itself is killed.

    No message shows the command line, which may hold a TOTP seed; only its argv[0].
    """
    try:
        argv = shlex.split(command)
    except ValueError:
        # Not even shlex's reason: it may quote the text.
        raise UsageError(
            "--mfa-command could not be split into words; check its quotes and backslashes "
            "(it is not shown, as it may hold a secret)"
        ) from None
    if not argv:
        raise UsageError("--mfa-command is empty")
    name = f"--mfa-command '{printable(argv[0])}'"
    with _ctrl_c_noted() as interrupted:
        proc = _start(argv, name)
        try:
            output = _collect(proc, name, interrupted)
        finally:
            # A leftover child that writes again gets SIGPIPE instead of a pipe nobody reads.
            if proc.stdout is not None:
                proc.stdout.close()
            if proc.returncode is None:
                proc.kill()
                proc.wait()
        # Before the exit status: a command that the same Ctrl-C killed was cancelled.
        if interrupted:
            raise Cancelled(f"cancelled while {name} was running")
    if proc.returncode < 0:
        raise MfaEnvError(f"{name} was killed by {_signal_name(-proc.returncode)}")
    if proc.returncode != 0:
        raise MfaEnvError(f"{name} failed with exit status {proc.returncode}")
    codes: list[bytes] = _CODE_IN_OUTPUT.findall(output)
    if len(codes) != 1:
        found = "no" if not codes else "more than one"
        raise MfaEnvError(f"{name} printed {found} six-digit code")
    return codes[0].decode("ascii")


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[list[int]]:
    """While the command runs, Ctrl-C is noted in the list rather than raised.

    A KeyboardInterrupt surfaces wherever Python happens to be: under load, often still inside
    Popen after the child exists (it printed, the user pressed Ctrl-C, we had not run yet). It
    then passed every handler of ours, said only "cancelled", and nobody stopped or reaped the
    child (issue 19). Noted instead, it is acted on where we hold the child. A SIGINT that is
    ignored (nohup, `&` in a script) or not Python's to raise is left as it is.
    """
    caught: list[int] = []
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield caught
        return

    def note(signum: int, _frame: object) -> None:
        caught.append(signum)

    # The child starts with SIGINT at its default: exec resets a handled signal.
    previous = signal.signal(signal.SIGINT, note)
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


def _start(argv: list[str], name: str) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None,  # its own messages (a touch prompt, say) reach the user directly
        )
    except FileNotFoundError:
        raise MfaEnvError(f"{name} was not found; check the command and PATH") from None
    except PermissionError:
        raise MfaEnvError(f"{name} is not executable") from None
    except OSError as exc:
        raise MfaEnvError(f"{name} could not be run: {exc.strerror}") from None


def _collect(proc: subprocess.Popen[bytes], name: str, interrupted: list[int]) -> bytes:
    """What the command printed, once it has exited or Ctrl-C was pressed; raises if it
    outlives the timeout. It waits in steps of _EXIT_POLL, so that Ctrl-C is seen within one
    even when the command has closed its stdout and ignores the interrupt."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + MFA_COMMAND_TIMEOUT
    output = bytearray()
    watched = [fd]
    while not interrupted:
        # Everything the command wrote before it exited is in the pipe by then: read what is
        # there without waiting, and nothing its leftovers write later.
        exited = proc.poll() is not None
        remaining = deadline - time.monotonic()
        if not exited and remaining <= 0:
            _timed_out(output, name)
        ready, _, _ = select.select(watched, [], [], 0 if exited else min(remaining, _EXIT_POLL))
        if not ready:
            if exited:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            watched = []  # end of file, and the command may still be running
            continue
        output += chunk
        if len(output) > MFA_COMMAND_MAX_OUTPUT:
            raise MfaEnvError(
                f"{name} printed more than {MFA_COMMAND_MAX_OUTPUT // 1024} KiB; "
                "it should print one MFA code"
            )
    return bytes(output)


def _timed_out(output: bytearray, name: str) -> NoReturn:
    what = "printed a code but did not exit" if _CODE_IN_OUTPUT.search(output) else "gave no code"
    raise MfaEnvError(f"{name} {what} within {MFA_COMMAND_TIMEOUT} s; it was stopped")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def from_terminal(label: str) -> str:
    """Ask on the user's terminal, and only there (platform.open_terminal: /dev/tty, or the
    Windows console): stdout is captured by $(…), stdin may be a pipe, and stderr may be
    captured too (botocore and the AWS CLI keep a credential_process's stderr), so the prompt
    is written where the answer is read from."""
    try:
        terminal = platform.open_terminal()
    except OSError:
        raise NoCodeError(
            "no MFA code given and no terminal to ask on; pass the code as an argument, "
            "or use --mfa-command"
        ) from None
    try:
        return _ask(terminal, label)
    finally:
        terminal.close()


def _ask(terminal: platform.Terminal | int, label: str) -> str:
    """Up to three tries on the terminal (or a terminal's descriptor); the label may come from
    IAM, so it is escaped."""
    if isinstance(terminal, int):
        terminal = platform.PosixTerminal(terminal)
    try:
        for _attempt in range(3):
            terminal.write(f"MFA code for {printable(label)}: ")
            line = terminal.read_line()
            if line is None:
                terminal.write("\n")
                raise MfaEnvError("no MFA code entered (end of input)")
            code = as_code(line.strip())
            if code is not None:
                return code
            terminal.write("mfa-env: the code must be six digits\n")
        raise UsageError("no valid six-digit MFA code entered")
    except KeyboardInterrupt:
        # The terminal echoed ^C after the prompt: end that line before the error is printed.
        terminal.write("\n")
        raise Cancelled("cancelled at the MFA prompt") from None
    except OSError:
        raise MfaEnvError("the terminal went away at the MFA prompt") from None


def ask_keys(profile: str) -> tuple[str, str]:
    """--store-keys for a profile the file holds no keys for: both on the terminal, the access
    key ID echoed, the secret not."""
    try:
        terminal = platform.open_terminal()
    except OSError:
        raise MfaEnvError(
            f"profile {profile!r} has no keys in the credentials file and there is no terminal "
            "to ask for them on"
        ) from None
    try:
        terminal.write(f"AWS access key ID for [{printable(profile)}]: ")
        key_id = terminal.read_line()
        terminal.write("AWS secret access key (not shown): ")
        try:
            secret = terminal.read_line(echo=False)
        finally:
            terminal.write("\n")
    except KeyboardInterrupt:
        terminal.write("\n")
        raise Cancelled("cancelled at the keys prompt") from None
    except OSError:
        raise MfaEnvError("the terminal went away at the keys prompt") from None
    finally:
        terminal.close()
    if not key_id or not secret:
        raise MfaEnvError("no keys entered; nothing was stored")
    return key_id.strip(), secret.strip()


def get_code(code: str | None, command: str | None, label: str) -> str:
    if code is not None:
        return code
    if command:
        return from_command(command)
    return from_terminal(label)
