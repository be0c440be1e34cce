"""Long-term keys, and optionally sessions, in the OS keyring (the `mfa-env[keyring]` extra).

Through the `keyring` package: the Secret Service (GNOME Keyring, KWallet) on Linux, the Keychain
on macOS, the Credential Locker on Windows. Imported only where the keyring is used, so nothing
changes for anyone who does not: not on the cached path, and not without the extra.

Every call into the keyring (the backend, its priority, get, set) passes through `_guarded`: a
backend is third-party code that may raise anything or hand back anything, and whatever it does
becomes one KeyringError line, never a traceback.

The keys of [PROFILE] are kept in the entry `keys:PROFILE:ID`, where ID is the file's
`mfa_env_keys_id` (the cache's hash of the access key ID): two credentials files with a [default]
each (per-project AWS_SHARED_CREDENTIALS_FILE) then never share an entry. Versions before that
wrote `keys:PROFILE`; such an entry is still read, but only when it holds the keys the file's ID
names, and never written.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, TypeVar

from mfa_env import cache, secret_service
from mfa_env.credentials import Credentials
from mfa_env.errors import CredentialsFileError, MfaEnvError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime
    from pathlib import Path

T = TypeVar("T")

SERVICE = secret_service.SERVICE  # the keyring's name for every entry of ours
INSTALL = "pip install 'mfa-env[keyring]' (or pipx inject mfa-env keyring)"


class KeyringError(MfaEnvError):
    """No keyring to be had, or it refused: one line saying which, and what to do."""


class _NotText(Exception):
    """A backend's get_password answered with something that is neither text nor None."""


def entry(profile: str, cache_id: str) -> str:
    """The entry that holds the keys [profile] moved into the keyring, named by their ID."""
    return f"keys:{profile}:{cache_id}"


def _older_entry(profile: str) -> str:
    """The entry versions before the ID wrote: one per profile name, whatever the file."""
    return f"keys:{profile}"


def _shown_entry(name: str) -> str:
    return f"the keyring entry {name!r} of service {SERVICE!r}"


def _keyring() -> Any:
    """The keyring backend, if it can store secrets; else one clear error."""
    try:
        import keyring
    except ImportError:
        raise KeyringError(f"the OS keyring needs the keyring package: {INSTALL}") from None
    except Exception as exc:  # an install that fails as it loads
        raise KeyringError(
            f"the keyring package failed to load ({_detail(exc)}); reinstall it: {INSTALL}"
        ) from None
    try:
        backend = _guarded("opening the keyring", keyring.get_keyring)
        # Not keyring's fail and null backends (priority 0 or less, or raising).
        usable = _guarded("opening the keyring", lambda: backend.priority > 0) is True
    except KeyringError:
        usable = False
    if not usable:
        raise KeyringError(
            "no usable OS keyring: on Linux, a Secret Service (GNOME Keyring, KWallet) must be "
            "running and its D-Bus session reachable (DBUS_SESSION_BUS_ADDRESS)"
        )
    return backend


def _guarded(what: str, call: Callable[[], T]) -> T:
    """A keyring call; whatever it raises (locked, refused, gone, or a backend's own bug)
    becomes one line."""
    try:
        return call()
    except Exception as exc:
        reason = _reason(exc)
        raise KeyringError(f"{what}: {reason}" if what else reason) from None


def _reason(exc: Exception) -> str:
    from keyring.errors import InitError, KeyringLocked  # loaded with keyring itself

    if isinstance(exc, (KeyringLocked, InitError)):
        # InitError: the Secret Service could not open its collection, nor ask to unlock it.
        return (
            "the keyring is locked and nothing could ask to unlock it; unlock it "
            "(e.g. log in to the desktop, or gnome-keyring-daemon --unlock) and try again"
        )
    if isinstance(exc, _NotText):
        return f"the keyring refused (it answered with {exc}, not text); check it"
    return f"the keyring refused ({_detail(exc)}); check it"


def _detail(exc: BaseException) -> str:
    """The exception as a word or two: the system's words for an OSError's errno, else its
    type's name. Never its own words: a backend holds secrets, and its message may quote one
    (what it was given, what it read, another entry), which no check here could rule out."""
    try:  # a subclass may make errno anything, even a property that raises
        code = exc.errno if isinstance(exc, OSError) else None
        if type(code) is int and 0 < code < 4096:  # os.strerror overflows on a huge one
            return os.strerror(code)
    except Exception:
        pass
    return type(exc).__name__


def _text(answer: object) -> str | None:
    """A get_password answer as text (None: no such entry); anything else is refused."""
    if answer is None:
        return None
    if not isinstance(answer, str):
        raise _NotText(type(answer).__name__)
    return str.__str__(answer)  # a str subclass's own methods are not to be trusted


def _read(backend: Any, name: str, what: str) -> str | None:
    return _guarded(what, lambda: _text(backend.get_password(SERVICE, name)))


def _keys_in(raw: str | None) -> tuple[str, str] | None:
    """The keys an entry's text holds, or None when it holds none."""
    if raw is None:
        return None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deep to read
        return None
    if not isinstance(document, dict):
        return None
    key_id, secret = document.get("aws_access_key_id"), document.get("aws_secret_access_key")
    if isinstance(key_id, str) and isinstance(secret, str) and key_id and secret:
        return key_id, secret
    return None


def _file_section(profile: str, path: Path | None) -> str:
    from mfa_env import aws_files
    from mfa_env.paths import home_path

    return f"[{profile}] in {home_path(path if path is not None else aws_files.credentials_path())}"


def _lookup(
    backend: Any, profile: str, cache_id: str | None, what: str
) -> tuple[tuple[str, str] | None, str]:
    """The keys [profile] moved into the keyring, else None and what the keyring holds instead.
    Raises KeyringError only when the keyring itself fails."""
    if cache_id is None:
        # A marker without its ID (edited by hand): only the older entry can be meant, and
        # nothing says whose keys it holds. The session is then keyed by the keys themselves.
        names = [_older_entry(profile)]
    else:
        names = [entry(profile, cache_id), _older_entry(profile)]
    found: list[str] = []
    for name in names:
        raw = _read(backend, name, what)
        if raw is None:
            found.append(f"no entry {name!r}")
            continue
        keys = _keys_in(raw)
        if keys is None:
            found.append(f"{name!r} holds no keys")
        elif cache_id is None or cache.source_id(keys[0]) == cache_id:
            return keys, ""
        else:  # the older entry, overwritten by another file's [profile] of the same name
            found.append(f"{name!r} holds other keys (another credentials file's [{profile}])")
    return None, ", ".join(found)


def load_keys(profile: str, cache_id: str | None, path: Path | None = None) -> tuple[str, str]:
    """The long-term keys [profile] of the credentials file moved into the keyring, as its
    mfa_env_keys_id (`cache_id`) names them."""
    backend = _keyring()
    where = _file_section(profile, path)
    keys, found = _lookup(
        backend, profile, cache_id, f"reading the keys of {where} from the keyring"
    )
    if keys is not None:
        return keys
    named = "" if cache_id is None else f" (mfa_env_keys_id = {cache_id})"
    raise KeyringError(
        f"{where} says its keys are in the keyring{named}, but the keyring (service {SERVICE!r}) "
        f"does not hold them: {found}; if they were stored in another keyring, use that one, "
        f"else they are lost: make new keys in IAM and put them into [{profile}] in place of "
        "its mfa_env_keys lines"
    )


def store_keys(
    profile: str, ask: Callable[[str], tuple[str, str]], path: Path | None = None
) -> str:
    """Move PROFILE's keys into the keyring; the file loses them only once the keyring has them.

    Keys come from [PROFILE] in the credentials file, or from `ask` (the terminal) when it has
    none. Idempotent: a profile whose keys are stored already is left as it is. An entry that
    holds other keys is never overwritten, and every failure says where the keys are."""
    from mfa_env import aws_files

    backend = _keyring()
    where = _file_section(profile, path)
    found = aws_files.long_term_keys(profile, path)
    in_file = found is not None
    if found is None:
        marks = aws_files.section(profile, path)
        if marks.get(aws_files.KEYRING_MARKER) == aws_files.KEYRING_VALUE:
            what = f"reading the keys of {where} from the keyring"
            stored, _found = _lookup(backend, profile, marks.get(aws_files.KEYRING_SOURCE), what)
            if stored is not None:
                return f"the keys of profile {profile!r} are in the keyring already"
        found = ask(profile)  # none in the file, none in the keyring: the terminal
    key_id, secret = (value.strip() for value in found)
    if not key_id or not secret or not (key_id + secret).isprintable():
        raise KeyringError(
            f"profile {profile!r} has an empty or unprintable key; fix it, then try again"
        )
    cache_id = cache.source_id(key_id)
    name = entry(profile, cache_id)
    marks = {aws_files.KEYRING_MARKER: aws_files.KEYRING_VALUE, aws_files.KEYRING_SOURCE: cache_id}
    kept = f"the keys are still in {where}" if in_file else f"{where} was left unchanged"
    try:  # an edit that would be refused is refused now, before the keyring holds a copy
        aws_files.move_keys_out(profile, marks, path, write=False)
    except CredentialsFileError as exc:
        raise CredentialsFileError(f"{exc}; {kept}, and the keyring was left alone") from None

    document = json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret})
    what = f"storing the keys of {where} in the keyring"
    try:
        held = _keys_in(_read(backend, name, what))
        if held not in (None, (key_id, secret)):
            raise KeyringError(
                f"{_shown_entry(name)} holds another secret for the same access key ID, so "
                "mfa-env will not overwrite it; find out which secret is right, then delete the "
                f"entry (keyring del {SERVICE} {name}) or fix [{profile}]"
            )
        # Written even where an earlier run that stopped halfway left the same keys: the read
        # back below is then of this write, not of what a read said was there.
        _guarded(what, lambda: backend.set_password(SERVICE, name, document))
        # Read back before the file loses anything.
        back = _keys_in(_read(backend, name, f"reading back the keys of {where}"))
        if back != (key_id, secret):
            raise KeyringError(f"{what}: they did not read back the same")
    except KeyringError as exc:
        raise KeyringError(f"{exc}; {kept}") from None
    copied = f"and a copy is now in {_shown_entry(name)}"
    try:
        aws_files.move_keys_out(profile, marks, path)
    except CredentialsFileError as exc:
        raise CredentialsFileError(f"{exc}; {kept}, {copied}") from None
    except OSError as exc:  # the file's own failures are CredentialsFileError; this is a guard
        raise CredentialsFileError(
            f"could not write {where} ({exc.strerror or type(exc).__name__}); {kept}, {copied}"
        ) from None
    backend_name = type(backend).__module__.rsplit(".", 1)[-1]
    return (
        f"moved the keys of profile {profile!r} into the keyring ({backend_name}, entry "
        f"{name!r}); {where} now says {aws_files.KEYRING_MARKER} = keyring"
    )


class KeyringStore:
    """The session cache in the keyring (MFA_ENV_CACHE=keyring): no session secret on disk.

    Entries are the file cache's documents under its names, so the same checks apply. Every
    failure is cache.Distrust, which the engine turns into a warning: a session STS has handed
    out for a spent code is never lost because the keyring would not keep it.

    Where keyring would read the Secret Service, entries are read from it directly (mfa_env.
    secret_service), and keyring is loaded only for what that cannot answer and for writes. An
    open direct connection means keyring's Secret Service is usable; without one the backend is
    built at once, so that "no usable OS keyring" stops the run where it always did."""

    def __init__(self) -> None:
        self.direct = secret_service.connect()
        self._backend: Any = None if self.direct is not None else _keyring()

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = _keyring()
        return self._backend

    def _get(self, name: str) -> dict[str, object] | None:
        shown = f"the keyring entry {name}"
        raw = None if self.direct is None else secret_service.read(self.direct, SERVICE, name)
        if raw is None:
            backend = self.backend
            try:
                raw = _read(backend, name, f"reading {shown}")
            except KeyringError as exc:
                raise cache.Distrust(str(exc)) from None
            if raw is None:
                return None
        return secret_service.entry(raw, shown)

    def _set(self, name: str, data: bytes) -> None:
        # Raised as cache.Distrust: the engine warns and goes on, as for a read-only file cache.
        text = data.decode()
        try:  # no `what`: the engine's warning says what was being written
            _guarded("", lambda: self.backend.set_password(SERVICE, name, text))
        except KeyringError as exc:
            raise cache.Distrust(str(exc)) from None

    def load_session(self, key: cache.SessionKey, now: datetime) -> Credentials | None:
        document = self._get(key.name())
        return cache.session_from(document, key, now, f"the keyring entry {key.name()}")

    def store_session(self, key: cache.SessionKey, creds: Credentials) -> None:
        self._set(key.name(), cache.session_document(key, creds))

    def load_serial(self, source: str) -> str | None:
        name = cache.serial_name(source)
        return cache.serial_from(self._get(name), source, f"the keyring entry {name}")

    def store_serial(self, source: str, serial: str) -> None:
        self._set(cache.serial_name(source), cache.serial_document(source, serial))
