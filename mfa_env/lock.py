"""The lock a new session is made under, one at a time per source, in the cache directory: a
cache hit takes none, so this is imported only by a run that makes (or may make) a session.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

from mfa_env import cache, paths, platform
from mfa_env.errors import MfaEnvError
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# How long a process waits for another that is making the same session: long enough for a code
# to be typed and STS to answer, short enough that a prompt nobody answers does not hold every
# later run for ever.
LOCK_WAIT = 90.0
_LOCK_POLL = 0.05


class LockTimeout(MfaEnvError):
    """Another mfa-env held the lock for longer than LOCK_WAIT."""


@contextlib.contextmanager
def locked(parts: list[str], waiting: Callable[[], None] | None = None) -> Iterator[bool]:
    """Hold the lock named by `parts` in the cache directory; yield whether another process
    held it first, so that what it stored should be read again.

    The platform's lock (flock; msvcrt.locking on Windows), on a file that lives only while it
    is held: the holder unlinks it before letting go, and a process that locked a file since
    unlinked tries again on the new one. So nothing is left behind (on Windows, which cannot
    unlink an open file, the empty file stays), and the system frees a killed holder's lock. A
    cache directory that is not ours, or cannot be made, means no lock (a cache that cannot be
    used never blocks the user)."""
    directory = paths.cache_dir()
    path = os.path.join(directory, cache.entry_name("lock", parts) + ".lock")
    waited = False
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        fd = _lock_file(directory, path)
        if fd is None:
            yield False
            return
        busy = False
        try:
            held = _take(fd, path, deadline, waited or waiting is None)
        except _Busy:
            held, busy = None, True
        except BaseException:
            _close(fd)
            raise
        if not held:
            _close(fd)
            if held is False:  # a file system without locks: go on without one
                yield False
                return
            if busy and waiting is not None:
                waiting()  # once: from now on `waited` makes _take patient
            waited = True  # held by another, or unlinked by it since: look again
            continue
        try:
            platform.mark_holder(fd)  # who holds it, for a waiter that gives up
            yield waited
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            _close(fd)
        return


def _close(fd: int) -> None:
    """Let go of the lock, if held, and of the file."""
    platform.unlock(fd)
    os.close(fd)


class _Busy(Exception):
    """Held by another process, the first time we looked: say so, then wait."""


def _lock_file(directory: str, path: str) -> int | None:
    """The lock file, opened (made 0600 if need be); None where there can be no lock of ours."""
    flags = os.O_RDWR | os.O_CREAT | platform.NOFOLLOW | platform.NONBLOCK | platform.CLOEXEC
    try:
        if not cache._check_dir(directory):
            paths.private_dirs(directory)
        fd = os.open(path, flags, paths.PRIVATE_FILE)
    except (OSError, cache.Distrust):
        return None
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or not platform.owned(status):
        os.close(fd)
        return None
    platform.adopt_owner(path, fd)  # under sudo -E: the user's own runs must be able to lock it
    return fd


def _take(fd: int, path: str, deadline: float, patient: bool) -> bool | None:
    """Lock `fd`: True once held, and still the file at `path`; None when its holder unlinked
    it meanwhile; False where there is no lock to be had. _Busy the first time it is found held
    (unless `patient`), LockTimeout past the deadline."""
    try:
        if not (platform.lock(fd, deadline, _LOCK_POLL) if patient else platform.try_lock(fd)):
            if not patient:
                raise _Busy
            raise LockTimeout(_held_too_long(fd))
    except OSError:
        return False
    try:
        same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except OSError:
        same = False
    return True if same else None


def _held_too_long(fd: int) -> str:
    holder = platform.holder(fd)
    who = f"another mfa-env (pid {holder})" if holder else "another mfa-env"
    return (
        f"{who} has been getting this session for {LOCK_WAIT:.0f} s, perhaps at a prompt "
        "nobody answers; answer or end it, then try again"
    )
