"""A loopback HTTP responder that speaks the STS and IAM query protocol, and misbehaves on cue.

moto always accepts the code and the keys; this stands in where a test needs AWS to say no,
to be slow, or to answer with something broken. Each Action maps to a reply; unlisted actions
get a well-formed success.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
ACCOUNT = "123456789012"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    hang: float = 0.0  # seconds to wait before answering (a silent endpoint)
    truncate: bool = False  # promise more bytes than are sent, then close
    drip: float = 0.0  # seconds between single bytes of the body: an answer that never finishes


def error(code: str, message: str, status: int = 403, ns: str = STS_NS) -> Reply:
    body = (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
    return Reply(status, body.encode())


def credentials(
    key: str = "ASIAHOSTILEEXAMPLE01",
    secret: str = "hostile/secret+EXAMPLE",
    token: str = "hostile-token",
    expiration: str | None = None,
) -> bytes:
    if expiration is None:  # twelve hours from now: a plausible session, not an absurd one
        later = datetime.now(timezone.utc) + timedelta(hours=12)
        expiration = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<Credentials><AccessKeyId>{escape(key)}</AccessKeyId>"
        f"<SecretAccessKey>{escape(secret)}</SecretAccessKey>"
        f"<SessionToken>{escape(token)}</SessionToken>"
        f"<Expiration>{escape(expiration)}</Expiration></Credentials>"
    ).encode()


def ok(action: str, result: bytes, ns: str = STS_NS) -> Reply:
    body = (
        f'<{action}Response xmlns="{ns}"><{action}Result>'.encode()
        + result
        + f"</{action}Result><ResponseMetadata><RequestId>r-1</RequestId>"
        f"</ResponseMetadata></{action}Response>".encode()
    )
    return Reply(200, body)


def default_replies(user: str = "hostile-user") -> dict[str, Reply]:
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/{user}"
    return {
        "GetCallerIdentity": ok(
            "GetCallerIdentity",
            f"<Arn>arn:aws:iam::{ACCOUNT}:user/{user}</Arn><UserId>AIDAEXAMPLE</UserId>"
            f"<Account>{ACCOUNT}</Account>".encode(),
        ),
        "ListMFADevices": ok(
            "ListMFADevices",
            f"<MFADevices><member><UserName>{user}</UserName><SerialNumber>{serial}</SerialNumber>"
            "<EnableDate>2026-01-01T00:00:00Z</EnableDate></member></MFADevices>"
            "<IsTruncated>false</IsTruncated>".encode(),
            IAM_NS,
        ),
        "GetSessionToken": ok("GetSessionToken", credentials()),
        "AssumeRole": ok(
            "AssumeRole",
            credentials()
            + f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/r/s</Arn>"
            "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>".encode(),
        ),
    }


@dataclass
class Responder:
    url: str
    replies: dict[str, Reply | Callable[[dict[str, list[str]]], Reply]]
    calls: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)  # the calls whose reply was sent in full


@contextmanager
def responder(replies: dict[str, Reply] | None = None) -> Iterator[Responder]:
    table: dict = {**default_replies(), **(replies or {})}
    state = Responder(url="", replies=table)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            action = form.get("Action", ["?"])[0]
            state.calls.append(action)
            reply = state.replies.get(action) or error("InvalidAction", action, 400)
            if callable(reply):
                reply = reply(form)
            if reply.hang:
                time.sleep(reply.hang)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/xml")
                promised = len(reply.body) * 2 if reply.truncate else len(reply.body)
                self.send_header("Content-Length", str(promised))
                self.end_headers()
                if reply.drip:
                    for byte in reply.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.drip)
                else:
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                state.answered.append(action)
            except OSError:
                pass  # the client gave up first; that is the case under test
            if reply.truncate:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # shutdown() waits for serve_forever to look at its flag, every poll_interval (0.5 s by
    # default): half a second at the end of every test that uses a responder.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
