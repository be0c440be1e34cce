"""Processes that start together: one prompt, one code, one STS call, every process served.

Two real `mfa-env --format json` processes (as two SDK processes run a credential_process) in
one session on one pseudo-terminal, against moto behind the signing proxy, which counts the
GetSessionToken calls."""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.helpers import IamUser, require
from tests.signing import signing_log


def _read_until(fd: int, wanted: bytes, seen: bytearray, within: float) -> bool:
    deadline = time.monotonic() + within
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return wanted in seen
            if not chunk:
                return wanted in seen
            seen += chunk
    return True


def _wait_for(files: list[Path], words: str, within: float) -> bool:
    """Whether one of the files comes to hold `words` within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(path.exists() and words in path.read_text() for path in files):
            return True
        time.sleep(0.05)
    return False


def test_two_processes_at_once_show_one_prompt_and_make_one_session(
    user: IamUser, moto_url: str, tmp_path: Path
):
    sh = require("sh")
    master, slave = os.openpty()

    def controlling_terminal() -> None:  # the slave becomes the session's terminal
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    command = f"{sys.executable} -m mfa_env --format json --serial {user.serial} {user.name}"
    script = (
        f"{command} >{tmp_path}/out1 2>{tmp_path}/err1 & "
        f"{command} >{tmp_path}/out2 2>{tmp_path}/err2 & wait"
    )
    with signing_log(moto_url) as (proxy, log):
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy}
        both = subprocess.Popen(
            [sh, "-c", script],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        screen = bytearray()
        try:
            assert _read_until(master, b"MFA code for", screen, 60), bytes(screen)
            # The other one waits for the lock, and says so once on its stderr.
            stderrs = [tmp_path / "err1", tmp_path / "err2"]
            assert _wait_for(stderrs, "waiting for another mfa-env", 60)
            os.write(master, b"123456\n")
            assert both.wait(timeout=60) == 0
            # Whatever else reached the terminal: to its end of file (EIO), which comes once the
            # last holder of the terminal is gone (both exited); the bound is only against a hang.
            _read_until(master, b"\0", screen, 30)
        finally:
            if both.poll() is None:
                both.kill()
            os.close(master)
        signed = [entry for entry in log if entry.action == "GetSessionToken"]

    assert screen.count(b"MFA code for") == 1, bytes(screen)
    assert len(signed) == 1
    assert signed[0].access_key_id == user.access_key_id
    outputs = [json.loads((tmp_path / f"out{n}").read_text()) for n in (1, 2)]
    assert outputs[0] == outputs[1]  # one session, handed to both
    assert outputs[0]["SessionToken"]
    errors = [(tmp_path / f"err{n}").read_text() for n in (1, 2)]
    assert sum(err.count("waiting for another mfa-env") for err in errors) == 1
