"""Config resolution, the cache reader and the command, in-process (CliRunner, no network)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from mfa_env import cache, cli, config, ini, paths
from mfa_env.credentials import Credentials
from mfa_env.errors import ConfigError, UsageError
from tests.fast.stubs import NOW, SERIAL, creds
from tests.helpers import FORBIDDEN, counted, reached

HOUR = timedelta(hours=1)


def write(home: Path, credentials: str = "", aws_config: str = "") -> None:
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text(credentials)
    (home / ".aws" / "config").write_text(aws_config)


KEYS = "[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = s\n"


# -- config ---------------------------------------------------------------------------------------


def test_the_default_profile_and_its_key_id(isolate):
    write(isolate, KEYS)
    got = config.resolve(config.Inputs())
    assert got.source == config.Source("default", "AKIADEFAULT000000000")
    assert (got.serial, got.duration, got.region, got.role) == (None, 43200, None, None)


def test_environment_keys_win_unless_a_token_is_beside_them(isolate, monkeypatch):
    write(isolate, KEYS)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV0000000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert config.resolve(config.Inputs()).source.profile is None
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stale")
    assert config.resolve(config.Inputs()).source.profile == "default"


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({"AWS_PROFILE": "work"}, "work"),
        ({"AWS_DEFAULT_PROFILE": "work"}, "work"),
        ({"MFA_ENV_PROFILE": "work"}, "work"),
        ({"AWS_PROFILE": "work", "MFA_ENV_PROFILE": "default"}, "work"),
        ({}, "default"),
    ],
)
def test_the_shells_profile(isolate, monkeypatch, env, source):
    write(isolate, KEYS + "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = w\n")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got = config.resolve(config.Inputs())
    assert got.source.profile == source
    moved = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    assert got.moved_profile == moved


@pytest.mark.parametrize(
    ("inputs", "env", "error", "words"),
    [
        ({"profile": "nope"}, {}, ConfigError, "not in"),
        ({"duration": "10"}, {}, UsageError, "between 900 and 129600"),
        ({"duration": "x"}, {}, UsageError, "whole number"),
        ({}, {"MFA_ENV_DURATION": "200000"}, UsageError, "MFA_ENV_DURATION"),
        ({"serial": "arn:aws:iam::1:u2f/user/x/k"}, {}, UsageError, "U2F"),
        ({"serial": "no spaces allowed"}, {}, UsageError, "not an MFA device serial"),
        ({"region": "eu west 1"}, {}, UsageError, "--region is not a region"),
        ({}, {"AWS_REGION": "bad region"}, UsageError, "AWS_REGION is not a region"),
        ({"role_arn": "arn:aws:iam::1:user/x"}, {}, UsageError, "--role-arn"),
        ({"role_session_name": "x"}, {}, UsageError, "needs a role"),
        ({"role_arn": "arn:aws:iam::123456789012:role/r", "role_session_name": "a b"}, {},
         UsageError, "session name"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_clear_error(isolate, monkeypatch, inputs, env, error, words):
    write(isolate, KEYS)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error, match=words):
        config.resolve(config.Inputs(**inputs))


ROLES = (
    "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/admin\nsource_profile = default\n"
    "mfa_serial = arn:aws:iam::123456789012:mfa/me\nregion = eu-west-1\nduration_seconds = 1800\n"
    "[profile loop1]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop2\n"
    "[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop1\n"
    "[profile hop]\nrole_arn = arn:aws:iam::123456789012:role/c\nsource_profile = admin\n"
    "[profile orphan]\nrole_arn = arn:aws:iam::123456789012:role/d\n"
    "[profile missing]\nrole_arn = arn:aws:iam::123456789012:role/e\nsource_profile = gone\n"
    "[profile badarn]\nrole_arn = nope\nsource_profile = default\n"
)


def test_a_role_profile_is_walked_then_validated(isolate):
    write(isolate, KEYS, ROLES)
    got = config.resolve(config.Inputs(profile="admin"))
    assert got.source.profile == "default"
    assert got.role is not None
    assert (got.role.arn, got.role.duration, got.role.profile) == (
        "arn:aws:iam::123456789012:role/admin",
        1800,
        "admin",
    )
    assert got.serial == "arn:aws:iam::123456789012:mfa/me"
    assert got.region == "eu-west-1"
    assert got.duration == 43200  # the MFA session keeps its own length
    assert got.own_profiles == {"default", "admin"}


def test_duration_with_a_role_is_the_roles(isolate):
    write(isolate, KEYS, ROLES)
    got = config.resolve(config.Inputs(profile="admin", duration="900"))
    assert got.role is not None
    assert (got.role.duration, got.duration) == (900, 43200)


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        ("loop1", "loops"),
        ("hop", "chains roles"),
        ("orphan", "no source_profile"),
        ("missing", "does not exist"),
        ("badarn", "not a role ARN"),
    ],
)
def test_broken_role_profiles(isolate, profile, words):
    write(isolate, KEYS, ROLES)
    with pytest.raises(ConfigError, match=words):
        config.resolve(config.Inputs(profile=profile))


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), (None, None)), (("123456",), (None, "123456")), (("me",), ("me", None)),
     (("me", "123456"), ("me", "123456"))],
)  # fmt: skip
def test_positionals(args, expected):
    assert config.split_positionals(args) == expected


@pytest.mark.parametrize("args", [("12345",), ("me", "12"), ("a", "b", "c")])
def test_bad_positionals(args):
    with pytest.raises(UsageError):
        config.split_positionals(args)


def test_paths_expand_variables_and_home_as_botocore_does(isolate, monkeypatch):
    monkeypatch.setenv("WHERE", "somewhere")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "~/$WHERE/creds")
    monkeypatch.setenv("AWS_CONFIG_FILE", "$HOME/cfg")
    assert paths.credentials_file() == f"{isolate}/somewhere/creds"
    assert paths.config_file() == f"{isolate}/cfg"
    assert paths.home_path(paths.credentials_file()) == "~/somewhere/creds"


# -- the cache reader is a total function ---------------------------------------------------

KEY = cache.SessionKey("src", SERIAL)


def entry_path() -> Path:
    return Path(KEY.path())


def test_round_trip(isolate):
    made = creds("ASIAX", 2 * HOUR, 12 * HOUR)
    cache.store_session(KEY, made)
    assert cache.load_session(KEY, NOW) == made
    assert entry_path().stat().st_mode & 0o777 == 0o600
    assert entry_path().parent.stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("content", "distrust"),
    [
        (b"", True),
        (b"{", True),
        (b"[" * 100000, True),  # deeply nested
        (b'{"format": 1}', False),  # an older format: a plain miss
        (b'{"format": 2, "key": ["src", "' + SERIAL.encode() + b'", ""], "credentials": 3}', True),
        (b'{"format": 2, "key": ["other"]}', False),
    ],
)
def test_bad_entries_are_misses(isolate, content, distrust):
    cache.store_session(KEY, creds("ASIAX", HOUR, None))
    entry_path().write_bytes(content)
    if distrust:
        with pytest.raises(cache.Distrust):
            cache.load_session(KEY, NOW)
    else:
        assert cache.load_session(KEY, NOW) is None


def valid_document(expiration: object) -> bytes:
    body = creds("ASIAX", HOUR, None).to_json()
    return json.dumps(
        {"format": 2, "key": list(KEY), "credentials": {**body, "expiration": expiration}}
    ).encode()


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12"])
@pytest.mark.parametrize(
    ("expiration", "outcome"),
    [
        (3, "distrust"),  # not a time at all
        (None, "distrust"),
        ([], "distrust"),
        ("soon", "distrust"),
        ("2027-13-01T00:00:00Z", "distrust"),  # month 13
        ("9999-12-31T23:59:59Z", "distrust"),  # further ahead than any STS session lasts
        ("0001-01-01T00:00:00Z", "expired"),  # read, and long over: the engine never uses it
    ],
)
def test_absurd_expiries_are_never_a_usable_session_in_any_time_zone(
    isolate, monkeypatch, tz, expiration, outcome
):
    monkeypatch.setenv("TZ", tz)
    cache.store_session(KEY, creds("ASIAX", HOUR, None))
    entry_path().write_bytes(valid_document(expiration))
    if outcome == "distrust":
        with pytest.raises(cache.Distrust):
            cache.load_session(KEY, NOW)
        return
    got = cache.load_session(KEY, NOW)
    assert got is not None
    assert got.seconds_left(NOW) <= 0


# What a cache file can hold, each drawn with the outcome it must have, known from how it was
# made: a sane session for KEY (expiring at most 36 h ahead, as STS sessions do), one with a
# broken or forged field (distrusted), an entry of another format or key (a plain miss), bytes
# that are not JSON (distrusted), or any other JSON (a miss).
REQUIRED = ("access_key_id", "secret_access_key", "session_token", "expiration")
FIELD = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
SECONDS = st.integers(-(10**9), 36 * 3600)  # from long ago to STS's longest session ahead
NOT_A_TIME = st.sampled_from(
    ["soon", "2027-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z", "T", "12:00"]
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _time(seconds: int) -> str:
    return (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def session_fields(draw: st.DrawFn) -> dict[str, object]:
    fields: dict[str, object] = {name: draw(FIELD) for name in REQUIRED[:3]}
    fields["expiration"] = _time(draw(SECONDS))
    if draw(st.booleans()):
        fields["arn"] = draw(st.text(max_size=30))
    if draw(st.booleans()):
        fields["issued"] = _time(draw(st.integers(-(10**9), 0)))
    return fields


@st.composite
def forged(draw: st.DrawFn) -> dict[str, object]:
    """A session for KEY with one field broken, or an expiry no STS session has."""
    fields = draw(session_fields())
    name = draw(st.sampled_from(REQUIRED))
    how = draw(st.sampled_from(["gone", "empty", "not text", "not a time", "far ahead", "issued"]))
    if how == "gone":
        del fields[name]
    elif how == "empty":
        fields[name] = ""
    elif how == "not text":
        fields[name] = draw(JSON_VALUE.filter(lambda value: not isinstance(value, str)))
    elif how == "not a time":
        fields["expiration"] = draw(NOT_A_TIME)
    elif how == "far ahead":  # two days and more: a broken clock or a forgery
        fields["expiration"] = _time(draw(st.integers(48 * 3600 + 1, 10**10)))
    else:  # null, like no "issued" at all, is a session of unknown length: not a forgery
        fields["issued"] = draw(JSON_VALUE.filter(lambda value: not isinstance(value, str | None)))
    return fields


def _entry(credentials: object, key: object = None, fmt: object = 2) -> bytes:
    return json.dumps({"format": fmt, "key": key or list(KEY), "credentials": credentials}).encode()


def _not_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except (ValueError, RecursionError):
        return True
    return False


SESSIONS = session_fields().map(lambda fields: (_entry(fields), "session", fields))
CACHE_FILES = st.sampled_from([  # one_of leans to its first; sampled_from draws each alike
    SESSIONS,
    SESSIONS,
    SESSIONS,  # thrice: a fifth of the examples at least are sessions
    forged().map(lambda fields: (_entry(fields), "distrust", None)),
    JSON_VALUE.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: (_entry(v), "distrust", None)  # credentials that are not an object
    ),
    st.tuples(session_fields(), st.sampled_from([1, 3, "2", None])).map(
        lambda drawn: (_entry(drawn[0], fmt=drawn[1]), "miss", None)  # another format
    ),
    st.tuples(session_fields(), st.sampled_from([["src", SERIAL, "role"], ["other"], "src"])).map(
        lambda drawn: (_entry(drawn[0], key=drawn[1]), "miss", None)  # another entry's
    ),
    st.tuples(session_fields(), st.data()).map(
        lambda drawn: (_entry(drawn[0]), "truncate", None)
    ),
    st.binary(max_size=300).map(lambda content: (content, "bytes", None)),
    JSON_VALUE.filter(lambda v: not isinstance(v, dict) or v.get("format") != 2).map(
        lambda v: (json.dumps(v).encode(), "miss", None)
    ),
]).flatmap(lambda kind: kind)  # fmt: skip


@counted(each={"session": 0.2, "miss": 0.1, "distrust": 0.1})
@settings(max_examples=300, deadline=None)
@given(CACHE_FILES, st.data())
def test_any_bytes_are_a_session_or_a_miss(drawn, data):
    """Whatever a private cache file of ours holds, the reader answers the session it holds, a
    miss, or Distrust: each exactly when the file is that."""
    content, outcome, fields = drawn
    if outcome == "truncate":  # a whole entry cut short: never valid JSON
        content = content[: data.draw(st.integers(0, len(content) - 1))]
        outcome = "distrust"
    elif outcome == "bytes":  # the standard library's JSON parser says what they are
        outcome = "distrust" if _not_json(content) else "miss"
    path = Path(KEY.path())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(content)
    os.chmod(path, 0o600)
    reached(outcome)
    if outcome == "distrust":
        with pytest.raises(cache.Distrust):
            cache.load_session(KEY, NOW)
        return
    got = cache.load_session(KEY, NOW)
    if outcome == "miss":
        assert got is None
        return
    assert got is not None
    assert (got.access_key_id, got.secret_access_key, got.session_token) == tuple(
        fields[name] for name in REQUIRED[:3]
    )
    assert _time(int((got.expiration - NOW).total_seconds())) == fields["expiration"]
    assert got.arn == fields.get("arn", "")


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory", "group-writable"])
def test_entries_that_are_not_ours_are_distrusted_without_a_hang(isolate, kind, tmp_path):
    cache.store_session(KEY, creds("ASIAX", HOUR, None))
    path = entry_path()
    path.unlink()
    if kind == "symlink":
        target = tmp_path / "elsewhere"
        target.write_text("{}")
        path.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        cache.store_session(KEY, creds("ASIAX", HOUR, None))
        path.chmod(0o620)
    with pytest.raises(cache.Distrust):
        cache.load_session(KEY, NOW)


def test_a_cache_directory_of_another_owner_is_distrusted(isolate):
    cache.store_session(KEY, creds("ASIAX", HOUR, None))
    os.chown(entry_path().parent, 12345, 12345)
    with pytest.raises(cache.Distrust, match="another user"):
        cache.load_session(KEY, NOW)


def test_a_serial_from_the_cache_is_checked(isolate):
    cache.store_serial("src", "arn:aws:iam::123456789012:mfa/ok")
    assert cache.load_serial("src") == "arn:aws:iam::123456789012:mfa/ok"
    cache.store_serial("src", "\x1b[31mevil")
    with pytest.raises(cache.Distrust):
        cache.load_serial("src")


# -- the command -----------------------------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli.cli, list(args), env=env)


def test_a_cached_session_through_the_command(isolate):
    write(isolate, KEYS)
    source = cache.source_id("AKIADEFAULT000000000")
    cache.store_serial(source, SERIAL)
    made = creds(
        "ASIACACHED",
        11 * HOUR,
        12 * HOUR,
        now=__import__("datetime").datetime.now(__import__("datetime").timezone.utc),
    )
    cache.store_session(cache.SessionKey(source, SERIAL), made)
    done = run("--shell", "bash")
    assert done.exit_code == 0, done.stderr
    assert "export AWS_ACCESS_KEY_ID='ASIACACHED'" in done.stdout
    assert "reused the cached session" in done.stderr
    assert "ASIACACHED" not in done.stderr
    assert "secret-of" not in done.stderr


def test_aws_profile_is_set_aside_and_unset_puts_it_back(isolate, monkeypatch):
    write(isolate, KEYS)
    monkeypatch.setenv("AWS_PROFILE", "default")
    source = cache.source_id("AKIADEFAULT000000000")
    cache.store_serial(source, SERIAL)
    now = datetime.now(timezone.utc)
    cache.store_session(cache.SessionKey(source, SERIAL), creds("ASIAC", 11 * HOUR, None, now))
    done = run("--shell", "bash")
    assert "unset AWS_PROFILE" in done.stdout
    assert "unset AWS_DEFAULT_PROFILE" in done.stdout
    assert "export MFA_ENV_PROFILE='default'" in done.stdout
    assert "set aside in MFA_ENV_PROFILE" in done.stderr
    back = run("--unset", "--shell", "bash", env={"MFA_ENV_PROFILE": "work", "AWS_PROFILE": ""})
    assert "export AWS_PROFILE='work'" in back.stdout
    assert "AWS_REGION" not in back.stdout


@pytest.mark.parametrize(
    ("args", "env", "code", "stdout", "words"),
    [
        (["--shell", "bash", "12345"], {}, 2, "false\n", "six digits"),
        (["--format", "json", "--unset"], {}, 2, "", "drop --format"),
        (["--shell", "fish", "--profile", "nope"], {}, 1, "false\n", "not in"),
        (["--shell", "nu", "--profile", "nope"], {}, 1, '"mfa-env failed', "not in"),
        (["--profile", "nope"], {"MFA_ENV_SHELL": "tcsh2"}, 2, "false\n", "unknown shell"),
        (["--", "true"], {"MFA_ENV_SESSION": "x"}, 2, "", "already inside"),
        (["-r", "bad region", "--shell", "bash"], {}, 2, "false\n", "not a region"),
    ],
)
def test_failures_are_one_line_and_a_failing_statement(isolate, args, env, code, stdout, words):
    write(isolate, KEYS)
    done = run(*args, env=env)
    assert done.exit_code == code
    assert done.stdout.startswith(stdout) if stdout else done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert words in lines[0]


def test_status_is_a_report_on_stderr():
    ok = run(
        "--status",
        env={"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z"},
    )
    assert (ok.exit_code, ok.stdout) == (0, "")
    assert "valid until" in ok.stderr


def test_stderr_escapes_outside_text(isolate):
    write(isolate, KEYS)
    done = run("--shell", "bash", "--profile", "evil\x1b]0;owned\x07\u202e")
    assert "\x1b" not in done.stderr
    assert "\u202e" not in done.stderr
    assert "\\x1b" in done.stderr


@pytest.mark.parametrize(
    ("expiration", "code", "line"),
    [("2999-01-01T00:00:00Z", 0, "aws "), ("2001-01-01T00:00:00Z", 1, "aws expired"),
     ("soon", 1, "aws ?"), (None, 1, "")],
)  # fmt: skip
def test_status_brief_is_a_prompt_segment(expiration, code, line):
    env = {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": expiration} if expiration else {}
    done = run("--status", "--brief", env=env)
    assert done.exit_code == code
    assert done.stdout == ""
    assert done.stderr.rstrip("\n").startswith(line) if line else done.stderr == ""
    assert "mfa-env" not in done.stderr


def test_status_brief_counts_hours_and_minutes():
    later = datetime.now(timezone.utc) + timedelta(hours=3, minutes=7, seconds=30)
    env = {
        "AWS_SESSION_TOKEN": "t",
        "AWS_CREDENTIAL_EXPIRATION": later.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert run("--status", "--brief", env=env).stderr == "aws 3h07m\n"


def test_without_the_keyring_extra_every_keyring_path_says_what_to_install(isolate, monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)  # an import of it fails
    write(isolate, KEYS)
    for args, env in (
        (["--store-keys", "default"], {}),
        (["--shell", "bash", "--serial", SERIAL, "123456"], {"MFA_ENV_CACHE": "keyring"}),
    ):
        done = run(*args, env=env)
        assert done.exit_code == 1, done.stderr
        assert "pip install 'mfa-env[keyring]'" in done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_mfa_env_cache_takes_file_or_keyring(isolate):
    write(isolate, KEYS)
    done = run("--shell", "bash", "123456", env={"MFA_ENV_CACHE": "disk"})
    assert done.exit_code == 2
    assert "MFA_ENV_CACHE must be file or keyring" in done.stderr


# -- the AWS files, read a section at a time, read as botocore reads them whole ---------------

NAMES = ["default", "a", "b", "profile a", "DEFAULT", "", "a\nb", "a]b"]
LINES = st.sampled_from(
    [
        *[f"[{n}]" for n in NAMES],
        "[profile a]", "[profile  a]", "[ profile a ]", "[profile\ta]", "[profile default]",
        '[profile "a"]', "[profile 'b']", "[profile a b]", '[profile a"]', "[profiles]",
        "\xa0[a]", "\x0c[DEFAULT]",
        "[a]]", "[a] junk", "[a] x]", "[b", "[]", "  [a]", "[a]   ", "\t[b] junk", "x = [a]",
        "[profile a] junk", "  [profile a]", "[default] ; c", "[[a]", "[DEFAULT] x",
        '  [profile "a"]', "x = [profile 'b']", "[profile a]\r", "[b]\r\nx = 2", "[profile a\xa0]",
        "\xa0[profile 'a']", "s\xe9 = \u2028", "k = v = w", "k:v=w", "  # c", "= x", "k =",
        "K\t= 1 ", "a b = 1", "x\x0b= y\x1c", "[a", "b] = 1", "[a]b]",
        "region = eu-west-1", "aws_access_key_id = AKIA1", "Region=us-east-1", "x: y",
        "  continued", "\tcontinued = too", "# comment", "; comment", "", "   ", "garbage",
    ]
)  # fmt: skip


# Most files open with a header, as the AWS files do, and no line comes twice: else nearly
# every file is one both readers refuse. Still, a third of LINES' lines repeat a key or cannot
# be parsed, so about a third of the files are read (the check that matters; a fifth at the
# least), and the rest are refused by both (which is checked too).
FILE_LINES = st.tuples(
    st.sampled_from(["[default]", "[a]", "[profile a]", "[b]", ""]),
    st.lists(LINES, max_size=13, unique=True),
).map(lambda drawn: [drawn[0], *drawn[1]] if drawn[0] else drawn[1])


@counted(each={"read alike": 0.2, "refused by both": 0.1})
@settings(max_examples=400, deadline=None)
@given(FILE_LINES, st.booleans(), st.sampled_from(["\n", "\r\n", "\r"]))
@example(["[b]", "  [a]", "x = 1"], False, "\n")  # an indented header, not a value: section a
@example(["[DEFAULT]", "region = x", "[a]"], False, "\n")  # DEFAULT's keys go into every section
@example(["[profile  a]", "x = 1"], True, "\n")  # another spelling of [profile a]
@example(["[a] junk", "x = 1"], False, "\n")  # a header with more on its line
def test_sections_read_lazily_equal_the_whole_file(tmp_path_factory, lines, in_config, newline):
    path = tmp_path_factory.mktemp("ini") / "file"
    path.write_bytes((newline.join(lines) + newline).encode())
    try:
        whole = ini._profiles(ini._read_ini(str(path)), in_config)
    except ConfigError:
        whole = None
    try:
        lazy = config._Sections(str(path), in_config)
        read = {name: dict(lazy[name]) for name in NAMES if name in lazy}
    except ConfigError:
        reached("refused by both")
        assert whole is None  # refused by both
        return
    if whole is not None:
        reached("read alike")
        assert read == {name: whole[name] for name in NAMES if name in whole}
        assert sorted(lazy) == sorted(whole)


@counted()
@settings(max_examples=120, deadline=None)
@given(st.text(st.sampled_from(sorted(FORBIDDEN - {"\x00"})) | st.characters(), min_size=1))
def test_any_profile_name_reaches_stderr_escaped(name):
    done = run("--shell", "bash", f"--profile={name}")
    reached()
    assert done.exit_code == 1
    assert done.stderr.endswith("\n")
    assert len(done.stderr.split("\n")) == 2  # one line
    assert not FORBIDDEN.intersection(done.stderr[:-1])


def test_a_broken_credentials_file_completes_nothing(isolate):
    from mfa_env import aws_files

    write(isolate, "[mfa]\naws_session_token = t\naws_session_token = again\n")
    assert aws_files.managed_profiles() == []


def test_indented_key_lines_leave_the_section_too(isolate):
    from mfa_env import aws_files

    write(isolate, "[a]\nregion = x\n[default]\n  aws_access_key_id = A\n"
                   "  aws_secret_access_key = B\n  region = eu-west-1\n# end\n")  # fmt: skip
    aws_files.move_keys_out("default", {"mfa_env_keys": "keyring"})
    text = (isolate / ".aws" / "credentials").read_text()
    # The marks take the keys' indentation: deeper, they would continue the value before them.
    kept = "  mfa_env_keys = keyring\n  region = eu-west-1\n# end\n"
    assert text == "[a]\nregion = x\n[default]\n" + kept


REFUSED = "botocore refuses the files"


def _botocore_view(profile: str, credentials: str, aws_config: str) -> object:
    """What botocore reads for a session on `profile`: its settings, and its [services]; None
    for a profile that is not there, REFUSED for files it cannot parse."""
    import botocore.exceptions
    import botocore.session

    session = botocore.session.Session(profile=profile)
    session.set_config_variable("credentials_file", credentials)
    session.set_config_variable("config_file", aws_config)
    try:
        scoped = session.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        return None
    except botocore.exceptions.ConfigParseError:
        return REFUSED
    return scoped, session.full_config.get("services", {}).get(scoped.get("services"))


# Whole sections, mostly well formed, so that botocore reads most of the files it is given.
HEADERS = st.sampled_from(
    [
        "[default]", "[profile default]", "[a]", "[profile a]", "[b]", "[profile b]",
        "[services s]", "[services t]", "[services  s]", '[services "s"]', "[DEFAULT]",
        '[profile "a"]', "  [a]", "[a] junk", "[profile a] ; c",
        *["[default]", "[profile a]", "[a]", "[b]", "[services s]"] * 4,
    ]
)  # fmt: skip
BODY = st.sampled_from(
    [
        "region = eu-west-1", "Region = us-east-1", "services = s", "services = t", "sts =",
        "  endpoint_url = http://127.0.0.1:1", "iam =", "  region = x", "s3 =", "  garbage",
        *["region = eu-west-1", "services = s", "sts =", "  endpoint_url = http://127.0.0.1:1"] * 5,
        "aws_access_key_id = AKIA1", "aws_secret_access_key = s", "# c", "", "x: y", "k = v = w",
    ]
)  # fmt: skip
SECTIONS = st.lists(
    st.tuples(HEADERS, st.lists(BODY, max_size=4)), max_size=5, unique_by=lambda s: s[0]
).map(lambda sections: [line for header, body in sections for line in (header, *body)])
PROFILES = st.sampled_from(["default", "a", "b"])


def _excerpt_of(home: Path, config_lines: list[str], credentials_lines: list[str], profile: str):
    """The AWS files written under `home`; their paths, and the excerpt a new session on
    `profile` hands botocore (sts._excerpt, as the command calls it; None: the whole files)."""
    from mfa_env import sts

    paths = (str(home / "credentials"), str(home / "config"))
    for path, lines in zip(paths, (credentials_lines, config_lines), strict=True):
        Path(path).write_text("\n".join(lines) + "\n")
    files = {"AWS_SHARED_CREDENTIALS_FILE": paths[0], "AWS_CONFIG_FILE": paths[1]}
    with mock.patch.dict(os.environ, files):
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        return paths, sts._excerpt(profile)


@counted(0.3, why="files with a line that is not plain anywhere (most examples) are read whole")
@settings(max_examples=150, deadline=None)
@given(SECTIONS, SECTIONS, PROFILES)
@example(
    ["[profile a]", "services = s", "[services s]", "sts =", "  endpoint_url = x"], ["[a]"], "a"
)
def test_botocore_reads_an_excerpt_as_it_reads_the_whole_files(
    tmp_path_factory, config_lines, credentials_lines, profile
):
    """A new session hands botocore only the sections it needs (sts._in_memory): it must read
    them exactly as it reads the whole files, a missing profile included. Files botocore
    cannot parse are the next test's."""
    from mfa_env import sts

    home = tmp_path_factory.mktemp("aws")
    paths, excerpt = _excerpt_of(home, config_lines, credentials_lines, profile)
    whole = _botocore_view(profile, *paths)
    assume(whole != REFUSED)
    if excerpt is None:
        event("the whole files")  # botocore is handed them: nothing to compare
        return
    in_memory = sts._in_memory(excerpt)
    assert in_memory is not None
    try:
        reached()
        assert _botocore_view(profile, *in_memory) == whole
    finally:
        for path in in_memory:
            os.close(int(path.rsplit("/", 1)[1]))


@counted()
@settings(max_examples=100, deadline=None)
@given(SECTIONS, SECTIONS, PROFILES)
@example([], ["[profile default]", "region = eu-west-1", "region = eu-west-1"], "default")
def test_files_botocore_cannot_parse_are_never_cut_into_an_excerpt(
    tmp_path_factory, config_lines, credentials_lines, profile
):
    """botocore refuses the whole files (a key given twice, a line it cannot read, in any
    section): the command must not hand it a part it would read, but the whole files, so that
    its error is the user's, as with any AWS tool."""
    home = tmp_path_factory.mktemp("aws")
    paths, excerpt = _excerpt_of(home, config_lines, credentials_lines, profile)
    assume(_botocore_view(profile, *paths) == REFUSED)
    reached()
    assert excerpt is None


# -- the records of the cached path: no typing, no dataclasses, the same guarantees --------------


def test_credentials_are_frozen_and_never_show_a_secret():
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    creds = Credentials("AKIDX", "the-secret", "the-token", moment, "arn:x")
    assert creds.expiration.utcoffset() == timedelta(0)  # kept in UTC
    with pytest.raises(AttributeError):
        creds.session_token = "other"
    assert "the-secret" not in repr(creds)
    assert "the-token" not in repr(creds)
    later = creds.issued_at(moment - HOUR)
    assert later.length() == 3600
    assert later != creds
    assert later == Credentials("AKIDX", "the-secret", "the-token", moment, "arn:x", moment - HOUR)
    assert len({later, creds}) == 2
    with pytest.raises(ValueError, match="naive"):
        Credentials("A", "s", "t", datetime(2030, 1, 1))


def test_a_source_never_shows_its_secret_and_records_keep_tuple_manners():
    source = config.Source("p", "AKIA", "the-secret")
    assert "the-secret" not in repr(source)
    assert source._replace(profile="q").profile == "q"
    assert source == config.Source("p", "AKIA", "the-secret")
    assert config.Inputs._fields[:2] == ("profile", "user")


def test_a_record_refuses_a_field_without_a_default_after_one_with():
    from mfa_env.record import Record

    with pytest.raises(TypeError, match="without a default"):

        class Bad(Record):
            first: int = 1
            second: int


def test_a_profile_naming_an_sso_session_is_read_from_the_whole_files(isolate):
    """Its [sso-session] is not in the excerpt, and botocore's message would mislead."""
    write(isolate, KEYS, "[default]\nsso_session = corp\n[sso-session corp]\nsso_region = x\n")
    assert config.AwsFiles.load().excerpt("default") is None
    write(isolate, KEYS, "[default]\nregion = eu-west-1\n")
    assert config.AwsFiles.load().excerpt("default") is not None
