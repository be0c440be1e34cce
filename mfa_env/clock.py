"""Times as mfa-env keeps them (aware, in UTC, written as RFC 3339), and the session in the
environment as --status sees it, with the prompt segment's words (`aws 11h59m`).

Every shell prompt runs `--status --brief`, and mfa_env.main answers it with this module alone:
it imports the C half of datetime, `_datetime`, whose classes are the ones `datetime` exports
(the pure-Python module around them costs a run ~1 ms).
"""

import sys

TYPE_CHECKING = False  # as mfa_env.main has it
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, timedelta, timezone
    from typing import NoReturn
else:
    try:
        from _datetime import datetime, timedelta, timezone
    except ImportError:  # an interpreter without the C module
        from datetime import datetime, timedelta, timezone

__all__ = ["datetime", "timedelta", "timezone"]


def now() -> datetime:
    return datetime.now(timezone.utc)


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


def left(expiration: datetime, now: datetime) -> str:
    """`11h 59m`, or `14m` under an hour."""
    hours, rest = divmod(max(0, int((expiration - now).total_seconds())), 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m"


def session_in(env: "Mapping[str, str]", now: datetime) -> tuple[str, str, datetime | None]:
    """The session `env` holds, for --status: ("none" | "not a time" | "expired" | "live", the
    raw AWS_CREDENTIAL_EXPIRATION, its time when it is one)."""
    raw = env.get("AWS_CREDENTIAL_EXPIRATION", "").strip()
    if not raw or not env.get("AWS_SESSION_TOKEN"):
        return "none", raw, None
    try:
        expiration = parse_rfc3339(raw)
    except (ValueError, OverflowError):
        return "not a time", raw, None
    return ("expired" if expiration <= now else "live"), raw, expiration


def brief(env: "Mapping[str, str]", now: datetime) -> tuple[bool, str]:
    """--status --brief: whether `env` holds a live session, and the prompt segment: `aws
    11h59m`, `aws expired`, `aws ?`, or nothing without a session. Printable ASCII."""
    state, _raw, expiration = session_in(env, now)
    if state == "live" and expiration is not None:
        return True, f"aws {left(expiration, now).replace(' ', '')}"
    return False, {"not a time": "aws ?", "expired": "aws expired"}.get(state, "")


def answer_brief(env: "Mapping[str, str]", now: datetime) -> "NoReturn":
    """Say the prompt segment on stderr (nothing without a session) and exit: 0 for a live
    session, 1 otherwise. A stderr that cannot take it changes nothing: the status stays."""
    ok, line = brief(env, now)
    if line and sys.stderr is not None:
        try:
            sys.stderr.write(line + "\n")  # ASCII: every stream's encoding holds it
            sys.stderr.flush()
        except (OSError, ValueError):
            from mfa_env import deliver

            deliver.mute(sys.stderr)
    sys.exit(0 if ok else 1)
