"""The platform seam (mfa_env/platform.py) on this machine: every module imports where the
POSIX-only modules and names are missing, as on Windows; the deadline on a call to AWS needs no
signal; the one lock serves the cache and the credentials file alike.

The Windows branches themselves run in tests/fast/test_windows.py."""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mfa_env
from mfa_env import platform, sts
from mfa_env.errors import AwsError

# What Windows lacks, as issue 22 lists it.
ABSENT_MODULES = ("fcntl", "termios", "pwd", "grp", "resource", "tty", "pty")
ABSENT_NAMES = (
    "os.geteuid",
    "os.fchown",
    "os.fork",
    "os.memfd_create",
    "signal.SIGALRM",
    "signal.SIGPIPE",
    "signal.setitimer",
)

# Run in a fresh interpreter: the modules are made absent before anything of ours is imported,
# by a finder that refuses them (as Windows' import system finds none) and by deleting the
# names from os and signal (as Windows' os and signal do not define them).
_IMPORT_ALL = """
import importlib, importlib.abc, json, os, pkgutil, signal, sys

modules, names = sys.argv[1].split(","), sys.argv[2].split(",")


class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in modules:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Absent())
for name in modules:
    sys.modules.pop(name, None)
for dotted in names:
    owner, attribute = dotted.split(".")
    if hasattr(sys.modules[owner], attribute):
        delattr(sys.modules[owner], attribute)

import mfa_env

found = sorted(m.name for m in pkgutil.walk_packages(mfa_env.__path__, "mfa_env."))
failed = {}
for name in found:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
still = []
for name in modules:
    try:
        importlib.import_module(name)
        still.append(name)
    except ImportError:
        pass
still += [d for d in names if hasattr(sys.modules[d.split(".")[0]], d.split(".")[1])]
print(json.dumps({"found": found, "failed": failed, "still_there": still}))
"""


def test_every_module_imports_without_what_windows_lacks():
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL, ",".join(ABSENT_MODULES), ",".join(ABSENT_NAMES)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(mfa_env.__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["still_there"] == []  # the simulation holds: each is really gone
    package = Path(mfa_env.__file__).parent
    every = sorted(f"mfa_env.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__")
    assert report["found"] == every  # every module was tried
    assert report["failed"] == {}


def test_a_call_past_its_deadline_is_given_up_in_one_sentence():
    release = threading.Event()
    start = time.monotonic()
    try:
        with pytest.raises(AwsError, match=r"^GetSessionToken: the endpoint did not finish") as e:
            sts._within("GetSessionToken", 1, lambda: release.wait(30))
    finally:
        release.set()
    # At least the deadline, and far less than the call itself would have taken (30 s).
    assert 1 <= time.monotonic() - start < 10
    assert "within 1 s; check your network, proxy or AWS_ENDPOINT_URL" in str(e.value)


def test_a_call_within_its_deadline_gives_its_answer_or_its_exception():
    assert sts._within("GetCallerIdentity", 5, lambda: {"Arn": "x"}) == {"Arn": "x"}

    def refused() -> None:
        raise AwsError("AssumeRole: AccessDenied: no")

    with pytest.raises(AwsError, match=r"^AssumeRole: AccessDenied: no$"):
        sts._within("AssumeRole", 5, refused)


def test_the_deadline_holds_off_the_main_thread_too():
    """An alarm signal reaches only the main thread; the worker thread needs none."""
    caught: list[BaseException] = []

    def elsewhere() -> None:
        try:
            sts._within("GetSessionToken", 0.5, lambda: time.sleep(10))
        except AwsError as exc:
            caught.append(exc)

    start = time.monotonic()
    other = threading.Thread(target=elsewhere)
    other.start()
    other.join(5)
    assert time.monotonic() - start < 3
    assert len(caught) == 1


def test_ctrl_c_ends_the_wait_for_a_call_long_before_its_deadline():
    """interrupt_main sets Python's interrupt flag without interrupting the wait, as Ctrl-C does
    on Windows (a POSIX signal would interrupt it at once): the wait must look in between."""
    # Ctrl-C as a terminal has it, whatever pytest inherited (ignored under nohup or `&`).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupted_wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_wait() -> None:
    release = threading.Event()
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sts._within("GetSessionToken", 10, lambda: release.wait(30))
    finally:
        release.set()
        timer.cancel()
    assert time.monotonic() - start < 3


def test_the_lock_is_held_per_open_file_and_names_its_holder(tmp_path: Path):
    path = tmp_path / "x.lock"
    first = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    second = os.open(path, os.O_RDWR)
    try:
        assert platform.try_lock(first)
        platform.mark_holder(first)
        assert not platform.try_lock(second)
        assert platform.holder(second) == str(os.getpid())
        assert not platform.lock(second, time.monotonic() + 0.2, 0.05)  # gives up at the deadline
        platform.unlock(first)
        os.close(first)
        first = -1  # closed: the lock is free
        assert platform.lock(second, time.monotonic() + 5, 0.05)
    finally:
        for fd in (first, second):
            if fd >= 0:
                os.close(fd)


def test_the_holder_is_a_pid_or_nothing(tmp_path: Path):
    path = tmp_path / "x.lock"
    path.write_bytes(b"\x1b]0;owned\x07")
    fd = os.open(path, os.O_RDONLY)
    try:
        assert platform.holder(fd) == ""
    finally:
        os.close(fd)
