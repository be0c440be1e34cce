"""The session engine in-process: Stubber for AWS, the real cache in a private HOME, `now` given."""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from mfa_env import cache, cli, lock, session
from mfa_env.config import Role, Settings, Source
from mfa_env.errors import AwsError, ConfigError, NoCodeError, UsageError
from tests.fast.stubs import LONG_TERM, NOW, ROLE, SERIAL, Stubbed, answer, creds
from tests.helpers import FORBIDDEN, counted, reached

SOURCE_ID = cache.source_id(LONG_TERM)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def settings(serial: str | None = SERIAL, user: str | None = None, **kw) -> Settings:
    base = {
        "source": Source("default", LONG_TERM),
        "serial": serial,
        "duration": 43200,
        "region": None,
        "role": None,
        "user": user,
    }
    return Settings(**{**base, **kw})


def role(duration: int | None = None) -> Role:
    return Role(ROLE, "me-session", duration=duration)


def engine(aws: Stubbed, given: Settings | None = None, codes: list[str] | None = None, **policy):
    asked = codes if codes is not None else []

    def code(serial: str) -> str:
        asked.append(serial)
        return "123456"

    return session.Engine(
        given or settings(), session.Policy(**policy), NOW, code=code, aws=aws
    ), asked


def plant(
    key: cache.SessionKey, left: timedelta, length: timedelta | None = 12 * HOUR, name="ASIACACHED"
):
    made = creds(name, left, length)
    cache.store_session(key, made)
    return made


def mfa_key(serial: str = SERIAL) -> cache.SessionKey:
    return cache.SessionKey(SOURCE_ID, serial)


def role_key(serial: str = SERIAL) -> cache.SessionKey:
    return cache.SessionKey(SOURCE_ID, serial, f"{ROLE}#me-session#")


def expect_token(
    aws: Stubbed, key: str = "ASIANEWSESSION000", duration: int = 43200, hours: float = 12
):
    aws.expect(
        "sts",
        "get_session_token",
        {"Credentials": answer(key, hours)},
        DurationSeconds=duration,
        SerialNumber=SERIAL,
        TokenCode="123456",
    )


def expect_role(
    aws: Stubbed, duration: int, key: str = "ASIAROLESESSION00", code: bool = False, hours=1
):
    params = {"RoleArn": ROLE, "RoleSessionName": "me-session", "DurationSeconds": duration}
    if code:
        params.update(SerialNumber=SERIAL, TokenCode="123456")
    aws.expect(
        "sts",
        "assume_role",
        {
            "Credentials": answer(key, hours),
            "AssumedRoleUser": {"Arn": f"{ROLE}/x", "AssumedRoleId": "AROA:x"},
        },
        **params,
    )


# -- the MFA session --------------------------------------------------------------------------


def test_a_miss_asks_for_a_code_and_caches_the_new_session():
    aws = Stubbed()
    expect_token(aws)
    got, asked = engine(aws)
    outcome = got.obtain()
    aws.done()
    assert asked == [SERIAL]
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert outcome.creds.issued == NOW
    assert outcome.how == "new session for profile 'default'"
    assert cache.load_session(mfa_key(), NOW) == outcome.creds


def test_a_hit_needs_no_code_and_no_aws():
    planted = plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    got, asked = engine(aws)
    outcome = got.obtain()
    assert outcome.creds == planted
    assert asked == []
    assert aws.sessions == []
    assert outcome.how.startswith("reused the cached session")


@pytest.mark.parametrize(
    ("left", "length", "policy", "reused"),
    [
        # the default window: 900 s, or a quarter of a shorter session
        (15 * MINUTE + timedelta(seconds=1), 12 * HOUR, {}, True),
        (15 * MINUTE, 12 * HOUR, {}, False),
        (14 * MINUTE, 12 * HOUR, {}, False),
        (14 * MINUTE, 15 * MINUTE, {}, True),  # a -d 900 session, a minute in
        (225 * timedelta(seconds=1) + timedelta(seconds=1), 15 * MINUTE, {}, True),
        (225 * timedelta(seconds=1), 15 * MINUTE, {}, False),
        (20 * MINUTE, 1 * HOUR, {}, True),
        (14 * MINUTE, 1 * HOUR, {}, False),
        (14 * MINUTE, None, {}, False),  # length unknown: 900 s
        # credential_process: to its last minute
        (8 * MINUTE, 12 * HOUR, {"for_process": True}, True),
        (61 * timedelta(seconds=1), 12 * HOUR, {"for_process": True}, True),
        (60 * timedelta(seconds=1), 12 * HOUR, {"for_process": True}, False),
        # --min-ttl given wins
        (10 * MINUTE, 12 * HOUR, {"min_ttl": 300}, True),
        (4 * MINUTE, 12 * HOUR, {"min_ttl": 300}, False),
        (2 * HOUR, 12 * HOUR, {"min_ttl": 3 * 3600}, False),
        (30 * timedelta(seconds=1), 12 * HOUR, {"min_ttl": 0}, True),
        (-MINUTE, 12 * HOUR, {"min_ttl": 0}, False),  # expired: never
        (8 * MINUTE, 12 * HOUR, {"for_process": True, "min_ttl": 900}, False),
    ],
)
def test_reuse_windows_at_their_edges(left, length, policy, reused):
    planted = plant(mfa_key(), left, length)
    aws = Stubbed()
    if not reused:
        expect_token(aws)
    outcome = engine(aws, **policy)[0].obtain()
    aws.done()
    assert (outcome.creds == planted) is reused


def test_the_window_is_a_quarter_of_a_short_session():
    short = creds("A", 10 * MINUTE, 15 * MINUTE)
    assert session.window(session.Policy(), short) == 225
    assert session.window(session.Policy(for_process=True), short) == 60
    assert session.window(session.Policy(min_ttl=5), short) == 5
    assert session.window(session.Policy(), creds("A", HOUR, 12 * HOUR)) == 900


def test_refresh_ignores_the_cache_and_looks_the_device_up_again():
    plant(mfa_key(), 11 * HOUR)
    cache.store_serial(SOURCE_ID, "arn:aws:iam::123456789012:mfa/old")
    aws = Stubbed()
    aws.expect("iam", "list_mfa_devices", {"MFADevices": [device(SERIAL)]}, UserName="alice")
    expect_token(aws)
    outcome = engine(aws, settings(serial=None, user="alice"), refresh=True)[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert cache.load_serial(SOURCE_ID) == SERIAL


def test_no_cache_neither_reads_nor_writes():
    planted = plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    expect_token(aws)
    outcome = engine(aws, use_cache=False)[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert cache.load_session(mfa_key(), NOW) == planted


def device(serial: str) -> dict:
    return {"UserName": "alice", "SerialNumber": serial, "EnableDate": NOW}


# -- discovery and the remembered serial --------------------------------------------------------


def test_discovery_with_user_remembers_the_serial_for_the_keys():
    aws = Stubbed()
    aws.expect("iam", "list_mfa_devices", {"MFADevices": [device(SERIAL)]}, UserName="alice")
    expect_token(aws)
    engine(aws, settings(serial=None, user="alice"))[0].obtain()
    aws.done()
    assert cache.load_serial(SOURCE_ID) == SERIAL


def test_discovery_without_user_asks_who_the_keys_belong_to():
    aws = Stubbed()
    aws.expect(
        "sts",
        "get_caller_identity",
        {"Arn": "arn:aws:iam::123456789012:user/team/alice", "UserId": "AID", "Account": "1" * 12},
    )
    aws.expect("iam", "list_mfa_devices", {"MFADevices": [device(SERIAL)]}, UserName="alice")
    expect_token(aws)
    engine(aws, settings(serial=None))[0].obtain()
    aws.done()
    assert cache.load_serial(SOURCE_ID) == SERIAL


@pytest.mark.parametrize("user", [None, "alice", "ALICE-other-spelling"])
def test_a_remembered_serial_serves_any_spelling_of_user_offline(user):
    cache.store_serial(SOURCE_ID, SERIAL)
    planted = plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    outcome = engine(aws, settings(serial=None, user=user))[0].obtain()
    assert outcome.creds == planted
    assert aws.sessions == []


def test_changed_keys_never_reuse_the_old_session():
    plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    expect_token(aws)
    other = settings(source=Source("default", "AKIAOTHERKEYS0000000"))
    outcome = engine(aws, other)[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"


def test_a_session_cached_for_a_just_found_device_is_reused():
    planted = plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    aws.expect("iam", "list_mfa_devices", {"MFADevices": [device(SERIAL)]}, UserName="alice")
    got, asked = engine(aws, settings(serial=None, user="alice"))
    outcome = got.obtain()
    aws.done()
    assert outcome.creds == planted
    assert asked == []
    assert cache.load_serial(SOURCE_ID) == SERIAL


def test_u2f_devices_are_skipped_and_several_devices_named():
    u2f = "arn:aws:iam::123456789012:u2f/user/alice/key-ABCDEFGHIJKLMNOP"
    other = "arn:aws:iam::123456789012:mfa/alice-2"
    aws = Stubbed()
    aws.expect(
        "iam",
        "list_mfa_devices",
        {"MFADevices": [device(u2f), device(SERIAL), device(other)]},
        UserName="alice",
    )
    expect_token(aws)
    outcome = engine(aws, settings(serial=None, user="alice"))[0].obtain()
    aws.done()
    assert any("U2F" in note for note in outcome.notes)
    assert any(other in note and "--serial" in note for note in outcome.notes)


@pytest.mark.parametrize(
    ("devices", "error", "words"),
    [
        ([], ConfigError, "no virtual or hardware MFA device"),
        (
            ["arn:aws:iam::123456789012:u2f/user/alice/k-ABCDEFGHIJKLMNOP"],
            ConfigError,
            "no virtual",
        ),
        (["bad serial with spaces"], AwsError, "not one"),
    ],
)
def test_discovery_failures_are_one_clear_error(devices, error, words):
    aws = Stubbed()
    aws.expect(
        "iam", "list_mfa_devices", {"MFADevices": [device(d) for d in devices]}, UserName="alice"
    )
    with pytest.raises(error, match=words):
        engine(aws, settings(serial=None, user="alice"))[0].obtain()


def test_an_unknown_user_says_to_check_user():
    aws = Stubbed()
    aws.refuse("iam", "list_mfa_devices", "NoSuchEntity", "The user with name bob cannot be found.")
    with pytest.raises(AwsError, match="check USER") as caught:
        engine(aws, settings(serial=None, user="bob"))[0].obtain()
    assert ".;" not in str(caught.value)


def test_keys_of_a_role_not_a_user_are_refused():
    aws = Stubbed()
    aws.expect(
        "sts",
        "get_caller_identity",
        {"Arn": "arn:aws:sts::123456789012:assumed-role/r/x", "UserId": "A", "Account": "1" * 12},
    )
    with pytest.raises(ConfigError, match="not an IAM user"):
        engine(aws, settings(serial=None))[0].obtain()


# -- what STS may answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AccessDenied", "the MFA code was refused"),
        ("InvalidClientTokenId", "does not know the access key"),
        ("SignatureDoesNotMatch", "secret key"),
        ("RequestExpired", "clock is off"),
        ("Throttling", "throttling"),
        ("ExpiredToken", "expired"),
        ("Weird", "GetSessionToken: Weird"),
    ],
)
def test_sts_refusals_become_one_sentence(code, words):
    aws = Stubbed()
    message = "MultiFactorAuthentication failed" if code == "AccessDenied" else "no"
    aws.refuse("sts", "get_session_token", code, message)
    with pytest.raises(AwsError, match=words):
        engine(aws)[0].obtain()


@pytest.mark.parametrize(("hours", "words"), [(-1, "already expired"), (60, "further ahead")])
def test_a_session_the_clocks_disagree_on_is_refused_and_not_cached(hours, words):
    aws = Stubbed()
    expect_token(aws, hours=hours)
    with pytest.raises(AwsError, match=words):
        engine(aws)[0].obtain()
    assert cache.load_session(mfa_key(), NOW) is None


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(isolate):
    (isolate / ".cache").mkdir()
    (isolate / ".cache" / "mfa-env").write_text("a file where the directory should be")
    aws = Stubbed()
    expect_token(aws)
    outcome = engine(aws)[0].obtain()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert [n for n in outcome.notes if n.startswith("warning:")]


# -- roles ----------------------------------------------------------------------------------------


def test_a_role_is_chained_on_a_new_mfa_session_for_an_hour():
    aws = Stubbed()
    expect_token(aws)
    expect_role(aws, 3600)
    outcome = engine(aws, settings(role=role()))[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIAROLESESSION00"
    assert outcome.how == f"new session for role {ROLE} (from the MFA session)"
    assert aws.sessions[-1] == "ASIANEWSESSION000"  # AssumeRole was signed by the MFA session
    assert cache.load_session(role_key(), NOW).access_key_id == "ASIAROLESESSION00"


def test_a_role_with_duration_900_keeps_the_mfa_session_long():
    aws = Stubbed()
    expect_token(aws, duration=43200)  # not 900: the MFA session keeps its own length
    expect_role(aws, 900, hours=0.25)
    outcome = engine(aws, settings(role=role(900)))[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIAROLESESSION00"


def test_a_second_role_needs_no_code():
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    expect_role(aws, 3600)
    got, asked = engine(aws, settings(role=role()))
    outcome = got.obtain()
    aws.done()
    assert asked == []
    assert aws.sessions == ["ASIAMFA"]
    assert outcome.creds.access_key_id == "ASIAROLESESSION00"


def test_a_role_is_capped_at_the_end_of_the_mfa_session():
    plant(mfa_key(), 40 * MINUTE, name="ASIAMFA")
    aws = Stubbed()
    expect_role(aws, 40 * 60 - 60, hours=0.6)
    outcome = engine(aws, settings(role=role()))[0].obtain()
    aws.done()
    assert any("capped at 39 min" in note for note in outcome.notes)


def test_an_mfa_session_too_short_for_assume_role_asks_for_a_new_one():
    plant(mfa_key(), 15 * MINUTE, name="ASIAMFA")  # AssumeRole needs 900 s, plus a margin
    aws = Stubbed()
    expect_token(aws)
    expect_role(aws, 3600)
    got, asked = engine(aws, settings(role=role()), min_ttl=0)
    got.obtain()
    aws.done()
    assert asked == [SERIAL]


def test_a_role_longer_than_an_hour_is_assumed_with_the_code():
    aws = Stubbed()
    expect_role(aws, 7200, code=True, hours=2)
    got, asked = engine(aws, settings(role=role(7200)))
    outcome = got.obtain()
    aws.done()
    assert asked == [SERIAL]
    assert outcome.how == f"new session for role {ROLE}"


def test_a_cached_role_session_is_reused_offline():
    planted = plant(role_key(), 50 * MINUTE, HOUR, name="ASIAROLESESSION00")
    aws = Stubbed()
    outcome = engine(aws, settings(role=role()))[0].obtain()
    assert outcome.creds == planted
    assert aws.sessions == []


def test_credential_process_renews_a_role_inside_the_sdk_window_from_the_mfa_session():
    plant(role_key(), 5 * MINUTE, HOUR, name="ASIAOLDROLE")  # 55 minutes in
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    expect_role(aws, 3600, key="ASIARENEWEDROLE00")
    got, asked = engine(aws, settings(role=role()), for_process=True)
    outcome = got.obtain()
    aws.done()
    assert asked == []
    assert outcome.creds.access_key_id == "ASIARENEWEDROLE00"
    assert outcome.how.startswith("renewed session for role")


def test_credential_process_hands_out_the_old_role_session_when_it_cannot_renew():
    planted = plant(role_key(), 5 * MINUTE, HOUR, name="ASIAOLDROLE")
    plant(mfa_key(), 10 * MINUTE, name="ASIAMFA")  # too short for AssumeRole
    aws = Stubbed()
    got, asked = engine(aws, settings(role=role()), for_process=True)
    assert got.obtain().creds == planted
    assert asked == []


def test_the_shell_renews_a_role_below_its_window():
    plant(role_key(), 10 * MINUTE, HOUR, name="ASIAOLDROLE")
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    expect_role(aws, 3600, key="ASIARENEWEDROLE00")
    outcome = engine(aws, settings(role=role()))[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIARENEWEDROLE00"


def test_a_longer_role_asked_for_while_a_short_one_is_cached_says_so():
    plant(role_key(), 59 * MINUTE, HOUR, name="ASIAROLESESSION00")
    outcome = engine(Stubbed(), settings(role=role(7200)))[0].obtain()
    assert any("give a code for a longer one" in note for note in outcome.notes)


# -- the cache it reads ---------------------------------------------------------------------------


def test_a_planted_entry_in_a_shared_directory_is_not_handed_out(isolate):
    plant(mfa_key(), 11 * HOUR, name="ASIAPLANTED")
    (isolate / ".cache" / "mfa-env").chmod(0o777)
    aws = Stubbed()
    expect_token(aws)
    outcome = engine(aws)[0].obtain()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert any("group or others" in note for note in outcome.notes)


def test_debug_says_where_the_serial_and_session_came_from():
    cache.store_serial(SOURCE_ID, SERIAL)
    plant(mfa_key(), 11 * HOUR)
    outcome = engine(Stubbed(), settings(serial=None), debug=True)[0].obtain()
    assert any(f"serial {SERIAL} remembered" in note for note in outcome.notes)
    assert all("secret" not in note for note in outcome.notes)


# -- outside text reaches stderr only escaped -------------------------------------------

HOSTILE_TEXT = st.text(st.sampled_from(sorted(FORBIDDEN)) | st.characters(), max_size=40)
FUZZ = examples(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_escaped(stderr: str, lines: int) -> None:
    """Exactly `lines` lines, none with a raw control, separator or bidi character."""
    assert stderr.endswith("\n")
    assert len(stderr.split("\n")) == lines + 1
    assert not FORBIDDEN.intersection(stderr[:-1].replace("\n", ""))


def shown(error: Exception, capsys) -> str:
    with pytest.raises(SystemExit):
        cli.fail(str(error), 1, None)
    return capsys.readouterr().err


@counted()
@FUZZ
@given(HOSTILE_TEXT)
def test_an_aws_error_message_is_shown_escaped(capsys, message):
    aws = Stubbed()
    aws.refuse("sts", "get_session_token", "AccessDenied", message)
    with pytest.raises(AwsError) as caught:
        engine(aws)[0].obtain()
    reached()
    assert_escaped(shown(caught.value, capsys), lines=1)


@counted()
@FUZZ
@given(HOSTILE_TEXT)
def test_an_arn_from_aws_is_shown_escaped(capsys, name):
    aws = Stubbed()
    arn = f"arn:aws:sts::123456789012:assumed-role/{name}"
    aws.expect("sts", "get_caller_identity", {"Arn": arn, "UserId": "A", "Account": "1" * 12})
    with pytest.raises(ConfigError) as caught:
        engine(aws, settings(serial=None))[0].obtain()
    reached()
    assert_escaped(shown(caught.value, capsys), lines=1)


@counted()
@FUZZ
@given(HOSTILE_TEXT)
def test_serials_from_iam_in_notes_are_shown_escaped(capsys, name):
    other = f"arn:aws:iam::123456789012:mfa/{name}"
    aws = Stubbed()
    aws.expect(
        "iam", "list_mfa_devices", {"MFADevices": [device(SERIAL), device(other)]}, UserName="al"
    )
    expect_token(aws)
    notes = engine(aws, settings(serial=None, user="al"), use_cache=False)[0].obtain().notes
    for note in notes:
        cli.say(note)
    reached()
    assert_escaped(capsys.readouterr().err, lines=len(notes))


def test_an_mfa_session_asked_short_still_outlasts_assume_roles_minimum():
    # duration_seconds = 900 on the source, a role chained on it: the MFA session is asked for
    # AssumeRole's 900 s plus the margin, so the role can have its 900 s.
    aws = Stubbed()
    expect_token(aws, duration=960, hours=960 / 3600)
    expect_role(aws, 900, hours=0.25)
    outcome = engine(aws, settings(duration=900, role=role()))[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIAROLESESSION00"


# -- what a failure says, and what is too large to cache ----------------------------------------


def test_a_failure_carries_the_warnings_that_explain_it(isolate):
    """A cache entry others can change is distrusted, so the run needs a code; when that fails,
    the warning that says why the cache missed goes with the error."""
    key = mfa_key()
    plant(key, 6 * HOUR)
    os.chmod(key.path(), 0o666)

    def no_code(serial: str) -> str:
        raise UsageError("no MFA code given and no terminal to ask on")

    aws = Stubbed()
    run = session.Engine(settings(), session.Policy(), NOW, code=no_code, aws=aws)
    with pytest.raises(UsageError) as raised:
        run.obtain()
    assert len(raised.value.notes) == 1
    assert "can be changed by group or others" in raised.value.notes[0]


def test_the_command_prints_those_warnings_before_its_one_error_line(isolate):
    aws_dir = isolate / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        f"[default]\naws_access_key_id = {LONG_TERM}\naws_secret_access_key = s\n"
    )
    key = mfa_key()
    plant(key, 6 * HOUR)
    os.chmod(key.path(), 0o666)
    done = CliRunner().invoke(
        cli.cli, ["--serial", SERIAL, "--mfa-command", "false", "--format", "json"]
    )
    lines = done.stderr.splitlines()
    assert done.exit_code == 1
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("mfa-env: warning: ")
    assert "can be changed by group or others" in lines[0]
    assert lines[1].startswith("mfa-env: error: ")
    assert done.stdout == ""


def test_a_session_too_large_to_read_back_is_handed_out_but_not_cached(isolate):
    """One limit for what is cached and what is read back: a token only a hostile endpoint
    sends is not written where it would never be read, and the user is told."""
    aws = Stubbed()
    huge = answer("ASIAHUGESESSION000")
    huge["SessionToken"] = "t" * cache.MAX_ENTRY
    aws.expect(
        "sts",
        "get_session_token",
        {"Credentials": huge},
        DurationSeconds=43200,
        SerialNumber=SERIAL,
        TokenCode="123456",
    )
    run, _asked = engine(aws)
    outcome = run.obtain()
    assert outcome.creds.session_token == huge["SessionToken"]
    assert len(outcome.notes) == 1
    assert "the session is too large to cache" in outcome.notes[0]
    assert not os.path.exists(mfa_key().path())
    small = creds("ASIASMALL", 6 * HOUR, 12 * HOUR)
    assert len(cache.session_document(mfa_key(), small)) <= cache.MAX_ENTRY  # the limit is sane


# -- what a code, a duration and a failed renewal mean (one code, one session) ------------------


def no_terminal(serial: str) -> str:
    raise NoCodeError("no MFA code given and no terminal to ask on; pass the code")


def test_a_code_given_passes_over_a_cached_session_and_says_so():
    """The code would otherwise be wasted: the user asked for a new session."""
    plant(mfa_key(), 11 * HOUR)
    aws = Stubbed()
    expect_token(aws)
    outcome = engine(aws, code_given=True)[0].obtain()
    aws.done()
    assert outcome.creds.access_key_id == "ASIANEWSESSION000"
    assert any("a code was given, so the cached session" in note for note in outcome.notes)


def test_a_longer_duration_than_the_cached_session_makes_a_new_one():
    """`mfa-env -d 129600 USER CODE` with a 12-hour session cached."""
    plant(mfa_key(), 11 * HOUR, 12 * HOUR)
    aws = Stubbed()
    expect_token(aws, duration=129600, hours=36)
    given = settings(duration=129600)
    outcome = engine(aws, given, duration_given=True)[0].obtain()
    aws.done()
    assert outcome.how.startswith("new session")
    assert any("less than the --duration asked for" in note for note in outcome.notes)


def test_a_duration_the_cached_session_meets_reuses_it():
    planted = plant(mfa_key(), 11 * HOUR, 12 * HOUR)
    outcome = engine(Stubbed(), settings(duration=3600), duration_given=True)[0].obtain()
    assert outcome.creds == planted


def test_a_longer_role_with_a_code_is_assumed_with_that_code():
    """`mfa-env -d 7200 CODE` for a role with a one-hour session cached."""
    plant(role_key(), 59 * MINUTE, HOUR, name="ASIAROLESESSION00")
    aws = Stubbed()
    expect_role(aws, 7200, key="ASIALONGROLE00000", code=True, hours=2)
    got, asked = engine(aws, settings(role=role(7200)), code_given=True, duration_given=True)
    outcome = got.obtain()
    aws.done()
    assert asked == [SERIAL]
    assert outcome.creds.access_key_id == "ASIALONGROLE00000"


def test_a_fresh_900_s_role_is_handed_out_to_a_credential_process_without_renewal():
    """A 900 s role session lies wholly inside the SDK's refresh window: renewing it would give
    another one inside it, so every fetch of the SDK gets it as it is, to its last minute."""
    planted = plant(role_key(), 15 * MINUTE, 15 * MINUTE, name="ASIASHORTROLE000")
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    for minute in range(0, 14):  # ten calls and more, a minute apart
        now = NOW + minute * MINUTE
        got = session.Engine(
            settings(role=role(900)),
            session.Policy(for_process=True),
            now,
            code=no_terminal,
            aws=aws,
        )
        assert got.obtain().creds == planted
    assert aws.sessions == []  # no AssumeRole at all


def test_a_role_issued_moments_ago_is_not_renewed():
    planted = plant(role_key(), 14 * MINUTE, 14 * MINUTE + 30 * timedelta(seconds=1), name="ASIAX")
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    outcome = engine(aws, settings(role=role(None)), for_process=True)[0].obtain()
    assert outcome.creds == planted
    assert aws.sessions == []


@pytest.mark.parametrize("code", ["Throttling", "AccessDenied", "ServiceUnavailable"])
@pytest.mark.parametrize("for_process", [True, False])
def test_a_role_that_cannot_be_renewed_is_handed_out_while_valid(code: str, for_process: bool):
    """50 minutes into a one-hour role session (or at 14 minutes left, below the shell's
    window), STS refuses or fails: the cached role session, with one warning."""
    planted = plant(role_key(), 10 * MINUTE, HOUR, name="ASIAOLDROLE")
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    aws.refuse("sts", "assume_role", code, "no")
    outcome = engine(aws, settings(role=role()), for_process=for_process)[0].obtain()
    aws.done()
    assert outcome.creds == planted
    assert len(outcome.notes) == 1
    assert outcome.notes[0].startswith("warning: could not renew the role session (AssumeRole")
    assert "it ends in 10 min" in outcome.notes[0]


def test_a_role_that_cannot_be_renewed_fails_when_it_has_under_a_minute_or_refresh_was_asked():
    plant(role_key(), 50 * timedelta(seconds=1), HOUR, name="ASIAOLDROLE")
    plant(mfa_key(), 11 * HOUR, name="ASIAMFA")
    aws = Stubbed()
    aws.refuse("sts", "assume_role", "Throttling")
    with pytest.raises(AwsError):
        engine(aws, settings(role=role()), for_process=True)[0].obtain()
    plant(role_key(), 10 * MINUTE, HOUR, name="ASIAOLDROLE")
    aws = Stubbed()
    aws.refuse("sts", "assume_role", "Throttling")
    with pytest.raises(AwsError):
        engine(aws, settings(role=role()), refresh=True)[0].obtain()


def test_no_terminal_hands_out_a_still_valid_mfa_session_with_a_warning():
    """Below the shell's 15-minute window a new session needs a code; with no terminal to ask
    on, the session that still has 10 minutes is better than none."""
    planted = plant(mfa_key(), 10 * MINUTE)
    aws = Stubbed()
    got = session.Engine(settings(), session.Policy(), NOW, code=no_terminal, aws=aws)
    outcome = got.obtain()
    assert outcome.creds == planted
    assert outcome.notes == (
        "warning: no MFA code given and no terminal to ask on, so the cached session is "
        "handed out as it is: it ends in 10 min",
    )
    refreshing = session.Engine(
        settings(), session.Policy(refresh=True), NOW, code=no_terminal, aws=Stubbed()
    )
    with pytest.raises(NoCodeError):
        refreshing.obtain()


def test_no_terminal_and_a_role_whose_mfa_session_ended_hands_out_the_role_session():
    planted = plant(role_key(), 10 * MINUTE, HOUR, name="ASIAOLDROLE")
    aws = Stubbed()
    got = session.Engine(settings(role=role()), session.Policy(), NOW, code=no_terminal, aws=aws)
    outcome = got.obtain()
    assert outcome.creds == planted
    assert "could not renew the role session (no MFA code given" in outcome.notes[0]


# -- the lock a new session is made under --------------------------------------------------------


def test_a_run_that_waited_takes_the_session_the_other_one_made():
    """The other process held the lock and cached its session meanwhile: no code, no STS."""
    made = []

    @contextlib.contextmanager
    def other_process_first(parts: list[str]):
        assert parts == [SOURCE_ID]
        made.append(plant(mfa_key(), 12 * HOUR, name="ASIAOTHERPROCESS"))
        yield True

    aws = Stubbed()
    got = session.Engine(
        settings(), session.Policy(), NOW, code=no_terminal, aws=aws, lock=other_process_first
    )
    outcome = got.obtain()
    assert outcome.creds == made[0]
    assert aws.sessions == []
    assert outcome.how.startswith("reused the cached session")


def test_the_lock_is_taken_only_for_a_new_session():
    taken: list[list[str]] = []

    @contextlib.contextmanager
    def record(parts: list[str]):
        taken.append(parts)
        yield False

    plant(mfa_key(), 11 * HOUR)
    hit = session.Engine(settings(), session.Policy(), NOW, code=no_terminal, lock=record)
    hit.obtain()
    assert taken == []  # a cache hit takes no lock
    aws = Stubbed()
    expect_role(aws, 3600)
    role_run = session.Engine(
        settings(role=role()), session.Policy(), NOW, code=no_terminal, aws=aws, lock=record
    )
    role_run.obtain()
    assert taken == [[SOURCE_ID, f"{ROLE}#me-session#"]]  # the MFA session was cached
    aws = Stubbed()
    expect_token(aws)
    uncached = session.Engine(
        settings(), session.Policy(use_cache=False), NOW, code=lambda s: "123456", aws=aws,
        lock=record,
    )  # fmt: skip
    uncached.obtain()
    assert len(taken) == 1  # --no-cache: no cache to share a session through, so no lock


def test_cache_locked_makes_a_second_holder_wait_then_read_again(isolate, monkeypatch):
    """The real lock, two holders in one process (flock is per open file): the second says once
    that it waits, gets the lock when the first lets go, and is told it waited."""
    import threading

    first_in, release = threading.Event(), threading.Event()
    told: list[str] = []

    def first() -> None:
        with cache.locked(["src"]) as waited:
            assert waited is False
            first_in.set()
            release.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    first_in.wait(10)
    threading.Timer(0.3, release.set).start()
    with cache.locked(["src"], waiting=lambda: told.append("waiting")) as waited:
        assert waited is True
    holder.join(10)
    assert told == ["waiting"]
    assert not list((isolate / ".cache" / "mfa-env").glob("lock-*"))  # unlinked by its holder


def test_cache_locked_holds_a_private_file_while_held(isolate):
    with cache.locked(["src"]):
        lock_files = list((isolate / ".cache" / "mfa-env").glob("lock-*.lock"))
        assert len(lock_files) == 1
        assert oct(lock_files[0].stat().st_mode & 0o777) == "0o600"
        assert lock_files[0].read_text() == str(os.getpid())


def test_cache_locked_retries_a_file_its_holder_unlinked(isolate, monkeypatch):
    """A waiter that locked the file its holder unlinked on the way out locks a new one, so two
    processes never both hold "the" lock."""
    with cache.locked(["src"]):
        path = next((isolate / ".cache" / "mfa-env").glob("lock-*.lock"))
        stale = os.open(path, os.O_RDWR)
    assert not path.exists()  # the holder unlinked it: `stale` is an orphan inode now
    real_open = os.open
    handed: list[int] = []

    def first_the_orphan(target, flags, mode=0o777):
        if str(target) == str(path) and not handed:
            handed.append(stale)
            return stale
        return real_open(target, flags, mode)

    monkeypatch.setattr(cache.os, "open", first_the_orphan)
    with cache.locked(["src"]) as waited:
        assert handed == [stale]  # it was given the orphan first,
        assert waited is True  # saw that it was no longer the file at the path,
        assert path.exists()  # and holds the one that is


def test_cache_locked_gives_up_naming_the_holder(isolate, monkeypatch):
    import threading

    monkeypatch.setattr(lock, "LOCK_WAIT", 0.2)
    first_in, release = threading.Event(), threading.Event()

    def first() -> None:
        with cache.locked(["src"]):
            first_in.set()
            release.wait(10)

    holder = threading.Thread(target=first)
    holder.start()
    first_in.wait(10)
    held = rf"pid {os.getpid()}\) has been getting"
    try:
        with pytest.raises(lock.LockTimeout, match=held), cache.locked(["src"]):
            pass
    finally:
        release.set()
        holder.join(10)


def test_cache_locked_without_a_usable_cache_directory_goes_on_unlocked(isolate):
    (isolate / ".cache").mkdir()
    (isolate / ".cache" / "mfa-env").mkdir(mode=0o777)
    os.chmod(isolate / ".cache" / "mfa-env", 0o777)  # not ours to trust
    with cache.locked(["src"]) as waited:
        assert waited is False
    assert not list((isolate / ".cache" / "mfa-env").iterdir())
