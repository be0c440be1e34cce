"""The session credentials that flow between modules, and how they turn into env and JSON."""

from __future__ import annotations

from mfa_env.clock import (
    datetime,
    left,
    local_time,
    parse_rfc3339,
    rfc3339,
    session_in,
    utc,
)
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

ENV_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)
# botocore prefers a stale AWS_SECURITY_TOKEN over a fresh AWS_SESSION_TOKEN: always clear it.
STALE_NAMES = ("AWS_SECURITY_TOKEN",)
SESSION_NAMES = ENV_NAMES[:4]
REGION_NAMES = ENV_NAMES[4:]
# Where the shell output keeps the profile this shell named (AWS_PROFILE, else
# AWS_DEFAULT_PROFILE), which it moves aside: the source of the next run in this shell.
PROFILE_KEEPER = "MFA_ENV_PROFILE"
PROFILE_NAMES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")
# And each of the two as eval found it, under its own name, for --unset to put back.
SAVED_PREFIX = "MFA_ENV_SAVED_"
# The variables beyond the session that mfa-env exported itself (a region the user had not
# set), space-separated: a later run may replace only these, and --unset removes only these.
EXPORTED = "MFA_ENV_EXPORTED"
# Removed from an exec-mode child: stale credentials and whatever would make tools ignore ours.
EXEC_REMOVED = (*STALE_NAMES, *SESSION_NAMES, *PROFILE_NAMES, "MFA_ENV_RESOLVING_SOURCE")


def exported_by_us(env: Mapping[str, str]) -> set[str]:
    """The variables an earlier run in this shell exported itself (never the user's own)."""
    return set(env.get(EXPORTED, "").split()) & set(REGION_NAMES)


def user_set(env: Mapping[str, str], name: str) -> str | None:
    """NAME's value when the user set it, not an earlier mfa-env; None otherwise."""
    value = env.get(name, "").strip()
    return value if value and name not in exported_by_us(env) else None


def unset_env(env: Mapping[str, str]) -> dict[str, str | None]:
    """What --unset assigns (None: unset): the session and whatever mfa-env exported itself
    go, the user's own values stay, and AWS_PROFILE and AWS_DEFAULT_PROFILE come back, each
    under its own name, as the eval that set them aside found them."""
    names: dict[str, str | None] = dict.fromkeys((*STALE_NAMES, *SESSION_NAMES))
    names.update(dict.fromkeys(sorted(exported_by_us(env))))
    names[EXPORTED] = None
    saved = {name: env.get(SAVED_PREFIX + name, "").strip() for name in PROFILE_NAMES}
    if not any(saved.values()):  # set aside by a version that kept AWS_PROFILE alone
        saved["AWS_PROFILE"] = env.get(PROFILE_KEEPER, "").strip()
    for name, value in saved.items():
        if value:
            names[name] = value
        names[SAVED_PREFIX + name] = None
    names[PROFILE_KEEPER] = None
    return names


def describe_expiry(expiration: datetime, now: datetime) -> str:
    """`valid until 2026-11-27 12:00 +08:00, in 11h 59m`: local time, and time left."""
    return f"valid until {local_time(expiration)}, in {left(expiration, now)}"


def describe_status(env: Mapping[str, str], now: datetime) -> tuple[bool, str]:
    """--status: whether `env` holds a live session, and the line that says so (`--brief`'s
    prompt segment is clock.brief's)."""
    state, raw, expiration = session_in(env, now)
    if expiration is None:
        if state == "none":
            return False, "no session in this environment"
        return False, f"AWS_CREDENTIAL_EXPIRATION is not a time: {raw!r}"
    if state == "expired":
        return False, f"the session in this environment expired at {local_time(expiration)}"
    return True, f"session {describe_expiry(expiration, now)}"


_FIELDS = ("access_key_id", "secret_access_key", "session_token", "expiration", "arn", "issued")


class Credentials:
    """Temporary credentials from STS, frozen; secrets stay out of repr, so no traceback shows
    them. A plain class: a dataclass would cost the cached path ~6 ms of imports."""

    __slots__ = _FIELDS
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    arn: str
    # When the session was had; with the expiry it gives the session's full length, which the
    # default reuse window is a quarter of. None for entries that did not record it.
    issued: datetime | None

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        session_token: str,
        expiration: datetime,
        arn: str = "",
        issued: datetime | None = None,
    ) -> None:
        values = (access_key_id, secret_access_key, session_token, utc(expiration), arn)
        for name, value in zip(_FIELDS, (*values, issued and utc(issued)), strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Credentials are frozen: cannot set {name}")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, expiration={self.expiration!r}, "
            f"arn={self.arn!r}, issued={self.issued!r})"
        )

    def issued_at(self, moment: datetime) -> Credentials:
        """The same session, recorded as had at `moment`."""
        return Credentials(
            self.access_key_id,
            self.secret_access_key,
            self.session_token,
            self.expiration,
            self.arn,
            moment,
        )

    @classmethod
    def from_sts(
        cls, response: dict[str, Any], arn: str = "", issued: datetime | None = None
    ) -> Credentials:
        """From the `Credentials` member of a GetSessionToken or AssumeRole response."""
        expiration = response["Expiration"]
        if not isinstance(expiration, datetime):
            raise TypeError("Expiration is not a time")
        return cls(
            access_key_id=response["AccessKeyId"],
            secret_access_key=response["SecretAccessKey"],
            session_token=response["SessionToken"],
            expiration=expiration,
            arn=arn,
            issued=issued,
        )

    def length(self) -> float | None:
        """The session's full length in seconds, when known."""
        if self.issued is None:
            return None
        return (self.expiration - self.issued).total_seconds()

    def seconds_left(self, now: datetime) -> float:
        return (self.expiration - utc(now)).total_seconds()

    def env(self, region: str | None = None) -> dict[str, str]:
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_CREDENTIAL_EXPIRATION": rfc3339(self.expiration),
        }
        if region:
            env["AWS_REGION"] = region
            env["AWS_DEFAULT_REGION"] = region
        return env

    def shell_env(self, region: str | None, env: Mapping[str, str]) -> dict[str, str | None]:
        """What the shell output assigns (None: unset), given the shell's environment `env`.

        The region goes only into the region variables the user has not set, and those are
        recorded in MFA_ENV_EXPORTED. With AWS_PROFILE or AWS_DEFAULT_PROFILE set, SDKs whose
        chain prefers a named profile (Node.js v3) would keep using its long-term keys: both
        are set aside, each saved under its own name, the profile they name in
        MFA_ENV_PROFILE."""
        names: dict[str, str | None] = dict.fromkeys(STALE_NAMES)
        names.update(self.env())
        ours = exported_by_us(env)
        exported = []
        for name in REGION_NAMES:
            if user_set(env, name):
                continue  # the user's own: never touched
            if region:
                names[name] = region
                exported.append(name)
            elif name in ours:  # an earlier run's region, where none is known now
                names[name] = None
        if exported or ours:
            names[EXPORTED] = " ".join(exported) or None
        profiles = {name: env.get(name, "").strip() for name in PROFILE_NAMES}
        if any(profiles.values()):
            names.update(dict.fromkeys(PROFILE_NAMES))
            for name, value in profiles.items():
                names[SAVED_PREFIX + name] = value or None
            names[PROFILE_KEEPER] = profiles["AWS_PROFILE"] or profiles["AWS_DEFAULT_PROFILE"]
        return names

    def child_env(
        self, base: Mapping[str, str], region: str | None, extra: Mapping[str, str]
    ) -> dict[str, str]:
        """An exec-mode child's environment: stale credentials and profiles out, ours in."""
        env = {k: v for k, v in base.items() if k not in EXEC_REMOVED}
        env.update(self.env(region))
        env.update(extra)
        return env

    def process_json(self) -> str:
        """The credential_process document botocore and the AWS CLI read: json.dumps(...,
        indent=2) of it, byte for byte."""
        members = (
            ("AccessKeyId", self.access_key_id),
            ("SecretAccessKey", self.secret_access_key),
            ("SessionToken", self.session_token),
            ("Expiration", rfc3339(self.expiration)),
        )
        lines = ['  "Version": 1', *(f"  {json_string(k)}: {json_string(v)}" for k, v in members)]
        return "{\n" + ",\n".join(lines) + "\n}"

    def to_json(self) -> dict[str, str]:
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "session_token": self.session_token,
            "expiration": rfc3339(self.expiration),
            "arn": self.arn,
            **({"issued": rfc3339(self.issued)} if self.issued else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        """Raises KeyError, TypeError or ValueError on a malformed document."""
        fields = ("access_key_id", "secret_access_key", "session_token", "expiration")
        if not all(isinstance(data[name], str) and data[name] for name in fields):
            raise ValueError("credential fields must be non-empty strings")
        issued = data.get("issued")
        if issued is not None and not isinstance(issued, str):
            raise ValueError("issued must be a time")
        return cls(
            access_key_id=data["access_key_id"],
            secret_access_key=data["secret_access_key"],
            session_token=data["session_token"],
            expiration=parse_rfc3339(data["expiration"]),
            arn=str(data.get("arn", "")),
            issued=parse_rfc3339(issued) if issued else None,
        )


# -- JSON without the json package: what a cache hit reads and prints ---------------------------
#
# `json` imports `re` and `enum` (~4 ms of a cached run), and even its C half, `_json`, is a
# shared library to load (~0.4 ms). What the cache writes and credential_process prints is
# plain: objects, lists, printable ASCII strings and small integers. That is read and written
# here; anything else goes to the json package itself, which gives the same answer or error.


def json_string(text: str) -> str:
    """json.dumps(text): the string quoted, ASCII only."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape
    import json

    return json.dumps(text)


class _Unusual(Exception):
    """Outside the plain JSON read here: the json package reads it."""


_BLANK = " \t\n\r"  # json's whitespace
_DIGITS = "0123456789"
_NESTING = 32  # deeper is for json, which says when it is too deep


def load_json(data: bytes) -> object:
    """json.loads(data): the same value, or the same error (ValueError, RecursionError)."""
    try:
        # ASCII, so UTF-8 to json.loads too: it takes bytes for UTF-16 or -32 only when a NUL
        # is among the first four, and a NUL is no part of plain JSON.
        text = data.decode("ascii")
        value, at = _value(text, _skip(text, 0), 0)
        if _skip(text, at) == len(text):
            return value
    except (UnicodeDecodeError, _Unusual):
        pass
    import json

    return json.loads(data)


def _skip(text: str, at: int) -> int:
    """Past json's whitespace from `at`."""
    while at < len(text) and text[at] in _BLANK:
        at += 1
    return at


def _value(text: str, at: int, depth: int) -> tuple[object, int]:
    """The value that starts at `at`, and where it ends."""
    first = text[at : at + 1]
    if first == '"':
        end = text.find('"', at + 1)
        string = text[at + 1 : end]
        if end < 0 or "\\" in string or not string.isprintable():
            raise _Unusual  # unterminated, an escape, or a control character (json refuses)
        return string, end + 1
    if first in ("{", "[") and depth < _NESTING:
        return _container(text, at, depth + 1)
    start = at + (first == "-")
    end = start
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    digits = text[start:end]
    if not 0 < len(digits) < 19 or (digits[0] == "0" and len(digits) > 1):
        raise _Unusual  # not a value, a leading zero, or an integer for int() to judge
    if text[end : end + 1] in (".", "e", "E"):
        raise _Unusual  # a float
    return int(text[at:end]), end


def _container(text: str, at: int, depth: int) -> tuple[object, int]:
    """The object or array that starts at `at`, and where it ends."""
    opening = text[at]
    members: dict[str, object] = {}
    items: list[object] = []
    close = "}" if opening == "{" else "]"
    at = _skip(text, at + 1)
    while text[at : at + 1] != close:
        if members or items:
            if text[at : at + 1] != ",":
                raise _Unusual
            at = _skip(text, at + 1)
        value, at = _value(text, at, depth)
        at = _skip(text, at)
        if opening == "[":
            items.append(value)
            continue
        if not isinstance(value, str) or text[at : at + 1] != ":":
            raise _Unusual
        members[value], at = _value(text, _skip(text, at + 1), depth)
        at = _skip(text, at)
    return (members if opening == "{" else items), at + 1
