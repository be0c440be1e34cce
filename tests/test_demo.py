"""`make demo` and the README's emulator walkthrough: the demo's TOTP against RFC 6238, its
helper run twice against the same server, the narration's colour, and the walkthrough's code
block run as written, twice."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from tests.helpers import ROOT, admin_client, installed, mfa_env, need_free_port, snapshot

spec = importlib.util.spec_from_file_location("demo_aws", ROOT / "scripts" / "demo_aws.py")
assert spec
assert spec.loader
demo_aws = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_aws)

# The RFC's SHA-1 seed is the ASCII "12345678901234567890"; in base32, as IAM hands seeds out:
SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
ESC = "\x1b"


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_totp_matches_rfc_6238(at: int, code: str):
    assert demo_aws.totp(SEED, at=at, digits=8) == code
    assert demo_aws.totp(SEED, at=at) == code[-6:]


def helper(*args: str) -> subprocess.CompletedProcess:
    """scripts/demo_aws.py as the README runs it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo_aws.py"), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def keys_in(path: Path) -> dict[str, str]:
    text = path.read_text()
    assert text.startswith(demo_aws.MARKER + "\n")
    found = dict(re.findall(r"^(aws_\w+) = (\S+)$", text, re.MULTILINE))
    assert set(found) == {"aws_access_key_id", "aws_secret_access_key"}
    return found


def caller(moto_url: str, keys: dict[str, str]) -> str:
    import boto3

    sts = boto3.client("sts", endpoint_url=moto_url, region_name="us-east-1", **keys)
    return sts.get_caller_identity()["Arn"]


def test_setup_twice_against_one_server_gives_working_keys_and_codes(
    moto_url: str, isolate: Path, monkeypatch: pytest.MonkeyPatch
):
    """The README's walkthrough re-run with the server still up: no EntityAlreadyExists, and the
    second run leaves exactly one key and one device, whose seed is the one printed."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    name = f"demo-{uuid.uuid4().hex[:8]}"
    credentials = isolate / ".aws" / "credentials"
    iam = admin_client(moto_url, "iam")

    runs = []
    for _ in range(2):
        done = helper("setup", name)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        seed = done.stdout.strip()
        assert re.fullmatch(r"[A-Z2-7]+", seed)
        runs.append((seed, keys_in(credentials)))
    (seed1, keys1), (seed2, keys2) = runs
    assert seed1 != seed2
    assert keys1["aws_access_key_id"] != keys2["aws_access_key_id"]
    assert credentials.stat().st_mode & 0o777 == 0o600

    # One key, the one written; the first run's key is gone.
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [keys2["aws_access_key_id"]]
    user_arn = f"arn:aws:iam::123456789012:user/{name}"
    assert caller(moto_url, keys2) == user_arn
    assert caller(moto_url, keys1) != user_arn

    # One enabled device, whose seed is the printed one: codes computed from it are its codes.
    serial = f"arn:aws:iam::123456789012:mfa/{name}"
    assert [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=name)["MFADevices"]] == [
        serial
    ]
    # Every page: the session's other tests have made hundreds of devices in this server.
    pages = iam.get_paginator("list_virtual_mfa_devices").paginate()
    devices = {d["SerialNumber"]: d for page in pages for d in page["VirtualMFADevices"]}
    stored = devices[serial]["Base32StringSeed"]
    assert (stored.decode() if isinstance(stored, bytes) else stored) == seed2
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["mfa-only"]

    code = helper("totp", seed2)
    assert code.returncode == 0
    assert re.fullmatch(r"\d{6}\n", code.stdout)
    result = mfa_env(name, code.stdout.strip())
    assert result.returncode == 0, result.stderr
    assert "export AWS_SESSION_TOKEN=" in result.stdout
    assert "new session" in result.stderr


def test_setup_recovers_from_a_run_that_stopped_half_way(
    moto_url: str, isolate: Path, monkeypatch: pytest.MonkeyPatch
):
    """A device created but never enabled (the run was interrupted) does not block the name."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    name = f"demo-{uuid.uuid4().hex[:8]}"
    iam = admin_client(moto_url, "iam")
    iam.create_user(UserName=name)
    iam.create_virtual_mfa_device(VirtualMFADeviceName=name)

    done = helper("setup", name)
    assert done.returncode == 0, done.stderr
    devices = iam.list_mfa_devices(UserName=name)["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [f"arn:aws:iam::123456789012:mfa/{name}"]


def test_setup_never_overwrites_your_own_credentials(
    moto_url: str, isolate: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    credentials = isolate / ".aws" / "credentials"
    credentials.parent.mkdir()
    mine = "[default]\naws_access_key_id = AKIAREALREALREALREAL\naws_secret_access_key = s\n"
    credentials.write_text(mine)

    name = f"demo-{uuid.uuid4().hex[:8]}"
    done = helper("setup", name)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("demo_aws.py: error: ")
    assert "was not written by this script" in done.stderr
    assert credentials.read_text() == mine
    # Checked before anything changed in the emulator.
    iam = admin_client(moto_url, "iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=name)


def test_setup_without_an_endpoint_does_not_talk_to_aws(isolate: Path):
    done = helper("setup", "me")
    assert done.returncode == 1
    assert done.stderr == (
        "demo_aws.py: error: AWS_ENDPOINT_URL is not set; point it at the moto server\n"
    )
    assert not (isolate / ".aws").exists()


def port_is_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def run_demo(env: dict[str, str], stderr_on_terminal: bool) -> tuple[int, str, str]:
    """scripts/demo.sh as CI runs it (no stdin, no controlling terminal) with the test venv,
    its stderr on a pipe or on a pseudo-terminal. Returns the status, stdout and stderr."""
    env = {**env, "VENV": sys.prefix}
    command = ["bash", str(ROOT / "scripts" / "demo.sh")]
    common = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "env": env,
        "start_new_session": True,
    }
    if not stderr_on_terminal:
        done = subprocess.run(command, stderr=subprocess.PIPE, timeout=120, **common)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    import pty

    leader, follower = pty.openpty()
    screen = bytearray()

    def read() -> None:
        try:
            while chunk := os.read(leader, 4096):
                screen.extend(chunk)
        except OSError:  # EIO: every writer to the terminal is gone
            pass

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with subprocess.Popen(command, stderr=follower, **common) as proc:
            os.close(follower)
            stdout = proc.stdout.read() if proc.stdout else b""
            status = proc.wait(timeout=120)
        reader.join(timeout=30)
    finally:
        os.close(leader)
    return status, stdout.decode(), screen.decode().replace("\r\n", "\n")


def check_demo(status: int, stdout: str, stderr: str) -> None:
    """What every run of the demo must show, colour or not."""
    assert status == 0, stderr
    assert stdout == ""  # every message on stderr
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
    assert "Traceback" not in plain
    assert "would be refused" not in plain  # the old claim the emulator could not back up
    # The emulator's answers are reported as they came, and narrated to match.
    table = re.search(r"^long-term keys .* (\S+)$\n^session keys +(\S+) +(\S+)", plain, re.M)
    assert table, plain
    if table[1] == "allowed":
        assert "it does not enforce the policy" in plain
    if table[2] != "arn:aws:iam::123456789012:user/demo-user":
        assert "cannot tell whose session this is" in plain
    if "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n" in plain:
        assert "moto hands it out for every session" in plain
    assert "The second shell holds the first one's session" in plain
    if installed("direnv"):  # the demo shows direnv where it is installed, as in CI
        assert "direnv exec ~/project printenv AWS_SESSION_TOKEN: the same cached session" in plain
    assert plain.endswith("(moto server stopped, demo HOME removed)\n")
    port = re.search(r"on 127\.0\.0\.1:(\d+)\n", plain)
    assert port
    assert port_is_closed(int(port[1]))


def test_demo_on_a_pipe_has_no_escape_codes():
    status, stdout, stderr = run_demo(dict(os.environ), stderr_on_terminal=False)
    check_demo(status, stdout, stderr)
    assert ESC not in stderr


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("", True), ("1", False)])
def test_demo_colours_only_a_terminal_without_no_color(no_color: str | None, coloured: bool):
    """https://no-color.org: any non-empty NO_COLOR turns colour off; an empty one does not."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    status, stdout, stderr = run_demo(env, stderr_on_terminal=True)
    check_demo(status, stdout, stderr)
    if coloured:
        assert "\x1b[1m== Done\x1b[0m" in stderr
    else:
        assert ESC not in stderr


def readme_walkthrough() -> str:
    text = (ROOT / "docs" / "development.md").read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```$", text, re.S | re.M)
    found = [b for b in blocks if "scripts/demo_aws.py setup" in b]
    assert len(found) == 1, "docs/development.md has one emulator walkthrough"
    return found[0]


def test_readme_walkthrough_runs_twice_and_leaves_nothing_behind(tmp_path: Path, isolate: Path):
    """The README's block, as written, twice in a row, in a reader's shell that has AWS settings
    and caches of its own: both runs work, and leave no server, no temp HOME, and the reader's
    HOME, cache and variables untouched."""
    block = readme_walkthrough()
    activate = ". .venv-demo/bin/activate\n"
    assert activate in block
    # The one change: this test's venv (with moto) instead of `make demo`'s.
    block = block.replace(activate, f". {Path(sys.prefix) / 'bin' / 'activate'}\n")
    port = int(re.search(r"-p (\d+)", block)[1])  # type: ignore[index]
    need_free_port(port)  # the README's block names a fixed port, for a reader to copy

    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    reader_cache = tmp_path / "reader-cache"
    env = {
        **os.environ,
        "TMPDIR": str(tmpdir),  # where the walkthrough's mktemp HOME goes
        "XDG_CACHE_HOME": str(reader_cache),
        "AWS_PROFILE": "work",
        "AWS_ACCESS_KEY_ID": "AKIAREADERSOWNKEYXXX",
        "AWS_SECRET_ACCESS_KEY": "readers-own-secret",
        "AWS_SESSION_TOKEN": "readers-own-session",
        "MFA_ENV_MFA_COMMAND": "false",
    }
    before = snapshot(isolate)
    for _ in range(2):
        done = subprocess.run(
            ["bash", "-c", block + 'echo; echo "after: $AWS_SESSION_TOKEN $HOME"\n'],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "mfa-env: new session for profile 'default'" in done.stderr
        assert "mfa-env: reused the cached session" in done.stderr
        # The reader's shell after the block: its own session and HOME, as before.
        assert done.stdout.endswith(f"\nafter: readers-own-session {isolate}\n")
        if installed("direnv"):
            # direnv exec printed the session it loaded from .envrc: the block's, not the reader's.
            token = done.stdout.splitlines()[0]
            assert token
            assert token != "readers-own-session"
        assert port_is_closed(port)
        assert list(tmpdir.iterdir()) == []
        assert not reader_cache.exists()
        assert snapshot(isolate) == before
