"""Sessions that last: reuse without code or network, expiry windows, atomic private files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mfa_env import cache
from mfa_env.credentials import Credentials
from tests.helpers import IamUser, mfa_env, no_tty


@pytest.fixture
def offline(dead_url: str):
    """The environment with the network gone, plus `extra`."""

    def environ(**extra: str) -> dict[str, str]:
        return {**os.environ, "AWS_ENDPOINT_URL": dead_url, **extra}

    return environ


@pytest.mark.parametrize("with_user", [True, False], ids=["USER", "no-USER"])
def test_second_run_reuses_the_session_with_the_network_gone(
    user: IamUser, with_user: bool, offline
):
    who = [user.name] if with_user else []
    first = mfa_env(*who, "123456", "-s", "bash")
    assert first.returncode == 0, first.stderr
    assert "new session" in first.stderr
    again = no_tty(*who, "-s", "bash", env=offline())
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert "reused the cached session" in again.stderr


def test_a_code_given_asks_for_a_new_session(user: IamUser, offline):
    """A code means the user wants a new session (it would be wasted otherwise): with STS
    out of reach that fails, saying the cached session was passed over; without a code the
    cached one is reused."""
    first = mfa_env(user.name, "123456", "-s", "bash")
    again = no_tty(user.name, "654321", "-s", "bash", env=offline())
    assert again.returncode == 1
    assert again.stdout == "false\n"
    lines = again.stderr.splitlines()
    assert "a code was given, so the cached session" in lines[0]
    assert "cannot connect" in lines[-1]
    reused = no_tty(user.name, "-s", "bash", env=offline())
    assert reused.returncode == 0, reused.stderr
    assert reused.stdout == first.stdout


def test_refresh_asks_sts_and_no_cache_touches_nothing(user: IamUser, isolate: Path, offline):
    mfa_env(user.name, "123456", "-s", "bash")
    refreshed = no_tty(user.name, "123456", "--refresh", "-s", "bash", env=offline())
    assert refreshed.returncode == 1  # it really went to the (closed) network
    assert "cannot connect" in refreshed.stderr
    cache_dir = isolate / ".cache" / "mfa-env"
    before = {p.name: p.read_bytes() for p in cache_dir.iterdir()}
    done = mfa_env(user.name, "123456", "--no-cache", "-s", "bash")
    assert "new session" in done.stderr
    assert {p.name: p.read_bytes() for p in cache_dir.iterdir()} == before


def _plant(user: IamUser, isolate: Path, expires_in: timedelta) -> Credentials:
    """Put a session for the default profile and the user's serial straight into the cache."""
    creds = Credentials(
        "ASIAPLANTED", "planted-secret", "planted-token", datetime.now(timezone.utc) + expires_in
    )
    key = cache.SessionKey(cache.source_id(user.access_key_id), user.serial)
    cache.store_session(key, creds)
    return creds


@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"])
def test_a_session_near_its_end_is_not_reused_in_any_time_zone(user: IamUser, isolate, tz, offline):
    _plant(user, isolate, timedelta(minutes=10))  # less than the default --min-ttl of 15 minutes
    env = offline(TZ=tz)
    done = no_tty("--serial", user.serial, "-s", "bash", "--min-ttl", "900", env=env)
    assert done.returncode == 1
    assert "no terminal" in done.stderr  # it wanted a new code
    # Without a --min-ttl of the user's, a session still valid beats none: one warning.
    done = no_tty("--serial", user.serial, "-s", "bash", env=env)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "no terminal to ask on, so the cached session is handed out as it is" in warnings[0]
    done = no_tty("--serial", user.serial, "-s", "bash", "--min-ttl", "300", env=env)
    assert done.returncode == 0, done.stderr
    assert "export AWS_ACCESS_KEY_ID='ASIAPLANTED'" in done.stdout


def test_an_expired_session_is_never_reused(user: IamUser, isolate: Path, offline):
    _plant(user, isolate, timedelta(minutes=-1))
    done = no_tty("--serial", user.serial, "-s", "bash", "--min-ttl", "0", env=offline())
    assert done.returncode == 1
    assert "ASIAPLANTED" not in done.stdout


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{", b"[]", b'{"format": 1}', b"\xff\xfe", b'{"format": 1, "key": 3, "credentials": 1}'],
)
def test_a_corrupt_cache_entry_is_a_miss(user: IamUser, isolate: Path, garbage: bytes):
    first = mfa_env(user.name, "123456", "-s", "bash")
    for entry in (isolate / ".cache" / "mfa-env").glob("session-*.json"):
        entry.write_bytes(garbage)
    again = mfa_env(user.name, "123456", "-s", "bash")
    assert again.returncode == 0, again.stderr
    assert "new session" in again.stderr
    assert "export AWS_SESSION_TOKEN=" in again.stdout
    assert first.returncode == 0
    # The bad entry was replaced by a good one, which the next run reuses.
    assert "reused" in mfa_env(user.name, "-s", "bash").stderr


def test_a_cache_entry_that_is_a_directory_is_a_miss_and_a_warning(user: IamUser, isolate: Path):
    mfa_env(user.name, "123456", "-s", "bash")
    for entry in (isolate / ".cache" / "mfa-env").glob("session-*.json"):
        entry.unlink()
        entry.mkdir()
    done = mfa_env(user.name, "123456", "-s", "bash")
    assert done.returncode == 0, done.stderr
    assert "warning: could not write the session cache" in done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout


def test_files_are_private_under_umask_000(user: IamUser, isolate: Path):
    done = mfa_env(user.name, "123456", "-s", "bash", preexec_fn=lambda: os.umask(0))
    assert done.returncode == 0, done.stderr
    cache_dir = isolate / ".cache" / "mfa-env"
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    entries = list(cache_dir.iterdir())
    assert {p.name.split("-")[0] for p in entries} == {"session", "serial"}  # no lock left
    for entry in entries:
        assert entry.stat().st_mode & 0o777 == 0o600, entry
    # The entry holds an aware UTC expiry, not a local time.
    data = json.loads(next(cache_dir.glob("session-*.json")).read_text())
    assert data["credentials"]["expiration"].endswith("Z")


def test_concurrent_refreshes_leave_a_valid_cache(user: IamUser, isolate: Path, offline):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mfa_env", user.name, "123456", "--refresh", "-s", "bash"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(8)
    ]
    for proc in procs:
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    leftovers = [
        p.name for p in (isolate / ".cache" / "mfa-env").iterdir() if p.name.startswith(".")
    ]
    assert leftovers == []
    again = no_tty(user.name, "-s", "bash", env=offline())
    assert again.returncode == 0, again.stderr
    assert "reused" in again.stderr


# What a cache hit, and a shell prompt's `--status --brief`, may import beyond the interpreter's
# start-up: the modules of ours that serve it (not mfa_env.errors, init, ini, lock or
# platform_io, which other runs need: each import is a tenth of a millisecond or more), and the C
# halves of datetime and of hashlib's SHA-256 (_sha2 from 3.12, _sha256 before). __future__ is
# the `from __future__ import annotations` of our modules; gc, built in, sets the collector aside.
HIT_IMPORTS = {
    *("mfa_env", "mfa_env.main", "mfa_env.record", "mfa_env.platform"),
    *("mfa_env.shells", "mfa_env.clock", "mfa_env.credentials", "mfa_env.deliver"),
    *("mfa_env.paths", "mfa_env.config", "mfa_env.cache", "mfa_env.session"),
    *("__future__", "gc", "_datetime", "_sha2", "_sha256"),
}
BRIEF_IMPORTS = {"mfa_env", "mfa_env.main", "mfa_env.clock", "_datetime"}


def _imported(*args: str, env: dict[str, str]) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a run imports after the interpreter's start-up, run as the console script of
    a current pip or pipx runs it (`-m` would load runpy, which imports contextlib and more)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from mfa_env.main import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    names = [line.split("|")[-1] for line in done.stderr.splitlines() if "|" in line]
    # After site (and an editable install's finder, which the tests' venv has and a user's
    # install has not).
    imported = {name.strip() for name in names[names.index(" site") + 1 :]}
    return imported, done


@pytest.mark.parametrize("fmt", ["shell", "json"])
def test_a_cache_hit_imports_only_what_serves_it(user: IamUser, offline, fmt):
    mfa_env(user.name, "123456", "-s", "bash")
    imported, done = _imported(user.name, "-s", "bash", "--format", fmt, env=offline())
    assert done.returncode == 0, done.stderr
    assert '"AccessKeyId"' in done.stdout if fmt == "json" else "reused" in done.stderr
    assert "mfa_env.cache" in imported  # the check can see imports at all
    assert imported <= HIT_IMPORTS, imported


@pytest.mark.parametrize(
    "expiration",
    ["2999-01-01T00:00:00Z", "2001-01-01T00:00:00Z", "soon", ""],
    ids=["live", "expired", "not a time", "none"],
)
def test_status_brief_imports_the_clock_alone(expiration):
    env = {**os.environ, "AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": expiration}
    imported, done = _imported("--status", "--brief", env=env)
    assert done.returncode == (0 if expiration.startswith("2999") else 1)
    assert "mfa_env.clock" in imported
    assert imported <= BRIEF_IMPORTS, imported


def test_store_and_load_round_trip_keeps_an_aware_utc_expiry(isolate: Path):
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    creds = Credentials("AKID", "secret", "token", moment)
    key = cache.SessionKey("profile:x", "arn:aws:iam::123456789012:mfa/x")
    cache.store_session(key, creds)
    now = moment - timedelta(hours=1)
    loaded = cache.load_session(key, now)
    assert loaded == creds
    assert loaded.expiration.utcoffset() == timedelta(0)
    assert cache.load_session(cache.SessionKey("profile:y", key.serial), now) is None


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        Credentials("a", "b", "c", datetime(2030, 1, 1))


@pytest.mark.parametrize(
    ("environ", "code", "words"),
    [
        (
            {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z"},
            0,
            "valid until",
        ),
        (
            {"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "2001-01-01T00:00:00Z"},
            1,
            "expired",
        ),
        ({"AWS_SESSION_TOKEN": "t", "AWS_CREDENTIAL_EXPIRATION": "soon"}, 1, "not a time"),
        ({}, 1, "no session"),
    ],
)
def test_status_reports_the_session_in_the_environment(environ, code, words):
    done = mfa_env("--status", env={**os.environ, **environ})
    assert done.returncode == code
    assert words in done.stderr
    assert done.stdout == ""


def test_refresh_looks_the_device_up_again(user: IamUser, isolate: Path):
    """A replaced MFA device leaves a stale serial in the cache; --refresh finds the new one."""
    source = cache.source_id(user.access_key_id)
    mfa_env(user.name, "123456", "-s", "bash")
    cache.store_serial(source, "arn:aws:iam::123456789012:mfa/old-device")
    done = mfa_env(user.name, "123456", "--refresh", "-s", "bash", "--debug")
    assert done.returncode == 0, done.stderr
    assert f"serial {user.serial} from IAM" in done.stderr
    assert cache.load_serial(source) == user.serial


@pytest.mark.parametrize(
    ("first", "later"),
    [
        (["USER", "123456"], [[], ["--profile", "default"], ["USER"]]),
        (["123456"], [["USER"], ["--profile", "default"], []]),
    ],
    ids=["USER-first", "no-USER-first"],
)
def test_credential_process_finds_the_session_offline_however_user_is_given(
    user: IamUser, offline, first, later
):
    def spell(args: list[str]) -> list[str]:
        return [user.name if a == "USER" else a for a in args]

    made = mfa_env(*spell(first), "--format", "json")
    assert made.returncode == 0, made.stderr
    for args in later:
        done = no_tty(*spell(args), "--format", "json", env=offline())
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout) == json.loads(made.stdout)
