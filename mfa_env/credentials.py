"""The session credentials that flow between modules, and how they turn into env and JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone

from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
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


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is refused, never guessed at."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: expiry must carry a time zone")
    return moment.astimezone(timezone.utc)


def rfc3339(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    # fromisoformat on 3.10 does not take a trailing Z.
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return utc(datetime.fromisoformat(text))


def local_time(moment: datetime) -> str:
    """`2026-11-27 12:00 +08:00`: the local time, as every message shows a time."""
    local = moment.astimezone()
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{local:%Y-%m-%d %H:%M} {offset}".rstrip()


def describe_expiry(expiration: datetime, now: datetime) -> str:
    """`valid until 2026-11-27 12:00 +08:00, in 11h 59m`: local time, and time left."""
    return f"valid until {local_time(expiration)}, in {_left(expiration, now)}"


def _left(expiration: datetime, now: datetime) -> str:
    """`11h 59m`, or `14m` under an hour."""
    hours, rest = divmod(max(0, int((expiration - now).total_seconds())), 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m"


def describe_status(env: Mapping[str, str], now: datetime, short: bool = False) -> tuple[bool, str]:
    """--status: whether `env` holds a live session, and the line that says so. Short, for a
    shell prompt: `aws 11h59m`, `aws expired`, or nothing when there is no session."""
    raw = env.get("AWS_CREDENTIAL_EXPIRATION", "").strip()
    if not raw or not env.get("AWS_SESSION_TOKEN"):
        return False, "" if short else "no session in this environment"
    try:
        expiration = parse_rfc3339(raw)
    except (ValueError, OverflowError):
        return False, "aws ?" if short else f"AWS_CREDENTIAL_EXPIRATION is not a time: {raw!r}"
    if expiration <= now:
        when = local_time(expiration)
        return (
            False,
            "aws expired" if short else f"the session in this environment expired at {when}",
        )
    if short:
        return True, f"aws {_left(expiration, now).replace(' ', '')}"
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
        """The credential_process document botocore and the AWS CLI read."""
        return json.dumps(
            {
                "Version": 1,
                "AccessKeyId": self.access_key_id,
                "SecretAccessKey": self.secret_access_key,
                "SessionToken": self.session_token,
                "Expiration": rfc3339(self.expiration),
            },
            indent=2,
        )

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
