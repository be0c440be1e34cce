"""The identity that signs is the identity that keys the cache: checked by which key signed each
request (tests/signing.py), through the real command and a real moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import IamUser, bin_dir, detached, make_role, make_user, mfa_env, require
from tests.signing import signing_log


def actions(log, action: str) -> list[str]:
    """The access keys that signed each `action` request, in order."""
    return [entry.access_key_id for entry in log if entry.action == action]


def test_a_credential_process_that_changes_identity_gets_a_new_session(
    moto_url: str, isolate: Path
):
    """The source profile's keys come from a credential_process, with static keys beside it in
    the config file that botocore never uses (the process runs first). The session is keyed by
    the keys the process printed: when it starts printing another user's keys, the first user's
    session is not handed out."""
    first, second = make_user(moto_url), make_user(moto_url)
    keys_file = isolate / "keys.json"
    (isolate / ".aws").mkdir()
    (isolate / ".aws" / "config").write_text(
        "[profile src]\naws_access_key_id = AKIASTATICNEVERUSED\n"
        "aws_secret_access_key = never-used\n"
        f"credential_process = cat {keys_file}\n"
    )

    def process_prints(user: IamUser) -> None:
        document = {
            "Version": 1,
            "AccessKeyId": user.access_key_id,
            "SecretAccessKey": user.secret_access_key,
        }
        keys_file.write_text(json.dumps(document))

    with signing_log(moto_url) as (proxy, log):
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy}
        process_prints(first)
        done = mfa_env("--profile", "src", "--format", "json", first.name, "123456", env=env)
        assert done.returncode == 0, done.stderr
        assert actions(log, "GetSessionToken") == [first.access_key_id]
        reused = mfa_env("--profile", "src", "--format", "json", env=env)
        assert reused.returncode == 0, reused.stderr
        assert reused.stdout == done.stdout  # the same identity: the cached session

        process_prints(second)
        stale = mfa_env("--profile", "src", "--format", "json", env=env)
        assert stale.returncode == 1
        assert stale.stdout == ""  # never the first user's session
        assert "no MFA code" in stale.stderr
        fresh = mfa_env("--profile", "src", "--format", "json", second.name, "123456", env=env)
        assert fresh.returncode == 0, fresh.stderr
        assert actions(log, "GetSessionToken") == [first.access_key_id, second.access_key_id]


def test_the_readme_credential_process_profile_exported_as_aws_profile(
    user: IamUser, moto_url: str, isolate: Path
):
    """The README's set-up, `credential_process = mfa-env --profile default --format json`, with
    that profile exported as AWS_PROFILE: `eval "$(mfa-env USER CODE)"` in bash makes a session
    signed by the long-term key of the profile the line names, and a role whose source_profile
    is that profile is assumed on it."""
    require("bash")
    role = make_role(moto_url, f"admin-{user.name}")
    (isolate / ".aws" / "config").write_text(
        "[profile work-mfa]\ncredential_process = mfa-env --profile default --format json\n"
        f"[profile admin]\nrole_arn = {role}\nsource_profile = work-mfa\n"
    )
    path = f"{bin_dir(isolate)}{os.pathsep}{os.environ['PATH']}"
    with signing_log(moto_url) as (proxy, log):
        env = {**os.environ, "PATH": path, "AWS_ENDPOINT_URL": proxy, "AWS_PROFILE": "work-mfa"}
        script = (
            f'eval "$(mfa-env {user.name} 123456)" && '
            'printf "%s %s" "$AWS_ACCESS_KEY_ID" "$AWS_SESSION_TOKEN"'
        )
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        key, token = done.stdout.split(" ")  # the session, in this shell
        assert key != user.access_key_id
        assert token
        assert "credential_process" not in done.stderr
        assert actions(log, "GetSessionToken") == [user.access_key_id]

        role_run = detached(["mfa-env", "--profile", "admin", "--format", "json"], env=env)
        assert role_run.returncode == 0, role_run.stderr
        assumed = [entry for entry in log if entry.action == "AssumeRole"]
        assert len(assumed) == 1
        assert assumed[0].session_token  # on the MFA session, not the long-term key
        assert assumed[0].access_key_id != user.access_key_id
        assert actions(log, "GetSessionToken") == [user.access_key_id]  # no second code


def test_a_role_profile_that_is_its_own_source_gets_its_session_from_its_own_keys(
    user: IamUser, moto_url: str, isolate: Path
):
    """role_arn beside static keys, with source_profile naming itself. botocore would assume the
    role with its own prompt on stdin; mfa-env makes the MFA session from the profile's own
    keys, then assumes the role on it, and nothing prompts."""
    role = make_role(moto_url, f"self-{user.name}")
    with open(isolate / ".aws" / "credentials", "a") as f:
        f.write(
            f"[self]\naws_access_key_id = {user.access_key_id}\n"
            f"aws_secret_access_key = {user.secret_access_key}\n"
        )
    (isolate / ".aws" / "config").write_text(
        f"[profile self]\nrole_arn = {role}\nsource_profile = self\nmfa_serial = {user.serial}\n"
    )
    with signing_log(moto_url) as (proxy, log):
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy}
        done = detached(
            [sys.executable, "-m", "mfa_env", "--profile", "self", "--format", "json", "123456"],
            env=env,
        )
        assert done.returncode == 0, done.stderr
        assert "MFA code" not in done.stderr  # botocore's prompt never ran
        assert actions(log, "GetSessionToken") == [user.access_key_id]
        assumed = [entry for entry in log if entry.action == "AssumeRole"]
        assert len(assumed) == 1
        assert assumed[0].session_token
        assert json.loads(done.stdout)["AccessKeyId"].startswith("ASIA")
