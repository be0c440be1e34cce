"""How a session is had: the cache first, then a code and STS; a role on top of the MFA session.

The one module that brings the cache, the code source and STS together. Everything it depends
on is passed in (the clock, the cache, how to ask for a code, how to reach AWS), so every path
runs in-process in the tests. It prints nothing: what the user should hear comes back as notes.

Reuse windows (aws-vault's ExpiryWindow; botocore refreshes 15 minutes before expiry):
- the shell gets a cached session with more than --min-ttl left, by default 900 s or a quarter
  of the session's length when that is less, so that a 900 s session is reused too;
- credential_process (--format json) gets one while it has 60 s left: the SDK decides when to
  refresh, and asks again inside its own 15-minute window;
- there, a role session is renewed from the cached MFA session, with no code, once it is inside
  that window; only when that cannot be done is the old one handed out to its last minute.
"""

from __future__ import annotations

from mfa_env import cache
from mfa_env.clock import datetime, local_time, timedelta
from mfa_env.config import ROLE_CHAIN_MAX, Settings, Source
from mfa_env.credentials import Credentials
from mfa_env.record import TYPE_CHECKING, Record

if TYPE_CHECKING:  # a protocol costs a class build: types only
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import Protocol

    from mfa_env.config import AwsFiles
    from mfa_env.sts import Aws

    class Store(Protocol):
        """The session cache: the cache module, or a stand-in."""

        def load_session(self, key: cache.SessionKey, now: datetime) -> Credentials | None: ...
        def store_session(self, key: cache.SessionKey, creds: Credentials) -> None: ...
        def load_serial(self, source: str) -> str | None: ...
        def store_serial(self, source: str, serial: str) -> None: ...

    Lock = Callable[[list[str]], AbstractContextManager[bool]]

    class AwsFactory(Protocol):
        """How the engine reaches AWS: Botocore, or stubbed clients in the tests."""

        def connect(self, source: Source, region: str | None) -> Aws: ...
        def on_session(self, creds: Credentials, region: str | None) -> Aws: ...


DEFAULT_MIN_TTL = 900
PROCESS_MIN_TTL = 60
SDK_REFRESH_WINDOW = 900  # botocore's advisory refresh; the Node SDK's is 5 minutes
ASSUME_ROLE_MIN = 900  # AssumeRole's shortest DurationSeconds
# Seconds kept between a role session's end and the end of the MFA session it came from.
ROLE_MARGIN = 60
# A role session younger than this is never renewed: it was issued moments ago.
RENEWED_AGE = timedelta(seconds=60)


class Policy(Record):
    """How a cached session may be reused; from the command line."""

    min_ttl: int | None = None  # --min-ttl; None: the default window
    for_process: bool = False  # --format json: a credential_process
    refresh: bool = False
    use_cache: bool = True
    debug: bool = False  # diagnostics among the notes: where the serial and session came from
    code_given: bool = False  # a CODE asks for a new session: no cached one is reused
    duration_given: bool = False  # --duration: a cached session shorter than it is passed over


class Outcome(Record):
    creds: Credentials
    how: str  # "new session for …", "reused the cached session for …"
    notes: tuple[str, ...]  # for stderr, one line each


def window(policy: Policy, creds: Credentials) -> float:
    """The least time a cached session must have left to be handed out."""
    if policy.min_ttl is not None:
        return policy.min_ttl
    if policy.for_process:
        return PROCESS_MIN_TTL
    length = creds.length()
    return DEFAULT_MIN_TTL if length is None else min(DEFAULT_MIN_TTL, length / 4)


def store_for(choice: str | None) -> Store | None:
    """MFA_ENV_CACHE: `file` (the default, None here) or `keyring`."""
    if choice in (None, "", "file"):
        return None
    if choice == "keyring":
        from mfa_env import keys

        return keys.KeyringStore()
    from mfa_env.errors import UsageError

    raise UsageError(f"MFA_ENV_CACHE must be file or keyring, not {choice!r}")


class Botocore:
    """How the engine reaches AWS: through mfa_env.sts, imported only when AWS is needed. Given
    the AWS files as config.resolve read them, botocore's excerpt is cut from that reading, so
    that a run reads them once."""

    def __init__(self, files: AwsFiles | None = None) -> None:
        self.files = files

    def connect(self, source: Source, region: str | None) -> Aws:
        from mfa_env import sts

        return sts.connect(source, region, files=self.files)

    def on_session(self, creds: Credentials, region: str | None) -> Aws:
        from mfa_env import sts

        return sts.on_session(creds, region, files=self.files)


class Engine:
    """One request for credentials. Build it, call obtain() once.

    A plain class, not a dataclass: building one costs the cached path ~2 ms at import."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        now: datetime,
        code: Callable[[str], str],  # serial -> six digits, asked only for a new session
        store: Store | None = None,
        aws: AwsFactory | None = None,
        lock: Lock | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.now = now
        self.code = code
        self.store: Store = store if store is not None else cache
        self.aws: AwsFactory = aws if aws is not None else Botocore()
        # A new session is made under a lock per source (and role): processes that start
        # together make one, and the others read it from the cache once it is free.
        self.lock: Lock = lock if lock is not None else cache.locked
        self.notes: list[str] = []
        self._aws: Aws | None = None

    def obtain(self) -> Outcome:
        given = self.settings
        self._debug(
            f"source {given.source.describe}, serial {given.serial or '(remembered or found)'}, "
            f"duration {given.duration}s, region {given.region or '(none)'}"
        )
        try:
            source = self._source_id()
            if self.settings.role is None:
                creds, how, _serial = self._mfa(source, floor=0)
            else:
                creds, how = self._role(source)
        except Exception as exc:
            # Caught wide, the kind tested here: mfa_env.errors is imported once a run fails, and
            # a cache hit never loads it (an `except` naming it needs it loaded first).
            from mfa_env.errors import MfaEnvError

            if isinstance(exc, MfaEnvError):
                exc.notes = (*self.notes, *exc.notes)
            raise
        self._debug(f"access key ****{creds.access_key_id[-4:]}")
        return Outcome(creds, how, tuple(self.notes))

    # -- the pieces ------------------------------------------------------------------------

    def _aws_session(self) -> Aws:
        """The long-term keys, reached at most once per run."""
        if self._aws is None:
            self._aws = self.aws.connect(self.settings.source, self.settings.region)
        return self._aws

    def _source_id(self) -> str:
        """The cache's name for the source keys, known without botocore when the keys are in
        the environment or the AWS files; else botocore produces them (credential_process)."""
        source = self.settings.source
        if source.cache_id:  # keys in the keyring: the file names them, no keyring needed
            return source.cache_id
        return cache.source_id(source.access_key_id or self._aws_session().access_key_id)

    def _debug(self, message: str) -> None:
        if self.policy.debug:
            self.notes.append(f"debug: {message}")

    def _reading(self) -> bool:
        return self.policy.use_cache and not self.policy.refresh

    def _known_serial(self, source: str) -> str | None:
        """The configured serial, else the one remembered for these keys. --refresh looks the
        device up again, so that a replaced device cannot leave a stale serial behind."""
        if self.settings.serial is not None or not self._reading():
            return self.settings.serial
        try:
            serial = self.store.load_serial(source)
            if serial:
                self._debug(f"serial {serial} remembered from an earlier run")
            return serial
        except cache.Distrust as exc:
            self.notes.append(f"warning: {exc}; ignored it")
            return None

    def _cached(self, key: cache.SessionKey) -> Credentials | None:
        if not self._reading():
            return None
        try:
            creds = self.store.load_session(key, self.now)
            found = f"****{creds.access_key_id[-4:]}" if creds else "nothing"
            self._debug(f"cache {key.path()}: {found}")
            return creds
        except cache.Distrust as exc:
            self.notes.append(f"warning: {exc}; ignored it")
            return None

    def _reusable(self, creds: Credentials | None, floor: float, wanted: int | None) -> bool:
        """A cached session that may be handed out as it is: long enough left, and not passed
        over for a new one by a CODE or by an explicit --duration it cannot meet (`wanted`)."""
        if creds is None or not self._usable(creds, floor):
            return False
        ends = f"it ends in {self._minutes_left(creds)} min"
        if self.policy.code_given:
            self.notes.append(
                f"note: a code was given, so the cached session ({ends}) was passed over"
            )
            return False
        length = creds.length()
        if self.policy.duration_given and wanted and length is not None and length + 300 < wanted:
            self.notes.append(
                f"note: the cached session lasts {int(length) // 60} min, less than the --duration "
                f"asked for ({wanted // 60} min), so it was passed over"
            )
            return False
        return True

    def _may_fall_back(self) -> bool:
        """Whether a still-valid cached session may stand in when a new one cannot be had: only
        where nothing the user said asked for a new one."""
        policy = self.policy
        return not (policy.refresh or policy.code_given or policy.duration_given) and (
            policy.min_ttl is None
        )

    def _exclusive(self, parts: list[str]) -> AbstractContextManager[bool]:
        """The lock a new session is made under; none without a cache to share it through."""
        import contextlib  # a new session's: a cache hit takes no lock

        return self.lock(parts) if self.policy.use_cache else contextlib.nullcontext(False)

    def _lasts(self, creds: Credentials | None, seconds: float) -> bool:
        return creds is not None and creds.seconds_left(self.now) > seconds

    def _minutes_left(self, creds: Credentials) -> int:
        return int(creds.seconds_left(self.now)) // 60

    def _usable(self, creds: Credentials | None, floor: float = 0) -> bool:
        return creds is not None and creds.seconds_left(self.now) > max(
            floor, window(self.policy, creds)
        )

    def _store(self, key: cache.SessionKey, creds: Credentials, serial: str | None) -> None:
        """A cache that cannot be written never blocks the user: a warning, and on we go."""
        if not self.policy.use_cache:
            return
        if serial is not None:
            self._remember(key.source, serial)
        try:
            self.store.store_session(key, creds)
        except (OSError, cache.Distrust) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.notes.append(
                f"warning: could not write the session cache ({reason}); "
                "the next run will ask for a code again"
            )

    def _remember(self, source: str, serial: str) -> None:
        """The device found through IAM, for the next run: only a shortcut, so a cache that
        cannot be written costs nothing here (storing the session says so)."""
        if self.policy.use_cache:
            import contextlib

            with contextlib.suppress(OSError, cache.Distrust):
                self.store.store_serial(source, serial)

    def _live(self, creds: Credentials) -> Credentials:
        """A new session that is over already, or lasts longer than any can, means the clocks
        disagree: never hand it out, never cache it."""
        left = creds.seconds_left(self.now)
        if left <= 0 or creds.expiration - self.now > cache.HORIZON:
            when = "has already expired" if left <= 0 else "ends further ahead than any can"
            from mfa_env.errors import AwsError

            raise AwsError(
                f"STS returned a session that {when} ({local_time(creds.expiration)}); "
                "your clock or the endpoint is wrong: sync the clock "
                "(e.g. 'timedatectl set-ntp true') and try again"
            )
        return creds.issued_at(self.now)

    def _discover(self, aws: Aws) -> str:
        """The device through IAM: the one remembered for these keys from now on."""
        from mfa_env import sts

        discovery = sts.find_serial(aws, self.settings.source, self.settings.user)
        self.notes.extend(discovery.notes)
        self._debug(f"serial {discovery.serial} from IAM ListMFADevices")
        return discovery.serial

    # -- the MFA session ---------------------------------------------------------------------

    def _mfa(self, source: str, floor: float) -> tuple[Credentials, str, str]:
        """GetSessionToken: cached (with `floor` seconds left at least), or new with a code."""
        reused = self._reused_mfa()
        serial = self._known_serial(source)
        cached = self._cached(cache.SessionKey(source, serial)) if serial else None
        if self._reusable(cached, floor, self._mfa_wanted()):
            assert cached is not None
            assert serial is not None
            return cached, reused, serial
        with self._exclusive([source]) as waited:
            if waited:  # another run made a session meanwhile: it is new, so take it
                serial = serial or self._known_serial(source)
                made = self._cached(cache.SessionKey(source, serial)) if serial else None
                if serial and self._usable(made, floor):
                    assert made is not None
                    return made, reused, serial
            return self._new_mfa(source, serial, floor, cached)

    def _mfa_wanted(self) -> int | None:
        """The MFA session's length an explicit --duration asks for; with a role it is the
        role's, and the MFA session keeps its own."""
        return None if self.settings.role else self.settings.duration

    def _reused_mfa(self) -> str:
        return f"reused the cached session for {self.settings.source.describe}"

    def _new_mfa(
        self, source: str, serial: str | None, floor: float, stale: Credentials | None
    ) -> tuple[Credentials, str, str]:
        from mfa_env import sts

        aws = self._aws_session()
        found = None
        if serial is None:
            serial = found = self._discover(aws)
            # A session for the device just found may be cached already.
            cached = self._cached(cache.SessionKey(source, serial))
            if self._reusable(cached, floor, self._mfa_wanted()):
                assert cached is not None
                self._remember(source, serial)
                return cached, self._reused_mfa(), serial
            stale = stale or cached
        from mfa_env.errors import NoCodeError

        try:
            code = self.code(serial)
        except NoCodeError as exc:  # no terminal: a session still valid beats none at all
            if not (self._may_fall_back() and self._lasts(stale, max(floor, PROCESS_MIN_TTL))):
                raise
            assert stale is not None
            self.notes.append(
                f"warning: {str(exc).split(';')[0]}, so the cached session is handed out as it "
                f"is: it ends in {self._minutes_left(stale)} min"
            )
            return stale, self._reused_mfa(), serial
        # A role is chained on it: it must outlast AssumeRole's shortest session (`floor`).
        duration = max(self.settings.duration, int(floor))
        creds = self._live(sts.get_session_token(aws, self.settings.source, serial, code, duration))
        self._store(cache.SessionKey(source, serial), creds, found)
        return creds, f"new session for {self.settings.source.describe}", serial

    # -- a role on top -----------------------------------------------------------------------

    def _role(self, source: str) -> tuple[Credentials, str]:
        role = self.settings.role
        assert role is not None
        reused = f"reused the cached session for role {role.arn}"
        serial = self._known_serial(source)
        key = self._role_key(source, serial)
        cached = self._cached(key) if serial else None
        renew_from = None
        if self._reusable(cached, 0, role.duration):
            assert cached is not None
            assert serial is not None
            renew_from = self._renewal_base(source, serial, cached)
            if renew_from is None:
                self._note_shorter(cached)
                return cached, reused
        try:
            with self._exclusive([source, key.role]) as waited:
                if waited:  # another run made or renewed it meanwhile: it is new, so take it
                    serial = serial or self._known_serial(source)
                    made = self._cached(self._role_key(source, serial)) if serial else None
                    later = cached.expiration if cached is not None else self.now
                    if made is not None and made.expiration > later and self._usable(made):
                        return made, reused
                if renew_from is not None and serial is not None:
                    return self._chain(source, serial, renew_from, "renewed")
                if self._long(role.duration):
                    return self._direct(source, serial)
                mfa, _how, serial = self._mfa(source, floor=ASSUME_ROLE_MIN + ROLE_MARGIN)
                return self._chain(source, serial, mfa, "new")
        except Exception as exc:  # caught wide, as in obtain()
            from mfa_env.errors import AwsError, NoCodeError

            if not (
                isinstance(exc, (AwsError, NoCodeError))
                and self._may_fall_back()
                and self._lasts(cached, PROCESS_MIN_TTL)
            ):
                raise
            assert cached is not None
            self.notes.append(
                f"warning: could not renew the role session ({str(exc).split(';')[0]}), so the "
                f"cached one is handed out as it is: it ends in {self._minutes_left(cached)} min"
            )
            return cached, reused

    def _renewal_base(self, source: str, serial: str, cached: Credentials) -> Credentials | None:
        """The cached MFA session to renew a role session from, where renewing is worth it: for
        a credential_process, inside the SDK's refresh window, when the new session would end
        past that window and later by a quarter of its length at least. So a session issued
        moments ago is not renewed, nor one whose whole length lies inside the window (a 900 s
        role): those are handed out until their last minute."""
        role = self.settings.role
        assert role is not None
        left = cached.seconds_left(self.now)
        if not self.policy.for_process or self._long(role.duration) or left > SDK_REFRESH_WINDOW:
            return None
        if cached.issued is not None and self.now - cached.issued < RENEWED_AGE:
            return None  # one process of a burst of SDK calls renewed it already
        mfa = self._cached(cache.SessionKey(source, serial))
        if mfa is None or not self._usable(mfa, ASSUME_ROLE_MIN + ROLE_MARGIN):
            return None
        possible = min(role.duration or ROLE_CHAIN_MAX, mfa.seconds_left(self.now) - ROLE_MARGIN)
        return mfa if possible > SDK_REFRESH_WINDOW and possible - left >= possible / 4 else None

    @staticmethod
    def _long(duration: int | None) -> bool:
        return duration is not None and duration > ROLE_CHAIN_MAX

    def _role_key(self, source: str, serial: str | None) -> cache.SessionKey:
        role = self.settings.role
        assert role is not None
        name = f"{role.arn}#{role.session_name}#{role.external_id or ''}"
        return cache.SessionKey(source, serial or "", name)

    def _note_shorter(self, cached: Credentials) -> None:
        role = self.settings.role
        length = cached.length()
        if role and role.duration and length is not None and length + 300 < role.duration:
            self.notes.append(
                f"note: the cached role session lasts {int(length) // 60} min, not the "
                f"{role.duration // 60} min asked for; give a code for a longer one"
            )

    def _chain(
        self, source: str, serial: str, mfa: Credentials, verb: str
    ) -> tuple[Credentials, str]:
        """AssumeRole on the MFA session: one code serves every role until it ends. Chaining
        caps a role session at one hour, and at the MFA session's own end."""
        from mfa_env import sts

        role = self.settings.role
        assert role is not None
        wanted = role.duration or ROLE_CHAIN_MAX
        left = int(mfa.seconds_left(self.now)) - ROLE_MARGIN
        if left < wanted:
            self.notes.append(
                f"note: the role session is capped at {left // 60} min, when the MFA session "
                "it is assumed with ends; --refresh gets a new MFA session first"
            )
        aws = self.aws.on_session(mfa, self.settings.region)
        creds = self._live(sts.assume_role(aws, self.settings.source, role, min(wanted, left)))
        self._store(self._role_key(source, serial), creds, None)
        return creds, f"{verb} session for role {role.arn} (from the MFA session)"

    def _direct(self, source: str, serial: str | None) -> tuple[Credentials, str]:
        """A role session longer than an hour: AssumeRole with the code itself."""
        from mfa_env import sts

        role = self.settings.role
        assert role is not None
        assert role.duration is not None
        aws = self._aws_session()
        found = None
        if serial is None:
            serial = found = self._discover(aws)
        code = self.code(serial)
        creds = self._live(
            sts.assume_role(aws, self.settings.source, role, role.duration, serial, code)
        )
        self._store(self._role_key(source, serial), creds, found)
        return creds, f"new session for role {role.arn}"
