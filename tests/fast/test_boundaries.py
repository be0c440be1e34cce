"""The boundaries, fuzzed in-process through the real entry point (mfa_env.main.main: the cached
path, then the click command): every environment variable mfa-env or botocore reads, set to
random bytes; stdout and stderr in encodings that cannot hold every name. Each example must end
with one line per message, statements or the failing statement on stdout, and no traceback.

No example reaches a network or a terminal: botocore's HTTP session answers AccessDenied, the
terminal is absent, and --mfa-command finds no program. Example counts: MFA_ENV_FUZZ_EXAMPLES
raises them (`make fuzz`), MFA_ENV_FUZZ_RANDOM=1 draws new ones."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from mfa_env import cache, deliver, errors, main, prompt, shells
from tests.fast.stubs import SERIAL
from tests.helpers import FORBIDDEN, closing_aws_file_copies, counted, reached

KEY = "AKIADEFAULT000000000"
WORK_KEY = "AKIAWORK000000000000"
CREDENTIALS = (
    f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n"
    f"[work]\naws_access_key_id = {WORK_KEY}\naws_secret_access_key = w\n"
)
CONFIG = f"[default]\nmfa_serial = {SERIAL}\nregion = eu-west-1\n[profile work]\nregion = x\n"

_RANDOM = os.environ.get("MFA_ENV_FUZZ_RANDOM") == "1"


def examples(default: int) -> int:
    return max(default, int(os.environ.get("MFA_ENV_FUZZ_EXAMPLES") or 0))


# What mfa-env reads (config, paths, cache, deliver, shells, prompt, sts) and what botocore reads
# while it makes a session and a client and signs a call (configprovider, credentials, utils,
# httpsession): the names as they appear in their sources.
VARIABLES = sorted(
    {
        # mfa-env
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "MFA_ENV_SHELL", "MFA_ENV_CACHE", "MFA_ENV_MFA_COMMAND", "MFA_ENV_SERIAL",
        "MFA_ENV_DURATION", "MFA_ENV_PROFILE", "MFA_ENV_SESSION", "MFA_ENV_RESOLVING_SOURCE",
        "HOME", "XDG_CACHE_HOME", "SHELL", "DIRENV_IN_ENVRC", "USER", "LOGNAME",
        # botocore
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
        "AWS_STS_REGIONAL_ENDPOINTS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_CA_BUNDLE", "AWS_DATA_PATH", "AWS_DEFAULTS_MODE", "AWS_SDK_UA_APP_ID",
        "AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME", "AWS_ACCOUNT_ID", "AWS_ACCOUNT_ID_ENDPOINT_MODE",
        "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION",
        "AWS_DISABLE_REQUEST_COMPRESSION", "AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES",
        "AWS_AUTH_SCHEME_PREFERENCE", "AWS_SIGV4A_SIGNING_REGION_SET", "AWS_EXECUTION_ENV",
        "AWS_LOGIN_CACHE_DIRECTORY", "AWS_CREDENTIAL_FILE", "AWS_CSM_ENABLED",
        "AWS_METADATA_SERVICE_TIMEOUT", "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
    }
)  # fmt: skip

# The variables that place what a run creates (the cache directory and its locks): an absolute
# value is put under the test's directory, as a relative one is (the test runs there), so that
# no example creates /mfa-env or /.cache. Every other variable names only what is read.
PLACES = {"HOME", "XDG_CACHE_HOME"}

# Bytes that have broken parsers before, besides what the generator makes up.
SPECIAL = [
    b"", b" ", b"\xff", b"AKIA\xff", b"\xc3\xa9", b"\xed\xa0\x80", b"\xe2\x80\xae", b"\x1b[31m",
    b"~", b"/", b"/dev/zero", b"/dev/null", b".", b"$HOME", b"${HOME", b"-1", b"0", b"1e999",
    b"99999999999999999999999", b"http://", b"http://[", b"keyring", b"file", b"bash", b"1",
    b"true", b"\n", b"a\nb", b"'", b'"', b"\\", b"%s", b"arn:aws:iam::123456789012:mfa/\xff",
]  # fmt: skip
VALUES = st.binary(max_size=24).map(lambda b: b.replace(b"\0", b"")) | st.sampled_from(SPECIAL)

# The shapes of a run: a cache hit (served before click, or by click), a code (a new session:
# botocore builds a client and signs), IAM discovery, -w, --unset, --status.
ARGVS = [
    [],
    ["-s", "bash"],
    ["-s", "bash", "123456"],
    ["-s", "bash", "alice"],
    ["-p", "work", "-s", "bash"],
    ["-p", "work", "-s", "bash", "123456"],
    ["-f", "json"],
    ["-f", "dotenv"],
    ["-s", "bash", "--refresh"],
    ["-s", "bash", "-w", "out", "123456"],
    ["--unset", "-s", "bash"],
    ["--status"],
    ["--status", "--brief"],
    ["--profle", "x"],
    ["--shell", "tcsh2"],
    ["--help"],
    ["--version"],
]

DENIED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
    b"<Message>denied</Message></Error><RequestId>1</RequestId></ErrorResponse>"
)

# What stdout may hold on a failure: nothing, or the failing statement of some shell.
FAILING = {b"", *(shells.lookup(name).fail.encode() for name in shells.SHELLS)}
# POSIX statements, one a line (each may end in `;`): what `eval` runs, and nothing else.
_POSIX = re.compile(
    r"(?:(?:export [A-Z_][A-Z0-9_]*='(?:[^']|'\\'')*'|unset [A-Z_][A-Z0-9_]*);?\n)+"
)
_DOTENV = re.compile(r"(?:[A-Z_][A-Z0-9_]*=[!-~]*\n)+")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kw: object) -> Iterator[bytes]:
        yield self.body


def _denied(_session: object, request: AWSPreparedRequest) -> AWSResponse:
    """botocore's HTTP session, for every call (STS, IAM, a metadata service): AccessDenied, once
    the request is built and signed. What http.client would refuse to send (a URL that is not
    ASCII, a header that is not latin-1 or holds a line break) fails as botocore's session
    fails it, with HTTPClientError."""
    from botocore.exceptions import HTTPClientError

    try:
        request.url.encode("ascii")
        for name, value in request.headers.items():
            for part in (name, value):
                text = part.decode("latin-1") if isinstance(part, bytes) else part
                text.encode("latin-1")
                if re.search(r"\r|\n", text):
                    raise ValueError("Invalid header value")
    except ValueError as exc:  # UnicodeEncodeError among them
        raise HTTPClientError(error=exc) from None
    return AWSResponse(request.url, 403, {}, _Raw(DENIED))


def _no_program(*_args: object, **_kw: object) -> object:
    raise FileNotFoundError  # --mfa-command: random bytes must never run a program


def _no_terminal(_label: str) -> str:
    raise errors.MfaEnvError("no MFA code given and no terminal to ask on")


def _no_network(*_args: object, **_kw: object) -> object:
    raise AssertionError("a fuzzed run tried to reach the network")


_LOADED: dict[str, object] = {}


def _load_once(load: Callable[[object, str], object]) -> Callable[[object, str], object]:
    """botocore's JSON loader, reading each data file once for every session of the test: a new
    session per run would parse the STS and IAM models again (70 ms of a run's 100). botocore
    never changes what it loaded: one session hands the same dicts to every client it makes."""

    def load_file(self: object, file_path: str) -> object:
        if file_path not in _LOADED:
            _LOADED[file_path] = load(self, file_path)
        return _LOADED[file_path]

    return load_file


@pytest.fixture
def sealed(isolate: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """AWS files and a cached session for [default]; no network, terminal, program or keyring
    reachable; the working directory is the test's, so relative paths land there."""
    import socket

    from botocore.httpsession import URLLib3Session
    from botocore.loaders import JSONFileLoader

    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "credentials").write_text(CREDENTIALS)
    (isolate / ".aws" / "config").write_text(CONFIG)
    expiry = datetime.now(timezone.utc) + timedelta(hours=6)
    session = cache.SessionKey(cache.source_id(KEY), SERIAL)
    creds = cache.Credentials("ASIA0000000000000000", "wJalr/K7+EX=AMPLE", "tok", expiry)
    cache.store_session(session, creds)
    monkeypatch.setattr(URLLib3Session, "send", _denied)
    monkeypatch.setattr(JSONFileLoader, "load_file", _load_once(JSONFileLoader.load_file))
    monkeypatch.setattr(socket.socket, "connect", _no_network)
    monkeypatch.setattr(prompt.subprocess, "Popen", _no_program)
    monkeypatch.setattr(prompt, "from_terminal", _no_terminal)
    with contextlib.suppress(ImportError):  # MFA_ENV_CACHE=keyring: never the machine's keyring
        import keyring
        from keyring.backends import fail

        monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    monkeypatch.chdir(isolate)
    return isolate


class Streams:
    """A stdout and a stderr as Python makes them for a pipe, in the given encodings, over bytes
    the test reads back; `broken` ones fail every write as a closed pipe does (EPIPE)."""

    def __init__(
        self, out_encoding: str = "utf-8", err_encoding: str = "utf-8", broken: str = ""
    ) -> None:
        self.out_raw, self.err_raw = _Sink("stdout" in broken), _Sink("stderr" in broken)
        self.out = io.TextIOWrapper(io.BufferedWriter(self.out_raw), encoding=out_encoding)
        self.err = io.TextIOWrapper(io.BufferedWriter(self.err_raw), encoding=err_encoding)

    def run(self, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
        """main.main() as the console script runs it; its exit status."""
        monkeypatch.setattr(sys, "argv", ["mfa-env", *argv])
        monkeypatch.setattr(sys, "stdout", self.out)
        monkeypatch.setattr(sys, "stderr", self.err)
        try:
            with closing_aws_file_copies():  # thousands of runs in one test
                main.main()
            status = 0
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        for stream in (self.out, self.err):
            with contextlib.suppress(OSError):
                stream.flush()
        return status


class _Sink(io.RawIOBase):
    def __init__(self, broken: bool) -> None:
        self.data = bytearray()
        self.broken = broken

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")
        self.data += data
        return len(data)


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of a run on UTF-8 pipes."""
    streams = Streams()
    status = streams.run(argv, monkeypatch)
    return status, bytes(streams.out_raw.data), bytes(streams.err_raw.data)


def _check(argv: list[str], status: int, out: bytes, err: bytes) -> None:
    """One line per message, and on stdout statements, or the failing statement, or nothing."""
    assert status in (0, 1, 2), status
    text = err.decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == "", "stderr ends with a line break"
    if "--brief" in argv:  # a prompt segment, without the prefix
        assert len(lines) <= 2, text
        assert not FORBIDDEN.intersection(text[:-1]), text
    else:
        assert all(line.startswith("mfa-env: ") for line in lines[:-1]), text
        assert not FORBIDDEN.intersection(text[:-1].replace("\n", "")), text
    if status:
        assert out in FAILING, out
        return
    if "--status" in argv:
        assert out == b""
    elif "json" in argv:
        assert json.loads(out)["Version"] == 1
    elif "dotenv" in argv:
        assert _DOTENV.fullmatch(out.decode()), out
    elif "bash" in argv:
        assert _POSIX.fullmatch(out.decode()), out


@counted()
@settings(
    max_examples=examples(1200),
    deadline=None,
    derandomize=not _RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    environment=st.dictionaries(st.sampled_from(VARIABLES), VALUES, max_size=5),
    argv=st.sampled_from(ARGVS),
    broken=st.sampled_from(["", "", "stdout", "stderr", "stdout stderr"]),
)
@example({"AWS_ACCESS_KEY_ID": b"AKIA\xff", "AWS_SECRET_ACCESS_KEY": b"x"}, ["-s", "bash"], "")
@example({"AWS_ACCESS_KEY_ID": b"AKIA\xc3\xa9", "AWS_SECRET_ACCESS_KEY": b"x"}, ["123456"], "")
@example({"AWS_SECRET_ACCESS_KEY": b"\xff", "AWS_ACCESS_KEY_ID": b"AKIAX"}, ["123456"], "")
@example({"AWS_CONFIG_FILE": b"/dev/zero"}, ["-s", "bash"], "")
@example({"AWS_SHARED_CREDENTIALS_FILE": b""}, ["-s", "bash"], "")
@example({"AWS_PROFILE": b"\xff"}, ["-s", "bash"], "stdout")
@example({"HOME": b"\xff"}, [], "stderr")
@example({}, ["--profle", "x"], "stdout")
@example({}, ["--shell", "tcsh2"], "stdout stderr")
def test_any_environment_ends_in_one_line_or_statements(
    sealed: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, bytes],
    argv: list[str],
    broken: str,
) -> None:
    """Run once on working pipes; where the example breaks stdout or stderr (EPIPE on every
    write), run again so: the status is the same (1 where stdout lost the statements), and
    nothing escapes but the exit."""
    with monkeypatch.context() as patch:
        for name, value in environment.items():
            if name in PLACES and value.startswith(b"/"):  # where files are created: kept
                value = os.fsencode(sealed) + value  # inside the test's directory
            patch.setitem(os.environb, name.encode(), value)
        status, out, err = _run(argv, patch)
        reached("statements" if status == 0 else "failure")
        _check(argv, status, out, err)
        last = err.decode().rstrip("\n").rpartition("\n")[2]
        event(f"exit {status}: " + " ".join(re.findall(r"[a-z]{2,}", last[9:])[:3]))
        if broken:
            again = Streams(broken=broken)
            lost = "stdout" in broken and status == 0 and out != b""
            assert again.run(argv, patch) == (1 if lost else status)
            if "stderr" not in broken:  # a lost stdout says nothing: the reader went away
                assert bytes(again.err_raw.data).count(b"\n") <= err.count(b"\n")
            if "stdout" not in broken:
                assert bytes(again.out_raw.data) == out


# -- stdout and stderr in encodings that cannot hold every name ----------------------------------

ENCODINGS = ["ascii", "latin-1", "utf-16", "utf-8", "cp1252"]
# Profile names as configparser reads them from a header line: no `]`, no line break, no NUL
# (a lone surrogate cannot come from a UTF-8 file), nothing to strip around them.
NAMES = st.text(
    st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters="[]\n\r\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    min_size=1,
    max_size=12,
).filter(lambda name: name == name.strip() and name[0] not in "#;")


@counted()
@settings(
    max_examples=examples(1000),
    deadline=None,
    derandomize=not _RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=NAMES,
    out_encoding=st.sampled_from(ENCODINGS),
    err_encoding=st.sampled_from(ENCODINGS),
    argv=st.sampled_from([["-s", "bash"], ["-s", "bash", "--debug"], ["-s", "bash", "-p", "x"]]),
)
@example("caf\u00e9", "latin-1", "latin-1", ["-s", "bash"])
@example("\u0142\u00f3d\u017a", "latin-1", "ascii", ["-s", "bash"])
@example("\u65e5\u672c", "utf-16", "utf-16", ["-s", "bash", "--debug"])
def test_any_stream_encoding_gets_statements_and_lines_whole(
    sealed: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    out_encoding: str,
    err_encoding: str,
    argv: list[str],
) -> None:
    """A cached session for a profile of any name, set aside in MFA_ENV_PROFILE (AWS_PROFILE is
    set), so that stdout carries the name and stderr says it: whole in the stream's encoding,
    else UTF-8 on stdout and escapes on stderr, never a traceback."""
    assume(not ("-p" in argv and name == "x"))  # `-p x` names a profile that is not there
    (sealed / ".aws" / "credentials").write_text(
        f"[{name}]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n", encoding="utf-8"
    )
    with monkeypatch.context() as patch:
        patch.setenv("AWS_PROFILE", name)
        patch.setenv("MFA_ENV_SERIAL", SERIAL)
        streams = Streams(out_encoding, err_encoding)
        status = streams.run(argv, patch)
    out_bytes, err_bytes = bytes(streams.out_raw.data), bytes(streams.err_raw.data)
    messages = err_bytes.decode(err_encoding)
    lines = messages.split("\n")
    assert lines[-1] == ""
    assert all(line.startswith("mfa-env: ") for line in lines[:-1]), messages
    assert not FORBIDDEN.intersection(messages.replace("\n", ""))
    if "-p" in argv:  # a profile that is not there: the error names it, stdout fails the eval
        reached("failure")
        assert status == 1
        assert out_bytes.decode(out_encoding) == "false\n"
        assert "profile 'x' is not in" in lines[-2]
        return
    reached("statements")
    assert status == 0, messages
    # Whole in the stream's encoding when it holds the name, else UTF-8.
    statements = out_bytes.decode(out_encoding if _holds(out_encoding, name) else "utf-8")
    assert _POSIX.fullmatch(statements), statements
    quoted = name.replace("'", "'\\''")
    assert re.search(f"^export MFA_ENV_PROFILE='{re.escape(quoted)}';?$", statements, re.M)
    said = deliver.printable(repr(name))
    shown = (
        said
        if _holds(err_encoding, said)
        else said.encode(err_encoding, "backslashreplace").decode(err_encoding)
    )
    assert f"reused the cached session for profile {shown}" in messages


def _holds(encoding: str, text: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeError:
        return False
    return True
