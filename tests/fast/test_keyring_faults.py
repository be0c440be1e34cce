"""The keyring at every step: a backend that fails at each call of `--store-keys` and of a
keyring-cached session in turn, in every way it can, and a fuzzer of the keyring API boundary.

After every run the long-term secret is in the credentials file, or in the keyring entry the
file's marker names (read back by load_keys), and the run ended in one line (after the warnings
that explain it) with `false` where statements were expected: never a traceback.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import keyring.errors
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mfa_env import aws_files, cache, cli, keys, prompt, session, sts
from mfa_env.config import Source
from mfa_env.errors import CredentialsFileError, MfaEnvError
from tests.fast import keyring_doubles as doubles
from tests.fast.keyring_doubles import FaultKeyring, MemoryKeyring
from tests.fast.stubs import LONG_TERM, SERIAL, Stubbed, answer, creds
from tests.fast.stubs import _session as stub_session
from tests.helpers import counted, reached

PROFILE = "default"
KEY_ID = "AKIAFAULTKEYS0000001"
SECRET = "fault/Secret+Key0000000000000000000001"
KEYS_ID = cache.source_id(KEY_ID)
OTHER_ID = "AKIAOTHERFILE0000001"
OTHER_SECRET = "other/Secret+Key000000000000000000001"
NEW = (keys.SERVICE, keys.entry(PROFILE, KEYS_ID))
OLDER = (keys.SERVICE, f"keys:{PROFILE}")  # what versions before the ID wrote
SESSION_KEY = "ASIAFAULTSESSION0001"
HOUR = timedelta(hours=1)

BEFORE = "# team profiles\n[other]\nregion = eu-west-1\n"
AFTER = "# after\n"
IN_FILE = f"{BEFORE}[{PROFILE}]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
MARKED = f"{BEFORE}[{PROFILE}]\nmfa_env_keys = keyring\nmfa_env_keys_id = {KEYS_ID}\n"
OURS = doubles.document(KEY_ID, SECRET)
THEIRS = doubles.document(OTHER_ID, OTHER_SECRET)


@dataclass(frozen=True)
class State:
    """Where the keys are before a run: the credentials file's text and the keyring's entries."""

    text: str
    entries: dict[tuple[str, str], str] = field(default_factory=dict)


STORE_STATES = {
    "keys in the file": State(IN_FILE + AFTER),
    # The defect: another credentials file's [default] stored since, under the older name.
    "an older entry holds another file's keys": State(IN_FILE + AFTER, {OLDER: THEIRS}),
    "an earlier run stopped after the keyring write": State(IN_FILE + AFTER, {NEW: OURS}),
    "stored already": State(MARKED + AFTER, {NEW: OURS, OLDER: THEIRS}),
    "stored by an older version": State(MARKED + AFTER, {OLDER: OURS}),
}
SESSION_STATES = {
    "new session": State(MARKED, {NEW: OURS, OLDER: THEIRS}),
    "new session, keys stored by an older version": State(MARKED, {OLDER: OURS}),
    "cached session": State(MARKED, {NEW: OURS}),
}


def credentials() -> Path:
    return Path.home() / ".aws" / "credentials"


def prepare(state: State, backend: MemoryKeyring) -> None:
    path = credentials()
    path.parent.mkdir(exist_ok=True)
    path.write_text(state.text)
    backend.entries.update(state.entries)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.cli, list(args), env=env)


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never a prompt on the terminal the tests run from: asked for keys or a code that was not
    given, the run fails as it would with no terminal."""

    def ask_keys(profile: str) -> tuple[str, str]:
        raise MfaEnvError(f"profile {profile!r} has no keys in the credentials file and no tty")

    real = prompt.get_code

    def get_code(code: str | None, command: str | None, serial: str) -> str:
        if code is None and command is None:
            raise MfaEnvError("no MFA code given and no terminal to ask for one on")
        return real(code, command, serial)

    monkeypatch.setattr(prompt, "ask_keys", ask_keys)
    monkeypatch.setattr(prompt, "get_code", get_code)


# -- what every run must leave behind --------------------------------------------------------------


def ended_cleanly(done: Result, statements: bool) -> None:
    """No traceback; success, or exit 1 with the error line last and only warnings before it;
    `false` on stdout where statements were expected; no long-term secret anywhere."""
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exc_info
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert lines, "a run always says what it did"
    assert all(line.startswith("mfa-env: ") for line in lines), lines
    if done.exit_code == 0:
        assert not lines[-1].startswith("mfa-env: error"), lines
        if statements:
            assert "export AWS_ACCESS_KEY_ID='ASIA" in done.stdout
        else:
            assert (done.stdout, len(lines)) == ("", 1), lines
        return
    assert done.exit_code == 1, (done.exit_code, lines)
    assert lines[-1].startswith("mfa-env: error: "), lines
    assert all(line.startswith("mfa-env: warning: ") for line in lines[:-1]), lines
    assert done.stdout == ("false\n" if statements else "")
    if not statements:
        assert len(lines) == 1, lines


def where_the_keys_are(backend: MemoryKeyring) -> str:
    """Where the long-term keys can be had from now, "file" or "keyring"; fails when neither.

    The keyring is read with its faults over: a fault is one call's, the entry is what stays."""
    path = credentials()
    if aws_files.long_term_keys(PROFILE, path) == (KEY_ID, SECRET):
        return "file"
    marks = aws_files.section(PROFILE, path)
    assert marks.get(aws_files.KEYRING_MARKER) == aws_files.KEYRING_VALUE, marks
    assert marks.get(aws_files.KEYRING_SOURCE) == KEYS_ID, marks
    clean = MemoryKeyring()
    clean.entries = backend.entries
    with doubles.installed(clean):
        assert keys.load_keys(PROFILE, KEYS_ID, path) == (KEY_ID, SECRET), "the key is lost"
    return "keyring"


def others_kept(state: State, backend: MemoryKeyring) -> None:
    """An entry that held other keys before the run holds them still."""
    for name, text in state.entries.items():
        if text != OURS:
            assert backend.entries.get(name) == text, name


# -- --store-keys: a fault at every call ---------------------------------------------------------


def store(state: State, backend: FaultKeyring) -> tuple[Result, str]:
    with doubles.installed(backend):
        prepare(state, backend)
        done = run("--store-keys", PROFILE)
    return done, where_the_keys_are(backend)


def calls_of(state: State, what: Callable[[State, FaultKeyring], object]) -> list[str]:
    """The calls a run makes into the keyring when nothing fails."""
    backend = FaultKeyring()
    what(state, backend)
    return backend.calls


@pytest.mark.parametrize("name", STORE_STATES)
def test_store_keys_keeps_the_keys_whichever_call_fails(name: str):
    state = STORE_STATES[name]
    calls = calls_of(state, store)
    assert {"get_keyring", "priority", "get"} <= set(calls), calls
    assert len(calls) == CALLS[name], calls
    faults = doubles.every_fault()
    for at in range(1, len(calls) + 1):
        for fault in faults:
            backend = FaultKeyring(at, fault.fault)
            done, place = store(state, backend)
            context = (name, at, calls[at - 1], fault.name, done.stderr)
            assert backend.faulted == [calls[at - 1]], context  # the fault did strike there
            ended_cleanly(done, statements=False)
            others_kept(state, backend)
            if done.exit_code == 0:
                assert place == "keyring", context
            elif place == "file":  # the message says so, unless nothing was even tried
                assert (
                    f"the keys are still in [{PROFILE}] in ~/.aws/credentials" in done.stderr
                    or "no usable OS keyring" in done.stderr
                ), context


def test_store_keys_with_no_fault_moves_them_under_their_own_name():
    state = STORE_STATES["keys in the file"]
    done, place = store(state, backend := FaultKeyring())
    assert (done.exit_code, place) == (0, "keyring"), done.stderr
    assert f"entry 'keys:{PROFILE}:{KEYS_ID}'" in done.stderr
    assert backend.entries == {NEW: OURS}
    assert credentials().read_text() == MARKED + AFTER


# -- the defects of issue 19, one by one ----------------------------------------------------------

ONE_ID, ONE_SECRET = "AKIAPROJECTONE000001", "project/One+Secret00000000000000000001"
TWO_ID, TWO_SECRET = "AKIAPROJECTTWO000002", "project/Two+Secret00000000000000000002"


def keys_file(path: Path, key_id: str, secret: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys_lines = f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
    path.write_text(f"[{PROFILE}]\n{keys_lines}")
    return path


def test_two_files_with_the_same_profile_keep_their_own_keys(tmp_path: Path):
    one = keys_file(tmp_path / "one" / "credentials", ONE_ID, ONE_SECRET)
    two = keys_file(tmp_path / "two" / "credentials", TWO_ID, TWO_SECRET)
    with doubles.installed(backend := MemoryKeyring()):
        for path in (one, two):
            done = run("--store-keys", PROFILE, env={"AWS_SHARED_CREDENTIALS_FILE": str(path)})
            assert done.exit_code == 0, done.stderr
        assert len(backend.entries) == 2  # the second never overwrote the first
        for path, key_id, secret in ((one, ONE_ID, ONE_SECRET), (two, TWO_ID, TWO_SECRET)):
            assert aws_files.long_term_keys(PROFILE, path) is None
            source_id = aws_files.section(PROFILE, path)[aws_files.KEYRING_SOURCE]
            assert source_id == cache.source_id(key_id)
            assert keys.load_keys(PROFILE, source_id, path) == (key_id, secret)
            # And the session is signed with that file's own keys.
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
                source = Source(PROFILE, in_keyring=True, cache_id=source_id)
                assert sts.connect(source, None).access_key_id == key_id


def test_an_older_entry_is_read_only_when_it_holds_the_files_keys():
    prepare(State(MARKED, {OLDER: OURS}), backend := MemoryKeyring())
    with doubles.installed(backend):
        assert keys.load_keys(PROFILE, KEYS_ID) == (KEY_ID, SECRET)
        backend.entries[OLDER] = THEIRS  # overwritten by another file's [default], as before
        with pytest.raises(keys.KeyringError) as refused:
            keys.load_keys(PROFILE, KEYS_ID)
        done = run("--shell", "bash", "--serial", SERIAL, "123456")
    message = str(refused.value)
    # Exactly where the keys are not, and nothing that cannot help.
    assert message.startswith(
        f"[{PROFILE}] in ~/.aws/credentials says its keys are in the keyring "
        f"(mfa_env_keys_id = {KEYS_ID}), but the keyring (service 'mfa-env') does not hold them: "
        f"no entry 'keys:{PROFILE}:{KEYS_ID}', 'keys:{PROFILE}' holds other keys"
    )
    assert "--store-keys" not in message
    assert (done.exit_code, done.stdout) == (1, "false\n")
    assert done.stderr == f"mfa-env: error: {message}\n"
    assert backend.entries == {OLDER: THEIRS}


def test_an_entry_holding_another_secret_for_the_same_key_is_never_overwritten():
    wrong = doubles.document(KEY_ID, "an/other+secret")
    prepare(State(IN_FILE, {NEW: wrong}), backend := MemoryKeyring())
    with doubles.installed(backend):
        done = run("--store-keys", PROFILE)
    assert done.exit_code == 1
    assert "holds another secret for the same access key ID" in done.stderr
    assert f"the keys are still in [{PROFILE}] in ~/.aws/credentials" in done.stderr
    assert backend.entries == {NEW: wrong}
    assert credentials().read_text() == IN_FILE


INDENTED = "[fresh]\n  [other]\nregion = eu-west-1\n"  # [other] is a header: nothing precedes
MARKS = {aws_files.KEYRING_MARKER: aws_files.KEYRING_VALUE, aws_files.KEYRING_SOURCE: KEYS_ID}


def test_an_edit_that_would_swallow_an_indented_header_is_one_clean_refusal():
    # Under the marks the header would continue their value: [other] would be gone.
    path = credentials()
    path.parent.mkdir(exist_ok=True)
    path.write_text(INDENTED)
    with pytest.raises(CredentialsFileError, match="look at the indentation of the lines after"):
        aws_files.move_keys_out("fresh", MARKS, path)
    assert path.read_text() == INDENTED


def test_keys_typed_for_such_a_file_are_refused_before_the_keyring_holds_them(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(prompt, "ask_keys", lambda _profile: (KEY_ID, SECRET))
    prepare(State(INDENTED), backend := MemoryKeyring())
    with doubles.installed(backend):
        done = run("--store-keys", "fresh")
    assert done.exit_code == 1, done.stderr
    assert done.stderr.splitlines() == [
        "mfa-env: error: could not take the keys out of [fresh] in ~/.aws/credentials without "
        "changing how botocore reads the rest of it (look at the indentation of the lines after "
        "[fresh]); fix the file and try again; [fresh] in ~/.aws/credentials was left unchanged, "
        "and the keyring was left alone"
    ]
    assert backend.entries == {}
    assert credentials().read_text() == INDENTED


@pytest.mark.parametrize("name", ["a\udcffb", "a\nb", "x]y", " lead", "DEFAULT"])
def test_a_profile_name_no_file_can_hold_is_refused_before_the_keyring_write(
    monkeypatch: pytest.MonkeyPatch, name: str
):
    monkeypatch.setattr(prompt, "ask_keys", lambda _profile: (KEY_ID, SECRET))
    prepare(State(IN_FILE), backend := MemoryKeyring())
    with doubles.installed(backend):
        done = run("--store-keys", name)
    assert (done.exit_code, done.stdout) == (1, ""), done.stderr
    (line,) = done.stderr.splitlines()
    assert "the keyring was left alone" in line
    assert backend.entries == {}
    assert credentials().read_text() == IN_FILE


def editing(text: str) -> doubles.Fault:
    """A set that works, while someone else rewrites the credentials file."""

    def fault(call: doubles.Call) -> Any:
        call.real()
        credentials().write_text(text)

    return fault


@pytest.mark.parametrize(
    ("profile", "before", "during", "kept"),
    [
        # The file becomes one that cannot be read: the keys are in it still.
        (PROFILE, IN_FILE, IN_FILE + "not a key line\n", "the keys are still in [default] in"),
        # Issue 19's reproduction, after the keyring write: typed keys, and an indented header
        # that the marks would swallow (it raised configparser.NoSectionError).
        ("fresh", "[fresh]\n[other]\nregion = x\n", INDENTED, "[fresh] in ~/.aws/credentials was"),
    ],
)
def test_a_failure_after_the_keyring_write_names_both_places(
    monkeypatch: pytest.MonkeyPatch, profile: str, before: str, during: str, kept: str
):
    monkeypatch.setattr(prompt, "ask_keys", lambda _profile: (KEY_ID, SECRET))
    name = keys.entry(profile, KEYS_ID)
    # get_keyring, priority, the get before the write, then the set.
    prepare(State(before), backend := FaultKeyring(4, editing(during)))
    with doubles.installed(backend):
        done = run("--store-keys", profile)
    assert backend.faulted == ["set"]
    assert (done.exit_code, done.stdout) == (1, ""), done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("mfa-env: error: "), line
    assert kept in line
    assert f"and a copy is now in the keyring entry {name!r} of service 'mfa-env'" in line
    assert credentials().read_text() == during
    assert backend.entries == {(keys.SERVICE, name): OURS}


def test_a_backends_own_words_never_reach_stderr():
    # They may quote a secret; the type of the failure is shown instead.
    refusal = keyring.errors.PasswordSetError(f"could not store {OURS}")
    prepare(State(IN_FILE), backend := FaultKeyring(4, doubles.raising(refusal)))
    with doubles.installed(backend):
        done = run("--store-keys", PROFILE)
    assert done.stderr == (
        f"mfa-env: error: storing the keys of [{PROFILE}] in ~/.aws/credentials in the keyring: "
        "the keyring refused (PasswordSetError); check it; the keys are still in "
        f"[{PROFILE}] in ~/.aws/credentials\n"
    )


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (b"{}", "the keyring refused (it answered with bytes, not text)"),
        (doubles.DEEP_JSON, "holds no keys"),
        (RuntimeError("a backend bug"), "the keyring refused (RuntimeError)"),
        (OSError(5, "what the backend says"), "the keyring refused (Input/output error)"),
    ],
)
def test_an_odd_backend_is_one_line_for_a_source_in_the_keyring(answer: object, shown: str):
    fault = doubles.raising(answer) if isinstance(answer, Exception) else doubles.answering(answer)
    # get_keyring, priority, and the first read: the entry named by the file's ID.
    prepare(State(MARKED), backend := FaultKeyring(3, fault))
    with doubles.installed(backend):
        done = run("--shell", "bash", "--serial", SERIAL, "123456")
    assert (done.exit_code, done.stdout) == (1, "false\n"), done.stderr
    (line,) = done.stderr.splitlines()
    assert shown in line


# -- a keyring-cached session: a fault at every call ---------------------------------------------


@functools.cache
def _shared_aws() -> sts.Aws:
    """One set of stubbed clients for every run: making clients is most of a run's cost."""
    return sts.Aws(stub_session(), "us-east-1", LONG_TERM, deadline=5)


_real_botocore_session = sts._botocore_session


_botocore_sessions: dict[str | None, Any] = {}


def _reused_botocore_session(profile: str | None = None, *rest: Any, **named: Any) -> Any:
    """sts.connect's botocore session, made once per profile (whatever else it is given): a new
    one costs most of a run (its handlers), and every run sets its credentials afresh, from the
    keyring, before any use."""
    if profile not in _botocore_sessions:
        _botocore_sessions[profile] = _real_botocore_session(profile, *rest, **named)
    return _botocore_sessions[profile]


class KeyringAws(Stubbed):
    """Stubbed AWS behind the real sts.connect: the long-term keys come from the keyring as
    they do in a run, and are recorded. Its stubs are taken off the shared clients by close()."""

    def __init__(self) -> None:
        super().__init__()
        self.signed_with: list[str] = []

    def _new_aws(self) -> sts.Aws:
        return _shared_aws()

    def close(self) -> None:
        for stub in self.stubbers.values():
            stub.deactivate()

    def connect(self, source: Source, region: str | None) -> sts.Aws:
        real = sts.connect(source, region)
        self.signed_with.append(real.access_key_id)
        return self._aws(real.access_key_id)


def device() -> dict[str, Any]:
    return {"UserName": "alice", "SerialNumber": SERIAL, "EnableDate": datetime.now(timezone.utc)}


def a_session(state: State, backend: FaultKeyring, cached: bool) -> tuple[Result, KeyringAws]:
    """`mfa-env --shell bash alice [123456]` with MFA_ENV_CACHE=keyring: a new session (the
    device found through IAM, then GetSessionToken), or one cached in the keyring."""
    now = datetime.now(timezone.utc)
    aws = KeyringAws()
    aws.expect("iam", "list_mfa_devices", {"MFADevices": [device()]}, UserName="alice")
    if not cached:
        aws.expect(
            "sts",
            "get_session_token",
            {"Credentials": answer(SESSION_KEY, 12, now=now)},
            DurationSeconds=43200,
            SerialNumber=SERIAL,
            TokenCode="123456",
        )
    with doubles.installed(backend), pytest.MonkeyPatch.context() as patch, closing(aws):
        patch.setattr(session, "Botocore", lambda files: aws)
        patch.setattr(sts, "_botocore_session", _reused_botocore_session)
        prepare(state, backend)
        if cached:
            key = cache.SessionKey(KEYS_ID, SERIAL)
            made = creds(SESSION_KEY, 11 * HOUR, 12 * HOUR, now)
            backend.entries[(keys.SERVICE, key.name())] = cache.session_document(key, made).decode()
            serial = cache.serial_document(KEYS_ID, SERIAL).decode()
            backend.entries[(keys.SERVICE, cache.serial_name(KEYS_ID))] = serial
        code = () if cached else ("123456",)
        done = run("--shell", "bash", "alice", *code, env={"MFA_ENV_CACHE": "keyring"})
    return done, aws


def spent(aws: Stubbed) -> bool:
    """Whether STS took the code: its answer was consumed."""
    try:
        aws.stubbers["sts"].assert_no_pending_responses()
    except AssertionError:
        return False
    return True


def session_kept(
    state: State, backend: FaultKeyring, done: Result, aws: KeyringAws, cached: bool
) -> None:
    """What a session run must leave: the keys where they were, signed with no other keys, and
    a session STS handed out for a spent code handed out in turn."""
    context = (backend.calls, backend.faulted, done.stderr)
    ended_cleanly(done, statements=True)
    assert credentials().read_text() == state.text
    assert where_the_keys_are(backend) == "keyring"
    for name in (NEW, OLDER):
        assert backend.entries.get(name) == state.entries.get(name), context
    assert set(aws.signed_with) <= {KEY_ID}, context
    assert f"secret-of-{SESSION_KEY}" not in done.stderr
    assert f"token-of-{SESSION_KEY}" not in done.stderr
    if done.exit_code == 0:
        assert f"export AWS_ACCESS_KEY_ID='{SESSION_KEY}'" in done.stdout, context
    if not cached and spent(aws):  # the code was spent: the session is never lost
        assert done.exit_code == 0, context


@pytest.mark.parametrize("name", SESSION_STATES)
def test_a_keyring_cached_session_keeps_keys_and_session_whichever_call_fails(name: str):
    state = SESSION_STATES[name]
    cached = name == "cached session"
    calls = calls_of(state, lambda state, backend: a_session(state, backend, cached))
    assert calls.count("get") >= 2, calls
    assert len(calls) == CALLS[name], calls
    faults = doubles.every_fault()
    for at in range(1, len(calls) + 1):
        for fault in faults:
            backend = FaultKeyring(at, fault.fault)
            done, aws = a_session(state, backend, cached)
            assert backend.faulted == [calls[at - 1]], (name, at, fault.name)
            session_kept(state, backend, done, aws, cached)


def test_a_session_the_keyring_will_not_keep_is_handed_out_with_a_warning():
    state = SESSION_STATES["new session"]
    calls = calls_of(state, lambda state, backend: a_session(state, backend, cached=False))
    assert calls[-2:] == ["set", "set"]  # the serial found through IAM, then the session
    backend = FaultKeyring(len(calls), doubles.raising(RuntimeError("the session bus went away")))
    done, aws = a_session(state, backend, cached=False)
    assert spent(aws)  # STS took the code
    assert done.exit_code == 0, done.stderr
    assert f"export AWS_ACCESS_KEY_ID='{SESSION_KEY}'" in done.stdout
    assert done.stderr.splitlines()[0] == (
        "mfa-env: warning: could not write the session cache (the keyring refused "
        "(RuntimeError); check it); the next run will ask for a code again"
    )


# -- the keyring API boundary, fuzzed ----------------------------------------------------------


def _constructible(kind: type[Exception]) -> bool:
    try:
        kind("text")
    except Exception:
        return False
    return True


EXCEPTION_TYPES = sorted(
    {
        kind
        for kind in [*vars(builtins).values(), *vars(keyring.errors).values()]
        if isinstance(kind, type) and issubclass(kind, Exception) and _constructible(kind)
    },
    key=lambda kind: f"{kind.__module__}.{kind.__qualname__}",
)
MESSAGES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([SECRET, f"secret-of-{SESSION_KEY}", f"token-of-{SESSION_KEY}", OURS]),
    st.tuples(st.text(max_size=8), st.sampled_from([SECRET, OURS])).map("{0[1]}{0[0]}".format),
)
ERRORS = st.one_of(
    st.builds(lambda kind, text: kind(text), st.sampled_from(EXCEPTION_TYPES), MESSAGES),
    st.builds(OSError, st.integers(-3, 140) | st.integers(), MESSAGES),
    st.sampled_from(doubles.ERRORS),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
KEY_TEXT = st.one_of(st.sampled_from([KEY_ID, SECRET, OTHER_ID, "", " "]), st.text(max_size=12))
ANSWERS = st.one_of(
    st.text(),
    st.binary(max_size=40),
    st.none(),
    st.integers(),
    st.floats(),
    JSON,
    JSON.map(json.dumps),
    st.builds(doubles.document, KEY_TEXT, KEY_TEXT).filter(lambda text: text != OURS),
    st.integers(1, 120_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 120_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.sampled_from([10_000, 70_000, 1_000_000]).map(lambda size: "x" * size),
    st.sampled_from([THEIRS, doubles.OTHER_KEYS]),
    st.sampled_from(doubles.ANSWERS),
)
FAULTS = st.one_of(
    ERRORS.map(doubles.raising),
    ERRORS.map(doubles.raising_after),
    ANSWERS.map(doubles.answering),
    st.sampled_from([doubles.dropping, doubles.corrupting]),
)


def plans(calls: int) -> st.SearchStrategy[list[Any]]:
    """A fault for each call in turn, or None: one at least among a run's first `calls`, as
    likely late as early (hypothesis leans to small numbers; half of them count from the end),
    and a few more, so that a run meets several."""
    at = st.integers(0, calls - 1)
    position = st.one_of(at, at.map(lambda n: calls - 1 - n))
    slot = st.integers(0, 7).flatmap(lambda n: FAULTS if n == 0 else st.none())
    return st.tuples(position, FAULTS, st.lists(slot, max_size=calls + 2)).map(
        lambda drawn: [*drawn[2][: drawn[0]], *[None] * (drawn[0] - len(drawn[2])), drawn[1],
                       *drawn[2][drawn[0] + 1 :]]
    )  # fmt: skip


# How many calls into the keyring each run makes when none fails (checked by the tests above).
CALLS = {
    "keys in the file": 5,  # the backend, its priority, the get before the write, set, get
    "an older entry holds another file's keys": 5,
    "an earlier run stopped after the keyring write": 5,
    "stored already": 3,  # the backend, its priority, the entry the marker names
    "stored by an older version": 4,  # ..., no entry by that name, the older entry
    "new session": 9,  # the store's backend and priority, serial, keys' backend, priority and
    # entry, session, then serial and session written
    "new session, keys stored by an older version": 10,
    "cached session": 4,
}
RUNS = st.one_of(
    *[st.tuples(st.just(("store", name)), plans(CALLS[name])) for name in STORE_STATES],
    *[st.tuples(st.just(("session", name)), plans(CALLS[name])) for name in SESSION_STATES],
)
FUZZ_EXAMPLES = 1000


@counted()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example writes the files it needs
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(drawn=RUNS)
def test_no_keyring_backend_gives_a_traceback_or_loses_a_key(drawn):
    (kind, name), plan = drawn
    backend = FaultKeyring(plan=plan)
    if kind == "store":
        state = STORE_STATES[name]
        done, place = store(state, backend)
        reached("store")
        ended_cleanly(done, statements=False)
        others_kept(state, backend)
        assert done.exit_code == 1 or place == "keyring", done.stderr
    else:
        state = SESSION_STATES[name]
        cached = name == "cached session"
        done, aws = a_session(state, backend, cached)
        reached("session")
        session_kept(state, backend, done, aws, cached)
    event(f"{kind}: exit {done.exit_code}, {len(backend.faulted)} calls faulted")
    for call in backend.faulted:
        event(f"{kind}: a fault struck a {call}")
