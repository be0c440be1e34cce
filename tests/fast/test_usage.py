"""The command line as a user types it: options that mean nothing together are refused, in one
line and with status 2, before anything else happens (CliRunner, in-process)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mfa_env import cli


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--brief"], "--brief goes with --status: mfa-env --status --brief"),
        (["--brief", "alice"], "--brief goes with --status: mfa-env --status --brief"),
        (["--unset", "--status"], "--status and --unset cannot be used together"),
        (["--status", "-w", "mfa"], "--status and -w/--write-profile cannot be used together"),
        (["--unset", "--store-keys", "p"], "--unset and --store-keys cannot be used together"),
        (["--unset", "-w", "mfa"], "--unset and -w/--write-profile cannot be used together"),
        (["--status", "--", "env"], "--status and -- COMMAND cannot be used together"),
        (["--unset", "alice"], "--unset takes no USER or CODE"),
        (["--status", "123456"], "--status takes no USER or CODE"),
        (["--store-keys", "p", "alice", "123456"], "--store-keys takes no USER or CODE"),
    ],
)
def test_options_that_mean_nothing_together_are_a_usage_error(args: list[str], words: str):
    done = CliRunner().invoke(cli.cli, args)
    assert done.exit_code == 2
    assert done.stderr == f"mfa-env: error: {words}\n"
    assert done.stdout == "false\n"  # a POSIX eval of it fails too


def test_write_profile_is_honoured_in_exec_mode(isolate):
    """-w with -- COMMAND is one request (store the session, then run), not a conflict."""
    done = CliRunner().invoke(cli.cli, ["-w", "mfa", "--", "true"])
    assert "cannot be used together" not in done.stderr


def test_status_shows_times_as_every_other_message_does(monkeypatch):
    """Local time with its offset (`+00:00`), not `UTC`."""
    from datetime import datetime, timezone

    from mfa_env.credentials import describe_status

    monkeypatch.setenv("TZ", "UTC")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    env = {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2026-12-01T11:00:00Z"}
    ok, line = describe_status(env, now)
    assert not ok
    assert line == "the session in this environment expired at 2026-12-01 11:00 +00:00"


def test_help_names_the_whole_environment_and_the_exit_statuses():
    done = CliRunner().invoke(cli.cli, ["--help"])
    assert done.exit_code == 0
    text = done.stdout
    for name in ("MFA_ENV_CACHE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_DEFAULT_PROFILE"):
        assert f"\n    {name} " in text, name
    statuses = text.split("Exit status:\n", 1)[1]
    for code in ("0", "1", "2", "130", "126, 127"):
        assert f"\n    {code} " in "\n" + statuses, code
    assert "[x>=0]" not in text  # no click artefacts


def test_a_negative_min_ttl_is_a_usage_error():
    done = CliRunner().invoke(cli.cli, ["--min-ttl", "-5"])
    assert done.exit_code == 2
