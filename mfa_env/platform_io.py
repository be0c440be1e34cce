"""The part of mfa_env.platform that a cache hit never calls (see that module's docstring):
the rest of the code reaches it there, as platform.NAME."""

from __future__ import annotations

import os
import sys

from mfa_env import platform
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NoReturn, TypeAlias

# -- ownership of what is written -----------------------------------------------------------------


def adopt_owner(path: str, fd: int | None = None) -> None:
    """Under sudo (euid 0), give what we create the owner of the directory it is in, so that the
    user's later runs can use and replace it. Elsewhere, and on Windows, a no-op."""
    if sys.platform == "win32":
        return
    if os.geteuid() != 0:
        return
    parent = os.stat(os.path.dirname(os.path.abspath(path)) or "/")
    if (parent.st_uid, parent.st_gid) == (0, 0):
        return
    import contextlib

    with contextlib.suppress(OSError):
        if fd is not None:
            os.fchown(fd, parent.st_uid, parent.st_gid)
        else:
            os.chown(path, parent.st_uid, parent.st_gid, follow_symlinks=False)


def keep_owner(fd: int, owner: tuple[int, int]) -> None:
    """Give a replacement the (uid, gid) of the file it replaces, when that is not ours (root
    writing a user's file). Windows: a no-op; the new file inherits the directory's ACL."""
    if sys.platform == "win32":
        return
    if owner != (os.geteuid(), os.getegid()):
        import contextlib

        with contextlib.suppress(OSError):
            os.fchown(fd, *owner)


def set_mode(fd: int, mode: int) -> None:
    """POSIX: chmod the open file (fchmod ignores the umask). Windows: a no-op; mode bits there
    are only the read-only attribute."""
    if sys.platform == "win32":
        return
    os.fchmod(fd, mode)


def fsync_dir(directory: str) -> None:
    """Make a rename durable. Some file systems cannot fsync a directory, and Windows cannot
    open one at all (NTFS journals the rename itself): the rename stands."""
    if sys.platform == "win32":
        return
    import contextlib

    with contextlib.suppress(OSError):
        fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- the file lock: one for the credentials file and the session cache --------------------------

# Windows locks are mandatory: a locked byte cannot be read by another process. So the lock is
# on a byte past the holder's pid, which waiters read from offset 0 (at most 32 bytes).
_LOCK_BYTE = 64


def try_lock(fd: int) -> bool:
    """Take the exclusive lock on the open file `fd` if it is free: True once held, False while
    another descriptor holds it (this process's too). OSError where there is no lock to be had.

    POSIX: flock, freed by the kernel when the holder closes it or dies. Windows: msvcrt.locking
    on one byte, freed by unlock() (and by the system when the holder dies)."""
    if sys.platform == "win32":
        import errno
        import msvcrt

        os.lseek(fd, _LOCK_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            if exc.errno == errno.EACCES:  # the CRT's word for "locked by another"
                return False
            raise
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def lock(fd: int, deadline: float, poll: float) -> bool:
    """Take the lock, trying every `poll` seconds until the time.monotonic() `deadline`: True
    once held, False if another still holds it then. OSError where there is no lock to be had."""
    import time

    while not try_lock(fd):
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def unlock(fd: int) -> None:
    """Let go, just before closing `fd`. POSIX: nothing, closing does it. Windows: explicitly,
    as msvcrt.locking's documentation asks: the system frees a closed file's locks only when
    its resources allow."""
    if sys.platform == "win32":
        import contextlib
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, _LOCK_BYTE, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def mark_holder(fd: int) -> None:
    """Write our pid at the start of the lock file, for a run that finds it held."""
    import contextlib

    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())


def holder(fd: int) -> str:
    """The pid the lock's holder wrote, or "" when it cannot be read."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text if text.isdigit() else ""


# -- the terminal: where a prompt is seen whatever became of stdin, stdout and stderr ------------


class PosixTerminal:
    """/dev/tty, the controlling terminal: stdout may be captured by $(…), stdin may be a pipe,
    and stderr may be captured too (botocore and the AWS CLI keep a credential_process's)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.encoding = os.device_encoding(fd) or "utf-8"

    def write(self, text: str) -> None:
        """Never fails: a terminal that cannot be written to cannot be read, and the read says
        so."""
        data = text.encode(self.encoding, "backslashreplace")
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            pass

    def read_line(self, echo: bool = True) -> str | None:
        """One line without its end; None at end of input (Ctrl-D). OSError when the terminal
        goes away. With echo off (termios), what is typed is not shown."""
        if echo:
            return self._read_line()
        if sys.platform == "win32":  # never: open_terminal() gives Windows a Console
            raise OSError("no POSIX terminal on Windows")
        import termios

        try:
            saved = termios.tcgetattr(self.fd)
            quiet = list(saved)
            quiet[3] &= ~termios.ECHO  # lflags
            termios.tcsetattr(self.fd, termios.TCSAFLUSH, quiet)
            try:
                return self._read_line()
            finally:
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, saved)
        except termios.error as exc:
            raise OSError(*exc.args) from None

    def _read_line(self) -> str | None:
        # A byte at a time: a terminal left in raw mode hands over keys, not lines.
        data = bytearray()
        while True:
            chunk = os.read(self.fd, 1)
            if not chunk or chunk == b"\x04":
                return None if not data else data.decode(self.encoding, "replace")
            if chunk in (b"\n", b"\r"):
                return data.decode(self.encoding, "replace")
            data += chunk

    def close(self) -> None:
        os.close(self.fd)


class Console:
    """The Windows console, read with msvcrt.getwch and written with putwch, as the standard
    library's getpass does on Windows: both reach the console itself (CONIN$, CONOUT$) when
    every stream is redirected, as under `Invoke-Expression (mfa-env …)` or a
    credential_process. getwch does not echo and hands over keys, not lines: the line is put
    together here."""

    def write(self, text: str) -> None:
        if sys.platform == "win32":
            import msvcrt

            for char in text.replace("\n", "\r\n"):
                msvcrt.putwch(char)

    def read_line(self, echo: bool = True) -> str | None:
        """One line; None at end of input (Ctrl-Z or Ctrl-D at the start of a line);
        KeyboardInterrupt for Ctrl-C, which getwch hands over as a key."""
        if sys.platform != "win32":
            raise OSError("no Windows console here")
        import msvcrt

        chars: list[str] = []
        while True:
            char = msvcrt.getwch()
            if char in ("\r", "\n"):
                if echo:
                    self.write("\n")
                return "".join(chars)
            if char == "\x03":
                raise KeyboardInterrupt
            if char in ("\x1a", "\x04"):
                return "".join(chars) if chars else None
            if char in ("\x00", "\xe0"):
                msvcrt.getwch()  # an arrow or function key: its second half, dropped
            elif char == "\b":
                if chars:
                    chars.pop()
                    if echo:
                        self.write("\b \b")
            elif char == "\uffff":  # WEOF: the console went away
                raise OSError("the console went away")
            else:
                chars.append(char)
                if echo:
                    msvcrt.putwch(char)

    def close(self) -> None:
        pass


if TYPE_CHECKING:
    Terminal: TypeAlias = "PosixTerminal | Console"


def open_terminal() -> Terminal:
    """The user's terminal; OSError where there is none (no controlling terminal, no console)."""
    if sys.platform == "win32":
        os.close(os.open(platform._CONSOLE, os.O_RDWR))  # only whether there is a console to open
        return Console()
    return PosixTerminal(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))


# -- exec mode ----------------------------------------------------------------------------------


def execute(argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Run the command as the rest of this process; raises OSError when it cannot be started.

    POSIX: it replaces us (execvpe), with the signal dispositions Python changed put back: it
    ignores SIGPIPE and SIGXFSZ (exec passes that on, and `yes | head -1` would never end) and
    handles SIGINT. What we inherited (nohup's SIGHUP) stays.

    Windows has no exec: os.execvpe starts the program and returns at once, its exit status
    lost. So it runs as a child, found on the PATH with PATHEXT as a shell finds it (aws.cmd),
    and we wait for it. Ctrl-C reaches it, as it reaches every process on the console; we
    keep waiting, and its exit status becomes ours."""
    if sys.platform == "win32":
        import shutil
        import subprocess

        program = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
        child = subprocess.Popen([program, *argv[1:]], env=dict(env))
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:
                continue  # the child had it too: what it does about it decides
        sys.exit(exit_status(status))
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execvpe(argv[0], list(argv), dict(env))


def exit_status(code: int) -> int:
    """A Windows exit code as sys.exit passes it on intact. It is a 32-bit DWORD
    (0xC000013A when Ctrl-C ended the program), and Python hands exit a C long, which is 32
    bits there: past 2**31 it overflows, and the status would become -1."""
    return code - (1 << 32) if code >= 1 << 31 else code


# -- in-memory files for botocore to read -------------------------------------------------------


def memory_files(texts: Sequence[bytes]) -> list[str] | None:
    """Paths of in-memory files holding `texts`, open for the process's life and closed on exec.
    Linux memfds, read through /proc/self/fd, so nothing touches a disk; elsewhere (no memfd, no
    /proc) None."""
    if sys.platform != "linux":
        return None
    fds: list[int] = []
    try:
        for text in texts:
            fds.append(os.memfd_create("mfa-env-aws-file", os.MFD_CLOEXEC))
            view = memoryview(text)
            while view:
                view = view[os.write(fds[-1], view) :]
        paths = [f"/proc/self/fd/{fd}" for fd in fds]
        if all(os.path.isfile(path) for path in paths):
            return paths
    except (OSError, AttributeError):  # AttributeError: a Python built without memfd_create
        pass
    for fd in fds:
        os.close(fd)
    return None
