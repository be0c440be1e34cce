"""Long-term keys and sessions in a real Secret Service (GNOME Keyring on a private D-Bus)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mfa_env import cache
from tests.helpers import ROOT, IamUser, detached, no_tty, secret_service, snapshot
from tests.signing import signing_log

WHOAMI = (
    f"\n{sys.executable} -c 'import boto3; "
    'boto3.client("sts", region_name="us-east-1").get_caller_identity(); '
    "print(boto3.Session().get_credentials().access_key)'"
)
COMMENTED = "# my team's profiles\n[other]\nregion = eu-west-1\n; the end\n"


@pytest.fixture
def keyring_env(user: IamUser, isolate: Path) -> Iterator[dict[str, str]]:
    """[default] holds the user's keys beside another section; a Secret Service runs."""
    creds = isolate / ".aws" / "credentials"
    creds.write_text(COMMENTED + creds.read_text() + "# after\n")
    with secret_service(isolate) as env:
        yield env


def files_holding(home: Path, secret: str) -> list[str]:
    """Every file under HOME whose bytes hold `secret`, but the keyring's own encrypted store."""
    return [
        name
        for name, data in snapshot(home).items()
        if secret.encode() in data and not name.startswith(".local/share/keyrings/")
    ]


def test_store_keys_moves_them_and_the_session_still_works(
    user: IamUser, isolate: Path, keyring_env: dict[str, str], moto_url: str
):
    creds = isolate / ".aws" / "credentials"
    before = creds.read_text()
    done = no_tty("--store-keys", "default", env=keyring_env)
    assert done.returncode == 0, done.stderr
    assert "moved the keys of profile 'default' into the keyring" in done.stderr
    assert files_holding(isolate, user.secret_access_key) == []
    after = creds.read_text()
    # Byte for byte outside [default]; inside, the two key lines gave way to the marker.
    marker = f"mfa_env_keys = keyring\nmfa_env_keys_id = {cache.source_id(user.access_key_id)}\n"
    assert before == f"{COMMENTED}[default]\naws_access_key_id = {user.access_key_id}\n" + (
        f"aws_secret_access_key = {user.secret_access_key}\n# after\n"
    )
    assert after == f"{COMMENTED}[default]\n{marker}# after\n"

    # Again: nothing to do, nothing changed.
    again = no_tty("--store-keys", "default", env=keyring_env)
    assert again.returncode == 0, again.stderr
    assert "in the keyring already" in again.stderr
    assert creds.read_text() == after

    # A session from the keys in the keyring, signed with them.
    with signing_log(moto_url) as (proxy, log):
        session = no_tty(
            "--shell", "bash", user.name, "123456",
            env={**keyring_env, "AWS_ENDPOINT_URL": proxy},
        )  # fmt: skip
        seen = list(log)
        # And the session is one GetCallerIdentity accepts, signed with the session's key.
        whoami = subprocess.run(
            ["bash", "--norc", "-c", session.stdout + WHOAMI],
            capture_output=True,
            text=True,
            env={**keyring_env, "AWS_ENDPOINT_URL": proxy},
            timeout=60,
        )
        called = [s for s in log if s.action == "GetCallerIdentity"]
    assert session.returncode == 0, session.stderr
    assert {s.access_key_id for s in seen if s.action == "GetSessionToken"} == {user.access_key_id}
    assert whoami.returncode == 0, whoami.stderr
    assert [s.access_key_id for s in called] == [whoami.stdout.strip()]
    assert whoami.stdout.strip() != user.access_key_id


def test_sessions_in_the_keyring_never_touch_the_disk(
    user: IamUser, isolate: Path, keyring_env: dict[str, str], dead_url: str
):
    env = {**keyring_env, "MFA_ENV_CACHE": "keyring"}
    first = no_tty("--refresh", "--format", "json", user.name, "123456", env=env)
    assert first.returncode == 0, first.stderr
    secret = json.loads(first.stdout)["SecretAccessKey"]
    assert files_holding(isolate, secret) == []
    # Only the lock that one new session at a time per source takes (a pid, no secret).
    cached = isolate / ".cache" / "mfa-env"
    assert [p.name for p in cached.iterdir() if not p.name.startswith("lock-")] == []
    again = no_tty("--format", "json", user.name, env={**env, "AWS_ENDPOINT_URL": dead_url})
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # the cached session, through a dead endpoint
    assert again.stderr == ""  # a credential_process succeeds in silence


@pytest.mark.parametrize("keyring_state", ["locked", "absent", "no-backend", "unreachable"])
def test_no_usable_keyring_is_one_line_and_the_file_untouched(
    user: IamUser, isolate: Path, keyring_state: str
):
    before = (isolate / ".aws" / "credentials").read_bytes()
    if keyring_state == "locked":
        with secret_service(isolate, unlock=False) as env:
            done = no_tty("--store-keys", "default", env=env)
    else:
        env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
        if keyring_state == "no-backend":
            env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        if keyring_state == "unreachable":  # named, but no D-Bus session to reach it on
            env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.SecretService.Keyring"
        done = no_tty("--store-keys", "default", env=env)
    assert done.returncode == 1
    assert done.stdout == ""  # nothing for a shell: --store-keys is not evaluated
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert ("locked" if keyring_state == "locked" else "no usable OS keyring") in lines[0]
    assert "Traceback" not in done.stderr
    assert (isolate / ".aws" / "credentials").read_bytes() == before


def test_a_profile_holding_a_session_is_refused(isolate: Path, keyring_env: dict[str, str]):
    creds = isolate / ".aws" / "credentials"
    creds.write_text(creds.read_text() + "[temp]\naws_access_key_id = ASIA1\n"
                     "aws_secret_access_key = s\naws_session_token = t\n")  # fmt: skip
    before = creds.read_bytes()
    done = no_tty("--store-keys", "temp", env=keyring_env)
    assert done.returncode == 1
    assert "holds a session token" in done.stderr
    assert creds.read_bytes() == before


def test_keys_not_in_the_file_are_asked_for_on_the_terminal(
    isolate: Path, keyring_env: dict[str, str]
):
    import pexpect

    child = pexpect.spawn(
        sys.executable, ["-m", "mfa_env", "--store-keys", "fresh"], env=keyring_env, timeout=30
    )
    child.expect_exact("AWS access key ID for [fresh]: ")
    child.sendline("AKIAFRESHKEY00000000")
    child.expect_exact("AWS secret access key (not shown): ")
    child.sendline("fresh/secret+NOT+ECHOED")
    child.expect(pexpect.EOF)
    child.close()
    screen = child.before.decode()
    assert child.exitstatus == 0, screen
    assert "NOT+ECHOED" not in screen  # the terminal did not echo the secret
    assert "moved the keys of profile 'fresh'" in screen
    assert "[fresh]\nmfa_env_keys = keyring\n" in (isolate / ".aws" / "credentials").read_text()
    assert files_holding(isolate, "NOT+ECHOED") == []


def test_two_files_with_the_same_profile_keep_their_own_keys(
    user: IamUser, isolate: Path, keyring_env: dict[str, str], tmp_path: Path
):
    # Issue 19: per-project AWS_SHARED_CREDENTIALS_FILE, both [default]. The second used to
    # overwrite the first one's keys, which its file no longer held.
    assert no_tty("--store-keys", "default", env=keyring_env).returncode == 0
    other = tmp_path / "other-credentials"
    other.write_text("[default]\naws_access_key_id = AKIAOTHERFILE0000000\n"
                     "aws_secret_access_key = other\n")  # fmt: skip
    stored = no_tty(
        "--store-keys", "default", env={**keyring_env, "AWS_SHARED_CREDENTIALS_FILE": str(other)}
    )
    assert stored.returncode == 0, stored.stderr
    ours = keyring_get(keyring_env, f"keys:default:{cache.source_id(user.access_key_id)}")
    assert json.loads(ours) == {
        "aws_access_key_id": user.access_key_id,
        "aws_secret_access_key": user.secret_access_key,
    }
    done = no_tty("--shell", "bash", "--no-cache", user.name, "123456", env=keyring_env)
    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout


def keyring_get(env: dict[str, str], name: str) -> str:
    return keyring_call(env, f"print(keyring.get_password('mfa-env', {name!r}))").rstrip("\n")


def keyring_call(env: dict[str, str], code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"import keyring\n{code}"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    return done.stdout


def test_keys_stored_by_an_older_version_are_still_read(
    user: IamUser, isolate: Path, keyring_env: dict[str, str]
):
    # Versions before the ID named the entry by the profile alone.
    document = json.dumps({
        "aws_access_key_id": user.access_key_id, "aws_secret_access_key": user.secret_access_key,
    })  # fmt: skip
    keyring_call(keyring_env, f"keyring.set_password('mfa-env', 'keys:default', {document!r})")
    marks = f"mfa_env_keys = keyring\nmfa_env_keys_id = {cache.source_id(user.access_key_id)}\n"
    (isolate / ".aws" / "credentials").write_text(f"[default]\n{marks}")
    done = no_tty("--shell", "bash", "--no-cache", user.name, "123456", env=keyring_env)
    assert done.returncode == 0, done.stderr
    again = no_tty("--store-keys", "default", env=keyring_env)
    assert again.returncode == 0, again.stderr
    assert "in the keyring already" in again.stderr


BROKEN = ["RaisingKeyring", "BytesKeyring", "DeepKeyring"]


def broken_env(backend: str) -> dict[str, str]:
    """A backend that raises what keyring does not know, answers bytes, or answers JSON
    nested too deep to read: named the way a user names one."""
    return {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": f"tests.fast.keyring_doubles.{backend}",
        "PYTHONPATH": str(ROOT),
    }


@pytest.mark.parametrize("backend", BROKEN)
def test_a_broken_backend_is_one_line_and_a_failing_eval(isolate: Path, backend: str):
    creds = isolate / ".aws" / "credentials"
    creds.parent.mkdir(exist_ok=True)
    creds.write_text("[default]\naws_access_key_id = AKIABROKENBACKEND000\n"
                     "aws_secret_access_key = broken/Secret\n")  # fmt: skip
    before = creds.read_bytes()
    env = broken_env(backend)
    stored = no_tty("--store-keys", "default", env=env)
    assert (stored.returncode, stored.stdout) == (1, "")
    assert len(stored.stderr.splitlines()) == 1, stored.stderr
    assert "the keys are still in [default] in ~/.aws/credentials" in stored.stderr
    assert creds.read_bytes() == before
    # A source whose keys the file says are in the keyring: eval fails, it does not exit 0.
    marks = f"mfa_env_keys = keyring\nmfa_env_keys_id = {cache.source_id('AKIABROKENBACKEND000')}\n"
    creds.write_text(f"[default]\n{marks}")
    command = f'eval "$({sys.executable} -m mfa_env --shell bash alice 123456)"'
    evaluated = detached(["bash", "--norc", "-c", command], env)
    assert evaluated.returncode == 1, evaluated.stderr
    assert len(evaluated.stderr.splitlines()) == 1, evaluated.stderr
    assert "Traceback" not in evaluated.stderr


@pytest.mark.parametrize("backend", BROKEN)
def test_a_session_a_broken_keyring_cache_will_not_keep_is_still_handed_out(
    user: IamUser, backend: str
):
    env = {**broken_env(backend), "MFA_ENV_CACHE": "keyring"}
    done = no_tty("--shell", "bash", "--serial", user.serial, user.name, "123456", env=env)
    assert done.returncode == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    lines = done.stderr.splitlines()
    assert lines[-1].startswith("mfa-env: new session for profile 'default'"), lines
    assert all(line.startswith("mfa-env: warning: ") for line in lines[:-1]), lines
