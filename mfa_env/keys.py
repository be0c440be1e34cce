"""Long-term keys, and optionally sessions, in the OS keyring (the `mfa-env[keyring]` extra).

Through the `keyring` package: the Secret Service (GNOME Keyring, KWallet) on Linux, the Keychain
on macOS, the Credential Locker on Windows. Imported only where the keyring is used, so nothing
changes for anyone who does not: not on the cached path, and not without the extra.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mfa_env import cache
from mfa_env.credentials import Credentials
from mfa_env.errors import MfaEnvError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

SERVICE = "mfa-env"  # the keyring's name for every entry of ours
INSTALL = "pip install 'mfa-env[keyring]' (or pipx inject mfa-env keyring)"


class KeyringError(MfaEnvError):
    """No keyring to be had, or it refused: one line saying which, and what to do."""


def _keyring() -> Any:
    """The keyring module, with a backend that can store secrets; else one clear error."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise KeyringError(f"the OS keyring needs the keyring package: {INSTALL}") from None
    try:
        usable = keyring.get_keyring().priority > 0  # not keyring's fail and null backends
    except Exception:  # a backend named by PYTHON_KEYRING_BACKEND that cannot even start
        usable = False
    if not usable:
        raise KeyringError(
            "no usable OS keyring: on Linux, a Secret Service (GNOME Keyring, KWallet) must be "
            "running and its D-Bus session reachable (DBUS_SESSION_BUS_ADDRESS)"
        )
    return keyring


def _call(what: str, fn: Callable[[], Any]) -> Any:
    """A keyring call; its failures (locked, refused, gone) become one line."""
    import keyring.errors

    try:
        return fn()
    except (keyring.errors.KeyringLocked, keyring.errors.InitError):
        # InitError: the Secret Service could not open its collection, nor ask to unlock it.
        raise KeyringError(
            f"{what}: the keyring is locked and nothing could ask to unlock it; unlock it "
            "(e.g. log in to the desktop, or gnome-keyring-daemon --unlock) and try again"
        ) from None
    except (keyring.errors.KeyringError, OSError) as exc:
        detail = " ".join(str(exc).split())[:200].rstrip(".") or type(exc).__name__
        raise KeyringError(f"{what}: the keyring refused ({detail}); check it") from None


def load_keys(profile: str) -> tuple[str, str]:
    """PROFILE's long-term keys from the keyring."""
    keyring = _keyring()
    where = f"reading the keys of profile {profile!r} from the keyring"
    raw = _call(where, lambda: keyring.get_password(SERVICE, f"keys:{profile}"))
    try:
        document = json.loads(raw or "null")
        key_id, secret = document["aws_access_key_id"], document["aws_secret_access_key"]
    except (ValueError, TypeError, KeyError):
        raise KeyringError(
            f"the keyring holds no keys for profile {profile!r}; store them with "
            f"mfa-env --store-keys {profile}"
        ) from None
    if not (isinstance(key_id, str) and isinstance(secret, str) and key_id and secret):
        raise KeyringError(
            f"the keyring's keys for profile {profile!r} are empty; store them again"
        )
    return key_id, secret


def store_keys(
    profile: str, ask: Callable[[str], tuple[str, str]], path: Path | None = None
) -> str:
    """Move PROFILE's keys into the keyring; the file loses them only once the keyring has them.

    Keys come from [PROFILE] in the credentials file, or from `ask` (the terminal) when it has
    none. Idempotent: a profile whose keys are stored already is left as it is."""
    from mfa_env import aws_files

    keyring = _keyring()
    found = aws_files.long_term_keys(profile, path)
    if found is None:
        try:
            stored = load_keys(profile)
        except KeyringError:
            stored = None
        if stored is not None and _marked(profile, stored[0], path):
            return f"the keys of profile {profile!r} are in the keyring already"
        found = ask(profile)
    key_id, secret = (value.strip() for value in found)
    if not key_id or not secret or not (key_id + secret).isprintable():
        raise KeyringError(
            f"profile {profile!r} has an empty or unprintable key; fix it, then try again"
        )
    document = json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret})
    where = f"storing the keys of profile {profile!r} in the keyring"
    _call(where, lambda: keyring.set_password(SERVICE, f"keys:{profile}", document))
    if load_keys(profile) != (key_id, secret):  # read back before the file loses anything
        raise KeyringError(f"{where}: they did not read back the same; the file is unchanged")
    marks = {
        aws_files.KEYRING_MARKER: aws_files.KEYRING_VALUE,
        aws_files.KEYRING_SOURCE: cache.source_id(key_id),
    }
    written = aws_files.move_keys_out(profile, marks, path)
    backend = type(keyring.get_keyring()).__module__.rsplit(".", 1)[-1]
    return (
        f"moved the keys of profile {profile!r} into the keyring ({backend}); "
        f"[{profile}] in {_shown(written)} now says {aws_files.KEYRING_MARKER} = keyring"
    )


def _marked(profile: str, key_id: str, path: Path | None) -> bool:
    from mfa_env import aws_files

    marks = aws_files.section(profile, path)
    return marks.get(aws_files.KEYRING_SOURCE) == cache.source_id(key_id)


def _shown(path: Path) -> str:
    from mfa_env.paths import home_path

    return home_path(path)


class KeyringStore:
    """The session cache in the keyring (MFA_ENV_CACHE=keyring): no session secret on disk.

    Entries are the file cache's documents under its names, so the same checks apply."""

    def __init__(self) -> None:
        self.keyring = _keyring()

    def _get(self, name: str) -> dict[str, object] | None:
        raw = _call("reading the session cache", lambda: self.keyring.get_password(SERVICE, name))
        return None if raw is None else cache.parse(raw.encode(), f"the keyring entry {name}")

    def _set(self, name: str, data: bytes) -> None:
        # Raised as cache.Distrust: the engine warns and goes on, as for a read-only file cache.
        try:
            _call(
                "writing the session cache",
                lambda: self.keyring.set_password(SERVICE, name, data.decode()),
            )
        except KeyringError as exc:
            raise cache.Distrust(str(exc)) from None

    def load_session(self, key: cache.SessionKey, now: datetime) -> Credentials | None:
        try:
            document = self._get(key.name())
        except KeyringError as exc:
            raise cache.Distrust(str(exc)) from None
        return cache.session_from(document, key, now, f"the keyring entry {key.name()}")

    def store_session(self, key: cache.SessionKey, creds: Credentials) -> None:
        self._set(key.name(), cache.session_document(key, creds))

    def load_serial(self, source: str) -> str | None:
        name = cache.serial_name(source)
        try:
            document = self._get(name)
        except KeyringError as exc:
            raise cache.Distrust(str(exc)) from None
        return cache.serial_from(document, source, f"the keyring entry {name}")

    def store_serial(self, source: str, serial: str) -> None:
        self._set(cache.serial_name(source), cache.serial_document(source, serial))
