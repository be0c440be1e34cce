"""The session cache: one private JSON file per (source keys, MFA serial, role), trusted only
when it is ours.

As ssh and gpg treat their files: the directory and each entry are used only when they are what
they should be (a real directory or regular file, owned by us, writable by no one else). Anything
else, and any entry that cannot be read or understood, is a miss (as the AWS CLI's JSONFileCache
turns OSError and ValueError into a miss); where someone else's hand may be in it, the miss says
so. Nothing is followed through a link, chmod-ed, or waited on.
"""

from __future__ import annotations

import os
import stat
import sys

from mfa_env import paths, platform
from mfa_env.clock import datetime, timedelta
from mfa_env.config import is_serial
from mfa_env.credentials import Credentials, json_string, load_json
from mfa_env.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager


FORMAT = 2
# An entry is a few hundred bytes; anything much larger is not ours. The one limit for what is
# written and what is read back, so that nothing is cached that would never be read.
MAX_ENTRY = 64 * 1024
# STS sessions last at most 36 h: an expiry further out than this is a broken clock or a forgery.
HORIZON = timedelta(hours=48)

# The stdlib's own SHA-256, without hashlib's OpenSSL load: ~3 ms on every cached run. Its
# module is named for the version, so that no run pays for looking up the other one.
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - an interpreter without them
    from hashlib import sha256


class Distrust(Exception):
    """A cache file or directory that is not ours, or not sane: a miss, and a warning."""


def source_id(access_key_id: str) -> str:
    """The cache's name for a set of long-term keys: a hash of the access key ID, so changed keys
    never reuse an old session and file contents do not list key IDs."""
    return str(sha256(f"mfa-env:{access_key_id}".encode()).hexdigest()[:32])


class SessionKey(Record):
    """What a cached session belongs to: the source keys, the device, and a role, if any."""

    source: str
    serial: str
    role: str = ""

    def name(self) -> str:
        return entry_name("session", [self.source, self.serial, self.role])

    def path(self) -> str:
        return os.path.join(paths.cache_dir(), self.name() + ".json")


def entry_name(kind: str, parts: list[str]) -> str:
    """An entry's name: a hash of its key, so names are fixed-length and give nothing away."""
    listed = "[" + ", ".join(map(json_string, parts)) + "]"  # json.dumps(parts)
    return f"{kind}-{sha256(listed.encode()).hexdigest()[:32]}"


def _check(status: os.stat_result, what: str, kind: str, is_kind: bool) -> None:
    """The kind of file everywhere; the owner and the mode where there are such (platform)."""
    if not is_kind:
        raise Distrust(f"{what} is not a {kind}")
    if not platform.owned(status):
        raise Distrust(f"{what} belongs to another user (uid {status.st_uid})")
    if platform.open_to_others(status):
        mode = status.st_mode & 0o777
        raise Distrust(f"{what} can be changed by group or others (mode {mode:04o})")


def _check_dir(directory: str) -> bool:
    """True for a trusted cache directory, False when there is none; Distrust otherwise."""
    try:
        status = os.lstat(directory)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise Distrust(f"cannot look at {paths.home_path(directory)} ({exc.strerror})") from None
    shown = f"the cache directory {paths.home_path(directory)}"
    _check(status, shown, "directory", stat.S_ISDIR(status.st_mode))
    return True


def _read(path: str) -> dict[str, object] | None:
    """The entry's JSON object; None when there is none. Distrust for anything not ours."""
    if not _check_dir(os.path.dirname(path)):
        return None
    shown = _shown(path)
    flags = os.O_RDONLY | platform.NOFOLLOW | platform.NONBLOCK | platform.CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:  # ELOOP: a symlink; EACCES; …
        raise Distrust(f"cannot open {shown} ({exc.strerror})") from None
    try:
        status = os.fstat(fd)
        _check(status, shown, "regular file", stat.S_ISREG(status.st_mode))
        if status.st_size > MAX_ENTRY:
            raise Distrust(f"{shown} is too large to be one of ours")
        data = os.read(fd, MAX_ENTRY + 1)
    except OSError as exc:
        raise Distrust(f"cannot read {shown} ({exc.strerror})") from None
    finally:
        os.close(fd)
    return parse(data, shown)


# -- entries as documents: the file cache and the keyring cache read and write the same --------


def parse(data: bytes, shown: str) -> dict[str, object] | None:
    """An entry's JSON object; None for an older format. Distrust for anything else."""
    try:
        document = load_json(data)
    except (ValueError, RecursionError):
        raise Distrust(f"{shown} is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None  # an older format: a plain miss, overwritten on the next store
    return document


def session_from(
    document: dict[str, object] | None, key: SessionKey, now: datetime, shown: str
) -> Credentials | None:
    """The session an entry holds for `key`, or None; Distrust for one that is not sane."""
    if document is None or document.get("key") != [key.source, key.serial, key.role]:
        return None
    raw = document.get("credentials")
    try:
        if not isinstance(raw, dict):
            raise TypeError
        creds = Credentials.from_json(raw)
        absurd = creds.expiration - now > HORIZON
    except (KeyError, TypeError, ValueError, OverflowError):
        raise Distrust(f"{shown} is not a session") from None
    if absurd:
        raise Distrust(f"{shown} expires absurdly far ahead")
    return creds


def session_document(key: SessionKey, creds: Credentials) -> bytes:
    """The entry for a session; Distrust for one too large to be read back (only a hostile
    endpoint sends a token that long)."""
    import json  # only to write: a hit reads with credentials.load_json

    document = {"format": FORMAT, "key": list(key), "credentials": creds.to_json()}
    data = json.dumps(document).encode()
    if len(data) > MAX_ENTRY:
        raise Distrust(
            f"the session is too large to cache ({len(data)} bytes, at most {MAX_ENTRY})"
        )
    return data


def serial_name(source: str) -> str:
    return entry_name("serial", [source])


def serial_from(document: dict[str, object] | None, source: str, shown: str) -> str | None:
    if document is None or document.get("key") != [source]:
        return None
    serial = document.get("serial")
    if not isinstance(serial, str) or not is_serial(serial):
        raise Distrust(f"{shown} holds no MFA serial")
    return serial


def serial_document(source: str, serial: str) -> bytes:
    import json

    return json.dumps({"format": FORMAT, "key": [source], "serial": serial}).encode()


# -- the file cache (the default): the engine's Store -------------------------------------------


def _shown(path: str) -> str:
    return f"the cache entry {paths.home_path(path)}"


def load_session(key: SessionKey, now: datetime) -> Credentials | None:
    """The cached session for `key`, or None; Distrust for an entry that is not ours or sane."""
    path = key.path()
    return session_from(_read(path), key, now, _shown(path))


def store_session(key: SessionKey, creds: Credentials) -> None:
    """Raises OSError or Distrust when the cache cannot be written; the caller warns, goes on."""
    _write(key.path(), session_document(key, creds))


def serial_path(source: str) -> str:
    return os.path.join(paths.cache_dir(), serial_name(source) + ".json")


def load_serial(source: str) -> str | None:
    """The MFA serial remembered for these source keys, however USER was spelled."""
    path = serial_path(source)
    return serial_from(_read(path), source, _shown(path))


def store_serial(source: str, serial: str) -> None:
    _write(serial_path(source), serial_document(source, serial))


# -- one session at a time per source: the lock a new session is made under ---------------------


def locked(
    parts: list[str], waiting: Callable[[], None] | None = None
) -> AbstractContextManager[bool]:
    """mfa_env.lock.locked, imported only by a run that takes the lock: a cache hit takes none."""
    from mfa_env import lock

    return lock.locked(parts, waiting)


def _write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    if not _check_dir(directory):
        paths.private_dirs(directory)
    paths.write_private(path, data)
