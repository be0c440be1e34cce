"""Which keys a profile really stands for, in-process: the identity that signs is the identity that
keys the cache (botocore's provider order), and mfa-env's own credential_process lines."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import botocore.session
import pytest

from mfa_env import config, sts
from mfa_env.config import AwsFiles
from mfa_env.errors import AwsError, ConfigError

ROLE = "arn:aws:iam::123456789012:role/admin"


def files(credentials: dict | None = None, config_: dict | None = None) -> AwsFiles:
    return AwsFiles(credentials or {}, config_ or {})


def botocore_key(home: Path, credentials: str, config_text: str, profile: str) -> str | None:
    """The access key botocore's own chain resolves for `profile` (no mfa-env involved)."""
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(credentials)
    (aws / "config").write_text(config_text)
    session = botocore.session.Session(profile=profile)
    found = session.get_credentials()
    return None if found is None else found.get_frozen_credentials().access_key


PROCESS = """echo '{"Version": 1, "AccessKeyId": "AKIAFROMPROCESS", "SecretAccessKey": "s"}'"""


@pytest.mark.parametrize(
    ("credentials", "config_text", "expected"),
    [
        # Keys in the credentials file come before a credential_process: botocore never runs it.
        (
            "[src]\naws_access_key_id = AKIACREDFILE\naws_secret_access_key = s\n",
            f"[profile src]\ncredential_process = {PROCESS}\n",
            "AKIACREDFILE",
        ),
        # A credential_process comes before the config file's static keys.
        (
            "",
            f"[profile src]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = s\n"
            f"credential_process = {PROCESS}\n",
            None,
        ),
        (
            "[src]\ncredential_process = " + PROCESS + "\n",
            "[profile src]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = s\n",
            None,
        ),
        (
            "",
            "[profile src]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = s\n",
            "AKIACONFIG",
        ),
    ],
    ids=["credentials-file-first", "process-over-config-keys", "process-in-credentials-file",
         "config-keys"],
)  # fmt: skip
def test_the_key_known_without_botocore_is_the_one_botocore_signs_with(
    isolate: Path, credentials: str, config_text: str, expected: str | None
):
    """key_id names a key only where botocore's chain would sign with that very key; where a
    provider that runs first produces the keys it says None, and botocore is asked."""
    signer = botocore_key(isolate, credentials, config_text, "src")
    known = AwsFiles.load().key_id("src")
    assert known == expected
    if known is None:
        assert signer == "AKIAFROMPROCESS"  # botocore ran the process: only it knows the keys
    else:
        assert signer == known


def test_sso_settings_leave_the_keys_to_botocore():
    given = files({"src": {"aws_access_key_id": "AKIA1", "aws_secret_access_key": "s"}},
                  {"src": {"sso_session": "corp"}})  # fmt: skip
    assert given.key_id("src") is None


def own(line: str, **config_extra: dict[str, str]) -> AwsFiles:
    return files(
        {"default": {"aws_access_key_id": "AKIADEFAULT", "aws_secret_access_key": "s"}},
        {"work-mfa": {"credential_process": line}, **config_extra},
    )


@pytest.mark.parametrize(
    "line",
    [
        "mfa-env --profile default --format json",
        "mfa-env --format json -p default",
        "mfa-env --profile=default --format json",
        "mfa-env -pdefault --format json",
        "/home/me/.local/bin/mfa-env --profile default --format json",
        f"{sys.executable} -m mfa_env --profile default --format json",
    ],
)
def test_our_own_credential_process_line_resolves_to_the_profile_it_names(line: str):
    """The README's set-up: the source is the profile the line names, whose keys are read here
    (botocore would run mfa-env to resolve them, and mfa-env would refuse to call itself)."""
    source, role, profiles = config.resolve_source(own(line), "work-mfa")
    assert (source.profile, source.access_key_id, role) == ("default", "AKIADEFAULT", None)
    assert profiles == ["work-mfa", "default"]


def test_a_role_sourced_from_our_credential_process_profile_uses_the_named_keys():
    given = own(
        "mfa-env --profile default --format json",
        admin={
            "role_arn": ROLE,
            "source_profile": "work-mfa",
            "mfa_serial": "arn:aws:iam::1:mfa/x",
        },
    )
    source, role, profiles = config.resolve_source(given, "admin")
    assert (source.profile, source.access_key_id) == ("default", "AKIADEFAULT")
    assert role is not None
    assert role.arn == ROLE
    assert profiles == ["admin", "work-mfa", "default"]
    settings = config.resolve(config.Inputs(profile="admin"), given)
    assert settings.serial == "arn:aws:iam::1:mfa/x"


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("mfa-env --format json", "gets its keys from mfa-env without --profile"),
        ("mfa-env --format json --profile", "gets its keys from mfa-env without --profile"),
        ("mfa-env --profile work-mfa --format json", "loop (work-mfa -> work-mfa)"),
        ("mfa-env --profile nowhere --format json", "'nowhere' is not in"),
    ],
)
def test_a_loop_through_our_own_line_is_refused_in_our_words(line: str, words: str):
    with pytest.raises(ConfigError, match=None) as raised:
        config.resolve_source(own(line), "work-mfa")
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_two_profile_loop_and_a_role_target_are_refused():
    given = files(
        {},
        {
            "a": {"credential_process": "mfa-env --profile b --format json"},
            "b": {"credential_process": "mfa-env -p a --format json"},
        },
    )
    with pytest.raises(ConfigError, match=r"loop \(a -> b -> a\)"):
        config.resolve_source(given, "a")
    given = own(
        "mfa-env --profile admin --format json",
        admin={"role_arn": ROLE, "source_profile": "default"},
    )
    with pytest.raises(ConfigError, match="a role session cannot make an MFA session"):
        config.resolve_source(given, "work-mfa")


def test_another_programs_credential_process_is_left_to_botocore():
    given = files({}, {"src": {"credential_process": "aws-vault export --format=json src"}})
    source, _role, profiles = config.resolve_source(given, "src")
    assert (source.profile, source.access_key_id, profiles) == ("src", None, ["src"])


def test_half_a_key_pair_names_the_file_and_the_missing_key(isolate: Path):
    aws = isolate / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("[half]\naws_access_key_id = AKIAHALF\n")
    with pytest.raises(ConfigError) as raised:
        sts.connect(config.Source("half", "AKIAHALF"), None)
    message = str(raised.value)
    assert "profile 'half'" in message
    assert (
        "~/.aws/credentials holds half of a key pair (aws_secret_access_key is missing)" in message
    )


def test_a_role_profile_that_is_its_own_source_is_never_assumed_by_botocore(
    isolate: Path, monkeypatch
):
    """role_arn beside static keys, source_profile naming itself: botocore would assume the role
    itself, with its own MFA prompt on stdin. The source is the profile's own static keys."""
    aws = isolate / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        "[self]\naws_access_key_id = AKIASELFSOURCED\naws_secret_access_key = s\n"
    )
    (aws / "config").write_text(
        f"[profile self]\nrole_arn = {ROLE}\nsource_profile = self\n"
        "mfa_serial = arn:aws:iam::123456789012:mfa/me\n"
    )

    def no_prompt(*_args, **_kwargs):
        raise AssertionError("botocore asked for a code")

    monkeypatch.setattr("getpass.getpass", no_prompt)
    settings = config.resolve(config.Inputs(profile="self"))
    assert settings.role is not None
    assert settings.role.arn == ROLE
    assert settings.source.access_key_id == "AKIASELFSOURCED"
    aws_session = sts.connect(settings.source, None)
    assert aws_session.access_key_id == "AKIASELFSOURCED"


def test_an_os_error_below_botocore_is_one_line():
    """What botocore does not wrap (its retry's sleep failing, say) is one line, not a
    traceback: the renewal fallback and the error edge both see an AwsError."""

    def call() -> None:
        raise OSError(22, "Invalid argument")

    aws = SimpleNamespace(deadline=5)
    with pytest.raises(AwsError, match=r"^AssumeRole: Invalid argument; check your network"):
        sts._call(aws, "AssumeRole", config.Source("p"), call)  # type: ignore[arg-type]
