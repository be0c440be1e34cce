"""What the cache hit does without `re` and `json`, held to the pattern or the json call it
replaces: each check and reader on arbitrary input, and on input built to sit at its edges."""

from __future__ import annotations

import json
import os
import re
import string
import sys
from datetime import datetime, timedelta, timezone
from hashlib import sha256
from unittest import mock

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mfa_env import cache, config, shells
from mfa_env.credentials import Credentials, json_string, load_json
from mfa_env.record import Record
from tests.helpers import counted, reached

# Text near each pattern's edges: its own alphabet, a few characters just outside it, and any.
EDGES = string.ascii_letters + string.digits + "_+=/:,.@-" + " \t\n\"'\\][é\u00a0\u2028"
TEXT = st.text(st.sampled_from(EDGES), max_size=20) | st.text(max_size=20)


@counted(each={"matches": 0.1, "does not": 0.1})
@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["name", "serial", "session", "region", "plain"]),
    TEXT | st.text(st.sampled_from(EDGES), min_size=8, max_size=70),
)
@example("serial", "arn:aws:iam::123456789012:mfa/me")
@example("region", "a" * 63)
@example("region", "a" * 64)
@example("region", "eu-west-1-")
@example("plain", "a\u00a0b")  # \s of a str pattern: Unicode spaces too
def test_each_check_accepts_what_its_pattern_matches(kind, text):
    pattern, check, flags = {
        "name": (r"[A-Za-z_][A-Za-z0-9_]*", shells.is_name, 0),
        "serial": (config.SERIAL_RE, config.is_serial, re.ASCII),
        "session": (config.SESSION_NAME_RE, config.is_session_name, re.ASCII),
        "region": (config.REGION_RE, config.is_region, re.ASCII),
        "plain": (r"[^\s\"'\\\]]+", config.is_plain, 0),
    }[kind]
    expected = re.fullmatch(pattern, text, flags) is not None
    reached("matches" if expected else "does not")
    assert check(text) is expected


def _mostly(valid: str, *others: str) -> st.SearchStrategy[str]:
    return st.sampled_from([valid] * 12 + list(others))


# Each part of a role ARN, mostly valid, sometimes not.
ARNS = st.tuples(
    _mostly("arn:aws", "arn:aw", "arn:aws:"),
    _mostly("", "-cn", "-us-gov", "_x", ":", "é", "a:b"),
    _mostly(":iam::", ":iam:", ":sts::"),
    _mostly("123456789012", "12345678901", "1234567890123", "١٢٣٤٥٦٧٨٩٠١٢"),  # ASCII digits only
    _mostly(":role/", ":role", ":user/"),
    st.text(st.sampled_from(string.ascii_letters + "+=,.@/-_" + " :é\n"), max_size=6),
).map("".join)


@counted(each={"matches": 0.1, "does not": 0.2})
@settings(max_examples=300, deadline=None)
@given(ARNS)
@example("arn:aws:iam::123456789012:role/r")
@example("arn:aws-cn:iam::123456789012:role/a/b")
@example("arn:aws:iam::123456789012:role/" + "x" * 513)
def test_a_role_arn_is_checked_as_its_pattern_checks_it(text):
    expected = config.matches(config.ROLE_ARN_RE, text)
    reached("matches" if expected else "does not")
    assert config.is_role_arn(text) is expected


@counted()
@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1))
def test_the_default_role_session_name_replaces_what_its_pattern_refuses(user):
    with mock.patch.dict(os.environ, {"USER": user}):
        name = config.default_session_name()
    reached()
    assert name == re.sub(r"[^\w+=,.@-]", "-", f"mfa-env-{user}", flags=re.ASCII)[:64]


SPELLINGS = rb"\[(?!(?:profile|services) [^\s\"'\\\]]+\])[^\S\n]*(?:profile|services)"
HEADER_PARTS = st.sampled_from([b"\n", b"x = 1\n", b"[", b"]", b" ", b"\t", b"\r", b"\\"])
# A header: mostly `[profile NAME]`, each part sometimes spelled otherwise.
HEADERS = st.tuples(
    st.sampled_from([b"[", b"[", b"x["]),
    st.sampled_from([b"", b"", b"", b" ", b"\t", b"\x0b \r", b"\x0c"]),
    st.sampled_from([b"profile", b"services", b"profil"]),
    st.sampled_from([b" ", b" ", b" ", b"", b"  ", b"\t", b"\n"]),
    st.sampled_from([b"a", b"dev", b"a-b.c", b"", b'"a"', b"a b", b"a\\", b"a'", b"\xc3\xa9"]),
    st.sampled_from([b"]", b"]", b"]", b"", b"]x", b"[profile b]"]),
).map(b"".join)


@counted(each={"another spelling": 0.2, "plain": 0.2})
@settings(max_examples=500, deadline=None)
@given(st.lists(HEADERS | HEADER_PARTS, max_size=8).map(b"".join) | st.binary(max_size=40))
@example(b"[profile a[profile b]")
@example(b"[ \t profile x]")
@example(b"[profile a]\n[services s]\n[profile  b]")
def test_another_spelling_of_a_header_is_found_as_the_pattern_finds_it(data):
    expected = re.search(SPELLINGS, data) is not None
    reached("another spelling" if expected else "plain")
    assert config.respelled(data) is expected


@counted()
@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(EDGES + "\u2018\u2019\u201a\u201b")) | st.text())
def test_pwsh_quotes_and_dotenv_values_as_their_patterns_did(value):
    reached()
    quotes = "['\u2018\u2019\u201a\u201b]"
    assert shells.pwsh_quoted(value) == re.sub(quotes, lambda m: m.group(0) * 2, value)
    dotenv_safe = re.fullmatch(r"[A-Za-z0-9+/=_.:,@-]*", value) is not None
    assert shells.DOTENV_SAFE.issuperset(value) is dotenv_safe


@counted()
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), max_size=4), st.sampled_from(["session", "serial", "lock"]))
def test_entry_names_hash_what_json_dumps_wrote(parts, kind):
    reached()
    assert json_string(parts[0] if parts else "") == json.dumps(parts[0] if parts else "")
    listed = json.dumps(parts).encode()
    assert cache.entry_name(kind, parts) == f"{kind}-{sha256(listed).hexdigest()[:32]}"


JSON_PARTS = st.sampled_from(
    [
        *('{"a": ', "{", "}", "[", "]", ",", ":", '"x"', '"\\u00e9"', '"\\ud800"', "1", "1.5e3"),
        *("-0", "NaN", "-Infinity", "true", "null", " ", "\n", "\t", "\r", "\x0c", "\0", "é"),
    ]
)
ASCII = st.text(st.characters(max_codepoint=0x7F), max_size=8)
PLAIN = st.recursive(
    ASCII | st.integers(-(10**20), 10**20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ASCII, inner, max_size=3),
    max_leaves=8,
)
JSON_BYTES = (
    st.lists(JSON_PARTS, max_size=10).map(lambda parts: "{" + "".join(parts)).map(str.encode)
    | st.binary(max_size=30)
    | st.builds(
        lambda value, indent: json.dumps(value, indent=indent).encode(),
        PLAIN,
        st.sampled_from([None, 2, "\t"]),
    )
)


def _outcome(read: object) -> tuple[str, str]:
    try:
        return "value", repr(read())  # type: ignore[operator]  # repr: NaN equals NaN
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@counted(each={"read without json": 0.1, "error": 0.2})
@settings(max_examples=500, deadline=None)
@given(JSON_BYTES)
@example(b"{" * 100_000)  # deeper than the interpreter recurses
@example(b"[" * 40 + b"]" * 40)  # deeper than read without json
@example(b'{"format": 2, "n": -0, "big": 12345678901234567890}')
@example(b'{"a": 1} x')
@example(b"{\x00\x00\x00")  # UTF-16, by json's detect_encoding
@example(b'{"a": "\xff"}')
def test_an_entry_is_read_as_json_loads_reads_it(data):
    expected = _outcome(lambda: json.loads(data))
    with mock.patch.dict(sys.modules):  # as on a cache hit: no json imported yet
        for name in [name for name in sys.modules if name.split(".")[0] == "json"]:
            del sys.modules[name]
        assert _outcome(lambda: load_json(data)) == expected
        plain = "json" not in sys.modules
    reached("error" if expected[0] != "value" else "read without json" if plain else "by json")


@counted()
@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(), st.text(), st.datetimes(timezones=st.just(timezone.utc)))
def test_the_credential_process_document_is_what_json_dumps_wrote(key, secret, token, moment):
    creds = Credentials(key, secret, token, moment)
    expected = {
        "Version": 1,
        "AccessKeyId": key,
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Expiration": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    reached()
    assert creds.process_json() == json.dumps(expected, indent=2)


class _Point(Record):
    x: int
    y: int = 2


def test_a_record_keeps_a_named_tuples_manners():
    point = _Point(1)
    assert (point, _Point(x=1, y=3), _Point(1, y=3)[1]) == ((1, 2), (1, 3), 3)
    assert (point.x, point.y, point._fields) == (1, 2, ("x", "y"))
    assert point._asdict() == {"x": 1, "y": 2}
    assert (repr(point), point._replace(y=5)) == ("_Point(x=1, y=2)", (1, 5))
    for wrong in (lambda: _Point(), lambda: _Point(1, 2, 3), lambda: _Point(1, z=1)):
        try:
            wrong()
        except TypeError:
            continue
        raise AssertionError("accepted")
    import copy

    assert copy.copy(point) == point
    assert type(copy.deepcopy(point)) is _Point


def test_the_brief_status_of_each_session_in_the_environment():
    from mfa_env import clock

    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    later = (now + timedelta(hours=11, minutes=59, seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for expiration, token, expected in [
        (later, "t", (True, "aws 11h59m")),
        ("2029-12-31T23:00:00Z", "t", (False, "aws expired")),
        ("soon", "t", (False, "aws ?")),
        (later, "", (False, "")),
        ("", "t", (False, "")),
    ]:
        env = {"AWS_CREDENTIAL_EXPIRATION": expiration, "AWS_SESSION_TOKEN": token}
        assert clock.brief(env, now) == expected
