"""End to end: the real command against a real moto server, evaluated in the real shells."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.helpers import IamUser, mfa_env, on_terminal, require, write_credentials
from tests.shellrun import eval_in_shell

NAMES = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
]
# Run inside the evaluating shell: prove the exported session works against the emulator.
WHOAMI = (
    f"{sys.executable} -c 'import boto3; s = boto3.Session(); c = s.get_credentials(); "
    'assert c.method == "env" and c.token, c.method; '
    'print(s.client("sts", region_name="us-east-1").get_caller_identity()["Arn"])\''
)


def json_session(*args: str) -> dict[str, str]:
    done = mfa_env(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["Version"] == 1
    return {
        "AWS_ACCESS_KEY_ID": data["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": data["SecretAccessKey"],
        "AWS_SESSION_TOKEN": data["SessionToken"],
        "AWS_CREDENTIAL_EXPIRATION": data["Expiration"],
    }


@pytest.mark.parametrize("with_user", [True, False], ids=["USER", "no-USER"])
def test_eval_in_bash_gives_a_working_session(user: IamUser, with_user: bool, tmp_path: Path):
    args = f"{user.name} 123456" if with_user else "123456"
    script = (
        f'eval "$({sys.executable} -m mfa_env {args})" || exit 9\n'
        'test -n "$AWS_SESSION_TOKEN" || exit 8\n'
        f"{WHOAMI}\n"
    )
    done = subprocess.run(
        [require("bash"), "--norc", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("arn:aws:")
    assert "new session for profile 'default'" in done.stderr
    assert "valid until" in done.stderr


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh", "ksh", "fish"])
def test_each_shell_gets_exactly_the_json_values(user: IamUser, shell: str, tmp_path: Path):
    expected = json_session(user.name, "123456")
    done = mfa_env(user.name, "--shell", shell, "--region", "eu-west-1")
    assert done.returncode == 0, done.stderr
    got = eval_in_shell(shell, done.stdout, [*NAMES, "AWS_REGION", "AWS_DEFAULT_REGION"], tmp_path)
    for name in NAMES:
        assert got[name] == expected[name].encode(), name
    assert got["AWS_REGION"] == got["AWS_DEFAULT_REGION"] == b"eu-west-1"


@pytest.mark.parametrize(("shell", "pipe"), [("bash", "eval"), ("zsh", "eval"), ("fish", "source")])
def test_the_calling_shell_is_detected(user: IamUser, shell: str, pipe: str):
    cmd = f"{sys.executable} -m mfa_env {user.name} 123456"
    if pipe == "eval":
        script = f'eval "$({cmd})" && printf %s "$AWS_SESSION_TOKEN"'
        argv = [require(shell), "-c", script]
    else:
        script = f'{cmd} | source; and printf %s "$AWS_SESSION_TOKEN"'
        argv = [require(shell), "--no-config", "-c", script]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout
    assert done.stdout == json_session(user.name)["AWS_SESSION_TOKEN"]


def test_stale_session_in_the_environment_is_never_the_source(user: IamUser):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "ASIASTALE",
        "AWS_SECRET_ACCESS_KEY": "stale",
        "AWS_SESSION_TOKEN": "stale-token",
    }
    done = mfa_env(user.name, "123456", "--shell", "bash", env=env)
    assert done.returncode == 0, done.stderr
    assert "profile 'default'" in done.stderr


def test_long_term_keys_in_the_environment_are_a_source(user: IamUser, isolate: Path):
    (isolate / ".aws" / "credentials").unlink()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": user.access_key_id,
        "AWS_SECRET_ACCESS_KEY": user.secret_access_key,
    }
    done = mfa_env(user.name, "123456", "-s", "bash", env=env)
    assert done.returncode == 0, done.stderr
    assert "AWS_ACCESS_KEY_ID" in done.stderr  # "the keys in AWS_ACCESS_KEY_ID"


def test_dotenv_is_read_back_by_a_dotenv_parser(user: IamUser):
    expected = json_session(user.name, "123456")
    done = mfa_env(user.name, "--format", "dotenv", "--region", "us-west-2")
    assert done.returncode == 0, done.stderr
    parsed = dotenv_values(stream=io.StringIO(done.stdout))  # python-dotenv itself
    assert {k: parsed[k] for k in NAMES} == expected
    assert parsed["AWS_REGION"] == "us-west-2"


def test_json_serves_as_credential_process(user: IamUser, isolate: Path):
    """botocore itself runs us as credential_process and gets a working session."""
    config = isolate / ".aws" / "config"
    config.write_text(
        "[profile mfa]\n"
        f"credential_process = {sys.executable} -m mfa_env --profile default --format json\n"
    )
    json_session(user.name, "123456")  # a cached session, so no code is needed below
    import boto3

    session = boto3.Session(profile_name="mfa")
    creds = session.get_credentials().get_frozen_credentials()
    assert creds.token == json_session()["AWS_SESSION_TOKEN"]


def test_credential_process_that_would_call_itself_fails_fast(user: IamUser, isolate: Path):
    (isolate / ".aws" / "config").write_text(
        f"[profile loop]\ncredential_process = {sys.executable} -m mfa_env --format json\n"
    )
    env = {**os.environ, "AWS_PROFILE": "loop"}
    done = mfa_env("123456", "--shell", "bash", env=env, timeout=10)
    assert done.returncode == 1
    assert "--profile" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_terminal_on_stdout_gets_no_secret(user: IamUser):
    expected = json_session(user.name, "123456")
    status, screen, raw_stderr = on_terminal(user.name, "--shell", "bash")
    stderr = raw_stderr.decode()
    assert status == 0
    assert screen == b""
    assert 'eval "$(mfa-env' in stderr
    for secret in (expected["AWS_SECRET_ACCESS_KEY"], expected["AWS_SESSION_TOKEN"]):
        assert secret not in stderr


def test_several_devices_takes_the_first_and_names_the_rest(
    moto_url: str, isolate: Path, monkeypatch
):
    from tests.helpers import make_user, write_credentials

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    made = make_user(moto_url, devices=2, u2f=1)
    write_credentials(isolate, made)
    done = mfa_env(made.name, "123456", "-s", "bash", "--debug")
    assert done.returncode == 0, done.stderr
    assert "U2F" in done.stderr
    assert "--serial" in done.stderr
    assert f"serial {made.serial} from IAM" in done.stderr


def test_unset_ends_the_session_and_keeps_the_region(tmp_path: Path):
    env = {**os.environ, "AWS_SESSION_TOKEN": "x", "AWS_REGION": "y", "AWS_SECURITY_TOKEN": "z"}
    done = mfa_env("--unset", "--shell", "bash", env={**env, "MFA_ENV_PROFILE": "work"})
    assert done.returncode == 0
    names = ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "MFA_ENV_PROFILE", "AWS_PROFILE"]
    got = eval_in_shell("bash", done.stdout, [*names, "AWS_REGION"], tmp_path, env)
    assert got == {**dict.fromkeys(names[:3]), "AWS_PROFILE": b"work", "AWS_REGION": b"y"}


def test_version_and_help():
    from mfa_env import __version__

    assert mfa_env("--version").stdout.strip() == f"mfa-env {__version__}"
    helptext = mfa_env("--help").stdout
    assert "--write-profile" in helptext
    assert "MFA_ENV_MFA_COMMAND" in helptext  # the Environment section
    assert "from nuon | load-env" in helptext  # and how every shell uses the output


def test_aws_profile_is_set_aside_and_comes_back_in_bash(user: IamUser, isolate: Path):
    creds = isolate / ".aws" / "credentials"
    creds.write_text(creds.read_text().replace("[default]", "[work]"))
    mfa = f"{sys.executable} -m mfa_env"
    script = f"""
export AWS_PROFILE=work AWS_DEFAULT_PROFILE=work AWS_REGION=eu-west-1
eval "$({mfa} {user.name} 123456)" || exit 9
echo "after: ${{AWS_PROFILE-unset}} ${{AWS_DEFAULT_PROFILE-unset}} $MFA_ENV_PROFILE"
eval "$({mfa} {user.name})" || exit 8
eval "$({mfa} --unset)" || exit 7
echo "unset: ${{AWS_PROFILE-unset}} ${{AWS_SESSION_TOKEN-unset}}" \
  "${{MFA_ENV_PROFILE-unset}} $AWS_REGION"
"""
    done = subprocess.run(
        [require("bash"), "--norc", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "after: unset unset work",
        "unset: work unset unset eu-west-1",
    ]
    # The second run found the source in MFA_ENV_PROFILE: profile 'work', from the cache.
    assert "reused the cached session for profile 'work'" in done.stderr
    assert done.stderr.count("set aside in MFA_ENV_PROFILE") == 1


def test_a_written_profile_carries_its_region_for_botocore(user: IamUser, isolate: Path):
    done = mfa_env("-w", "mfa", "-r", "eu-central-1", user.name, "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr
    check = (
        "import botocore.session; s = botocore.session.Session(profile='mfa'); "
        "print(s.get_config_variable('region'))"
    )
    read = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert read.stdout.strip() == "eu-central-1", read.stderr


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["--unset", "--shell", "fish"], "run it as: mfa-env --unset | source"),
        (["--unset", "--shell", "bash"], 'run it as: eval "$(mfa-env --unset)"'),
        (
            ["USER", "123456", "--format", "json"],
            "mfa-env … --format json | cat (or as a credential_process)",
        ),
    ],
)
def test_a_terminal_on_stdout_is_told_how_to_use_the_output(user: IamUser, args, usage):
    status, screen, stderr = on_terminal(*[user.name if a == "USER" else a for a in args])
    assert status == 0
    assert screen == b""
    assert stderr.decode().splitlines()[-1].endswith(usage)


def test_a_credential_process_succeeds_in_silence(user: IamUser):
    """--format json: nothing on stderr for a new session or a cached one (the Go and Ruby SDKs
    and terraform pass it through on every fetch); --debug says the rest."""
    new = mfa_env(user.name, "123456", "--format", "json")
    assert new.returncode == 0
    assert new.stderr == ""
    cached = mfa_env(user.name, "--format", "json")
    assert cached.stderr == ""
    assert cached.stdout == new.stdout
    told = mfa_env(user.name, "--format", "json", "--debug")
    assert "reused the cached session" in told.stderr


def test_dotenv_warns_when_aws_profile_would_win(user: IamUser, isolate: Path):
    """Tools that prefer a named profile (the Node SDK) read AWS_PROFILE before the keys a
    dotenv file holds: one warning line says so and what to do."""
    write_credentials(isolate, user, "work")
    env = {**os.environ, "AWS_PROFILE": "work"}
    done = mfa_env(user.name, "123456", "--format", "dotenv", env=env)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "mfa-env: warning: AWS_PROFILE=work is set, and tools that prefer a named profile "
        "(the Node.js SDK, among others) will use it, not these keys; unset it where this file "
        "is read"
    ]
    assert "AWS_PROFILE" not in done.stdout
