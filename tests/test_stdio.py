"""stdout and stderr as a process has them, through the real command. Closed, a pipe nobody
reads any more, or a full disk: a run ends with its own status (2 for a usage error, 1 where
stdout lost the statements) and at most one line, never a traceback or Python's status 120 (a
flush at exit that failed). In an encoding that cannot hold a profile name (PYTHONIOENCODING):
the statements whole, in UTF-8, and the messages with escapes. The in-process fuzzers
(tests/fast/test_boundaries.py) cover every run shape; these show what only a process shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import IamUser

USAGE_ERRORS = [
    (["--profle", "x"], "No such option '--profle'"),
    (["--shell", "tcsh2"], "'tcsh2' is not one of"),
]


def _run(
    args: list[str], stdout: str = "read", stderr: str = "read", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """The command with stdout and stderr each read ("read"), a pipe whose reader is gone
    ("closed-pipe"), closed before it starts (`>&-`, "closed") or /dev/full ("full"):
    (status, stdout, stderr), each "" where not read."""
    fds: list[int] = []

    def stream(how: str) -> int:
        if how == "read":
            return subprocess.PIPE
        if how == "closed-pipe":
            read, write = os.pipe()
            os.close(read)
            fds.append(write)
            return write
        assert how in ("closed", "full"), how
        fds.append(os.open("/dev/full", os.O_WRONLY))  # replaced by nothing when "closed"
        return fds[-1]

    closing = [number for number, how in ((1, stdout), (2, stderr)) if how == "closed"]

    def close() -> None:
        for number in closing:
            os.close(number)

    try:
        done = subprocess.run(
            [sys.executable, "-m", "mfa_env", *args],
            stdin=subprocess.DEVNULL,
            stdout=stream(stdout),
            stderr=stream(stderr),
            preexec_fn=close if closing else None,
            env=env,
            timeout=60,
        )
    finally:
        for fd in fds:
            os.close(fd)
    return done.returncode, (done.stdout or b"").decode(), (done.stderr or b"").decode()


@pytest.mark.parametrize(("args", "words"), USAGE_ERRORS)
@pytest.mark.parametrize("stdout", ["closed-pipe", "closed", "full"])
def test_a_usage_error_into_a_closed_stdout_is_one_line_and_status_2(
    args: list[str], words: str, stdout: str
) -> None:
    status, _out, err = _run(args, stdout=stdout)
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mfa-env: error: ")
    assert words in lines[0]


@pytest.mark.parametrize(("args", "_words"), USAGE_ERRORS)
@pytest.mark.parametrize("stderr", ["closed-pipe", "closed", "full"])
def test_a_usage_error_with_no_stderr_keeps_status_2_and_fails_the_eval(
    args: list[str], _words: str, stderr: str
) -> None:
    assert _run(args, stderr=stderr)[:2] == (2, "false\n")
    assert _run(args, stdout="closed-pipe", stderr=stderr)[0] == 2


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_click_own_text_into_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    assert _run(args, stdout="closed-pipe") == (1, "", "")


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_click_own_text_onto_a_full_disk_is_one_line(args: list[str]) -> None:
    assert _run(args, stdout="full") == (
        1,
        "",
        "mfa-env: error: could not write to stdout (No space left on device)\n",
    )


def test_tab_completion_into_a_closed_pipe_ends_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_MFA_ENV_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "mfa-env --")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert _run([], stdout="closed-pipe") == (1, "", "")


def test_statements_into_a_closed_pipe_end_quietly_with_status_1(user: IamUser) -> None:
    """A new session (click), then the cached one (the fast path): stderr has said what was had,
    stdout could not take it, and the status says so; nothing more."""
    for args, how in ((["-s", "bash", "123456"], "new session"), (["-s", "bash"], "reused")):
        status, _out, err = _run(args, stdout="closed-pipe")
        assert status == 1
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"mfa-env: {how}")


def test_statements_onto_a_full_disk_say_so_in_one_more_line(user: IamUser) -> None:
    status, _out, err = _run(["-s", "bash", "123456"], stdout="full")
    assert status == 1
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[1] == "mfa-env: error: could not write to stdout (No space left on device)"


@pytest.mark.parametrize("stderr", ["closed-pipe", "closed", "full"])
def test_no_stderr_still_hands_out_the_statements(user: IamUser, stderr: str) -> None:
    """stderr is for the person; when no one reads it, the shell still gets the session."""
    status, out, _err = _run(["-s", "bash", "123456"], stderr=stderr)
    assert status == 0
    assert "export AWS_SESSION_TOKEN='" in out


@pytest.mark.parametrize("encoding", ["latin-1", "ascii", "utf-16"])
def test_a_name_the_streams_cannot_encode_reaches_stdout_whole(
    user: IamUser, isolate: Path, encoding: str
) -> None:
    """The issue's case: stderr had said "reused the cached session" before stdout failed."""
    name = "\u0142\xf3d\u017a"  # łódź: ó is latin-1, ł and ź are not
    credentials = isolate / ".aws" / "credentials"
    credentials.write_text(
        credentials.read_text().replace("[default]", f"[{name}]"), encoding="utf-8"
    )
    (isolate / ".aws" / "config").write_text(
        f"[profile {name}]\nmfa_serial = {user.serial}\n", encoding="utf-8"
    )
    env = {**os.environ, "AWS_PROFILE": name}
    assert _run(["-s", "bash", "123456"], env=env)[0] == 0  # the session, cached
    env["PYTHONIOENCODING"] = encoding
    done = subprocess.run(
        [sys.executable, "-m", "mfa_env", "-s", "bash"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # The stream's encoding where it holds the name (UTF-16), else UTF-8: whole either way.
    statements = done.stdout.decode("utf-16" if encoding == "utf-16" else "utf-8")
    assert f"export MFA_ENV_PROFILE='{name}'" in statements
    said = f"mfa-env: reused the cached session for profile '{name}'"
    lines = done.stderr.decode(encoding).splitlines()
    assert lines[-1].startswith(said.encode(encoding, "backslashreplace").decode(encoding))
    assert all(line.startswith("mfa-env: ") for line in lines)
