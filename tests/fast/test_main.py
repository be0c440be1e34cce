"""The cache hit served before click (mfa_env.main) against the click command, byte for byte."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mfa_env import cache, cli, deliver, main
from tests.fast.stubs import ROLE, SERIAL

KEY = "AKIADEFAULT000000000"
WORK_KEY = "AKIAWORK000000000000"
CREDENTIALS = (
    f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = s\n"
    f"[work]\naws_access_key_id = {WORK_KEY}\naws_secret_access_key = w\n"
)
CONFIG = (
    f"[default]\nmfa_serial = {SERIAL}\nregion = eu-west-1\n"
    f"[profile work]\nmfa_serial = {SERIAL}\n"
    f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = default\nrole_session_name = me\n"
    "[profile nokeys]\nregion = us-east-1\n"
)
LIVE = {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z"}


@pytest.fixture
def primed(isolate: Path) -> Path:
    """AWS files and a cached session for [default], [work] and the admin role: six hours and
    half a minute left, so both runs of a row agree on the minutes."""
    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "credentials").write_text(CREDENTIALS)
    (isolate / ".aws" / "config").write_text(CONFIG)
    expiry = datetime.now(timezone.utc) + timedelta(hours=6, seconds=30)
    issued = expiry - timedelta(hours=12)
    for key, role, secret in (
        (KEY, "", "wJalr/K7+EX=AMPLE"),
        (WORK_KEY, "", "it's"),  # a quote: each shell's quoting, and no dotenv
        (KEY, f"{ROLE}#me#", "r0le/SECRET"),
    ):
        session = cache.SessionKey(cache.source_id(key), SERIAL, role)
        creds = cache.Credentials(f"ASIA{len(role):016d}", secret, "tok", expiry, "", issued)
        cache.store_session(session, creds)
    return isolate


def _both_ways(argv: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[object, object]:
    """(served, stdout, stderr, exit code) before click, then (stdout, stderr, exit) by click."""

    def outcome(call: object) -> tuple[object, ...]:
        try:
            result = call()  # type: ignore[operator]
            code = 0
        except SystemExit as exc:
            result, code = True, exc.code or 0
        out, err = capfd.readouterr()
        return result, out, err, code

    served, *fast = outcome(lambda: main.serve(list(argv)))
    _none, *slow = outcome(lambda: cli.main(list(argv)))
    return served, (fast, slow)


# Every shape the fast path serves, with what in the environment changes the answer.
SERVED = [
    ([], {}),
    (["--shell", "bash"], {}),
    (["-s", "fish"], {}),
    (["--shell=tcsh"], {}),
    (["-s", "pwsh"], {}),
    (["-s", "nu"], {}),
    (["-s", "cmd"], {}),
    (["alice", "-s", "zsh"], {}),
    (["-s", "bash", "alice"], {}),
    (["-p", "work", "-s", "bash"], {}),
    (["--profile", "work", "--shell", "elvish"], {}),
    (["--profile=admin", "-s", "xonsh"], {}),
    (["-f", "json"], {}),
    (["--format", "dotenv", "--profile", "admin"], {}),
    (["--format=json", "-p", "admin"], {}),
    (["--min-ttl", "60", "-s", "bash"], {}),
    (["--min-ttl=0", "-f", "json"], {}),
    ([], {"DIRENV_IN_ENVRC": "1"}),
    (["alice"], {"DIRENV_IN_ENVRC": "1"}),
    ([], {"MFA_ENV_SHELL": "fish"}),
    (["-s", "bash"], {"AWS_PROFILE": "work"}),  # moved aside, with a note
    (["-s", "bash"], {"AWS_DEFAULT_PROFILE": "admin"}),
    (["-s", "bash"], {"MFA_ENV_PROFILE": "work"}),
    (["-s", "bash"], {"AWS_REGION": "ap-south-1"}),
    (["-p", "work", "-s", "sh"], {"AWS_DEFAULT_REGION": "ap-south-1"}),
    (["-s", "bash"], {"MFA_ENV_CACHE": "file"}),
    (["-p", "work", "-s", "bash"], {"AWS_PROFILE": "x\x1b[1my"}),  # kept as it is, escape and all
    (["--status"], {}),
    (["--status"], LIVE),
    (["--status", "--brief"], LIVE),
    (["--brief", "--status"], {}),
    (["--status", "-s", "bash"], {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "x"}),
]


@pytest.mark.parametrize(("argv", "env"), SERVED)
def test_a_served_shape_prints_what_the_click_command_prints(primed, monkeypatch, capfd, argv, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    served, (fast, slow) = _both_ways(argv, capfd)
    assert served is True
    assert fast == slow
    out, err, code = fast
    if "json" in " ".join(argv):
        assert (err, code) == ("", 0)  # a credential_process succeeds in silence
        assert '"SessionToken"' in out
    else:
        assert err or code == 1  # each says something (or, --brief with no session, fails)
    if code == 0 and "--status" not in argv and "json" not in " ".join(argv):
        assert "reused the cached session" in err


# Shapes left to click, and runs that are no cache hit: nothing printed before click runs.
LEFT = [
    (["123456"], {}),
    (["alice", "123456"], {}),
    (["912 320"], {}),  # a code as authenticator apps show it: a new session is asked for
    (["912-320"], {}),
    (["--status", "alice"], {}),  # a usage error, which click says
    (["--help"], {}),
    (["--version"], {}),
    (["-s", "BASH"], {}),  # click folds case: so does it
    (["-s", "bash", "-s", "zsh"], {}),
    (["-sbash"], {}),
    (["-s"], {}),
    (["-p", "--status"], {}),
    (["-s", "bash", "--", "env"], {}),
    (["--refresh", "-s", "bash"], {}),
    (["-w", "x", "-s", "bash"], {}),
    (["--min-ttl", "1_0"], {}),
    (["--min-ttl", "-1"], {}),
    (["--min-ttl", "1" * 4301], {}),  # past int()'s limit: click's error, not a traceback
    (["-f", "JSON"], {}),
    (["--status=1"], {}),
    (["--brief"], {}),
    (["--prof", "work"], {}),
    (["a", "b"], {}),
    (["-p", "nokeys", "-s", "bash"], {}),  # an error: click says it
    (["-f", "dotenv", "-p", "work"], {}),  # a secret dotenv cannot hold: click's error
    (["-p", "nope", "-s", "bash"], {}),
    (["-s", "bash"], {"MFA_ENV_CACHE": "keyring"}),
    (["-s", "bash"], {"MFA_ENV_CACHE": "disk"}),
    (["-s", "bash"], {"MFA_ENV_SERIAL": "arn:aws:iam::123456789012:mfa/other"}),  # a miss
    (["-s", "bash", "--min-ttl", "30000"], {}),  # six hours left is not enough: a miss
    (["-s", "bash"], {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "x"}),
    ([], {"MFA_ENV_SHELL": "klingon"}),
    ([], {"_MFA_ENV_COMPLETE": "bash_complete", "COMP_WORDS": "mfa-env -", "COMP_CWORD": "1"}),
]


@pytest.mark.parametrize(("argv", "env"), LEFT)
def test_anything_else_is_left_to_click_with_nothing_printed(primed, monkeypatch, capfd, argv, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main.serve(list(argv)) is False
    assert capfd.readouterr() == ("", "")


def test_main_hands_a_miss_to_click(primed, monkeypatch, capfd):
    monkeypatch.setattr("sys.argv", ["mfa-env", "--version"])
    main.main()
    assert capfd.readouterr().out.startswith("mfa-env ")


def test_a_closed_stderr_still_gets_the_statements_out(primed, monkeypatch, capfd):
    monkeypatch.setattr("sys.stderr", None)  # eval "$(mfa-env -s bash 2>&-)"
    assert main.serve(["-s", "bash"]) is True
    assert "export AWS_SESSION_TOKEN='tok'" in capfd.readouterr().out


def test_an_ascii_stream_gets_utf8_as_click_gave_it():
    import io

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    deliver._write(stream, "caf\u00e9\n")
    assert raw.getvalue() == "caf\u00e9\n".encode()


def test_ctrl_c_while_serving_is_one_line_and_status_130(monkeypatch, capfd):
    def interrupted(_argv: list[str]) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(main, "serve", interrupted)
    with pytest.raises(SystemExit) as exit_:
        main.main()
    assert exit_.value.code == 130
    assert capfd.readouterr() == ("", "\nmfa-env: error: cancelled\n")


def test_a_closed_pipe_while_serving_ends_quietly_with_status_1(monkeypatch, capfd):
    silenced = []

    def broken(_argv: list[str]) -> bool:
        raise BrokenPipeError

    monkeypatch.setattr(main, "serve", broken)
    monkeypatch.setattr(deliver, "silence", lambda: silenced.append(True))
    with pytest.raises(SystemExit) as exit_:
        main.main()
    assert (exit_.value.code, silenced) == (1, [True])
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("argv", [["--status", "--brief"], ["--brief", "--status"]])
@pytest.mark.parametrize("expiration", ["2999-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "soon", ""])
def test_status_brief_is_answered_first_as_the_click_command_answers_it(
    monkeypatch, capfd, argv, expiration
):
    """main() answers it before serve() or any import beyond the clock (tests/test_cache.py)."""
    monkeypatch.setenv("AWS_SESSION_TOKEN", "t")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", expiration)
    monkeypatch.setattr("sys.argv", ["mfa-env", *argv])
    monkeypatch.setattr(main, "serve", lambda _argv: pytest.fail("not answered first"))
    with pytest.raises(SystemExit) as first:
        main.main()
    fast = (*capfd.readouterr(), first.value.code)
    with pytest.raises(SystemExit) as by_click:
        cli.main(argv)
    assert fast == (*capfd.readouterr(), by_click.value.code)
    assert fast[0] == ""


def test_status_brief_under_the_init_function_takes_its_variable_as_every_run_does(
    monkeypatch, capfd
):
    from mfa_env import init

    answers = []

    def by_click() -> None:  # as main() ran before: the descriptor taken first, then click
        init.start(["--status", "--brief"])
        cli.main(["--status", "--brief"])

    for run in (main.main, by_click):
        monkeypatch.setattr(init, "_adopted", False)
        monkeypatch.setattr(init, "_function", None)
        monkeypatch.setenv("MFA_ENV_FUNCTION", "klingon")  # not one the function sets
        monkeypatch.setenv("AWS_SESSION_TOKEN", "t")
        monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2999-01-01T00:00:00Z")
        monkeypatch.setattr("sys.argv", ["mfa-env", "--status", "--brief"])
        with pytest.raises(SystemExit) as exit_:
            run()
        answers.append((*capfd.readouterr(), exit_.value.code, "MFA_ENV_FUNCTION" in os.environ))
    assert answers[0] == answers[1]
    assert "ignoring MFA_ENV_FUNCTION" in answers[0][1]
