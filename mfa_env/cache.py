"""The session cache: one JSON file per (source, MFA serial, role), private and atomic.

An entry that cannot be read or understood is a miss, never a crash (as the AWS CLI's
JSONFileCache turns OSError and ValueError into a miss). Expiry is an aware UTC time.
"""

# No `from __future__ import annotations`: NamedTuple would compile each annotation string.

import contextlib
import json
import os
import zlib
from typing import NamedTuple

from mfa_env.credentials import Credentials

FORMAT = 1


# Paths are plain strings here: pathlib costs the cached path ~2 ms of imports.
def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "mfa-env")


class SessionKey(NamedTuple):
    """What a cached session belongs to. A role session is keyed by its role too.

    An immutable record like a frozen dataclass, but a NamedTuple: building a dataclass costs
    the cached path ~0.5 ms at import."""

    source: str
    serial: str
    role_arn: str = ""

    def path(self) -> str:
        return _entry("session", [self.source, self.serial, self.role_arn])


def serial_path(source: str, user: str | None) -> str:
    return _entry("serial", [source, user or ""])


def _entry(kind: str, parts: list[str]) -> str:
    # Two checksums, not hashlib: loading OpenSSL costs the cached path ~2 ms. The name needs no
    # secrecy, and a collision only costs a miss: each entry holds its full key, checked on read.
    data = json.dumps(parts).encode()
    name = f"{kind}-{zlib.crc32(data):08x}{zlib.adler32(data):08x}.json"
    return os.path.join(cache_dir(), name)


def _read(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    return data


def load_session(key: SessionKey) -> Credentials | None:
    data = _read(key.path())
    if data is None or data.get("key") != [key.source, key.serial, key.role_arn]:
        return None
    try:
        return Credentials.from_json(data["credentials"])
    except (KeyError, TypeError, ValueError):
        return None


def store_session(key: SessionKey, creds: Credentials) -> str:
    """Raises OSError when the cache cannot be written; the caller warns and goes on."""
    path = key.path()
    _write(
        path,
        {
            "format": FORMAT,
            "key": [key.source, key.serial, key.role_arn],
            "credentials": creds.to_json(),
        },
    )
    return path


def load_serial(source: str, user: str | None) -> str | None:
    data = _read(serial_path(source, user))
    if data is None or data.get("key") != [source, user or ""]:
        return None
    serial = data.get("serial")
    return serial if isinstance(serial, str) and serial else None


def store_serial(source: str, user: str | None, serial: str) -> None:
    _write(
        serial_path(source, user), {"format": FORMAT, "key": [source, user or ""], "serial": serial}
    )


def _private_dir(path: str) -> None:
    # makedirs applies the umask to the mode, so set 0700 explicitly on what we own.
    os.makedirs(path, mode=0o700, exist_ok=True)
    status = os.stat(path)
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        os.chmod(path, 0o700)


def _write(path: str, data: dict) -> None:
    import tempfile  # only on a write: the cached path never needs it

    directory = os.path.dirname(path)
    _private_dir(directory)
    # mkstemp creates the file 0600 whatever the umask; the rename makes the write atomic,
    # so a reader sees the old entry or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
