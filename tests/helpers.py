"""Helpers the tests share: the real command in a process, moto users, the real shells.

Fixtures live in conftest.py; everything a test imports lives here."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"

# What no stderr line may carry raw (deliver.printable's specification, written out apart from
# the product's table): C0 but tab, DEL, C1, the line and paragraph separators, bidi controls.
FORBIDDEN = frozenset(
    [
        *map(chr, range(0x00, 0x09)),
        *map(chr, range(0x0A, 0x20)),
        *map(chr, range(0x7F, 0xA0)),
        "\u061c",
        "\u200e",
        "\u200f",
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
        "\u2028",
        "\u2029",
        *map(chr, range(0xD800, 0xE000)),  # lone surrogates: no stream can write them
    ]
)


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """A real moto server in its own process, on a port it binds itself (port 0)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "moto_serve.py")],
            stdout=subprocess.PIPE,
            stderr=out,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line:
            raise RuntimeError(f"moto server did not start; see {log}")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def dead_endpoint() -> Iterator[str]:
    """An address that refuses connections: a port bound (0) but never listened on, held open
    so that nothing else can take it while the test runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass(frozen=True)
class IamUser:
    name: str
    access_key_id: str
    secret_access_key: str
    serial: str
    seed: str


def admin_client(moto_url: str, service: str):
    import boto3

    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key="admin",
    )


def make_user(moto_url: str, devices: int = 1, u2f: int = 0, name: str | None = None) -> IamUser:
    """An IAM user with long-term keys and `devices` virtual MFA devices, enabled."""
    iam = admin_client(moto_url, "iam")
    name = name or f"user-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    serial = seed = ""
    for i in range(u2f):
        # moto has no U2F devices; enabling one by its ARN shape makes ListMFADevices list it.
        iam.enable_mfa_device(
            UserName=name,
            SerialNumber=f"arn:aws:iam::123456789012:u2f/user/{name}/key{i}-ABCDEFGHIJKLMNOP",
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
    for i in range(devices):
        device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{name}-{i}")[
            "VirtualMFADevice"
        ]
        iam.enable_mfa_device(
            UserName=name,
            SerialNumber=device["SerialNumber"],
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )
        if i == 0:
            serial, seed = device["SerialNumber"], device["Base32StringSeed"]
    return IamUser(name, key["AccessKeyId"], key["SecretAccessKey"], serial, seed)


def make_role(moto_url: str, name: str) -> str:
    """A role whose trust policy asks for MFA; returns its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ],
    }
    iam = admin_client(moto_url, "iam")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def write_credentials(home: Path, user: IamUser, profile: str = "default") -> Path:
    path = home / ".aws" / "credentials"
    path.parent.mkdir(exist_ok=True)
    with open(path, "a") as f:
        f.write(
            f"[{profile}]\naws_access_key_id = {user.access_key_id}\n"
            f"aws_secret_access_key = {user.secret_access_key}\n"
        )
    return path


def bin_dir(where: Path) -> Path:
    """A directory with `mfa-env` in it, as a user has it on PATH, running this checkout."""
    bindir = where / "bin"
    bindir.mkdir(exist_ok=True)
    launcher = bindir / "mfa-env"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m mfa_env "$@"\n')
    launcher.chmod(0o755)
    return bindir


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def mfa_env(*args: str, env: dict[str, str] | None = None, timeout: float = 60, **kw) -> Result:
    """The real command in a new process, as a user runs it (stdout captured, so not a tty)."""
    done = subprocess.run(
        [sys.executable, "-m", "mfa_env", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        **kw,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def detached(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 60, **kw
) -> subprocess.CompletedProcess:
    """A program with no controlling terminal (setsid), as in CI, cron or direnv: an mfa-env it
    is or starts (credential_process) cannot prompt, so a missing code is an error, not a hang."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        start_new_session=True,
        **kw,
    )


def no_tty(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """The real command with no controlling terminal."""
    return detached([sys.executable, "-m", "mfa_env", *args], env, **kw)


def on_terminal(*args: str, stderr_too: bool = False) -> tuple[int, bytes, bytes]:
    """The real command with stdout (and stderr, if asked) on a pseudo-terminal, as when the
    user forgets `eval`. Returns the exit status, what reached the screen, and the stderr."""
    import pty

    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mfa_env", *args],
            stdout=follower,
            stderr=follower if stderr_too else subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        os.close(follower)
        screen = b""
        try:
            while chunk := os.read(leader, 4096):
                screen += chunk
        except OSError:  # EIO: the terminal's other end is closed, all is read
            pass
    finally:
        os.close(leader)
    return done.returncode, screen, done.stderr or b""


def need(met: bool, what: str, how: str) -> None:
    """The one way a test is skipped: when what it needs (`what`, said as a sentence) is not
    there. With CI=true it fails instead, so a CI that lost a tool, root or a port never passes
    by skipping; `how` says how to provide it."""
    if met:
        return
    if CI:
        pytest.fail(f"{what}; {how}")
    pytest.skip(f"{what} ({how})")


def require(program: str) -> str:
    """The path of a real shell or tool; in CI a missing one fails the run instead of skipping.

    The shells that `make shells` installs from npm into .tools/ come before PATH, so the
    tests run the pinned version: the real binary first (nushell's package ships it in
    @nushell/<platform>/bin), then the package's node launcher.
    """
    path = _which(program)
    need(path is not None, f"{program} is not installed", "`make test` as root installs it")
    assert path is not None
    return path


def installed(program: str) -> bool:
    """Whether an optional tool is there, for a test that checks more when it is: in CI it
    must be (a missing one fails the run), elsewhere its part is left out."""
    if _which(program) is None and CI:
        pytest.fail(f"{program} is not installed; `make test` as root installs it")
    return _which(program) is not None


def _which(program: str) -> str | None:
    tools = ROOT / ".tools" / "node_modules"
    local = [*sorted(tools.glob("@nushell/*/bin")), tools / ".bin"]
    return shutil.which(program, path=os.pathsep.join(map(str, local))) or shutil.which(program)


def need_root() -> None:
    """For a test that plays another user (chown, setuid): it needs root, as CI has."""
    need(os.geteuid() == 0, "this test plays another user, which needs root", "run it as root")


def need_free_port(port: int) -> None:
    """For a test of text that names a fixed port (the README's): nothing may listen on it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            taken = True
    except OSError:
        taken = False
    need(not taken, f"something else listens on 127.0.0.1:{port}", "stop it")


@contextmanager
def closing_aws_file_copies() -> Iterator[None]:
    """Close the in-memory copies of the AWS files (Linux memfds named mfa-env-aws-file) that
    the product opened meanwhile. It keeps them open for the process's life, for botocore to
    read when it likes, and a run of mfa-env is one process; a test that runs the engine in
    this one, hundreds of times over a session, would otherwise leave so many descriptors open
    that select() refuses the later ones (over 1023)."""
    before = set(os.listdir("/proc/self/fd"))
    try:
        yield
    finally:
        for fd in set(os.listdir("/proc/self/fd")) - before:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:mfa-env-aws-file"):
                    os.close(int(fd))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, to prove that nothing was touched."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@contextmanager
def secret_service(home: Path, unlock: bool = True) -> Iterator[dict[str, str]]:
    """A real Secret Service (GNOME Keyring) on a private D-Bus session bus, its keyrings under
    HOME; yields the environment that reaches it. unlock=False: a keyring nobody unlocked."""
    runtime = home / ".runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    bus = subprocess.run(
        [require("dbus-daemon"), "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    address, pid = bus.stdout.split()[:2]
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    try:
        flags = ["--unlock"] if unlock else ["--start"]
        subprocess.run(
            [require("gnome-keyring-daemon"), *flags, "--components=secrets"],
            input="test-password" if unlock else "",
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=True,
        )
        yield env
    finally:
        # The keyring daemon is ours when its environment names our bus.
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                if address.encode() in (proc / "environ").read_bytes():
                    os.kill(int(proc.name), signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)


# -- property tests: how many examples reached the assertion they exist for ----------------------


@dataclass
class Reach:
    """One run of a property test: the examples hypothesis ran (not those assume() rejected),
    and how many of them reached each check (`reached`)."""

    test: str
    ran: int = 0
    any: int = 0  # examples that reached at least one check
    checks: Counter[str] = field(default_factory=Counter)
    hits: set[str] = field(default_factory=set)  # the current example's

    def summary(self) -> str:
        share = f"{self.any} of {self.ran} examples reached the assertion"
        parts = ", ".join(f"{check} {n}" for check, n in sorted(self.checks.items()))
        return f"{self.test}: {share}" + (f" ({parts})" if len(self.checks) > 1 else "")


# Every counted run in this session, for the summary conftest.py prints at the end.
REACHED: list[Reach] = []
_running: list[Reach] = []
F = TypeVar("F", bound=Callable[..., Any])


def reached(check: str = "assertion") -> None:
    """Where an example gets to the check its property test exists for. Counted by the
    enclosing @counted, and a hypothesis event (pytest --hypothesis-show-statistics)."""
    from hypothesis import event

    _running[-1].hits.add(check)
    event(f"reached: {check}")


def counted(
    least: float = 0.5, why: str = "", each: Mapping[str, float] | None = None
) -> Callable[[F], F]:
    """Above @given: count the examples that call reached(), and fail the test when fewer than
    `least` of them did, or fewer than each[check] of them reached that one of its checks (so
    that every branch is seen). A floor below half needs its reason in `why`. The counts go to
    the end of the pytest run's report."""
    if least < 0.5 and not why:
        raise ValueError("a floor below half needs a reason")

    def decorate(test: F) -> F:
        from hypothesis.errors import StopTest, UnsatisfiedAssumption

        handle = test.hypothesis  # type: ignore[attr-defined]  # only @given tests have it
        inner = handle.inner_test

        @functools.wraps(inner)
        def one(*args: Any, **kwargs: Any) -> Any:
            reach = _running[-1]
            reach.hits = set()
            rejected = False
            try:
                return inner(*args, **kwargs)
            except (UnsatisfiedAssumption, StopTest):
                rejected = True  # by assume(), or out of data mid-draw: not an example
                raise
            finally:
                if not rejected:
                    reach.ran += 1
                    reach.any += bool(reach.hits)
                    reach.checks.update(reach.hits)

        handle.inner_test = one

        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            name = os.environ.get("PYTEST_CURRENT_TEST", test.__qualname__).rsplit(" (", 1)[0]
            reach = Reach(name)
            _running.append(reach)
            try:
                test(*args, **kwargs)
            finally:
                _running.pop()
            REACHED.append(reach)
            assert reach.ran > 0, f"{name}: no example ran"
            assert reach.any >= least * reach.ran, reach.summary() + f"; the floor is {least:.0%}"
            for check, share in (each or {}).items():
                assert reach.checks[check] >= share * reach.ran, (
                    reach.summary() + f"; the floor for {check!r} is {share:.0%}"
                )

        return run  # type: ignore[return-value]

    return decorate
