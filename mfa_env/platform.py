"""What differs between POSIX (Linux, macOS) and Windows, in one place: the file lock, the
terminal, ownership, exec, the fallback shell and in-memory files. Every other module runs the
same code everywhere; the deadline on a call to AWS is one of them (sts._call: a worker thread,
no signal).

Each function tests `sys.platform` itself, when called: mypy then checks each branch against its
own platform's stubs (`mypy --platform win32`, `--platform darwin` in `make lint`), and the
simulated Windows tier (tests/fast/test_windows.py) runs the Windows branches on Linux with the
OS calls faked. Linux runs every POSIX branch in every test run.

It is on the cached path, and imports only what is loaded by then (os, stat, sys,
mfa_env.record). What a cache hit never calls (the owner and mode of what is written, the file
lock, the terminal, exec mode, in-memory files) is in mfa_env.platform_io, imported when first
asked for here; each platform's own modules (fcntl, termios, msvcrt, subprocess), and
contextlib, are imported in the function that needs them.
"""

from __future__ import annotations

import os
import stat
import sys

from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from mfa_env.platform_io import (  # noqa: F401
        Console,
        PosixTerminal,
        Terminal,
        adopt_owner,
        execute,
        exit_status,
        fsync_dir,
        holder,
        keep_owner,
        lock,
        mark_holder,
        memory_files,
        open_terminal,
        set_mode,
        try_lock,
        unlock,
    )
else:

    def __getattr__(name: str) -> object:
        """The calls a cache hit never makes, from mfa_env.platform_io: imported when one is
        first asked for."""
        if not name.startswith("__"):  # never for the import system's own questions
            from mfa_env import platform_io

            if hasattr(platform_io, name):
                return getattr(platform_io, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Open flags Windows lacks. There, nothing blocks on open (no FIFOs), Python makes every
# descriptor non-inheritable already, and a link is followed (the cache checks the directory
# with lstat before it opens anything in it).
if sys.platform == "win32":
    NOFOLLOW = NONBLOCK = CLOEXEC = 0
else:
    NOFOLLOW, NONBLOCK, CLOEXEC = os.O_NOFOLLOW, os.O_NONBLOCK, os.O_CLOEXEC


# -- where per-user caches go --------------------------------------------------------------------


def cache_home() -> str:
    """POSIX: XDG_CACHE_HOME, else ~/.cache. Windows: %LOCALAPPDATA%, else ~/AppData/Local: the
    profile's local part, whose inherited ACL gives the user (and SYSTEM, Administrators) alone
    access."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "")
        return base if os.path.isabs(base) else os.path.expanduser(r"~\AppData\Local")
    # The XDG Base Directory spec: an empty or relative XDG_CACHE_HOME is to be ignored (a
    # relative one would put the cache wherever the shell happens to be).
    base = os.environ.get("XDG_CACHE_HOME", "")
    return base if os.path.isabs(base) else os.path.expanduser("~/.cache")


# -- ownership: who may have written a file we are about to trust -------------------------------
#
# POSIX: the owner and the mode bits, as ssh and gpg check theirs. Windows: neither. Its st_uid
# is always 0 and its mode bits say only whether the read-only attribute is set; the real answer
# is the ACL, which is not read (that needs the Win32 security API). The cache relies on living
# in %LOCALAPPDATA%, private to the user by inheritance; what is still checked there is the kind
# of file (a regular file, a real directory), the size, and the contents.


def owned(status: os.stat_result) -> bool:
    """Whether the file is ours: POSIX, owned by our effective user (or, for root under
    `sudo -E`, by the owner of HOME: the user's own cache); Windows, always (see above)."""
    if sys.platform == "win32":
        return True
    euid = os.geteuid()
    if status.st_uid == euid:
        return True
    if euid != 0:
        return False
    try:
        return status.st_uid == os.stat(os.path.expanduser("~")).st_uid
    except OSError:
        return False


def open_to_others(status: os.stat_result) -> bool:
    """POSIX: group or others may write it. Windows: False, as its ACL is not read."""
    if sys.platform == "win32":
        return False
    return bool(status.st_mode & 0o022)


def made_by_us(status: os.stat_result) -> bool:
    """A leftover of ours to remove: a regular file our effective user owns (Windows: any
    regular file, the directory being the user's)."""
    if sys.platform == "win32":
        return stat.S_ISREG(status.st_mode)
    return status.st_uid == os.geteuid() and stat.S_ISREG(status.st_mode)


# -- the shell to write for when none is detected -----------------------------------------------


def fallback_shell() -> tuple[str, str]:
    """(--shell name, its name in a hint). POSIX sh, which every POSIX shell reads; on Windows,
    PowerShell, there on every Windows since 7 (cmd cannot hold every value safely)."""
    if sys.platform == "win32":
        return "pwsh", "PowerShell"
    return "sh", "POSIX sh"


# Stands for the console: opening it fails where the process has none (a service, a scheduled
# task). The simulated tier points it at a file that is there, or not.
_CONSOLE = "CONIN$"
