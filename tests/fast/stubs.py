"""In-process stand-ins for AWS: real botocore clients whose answers come from Stubber."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
from botocore.stub import Stubber

from mfa_env import sts
from mfa_env.config import Source
from mfa_env.credentials import Credentials

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
LONG_TERM = "AKIALONGTERMEXAMPLE1"
SERIAL = "arn:aws:iam::123456789012:mfa/alice"
ROLE = "arn:aws:iam::123456789012:role/admin"


def answer(key: str, hours: float = 12, now: datetime = NOW) -> dict[str, Any]:
    """The Credentials member of an STS answer."""
    return {
        "AccessKeyId": key,
        "SecretAccessKey": f"secret-of-{key}",
        "SessionToken": f"token-of-{key}",
        "Expiration": now + timedelta(hours=hours),
    }


def creds(key: str, left: timedelta, length: timedelta | None, now: datetime = NOW) -> Credentials:
    """A session with `left` to go, had `length` ago plus `left` (None: length unknown)."""
    issued = None if length is None else now + left - length
    return Credentials(key, f"secret-of-{key}", f"token-of-{key}", now + left, issued=issued)


@functools.cache
def _session() -> botocore.session.Session:
    """One botocore session for all: its loader keeps the service models, so a client costs
    milliseconds instead of a fresh parse of botocore's data."""
    session = botocore.session.Session()
    session.set_credentials(LONG_TERM, "long-term-secret")
    return session


@dataclass
class Stubbed:
    """The engine's way to AWS, with every call answered by a Stubber and recorded."""

    sessions: list[str] = field(default_factory=list)  # which keys each Aws was made on
    stubbers: dict[str, Stubber] = field(default_factory=dict)
    aws: sts.Aws | None = None

    def _new_aws(self) -> sts.Aws:
        """The one Aws every call is answered on; a subclass may make it otherwise."""
        return sts.Aws(_session(), "us-east-1", LONG_TERM, deadline=5)

    def _aws(self, key: str) -> sts.Aws:
        if self.aws is None:
            self.aws = self._new_aws()
            for service in ("sts", "iam"):
                stub = Stubber(self.aws.client(service))
                stub.activate()
                self.stubbers[service] = stub
        self.sessions.append(key)
        return self.aws

    def connect(self, source: Source, region: str | None) -> sts.Aws:
        return self._aws(source.access_key_id or LONG_TERM)

    def on_session(self, creds: Credentials, region: str | None = None) -> sts.Aws:
        return self._aws(creds.access_key_id)

    def expect(self, service: str, method: str, response: dict[str, Any], **params: Any) -> None:
        self._aws(LONG_TERM)
        self.sessions.pop()
        self.stubbers[service].add_response(method, response, params or None)

    def refuse(self, service: str, method: str, code: str, message: str = "") -> None:
        self._aws(LONG_TERM)
        self.sessions.pop()
        self.stubbers[service].add_client_error(method, code, message)

    def done(self) -> None:
        for stub in self.stubbers.values():
            stub.assert_no_pending_responses()
