"""The Windows branches of the platform seam, run here with the OS calls faked.

No Windows machine can be reached from here. So each test sets sys.platform to "win32" (every
function of mfa_env/platform.py tests it when called), removes what Windows lacks (fcntl,
termios, os.geteuid, os.fchmod, …) so that a branch which reached for one would fail, and puts
in a thin fake for each Windows call, saying which real call it stands for. `mypy --platform
win32` (make lint) checks the same branches against typeshed's Windows stubs.

What this cannot show: that the console, the CRT's locking and CreateProcess behave as their
documentation says and these fakes assume (the README's "Platforms" section lists it).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import pytest

from mfa_env import aws_files, cache, deliver, lock, paths, platform, prompt, shells
from mfa_env.config import Settings, Source
from mfa_env.credentials import Credentials
from mfa_env.errors import (
    Cancelled,
    CommandNotRun,
    CredentialsFileError,
    MfaEnvError,
    NoCodeError,
    UsageError,
)

# STATUS_CONTROL_C_EXIT: the exit code of a Windows program that Ctrl-C ended.
CTRL_C_EXIT = 0xC000013A
CTRL_C = "\x03"
CTRL_Z = "\x1a"
ENTER = "\r"


class FakeMsvcrt(types.ModuleType):
    """Stands for msvcrt, the C runtime's Windows calls that platform.py makes:

    - locking(fd, mode, 1) for _locking: a lock on one byte at the descriptor's position, held
      per open descriptor, not re-entrant; EACCES for a byte locked already (by anyone, as the
      CRT says), and on unlocking a byte this descriptor does not hold. A lock not unlocked
      stays, as Windows frees a closed file's locks only when its resources allow;
    - getwch() for _getwch: the next key from `keys` (Enter is "\\r"; Ctrl-C arrives as the key
      "\\x03", since _getwch reads with the console's input processing off);
    - putwch(c) for _putwch: one character onto `screen`.
    """

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.locks: dict[tuple[int, int, int], int] = {}  # (device, inode, offset) -> fd
        self.keys: list[str] = []
        self.screen: list[str] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        assert nbytes == 1
        status = os.fstat(fd)
        where = (status.st_dev, status.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        held_by = self.locks.get(where)
        if mode == self.LK_UNLCK:
            if held_by != fd:
                raise OSError(errno.EACCES, "Permission denied")
            del self.locks[where]
            return
        assert mode == self.LK_NBLCK  # the only mode platform.py may use: it waits itself
        if held_by is not None:
            raise OSError(errno.EACCES, "Permission denied")
        self.locks[where] = fd

    def getwch(self) -> str:
        key = self.keys.pop(0)
        if key == "KeyboardInterrupt":
            raise KeyboardInterrupt  # stands for a Ctrl-C the console sent as a signal
        return key

    def putwch(self, char: str) -> None:
        assert len(char) == 1
        self.screen.append(char)

    def shown(self) -> str:
        return "".join(self.screen)


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, isolate: Path) -> FakeMsvcrt:
    fake = FakeMsvcrt()
    # The cache's place there, in this test's HOME (the autouse `isolate` sets only XDG's).
    monkeypatch.setenv("LOCALAPPDATA", str(isolate / "AppData" / "Local"))
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    for module in ("fcntl", "termios"):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it fails, as on Windows
    for name in ("geteuid", "getegid", "fchown", "fchmod", "chown", "memfd_create"):
        monkeypatch.delattr(os, name, raising=False)
    # Stands for CONIN$: there, as when the process has a console.
    console = tmp_path / "CONIN$"
    console.touch()
    monkeypatch.setattr(platform, "_CONSOLE", str(console))
    return fake


def keys(text: str) -> list[str]:
    return list(text)


# -- the console prompt ---------------------------------------------------------------------------


def test_the_prompt_asks_again_on_the_console_until_six_digits(windows: FakeMsvcrt):
    windows.keys = keys("12345" + ENTER + "123 456" + ENTER)
    assert prompt.from_terminal("arn:aws:iam::1:mfa/me") == "123456"
    assert windows.keys == []
    assert windows.shown() == (
        "MFA code for arn:aws:iam::1:mfa/me: 12345\r\n"
        "mfa-env: the code must be six digits\r\n"
        "MFA code for arn:aws:iam::1:mfa/me: 123 456\r\n"
    )


def test_three_wrong_codes_on_the_console_are_a_usage_error(windows: FakeMsvcrt):
    windows.keys = keys(("1" + ENTER) * 3)
    with pytest.raises(UsageError, match="no valid six-digit MFA code entered"):
        prompt.from_terminal("me")
    assert windows.shown().count("MFA code for me: ") == 3


@pytest.mark.parametrize("ctrl_c", [CTRL_C, "KeyboardInterrupt"], ids=["as-a-key", "as-a-signal"])
def test_ctrl_c_at_the_console_prompt_cancels_and_ends_the_line(windows: FakeMsvcrt, ctrl_c: str):
    windows.keys = [*keys("12"), ctrl_c]
    with pytest.raises(Cancelled, match="cancelled at the MFA prompt"):
        prompt.from_terminal("me")
    assert windows.shown() == "MFA code for me: 12\r\n"


def test_ctrl_z_at_the_console_prompt_is_the_end_of_input(windows: FakeMsvcrt):
    windows.keys = [CTRL_Z]
    with pytest.raises(MfaEnvError, match=r"no MFA code entered \(end of input\)"):
        prompt.from_terminal("me")


def test_backspace_and_arrow_keys_at_the_console(windows: FakeMsvcrt):
    # An arrow key is two: "\xe0" then its code ("K": left), both dropped.
    windows.keys = [*keys("129\b3"), "\xe0", "K", *keys("456"), ENTER]
    assert prompt.from_terminal("me") == "123456"
    assert "\b \b" in windows.shown()


def test_a_hostile_label_reaches_the_console_escaped(windows: FakeMsvcrt):
    windows.keys = keys("123456" + ENTER)
    prompt.from_terminal("arn\x1b]0;pwned\x07\u202e")
    assert "MFA code for arn\\x1b]0;pwned\\x07\\u202e: " in windows.shown()
    assert not {"\x1b", "\x07", "\u202e"}.intersection(windows.shown())


def test_a_console_that_goes_away_is_one_sentence(windows: FakeMsvcrt):
    windows.keys = ["1", "\uffff"]  # WEOF, what _getwch returns once the console is gone
    with pytest.raises(MfaEnvError, match="the terminal went away at the MFA prompt"):
        prompt.from_terminal("me")


def test_no_console_is_no_code(windows: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch, tmp_path):
    # Stands for CONIN$ failing to open: a process without a console (a service, a task).
    monkeypatch.setattr(platform, "_CONSOLE", str(tmp_path / "absent"))
    with pytest.raises(NoCodeError, match="no terminal to ask on"):
        prompt.from_terminal("me")


def test_the_secret_key_is_not_shown_on_the_console(windows: FakeMsvcrt):
    windows.keys = keys("AKIAEXAMPLE" + ENTER + "s3cret/key" + ENTER)
    assert prompt.ask_keys("work") == ("AKIAEXAMPLE", "s3cret/key")
    assert windows.shown() == (
        "AWS access key ID for [work]: AKIAEXAMPLE\r\nAWS secret access key (not shown): \r\n"
    )


# -- the lock -------------------------------------------------------------------------------------


def test_the_lock_is_one_byte_past_the_holders_pid(windows: FakeMsvcrt, tmp_path: Path):
    path = tmp_path / "x.lock"
    first = os.open(path, os.O_RDWR | os.O_CREAT)
    second = os.open(path, os.O_RDWR)
    try:
        assert platform.try_lock(first)
        platform.mark_holder(first)
        assert not platform.try_lock(second)  # EACCES: held
        # Windows locks are mandatory: the waiter reads the pid (32 bytes at 0) past no lock.
        [(_dev, _ino, offset)] = windows.locks
        assert offset >= 32
        assert platform.holder(second) == str(os.getpid())
        platform.unlock(first)
        assert windows.locks == {}
        assert platform.try_lock(second)
    finally:
        os.close(first)
        os.close(second)


def test_a_locking_error_other_than_held_is_raised(windows: FakeMsvcrt, tmp_path: Path):
    def failing(fd: int, mode: int, nbytes: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")  # stands for any other _locking error

    windows.locking = failing  # type: ignore[method-assign]
    fd = os.open(tmp_path / "x.lock", os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="Invalid argument"):
            platform.try_lock(fd)
    finally:
        os.close(fd)


def _hold(entered: threading.Event, release: threading.Event, lock_cm) -> threading.Thread:
    def run() -> None:
        with lock_cm:
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=run)
    holder.start()
    assert entered.wait(10)
    return holder


def test_the_session_lock_waits_says_so_and_gives_up_naming_the_holder(
    windows: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(lock, "LOCK_WAIT", 0.3)
    entered, release = threading.Event(), threading.Event()
    holder = _hold(entered, release, cache.locked(["src"]))
    told: list[str] = []
    try:
        with (
            pytest.raises(lock.LockTimeout, match=rf"pid {os.getpid()}\) has been getting"),
            cache.locked(["src"], waiting=lambda: told.append("waiting")),
        ):
            pass
    finally:
        release.set()
        holder.join(10)
    assert told == ["waiting"]
    assert windows.locks == {}  # each let go before closing


def test_the_session_lock_passes_to_the_waiter(windows: FakeMsvcrt, monkeypatch):
    monkeypatch.setattr(lock, "LOCK_WAIT", 5)  # a lock never let go fails the test, soon
    entered, release = threading.Event(), threading.Event()
    holder = _hold(entered, release, cache.locked(["src"]))
    threading.Timer(0.2, release.set).start()
    with cache.locked(["src"]) as waited:
        assert waited is True
        assert len(windows.locks) == 1
    holder.join(10)
    assert windows.locks == {}


def test_the_credentials_file_lock_refuses_early_then_times_out(
    windows: FakeMsvcrt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setattr(aws_files, "LOCK_TIMEOUT", 0.3)
    real = tmp_path / "credentials"
    entered, release = threading.Event(), threading.Event()
    holder = _hold(entered, release, aws_files._locked(real, "~/.aws/credentials"))
    try:
        with pytest.raises(CredentialsFileError, match=rf"locked by process {os.getpid()} "):
            aws_files._check_unlocked(real, "~/.aws/credentials")
        with (
            pytest.raises(CredentialsFileError, match="locked by another writer for 0 s"),
            aws_files._locked(real, "~/.aws/credentials"),
        ):
            pass
    finally:
        release.set()
        holder.join(10)
    assert windows.locks == {}
    aws_files._check_unlocked(real, "~/.aws/credentials")  # free again


# -- exec mode ------------------------------------------------------------------------------------


class FakeChild:
    """Stands for subprocess.Popen on Windows: CreateProcess on start; in wait(),
    WaitForSingleObject then GetExitCodeProcess. `waits` scripts what each wait() does: raise
    (Ctrl-C, which the console sends to us and the child alike) or return the exit code."""

    started: ClassVar[list[FakeChild]] = []
    waits: ClassVar[list[object]] = []

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.waited = 0
        FakeChild.started.append(self)

    def wait(self) -> int:
        self.waited += 1
        outcome = FakeChild.waits.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, int)
        return outcome


@pytest.fixture
def child(monkeypatch: pytest.MonkeyPatch) -> type[FakeChild]:
    FakeChild.started, FakeChild.waits = [], []
    monkeypatch.setattr(subprocess, "Popen", FakeChild)

    def which(name: str, path: str | None = None) -> str | None:
        # Stands for shutil.which on Windows: PATH searched with PATHEXT, as cmd does.
        return rf"C:\tools\{name}.cmd" if name == "aws" and path == r"C:\tools" else None

    monkeypatch.setattr("shutil.which", which)
    return FakeChild


def test_exec_runs_the_command_as_a_child_and_takes_its_exit_status(windows, child):
    child.waits = [3]
    with pytest.raises(SystemExit) as ended:
        platform.execute(["aws", "s3", "ls"], {"PATH": r"C:\tools", "AWS_SESSION_TOKEN": "t"})
    assert ended.value.code == 3
    [started] = child.started
    assert started.argv == [r"C:\tools\aws.cmd", "s3", "ls"]  # found as the shell finds it
    assert started.env == {"PATH": r"C:\tools", "AWS_SESSION_TOKEN": "t"}


def test_ctrl_c_in_exec_mode_waits_for_the_child_and_passes_its_status_on(windows, child):
    child.waits = [KeyboardInterrupt(), CTRL_C_EXIT]
    try:
        platform.execute(["terraform", "apply"], {})
    except SystemExit as ended:
        code = ended.code
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C ended mfa-env before the command")
    assert child.started[0].waited == 2  # the interrupt did not end our wait
    assert isinstance(code, int)
    assert -(2**31) <= code < 2**31  # what Python can pass to exit() on Windows (a C long)
    assert code & 0xFFFFFFFF == CTRL_C_EXIT  # the same 32 bits the caller reads


def test_exit_status_keeps_every_windows_code():
    assert platform.exit_status(0) == 0
    assert platform.exit_status(1) == 1
    assert platform.exit_status(2**31 - 1) == 2**31 - 1
    assert platform.exit_status(0xFFFFFFFF) == -1
    assert platform.exit_status(CTRL_C_EXIT) & 0xFFFFFFFF == CTRL_C_EXIT


def _settings() -> Settings:
    return Settings(Source("default", "AKIAEXAMPLE"), None, 43200, None, None, None)


def test_exec_mode_on_windows_sets_the_session_and_the_nesting_marker(windows, child, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "stale")
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    child.waits = [0]
    with pytest.raises(SystemExit):
        deliver.execute(
            ("aws", "sts", "get-caller-identity"),
            Credentials("ASIAEXAMPLE", "secret", "token", expires),
            _settings(),
            "reused the cached session",
        )
    env = child.started[0].env
    assert env[deliver.SESSION_MARKER] == "default"
    assert env["AWS_SESSION_TOKEN"] == "token"
    assert "AWS_PROFILE" not in env


def test_a_command_windows_cannot_find_is_not_run(windows, child, monkeypatch):
    def not_found(argv: list[str], env: dict[str, str]) -> None:
        raise FileNotFoundError(2, "The system cannot find the file specified")  # CreateProcess

    monkeypatch.setattr(subprocess, "Popen", not_found)
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    with pytest.raises(CommandNotRun, match="cannot run 'nope': not found") as refused:
        deliver.execute(
            ("nope",), Credentials("ASIAEXAMPLE", "s", "t", expires), _settings(), "new session"
        )
    assert refused.value.exit_code == 127


# -- the shell, the cache's place and what the cache trusts ----------------------------------------


def test_an_undetected_shell_on_windows_is_powershell_with_a_hint(windows, monkeypatch):
    def no_proc() -> str | None:
        raise FileNotFoundError("/proc")  # stands for Windows, which has no /proc

    monkeypatch.setattr(shells, "_proc_shell", no_proc)
    monkeypatch.setattr(shells, "_shellingham", lambda: None)  # nothing in the process tree
    detected = shells.detect(None)
    assert detected.name == "pwsh"
    assert detected.hint == (
        "could not tell which shell is calling; writing PowerShell (use --shell)"
    )
    monkeypatch.setattr(shells, "_shellingham", lambda: "tclsh")
    assert shells.detect(None).name == "pwsh"
    assert "writing PowerShell (use --shell)" in (shells.detect(None).hint or "")
    monkeypatch.setattr(shells, "_shellingham", lambda: "cmd")  # shellingham found cmd.exe
    assert shells.detect(None) == shells.Detected("cmd")


def test_the_cache_lives_in_local_app_data_on_windows(windows, monkeypatch):
    monkeypatch.setenv("LOCALAPPDATA", "/Users/me/AppData/Local")  # stands for C:\Users\…
    assert paths.cache_dir() == os.path.join("/Users/me/AppData/Local", "mfa-env")


def test_on_windows_the_cache_is_trusted_by_kind_not_by_mode(windows: FakeMsvcrt, isolate: Path):
    """Windows reports every directory as 0777 and st_uid 0: no owner or mode to check there."""
    key = cache.SessionKey("source", "arn:aws:iam::123456789012:mfa/me")
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    creds = Credentials("ASIAEXAMPLE", "secret", "token", expires)
    cache.store_session(key, creds)  # no fchmod, fchown or geteuid on the way
    directory = Path(paths.cache_dir())
    assert directory.parent == isolate / "AppData" / "Local"
    directory.chmod(0o777)
    assert cache.load_session(key, datetime.now(timezone.utc)) == creds
    entry = Path(key.path())
    entry.unlink()
    entry.mkdir()  # not a regular file: still refused there
    with pytest.raises(cache.Distrust, match="is not a regular file"):
        cache.load_session(key, datetime.now(timezone.utc))


def test_on_posix_the_same_directory_is_not_trusted(isolate: Path):
    key = cache.SessionKey("source", "arn:aws:iam::123456789012:mfa/me")
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    cache.store_session(key, Credentials("ASIAEXAMPLE", "secret", "token", expires))
    Path(paths.cache_dir()).chmod(0o777)
    with pytest.raises(cache.Distrust, match="can be changed by group or others"):
        cache.load_session(key, datetime.now(timezone.utc))


def test_memory_files_are_linux_only(windows):
    assert platform.memory_files([b"[default]\n", b""]) is None
