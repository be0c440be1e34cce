"""The session credentials that flow between modules, and how they turn into env and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
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


@dataclass(frozen=True)
class Credentials:
    """Temporary credentials from STS; secrets stay out of repr, so no traceback shows them."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime
    arn: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "expiration", utc(self.expiration))

    @classmethod
    def from_sts(cls, response: dict[str, Any], arn: str = "") -> Credentials:
        """From the `Credentials` member of a GetSessionToken or AssumeRole response."""
        return cls(
            access_key_id=response["AccessKeyId"],
            secret_access_key=response["SecretAccessKey"],
            session_token=response["SessionToken"],
            expiration=response["Expiration"],
            arn=arn,
        )

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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credentials:
        """Raises KeyError, TypeError or ValueError on a malformed document."""
        fields = ("access_key_id", "secret_access_key", "session_token")
        if not all(isinstance(data[name], str) and data[name] for name in fields):
            raise ValueError("credential fields must be non-empty strings")
        return cls(
            access_key_id=data["access_key_id"],
            secret_access_key=data["secret_access_key"],
            session_token=data["session_token"],
            expiration=parse_rfc3339(data["expiration"]),
            arn=str(data.get("arn", "")),
        )
