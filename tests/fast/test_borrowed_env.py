"""An environment mfa-env only borrows: the user's own region and profiles are never lost, and
--unset removes only what mfa-env set. In-process: the assignments, read back as a shell would
apply them (a dict update), and the code as authenticator apps show it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mfa_env import config
from mfa_env.credentials import Credentials, unset_env
from mfa_env.errors import UsageError

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
SESSION = Credentials("ASIASESSION", "secret", "token", NOW + timedelta(hours=12))


def applied(env: dict[str, str], assignments: dict[str, str | None]) -> dict[str, str]:
    """The environment after a shell evaluated `assignments` (None: unset)."""
    after = dict(env)
    for name, value in assignments.items():
        if value is None:
            after.pop(name, None)
        else:
            after[name] = value
    return after


def eval_then_unset(env: dict[str, str], region: str | None) -> tuple[dict, dict]:
    during = applied(env, SESSION.shell_env(region, env))
    return during, applied(during, unset_env(during))


def region_for(env: dict[str, str], profile_region: str | None, monkeypatch) -> str | None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "MFA_ENV_EXPORTED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return config.resolve_region(None, lambda key: profile_region if key == "region" else None)


def test_an_exported_region_wins_and_survives_unset(monkeypatch):
    """AWS_REGION=eu-west-1 exported, the profile says us-east-1: eu-west-1 throughout."""
    env = {"AWS_REGION": "eu-west-1"}
    region = region_for(env, "us-east-1", monkeypatch)
    assert region == "eu-west-1"
    during, after = eval_then_unset(env, region)
    assert during["AWS_REGION"] == "eu-west-1"
    assert during["AWS_DEFAULT_REGION"] == "eu-west-1"  # exported by us, and recorded
    assert during["MFA_ENV_EXPORTED"] == "AWS_DEFAULT_REGION"
    assert after == env


def test_without_an_exported_region_the_profile_region_comes_and_goes(monkeypatch):
    env: dict[str, str] = {"HOME": "/home/me"}
    region = region_for(env, "us-east-1", monkeypatch)
    assert region == "us-east-1"
    during, after = eval_then_unset(env, region)
    assert (during["AWS_REGION"], during["AWS_DEFAULT_REGION"]) == ("us-east-1", "us-east-1")
    assert after == env  # no region left behind, nothing of ours either


def test_a_region_an_earlier_run_exported_is_replaced_by_the_next_profile(monkeypatch):
    env: dict[str, str] = {}
    first, _ = eval_then_unset(env, region_for(env, "us-east-1", monkeypatch))
    region = region_for(first, "ap-south-1", monkeypatch)
    assert region == "ap-south-1"  # the earlier run's region is not the user's
    second = applied(first, SESSION.shell_env(region, first))
    assert second["AWS_REGION"] == "ap-south-1"
    # And where the next profile has none, ours goes rather than lingering.
    third = applied(second, SESSION.shell_env(None, second))
    assert "AWS_REGION" not in third
    assert "MFA_ENV_EXPORTED" not in third


def test_unset_gives_back_each_profile_variable_under_its_own_name():
    """AWS_DEFAULT_PROFILE=other: set aside by eval, back as AWS_DEFAULT_PROFILE after --unset,
    with AWS_PROFILE still unset (the Node SDK reads only AWS_PROFILE)."""
    for env in (
        {"AWS_DEFAULT_PROFILE": "other"},
        {"AWS_PROFILE": "work"},
        {"AWS_PROFILE": "work", "AWS_DEFAULT_PROFILE": "other"},
    ):
        during, after = eval_then_unset(env, None)
        assert "AWS_PROFILE" not in during
        assert "AWS_DEFAULT_PROFILE" not in during
        assert during["MFA_ENV_PROFILE"] == env.get("AWS_PROFILE", env.get("AWS_DEFAULT_PROFILE"))
        assert after == env


def test_a_second_eval_keeps_what_the_first_set_aside():
    env = {"AWS_DEFAULT_PROFILE": "other", "AWS_REGION": "eu-west-1"}
    first = applied(env, SESSION.shell_env("eu-west-1", env))
    second = applied(first, SESSION.shell_env("eu-west-1", first))
    assert applied(second, unset_env(second)) == env


def test_unset_after_an_older_version_puts_aws_profile_back():
    """An older eval kept only MFA_ENV_PROFILE: it comes back as AWS_PROFILE, as it did."""
    during = {"MFA_ENV_PROFILE": "work", "AWS_SESSION_TOKEN": "t"}
    assert applied(during, unset_env(during)) == {"AWS_PROFILE": "work"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("912320", "912320"),
        ("912 320", "912320"),
        ("912-320", "912320"),
        ("9 1 2 3 2 0", "912320"),
        ("912  320", "912320"),
        (" 912320", None),
        ("912320-", None),
        ("91232", None),
        ("9123201", None),
        ("912 32a", None),
        ("٩١٢٣٢٠", None),  # Arabic-Indic digits are digits to str.isdigit, not to STS
    ],
)
def test_a_code_as_authenticator_apps_show_it(text: str, code: str | None):
    assert config.as_code(text) == code


def test_a_spaced_code_is_the_code_on_the_command_line():
    assert config.split_positionals(("912 320",)) == (None, "912320")
    assert config.split_positionals(("alice", "912-320")) == ("alice", "912320")
    with pytest.raises(UsageError, match="USER comes before CODE"):
        config.split_positionals(("912 320", "alice"))
