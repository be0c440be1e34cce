"""What the cache trusts, end to end: only what is ours; and files made under sudo -E stay the
user's. Another user is played by a uid nobody has (the tests run as root in CI)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mfa_env import cache
from mfa_env.credentials import Credentials
from tests.helpers import (
    ROOT,
    IamUser,
    make_user,
    mfa_env,
    need,
    need_root,
    no_tty,
    write_credentials,
)

OTHER_UID = 54321


@pytest.fixture
def as_root() -> None:
    """Playing another user (chown to a uid nobody has, running as it) needs root."""
    need_root()


def plant(key: cache.SessionKey) -> Path:
    """An entry for `key` as an attacker would write it: keys of their choosing."""
    later = datetime.now(timezone.utc) + timedelta(hours=6)
    cache.store_session(key, Credentials("ASIAPLANTED", "planted", "planted", later))
    return Path(key.path())


def key_of(user: IamUser) -> cache.SessionKey:
    return cache.SessionKey(cache.source_id(user.access_key_id), user.serial)


@pytest.mark.usefixtures("as_root")
def test_a_session_planted_in_a_shared_cache_directory_is_not_handed_out(
    user: IamUser, tmp_path: Path, monkeypatch
):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared))
    cache.store_serial(cache.source_id(user.access_key_id), user.serial)
    entry = plant(key_of(user))
    for path in (entry.parent, *entry.parent.iterdir()):
        os.chown(path, OTHER_UID, OTHER_UID)
    entry.parent.chmod(0o777)
    done = no_tty(user.name, "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr
    assert "ASIAPLANTED" not in done.stdout
    assert "new session" in done.stderr
    assert "warning: the cache directory" in done.stderr
    assert "belongs to another user" in done.stderr


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_fifo_or_link_at_an_entry_is_a_miss_without_a_hang(
    user: IamUser, tmp_path: Path, kind: str
):
    first = mfa_env(user.name, "123456", "-s", "bash")
    assert first.returncode == 0, first.stderr
    entry = Path(key_of(user).path())
    assert entry.exists()
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)
    else:
        decoy = tmp_path / "decoy.json"
        decoy.write_text(json.dumps({"format": 2}))
        entry.symlink_to(decoy)
    done = no_tty(user.name, "123456", "-s", "bash", timeout=20)  # never waits on the FIFO
    assert done.returncode == 0, done.stderr
    assert "new session" in done.stderr  # a miss
    assert "ignored it" in done.stderr.splitlines()[0]  # one warning: the entry is not ours


def test_new_keys_for_the_profile_never_reuse_the_old_session(
    user: IamUser, moto_url: str, isolate: Path, dead_url: str
):
    first = mfa_env(user.name, "123456", "-s", "bash")
    assert first.returncode == 0, first.stderr
    other = make_user(moto_url)
    (isolate / ".aws" / "credentials").unlink()
    write_credentials(isolate, other)  # [default] now holds another IAM user's keys
    done = no_tty("-s", "bash", env={**os.environ, "AWS_ENDPOINT_URL": dead_url})
    assert done.returncode == 1
    assert done.stdout == "false\n"
    again = no_tty(other.name, "123456", "-s", "bash")
    assert again.returncode == 0, again.stderr
    assert "new session" in again.stderr


@pytest.fixture
def users_home(as_root: None) -> Iterator[Path]:
    """A HOME that belongs to another user, somewhere that user can reach, beside a copy of
    mfa-env and what its cached path imports (the checkout and venv may be out of reach)."""
    import click
    import shellingham

    top = Path(tempfile.mkdtemp(prefix="mfa-env-sudo-"))
    top.chmod(0o755)
    for package in (
        ROOT / "mfa_env",
        Path(click.__file__).parent,
        Path(shellingham.__file__).parent,
    ):
        shutil.copytree(package, top / "lib" / package.name)
    home = top / "home"
    home.mkdir()
    os.chown(home, OTHER_UID, OTHER_UID)
    try:
        yield home
    finally:
        shutil.rmtree(top)


def test_files_made_under_sudo_belong_to_the_user_whose_home_it_is(
    moto_url: str, users_home: Path, dead_url: str
):
    made = make_user(moto_url)
    aws = users_home / ".aws"
    aws.mkdir(mode=0o700)
    os.chown(aws, OTHER_UID, OTHER_UID)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "XDG_"))},
        "HOME": str(users_home),
        "AWS_ENDPOINT_URL": moto_url,
    }
    creds = write_credentials(users_home, made)
    os.chown(creds, OTHER_UID, OTHER_UID)
    creds.chmod(0o600)
    # As root with the user's environment, as `sudo -E mfa-env -w mfa USER CODE` runs.
    done = no_tty("-w", "mfa", made.name, "123456", "-s", "bash", env=env)
    assert done.returncode == 0, done.stderr
    made_files = [p for p in users_home.rglob("*")]
    assert any(p.name.startswith("session-") for p in made_files)
    assert any(p.name == "credentials.lock" for p in made_files)
    for path in made_files:
        assert path.lstat().st_uid == OTHER_UID, f"{path} belongs to root"
        if path.parent.name == "mfa-env":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # And the user's own later runs: the cached session, and -w again under the same lock.
    python = shutil.which("python3", path="/usr/bin:/bin")
    need(python is not None, "no system python3 for the user's own run", "install python3")
    assert python is not None
    as_user = subprocess.run(
        [python, "-m", "mfa_env", "-w", "mfa", made.name, "-s", "bash"],
        capture_output=True,
        text=True,
        env={
            **env,
            "AWS_ENDPOINT_URL": dead_url,  # a cache hit: nothing to call
            "PYTHONPATH": str(users_home.parent / "lib"),
        },
        user=OTHER_UID,
        group=OTHER_UID,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=60,
    )
    assert as_user.returncode == 0, as_user.stderr
    assert "reused the cached session" in as_user.stderr
    assert "warning" not in as_user.stderr
