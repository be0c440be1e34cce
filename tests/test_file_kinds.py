"""The kinds of file an AWS file, a cache entry and the credentials lock can be, fuzzed through
the real command in a process with a timeout: a FIFO, a directory, a character device, a
symlink loop, an unreadable file, or the ordinary file. Whatever the mix, a run ends in time,
with one line per message, statements or the failing statement, and the outcome botocore's way
of reading the AWS files implies (a file that is not a regular one reads as absent, as
botocore.configloader reads it).

The tests run as root in CI and here, and root reads a chmod 000 file: there "unreadable" shows
only that such a file changes nothing. As another user, the unit tests of config._read_file
show that an unreadable AWS file reads as absent, as configparser's read() skips it."""

from __future__ import annotations

import functools
import os
import re
import stat
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from mfa_env import cache
from mfa_env.credentials import Credentials
from tests.helpers import FORBIDDEN, IamUser, counted, reached

ROOT_USER = os.geteuid() == 0
READABLE = ("file", "unreadable") if ROOT_USER else ("file",)  # root reads a chmod 000 file
_RANDOM = os.environ.get("MFA_ENV_FUZZ_RANDOM") == "1"
# Runs: 100 derandomized in `make test` (each starts Python, most of them botocore: a quarter of
# a second of CPU); `make fuzz` runs at least MFA_ENV_FUZZ_EXAMPLES new ones (300 in CI).
EXAMPLES = max(100, int(os.environ.get("MFA_ENV_FUZZ_EXAMPLES") or 0))
TIMEOUT = 20  # a run takes well under a second; a hang is what this catches

TARGETS = ("credentials", "config", "entry", "lock")
ORDINARY = {"credentials": "file", "config": "file", "entry": "file", "lock": "absent"}
BATCH = 4  # runs started together in each example
KINDS = ["file", "absent", "fifo", "directory", "zero", "null", "loop", "unreadable"]
# What each run is: a cache hit or a miss that needs a code; a code (a new session unless the
# cache has one); a code and -w, which takes the credentials file's lock.
SHAPES = {"cached": [], "code": ["123456"], "write": ["-w", "out", "123456"]}
# POSIX statements, one a line (each may end in `;`): what `eval` runs, and nothing else.
_POSIX = re.compile(
    r"(?:(?:export [A-Z_][A-Z0-9_]*='(?:[^']|'\\'')*'|unset [A-Z_][A-Z0-9_]*);?\n)+"
)


def _device(path: Path, minor: int) -> None:
    """A character device node at `path` (1,5 is /dev/zero, 1,3 /dev/null); where mknod is not
    allowed (no CAP_MKNOD), a symlink to the device."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, minor))
    except PermissionError:
        path.symlink_to("/dev/zero" if minor == 5 else "/dev/null")


@functools.cache
def _device_nodes() -> bool:
    """Whether _device makes a real device node here, not a symlink."""
    with tempfile.TemporaryDirectory() as directory:
        _device(Path(directory) / "null", 3)
        return not (Path(directory) / "null").is_symlink()


def _make(path: Path, kind: str, content: bytes) -> None:
    """Put a file of `kind` at `path`; "file" and "unreadable" hold `content`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind in ("file", "unreadable"):
        path.write_bytes(content)
        path.chmod(0o000 if kind == "unreadable" else 0o600)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path.mkdir(mode=0o700)
    elif kind in ("zero", "null"):
        _device(path, 5 if kind == "zero" else 3)
    elif kind == "loop":
        path.symlink_to(path.name)  # itself: ELOOP
    else:
        assert kind == "absent"


def _session_entry(user: IamUser, cache_home: Path) -> tuple[Path, bytes]:
    """Where the cached session for the user's keys lives, and a valid entry for it."""
    key = cache.SessionKey(cache.source_id(user.access_key_id), user.serial)
    expiry = datetime.now(timezone.utc) + timedelta(hours=6)
    creds = Credentials("ASIACACHED0000000000", "cached/secret", "cached-token", expiry)
    return cache_home / "mfa-env" / f"{key.name()}.json", cache.session_document(key, creds)


def _expected(kinds: dict[str, str], shape: str) -> int:
    """The exit status botocore's reading of the files implies. Anything but a regular file (or,
    for root, an unreadable one) reads as absent: no credentials file, no keys."""
    if kinds["credentials"] not in READABLE:
        return 1  # no keys anywhere
    if shape == "cached" and kinds["entry"] not in READABLE:
        return 1  # a miss, and no code and no terminal to ask on
    # The lock is opened without following a link: a directory, a loop or a link to a device
    # is no lock to take, so the session is had but -w cannot store it. A FIFO or a device node
    # opens (O_RDWR does not wait for a FIFO's other end) and takes the flock.
    unlockable = ("directory", "loop") if _device_nodes() else ("directory", "loop", "zero", "null")
    if shape == "write" and kinds["lock"] in unlockable:
        return 1
    return 0


class Case(NamedTuple):
    kinds: dict[str, str]  # credentials, config, entry, lock
    shape: str
    config_by_variable: bool  # a device named by AWS_CONFIG_FILE rather than put in its place


CASES = st.builds(
    Case,
    # Half the credentials files ordinary: without keys, every run ends at "no credentials".
    st.fixed_dictionaries(
        {target: st.sampled_from(KINDS) for target in TARGETS}
        | {"credentials": st.just("file") | st.sampled_from(KINDS)}
    ),
    # Most runs the cheap way a broken file shows (no botocore, no STS); a code in two of five.
    st.sampled_from(["cached", "cached", "cached", "code", "write"]),
    st.booleans(),
)


def _start(user: IamUser, home: Path, case: Case) -> subprocess.Popen[bytes]:
    """Lay out HOME as the case says and start the command on it."""
    aws = home / ".aws"
    cache_home = home / ".cache"
    (cache_home / "mfa-env").mkdir(parents=True, mode=0o700)
    entry, document = _session_entry(user, cache_home)
    keys = (
        f"[default]\naws_access_key_id = {user.access_key_id}\n"
        f"aws_secret_access_key = {user.secret_access_key}\n"
    )
    _make(aws / "credentials", case.kinds["credentials"], keys.encode())
    _make(aws / "config", case.kinds["config"], f"[default]\nmfa_serial = {user.serial}\n".encode())
    _make(entry, case.kinds["entry"], document)
    _make(aws / "credentials.lock", case.kinds["lock"], b"")
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(cache_home)}
    if case.config_by_variable and case.kinds["config"] in ("zero", "null"):  # the case
        env["AWS_CONFIG_FILE"] = "/dev/zero" if case.kinds["config"] == "zero" else "/dev/null"
        (aws / "config").unlink()
    return subprocess.Popen(
        [sys.executable, "-m", "mfa_env", "-s", "bash", *SHAPES[case.shape]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no terminal to ask on: a miss without a code fails
    )


def _check(case: Case, status: int, out: str, err: str) -> None:
    lines = err.split("\n")
    assert lines[-1] == "", err
    assert all(line.startswith("mfa-env: ") for line in lines[:-1]), err
    assert not FORBIDDEN.intersection(err.replace("\n", ""))
    assert status == _expected(case.kinds, case.shape), (case, err)
    if status:
        assert out == "false\n"
        return
    assert _POSIX.fullmatch(out), out
    if case.shape == "cached":
        assert "reused the cached session" in err
        assert "export AWS_SESSION_TOKEN='cached-token'" in out
    elif case.kinds["entry"] not in READABLE:
        assert "new session" in err


@counted()
@settings(
    max_examples=EXAMPLES // BATCH,
    deadline=None,
    derandomize=not _RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(CASES, min_size=BATCH, max_size=BATCH))
@example([Case({**ORDINARY, "config": "fifo"}, "cached", False)] * BATCH)
@example([Case({**ORDINARY, "config": "zero"}, "cached", True)] * BATCH)
@example([Case({**ORDINARY, "credentials": "fifo"}, "code", False)] * BATCH)
@example([Case({**ORDINARY, "entry": "fifo", "lock": "fifo"}, "write", False)] * BATCH)
def test_any_kind_of_file_ends_in_time_with_one_line(
    user: IamUser, tmp_path: Path, cases: list[Case]
) -> None:
    """BATCH runs at once, each on a HOME of its own: EXAMPLES runs in all."""
    homes = [tmp_path / uuid.uuid4().hex for _case in cases]
    procs = [_start(user, home, case) for home, case in zip(homes, cases, strict=True)]
    try:
        results = [proc.communicate(timeout=TIMEOUT) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reached()
    for case, proc, (out, err) in zip(cases, procs, results, strict=True):
        event(f"exit {proc.returncode}")
        _check(case, proc.returncode, out.decode(), err.decode())
