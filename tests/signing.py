"""Which access key signed each request: a logging reverse proxy in front of moto.

moto answers GetCallerIdentity for any key and hands every session the same example key, so a
call that succeeds proves little. The proxy reads each request's SigV4 `Authorization` header
(`Credential=AKID/DATE/REGION/SERVICE/aws4_request`) and the operation it names, records them,
and forwards the request to moto byte for byte (the signature covers the body and the Host
header, and moto sees both as the client sent them)."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
# Hop-by-hop headers belong to one connection, not to the request the proxy passes on.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


@dataclass(frozen=True)
class Signed:
    """One request as moto received it: who signed it, for what, and with a session token?"""

    access_key_id: str  # "" for an unsigned request
    region: str
    service: str
    action: str
    session_token: bool
    user_agent: str = field(default="", compare=False)  # which program sent it


def operation(path: str, headers, body: bytes) -> str:
    """The operation a request names in any AWS protocol: query (form body or URL), JSON
    (X-Amz-Target), or Smithy RPC v2 (/service/NAME/operation/OP)."""
    if target := headers.get("X-Amz-Target"):
        return target.rsplit(".", 1)[-1]
    if match := re.search(r"/service/[^/]+/operation/([^/?]+)", path):
        return match.group(1)
    url = urlsplit(path)
    form = parse_qs(url.query)
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        form.update(parse_qs(body.decode("utf-8", "replace")))
    return form.get("Action", [""])[0]


def signed(path: str, headers, body: bytes) -> Signed:
    match = CREDENTIAL.search(headers.get("Authorization", ""))
    key, region, service = match.groups() if match else ("", "", "")
    token = "X-Amz-Security-Token" in headers
    agent = headers.get("User-Agent", "")
    return Signed(key, region, service, operation(path, headers, body), token, agent)


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while size := int(handler.rfile.readline().split(b";")[0], 16):
            body += handler.rfile.read(size)
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return body
    return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))


@contextmanager
def signing_log(upstream: str) -> Iterator[tuple[str, list[Signed]]]:
    """A proxy on 127.0.0.1 (port 0) in front of `upstream`; yields its URL and the list it
    appends a Signed to for every request, in the order they arrived."""
    target = urlsplit(upstream)
    log: list[Signed] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs expect

        def forward(self) -> None:
            body = read_body(self)
            with lock:
                log.append(signed(self.path, self.headers, body))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                payload = answer.read()
            finally:
                conn.close()
            self.send_response_only(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            # A HEAD answer keeps moto's length; every other one has the body read above.
            length = answer.getheader("Content-Length", "0") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward

        def log_message(self, format: str, *args) -> None:  # quiet: the log is the list
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # serve_forever looks at shutdown()'s flag once per poll interval (0.5 s by default): half
    # a second at the end of every test that uses this proxy.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
