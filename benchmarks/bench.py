"""Whole-process times of mfa-env's paths, next to the interpreter, a bare boto3 script and peers.

    make bench                      # = python benchmarks/bench.py --peers
    python benchmarks/bench.py [--runs 30] [--peers]

mfa-env is measured as users run it: a regular (not editable) install by a current pip, in its
own venv under .bench/, the way pipx installs it (pip 23's console-script launcher imports `re`,
a fifth of a cache hit's budget; current pip's does not). The floor is what a shell pays for any
Python tool, `python -c pass` from that same venv. With --peers, awsume and aws-mfa are installed
into .bench/peers and measured on their cached paths against the same emulator (a moto server
this script starts on 127.0.0.1, in a throw-away HOME). Prints a Markdown table: median and
10th-90th percentile of wall-clock time per run, and each median's ratio to the floor; then the
ratios the project holds itself to, side by side (with --write-readme, into the README too).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
sys.path.insert(0, str(ROOT))
from tests.helpers import moto_server, secret_service  # noqa: E402  (the tests' servers)


def _venv(path: Path, *packages: str, refresh: str | None = None) -> Path:
    """A venv at path with packages installed; `refresh` is reinstalled on every call."""
    python = path / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # the launcher users get today
    subprocess.run([*pip, *packages], check=True)  # a no-op once they are there
    if refresh:
        subprocess.run([*pip, "--no-deps", "--force-reinstall", refresh], check=True)
    return path / "bin"


def _once(argv: list[str], env: dict[str, str], stdin: bytes) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, input=stdin)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    return elapsed * 1000


# Forks the command from a bare interpreter and prints its peak RSS. Not from this script: a
# child's peak counts the memory of the process it was forked (or vforked) from, up to its exec.
_RSS_PROBE = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_pid, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss if os.waitstatus_to_exitcode(status) == 0 else -1)\n"
)


def _peak_rss(argv: list[str], env: dict[str, str], stdin: bytes) -> float:
    """One run's peak resident memory in MiB."""
    probe = [sys.executable, "-S", "-c", _RSS_PROBE, *argv]
    done = subprocess.run(probe, env=env, input=stdin, capture_output=True, check=True)
    kib = int(done.stdout.decode().split()[-1])
    if kib < 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    return kib / 1024


def _concurrent(argv: list[str], env: dict[str, str], count: int) -> float:
    """Milliseconds for `count` runs started at once, all of them done."""
    start = time.perf_counter()
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]
    if any(proc.wait() for proc in procs):
        raise SystemExit(f"{argv} failed in a concurrent run")
    return (time.perf_counter() - start) * 1000


def _scaled(home: Path, profiles: int) -> Path:
    """A copy of the bench HOME whose AWS files hold `profiles` more profiles, before its own."""
    copy = home / f"scaled-{profiles}"
    for part in (".aws", ".cache"):
        shutil.copytree(home / part, copy / part, symlinks=True)
    for name, header in (("credentials", "[p{i}]"), ("config", "[profile p{i}]")):
        path = copy / ".aws" / name
        extra = "".join(
            f"{header.format(i=i)}\naws_access_key_id = AKIA{i:016d}\n"
            f"aws_secret_access_key = secret{i}\nregion = eu-west-1\n\n"
            for i in range(profiles)
        )
        path.write_text(extra + path.read_text())
    return copy


def _time_all(
    cases: list[tuple[str, list[str], dict[str, str], bytes]], runs: int
) -> list[list[float]]:
    """Samples per case, taken in rounds of one run of every case: whatever else the machine
    does meanwhile weighs on every case alike, and the ratios to the floor stay fair. Each round
    runs the cases in a new order: a run just after a heavy one (a new session, a peer) is
    slower, and a fixed order would always put the same case there."""
    for _name, argv, env, stdin in cases:  # warm-up: fill the page cache
        _once(argv, env, stdin)
        _once(argv, env, stdin)
    samples: list[list[float]] = [[] for _ in cases]
    order = random.Random(0)
    for _ in range(runs):
        for i in order.sample(range(len(cases)), len(cases)):
            _name, argv, env, stdin = cases[i]
            samples[i].append(_once(argv, env, stdin))
    return samples


def _row(name: str, samples: list[float], floor: float | None, rss: float) -> str:
    q = statistics.quantiles(samples, n=10)
    median = statistics.median(samples)
    ratio = f"{median / floor:.2f}x" if floor else "1.00x"
    return f"| {name} | {median:.1f} ms | {q[0]:.1f}-{q[-1]:.1f} ms | {ratio} | {rss:.1f} MiB |"


def _setup(home: Path, env: dict[str, str]) -> str:
    """An IAM user in moto whose keys are [default] (mfa-env, awsume) and [bench-long-term]
    (aws-mfa's convention); returns the MFA serial."""
    script = """
import boto3, sys
iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="a")
iam.create_user(UserName="bench")
key = iam.create_access_key(UserName="bench")["AccessKey"]
device = iam.create_virtual_mfa_device(VirtualMFADeviceName="bench")["VirtualMFADevice"]
serial = device["SerialNumber"]
iam.enable_mfa_device(UserName="bench", SerialNumber=serial, AuthenticationCode1="123456",
                      AuthenticationCode2="654321")
keys = (f"aws_access_key_id = {key['AccessKeyId']}\\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\\n")
aws = sys.argv[1] + "/.aws"
open(aws + "/credentials", "w").write(
    f"[default]\\n{keys}[bench-long-term]\\n{keys}aws_mfa_device = {serial}\\n")
open(aws + "/config", "w").write(f"[default]\\nmfa_serial = {serial}\\n")
print(serial)
"""
    (home / ".aws").mkdir(mode=0o700)
    done = subprocess.run(
        [sys.executable, "-c", script, str(home)], env=env, check=True, capture_output=True
    )
    return done.stdout.decode().strip()


def _cpu() -> str:
    """The processor's model name, where the system says it."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    return platform.processor() or "unknown processor"


FLOOR = "interpreter floor: python -c pass"
HIT = "mfa-env USER, cache hit, --shell bash"
BRIEF = "mfa-env --status --brief (a prompt segment)"
KEYRING_HIT = "mfa-env USER, keyring cache hit (keys and sessions in the keyring), --shell bash"


def _marks(medians: dict[str, float]) -> list[str]:
    """The ratios the project holds itself to (issue 23), each with its mark."""
    rows = [
        ("a cache hit", HIT, FLOOR, "`python -c pass`", 1.5),
        ("`--status --brief`, every prompt", BRIEF, FLOOR, "`python -c pass`", 1.25),
        ("a keyring cache hit", KEYRING_HIT, HIT, "a file cache hit", 3.0),
    ]
    lines = ["| path | against | ratio | mark |", "| --- | --- | --- | --- |"]
    for label, case, base, shown, mark in rows:
        ratio = medians[case] / medians[base]
        lines.append(f"| {label} | {shown} | {ratio:.2f}x | at most {mark:g}x |")
    return lines


def _side_by_side(medians: dict[str, float]) -> list[str]:
    """Each path with more profiles against itself with few, and a new session against the
    bare scripts: ratios of medians from the same rounds."""
    hit, new, write = (
        medians[HIT],
        medians["mfa-env USER CODE, new session (--no-cache)"],
        medians["-w NAME, cache hit"],
    )
    rows = [
        "Each path with more profiles in the AWS files, against itself without them:",
        "",
        "| path | 1,000 more profiles | 10,000 more profiles |",
        "| --- | --- | --- |",
    ]
    for label, base, case in (
        ("cache hit", hit, "cache hit"),
        ("new session", new, "new session (--no-cache)"),
        ("`-w NAME`", write, "-w NAME"),
    ):
        ratios = [medians[f"{case}, {n:,} more profiles"] / base for n in (1000, 10000)]
        rows.append(f"| {label} | {ratios[0]:.2f}x | {ratios[1]:.2f}x |")
    init = medians["mfa-env --init bash (each shell start)"]
    rows += ["", f"`--init bash`, at each shell start: {init / hit:.2f}x a cache hit."]
    bare = medians["bare boto3 GetSessionToken script"]
    core = medians["bare botocore GetSessionToken script"]
    rows += [
        "",
        f"A new session: {new / bare:.2f}x the bare boto3 script, {new / core:.2f}x the bare "
        "botocore script.",
    ]
    return rows


def _write_between_markers(path: Path, text: str) -> None:
    start, end = "<!-- benchmark:start -->\n", "<!-- benchmark:end -->\n"
    head, _, rest = path.read_text().partition(start)
    _, found, tail = rest.partition(end)
    if not found:
        raise SystemExit(f"{path} has no benchmark markers")
    path.write_text(f"{head}{start}{text}{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--peers", action="store_true", help="install and measure awsume, aws-mfa")
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="also write the table into docs/performance.md and the marks into README.md",
    )
    args = parser.parse_args()

    bin_dir = _venv(BENCH / "venv", f"{ROOT}[keyring]", refresh=str(ROOT))
    peers_dir = _venv(BENCH / "peers", "awsume", "aws-mfa") if args.peers else None
    home = Path(tempfile.mkdtemp(prefix="mfa-env-bench-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        url = stack.enter_context(moto_server(home / "moto.log"))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "MFA_ENV_", "XDG_", "DIRENV_", "DBUS_"))
        }
        env.update(HOME=str(home), AWS_ENDPOINT_URL=url)
        serial = _setup(home, env)
        mfa_env = str(bin_dir / "mfa-env")
        python = str(bin_dir / "python")
        # The sessions in a real Secret Service too, for the keyring cache's case.
        service = stack.enter_context(secret_service(home))
        # As the keyring's users have it: the long-term keys moved there by --store-keys (the
        # file keeps their ID), the sessions cached there, in a HOME of its own.
        keyring_home = home / "keyring"
        shutil.copytree(home / ".aws", keyring_home / ".aws")
        keyring_env = {
            **env,
            "HOME": str(keyring_home),
            "DBUS_SESSION_BUS_ADDRESS": service["DBUS_SESSION_BUS_ADDRESS"],
            "MFA_ENV_CACHE": "keyring",
        }
        subprocess.run(
            [mfa_env, "--store-keys", "default"], env=keyring_env, check=True, capture_output=True
        )
        for primed in (env, keyring_env):
            subprocess.run(
                [mfa_env, "bench", "123456", "-s", "bash"],
                env=primed,
                check=True,
                capture_output=True,
            )
        call = (
            f"get_session_token(SerialNumber='{serial}', TokenCode='123456', DurationSeconds=43200)"
        )
        bare = f"import boto3; boto3.client('sts', region_name='us-east-1').{call}"
        bare_core = (
            "import botocore.session; botocore.session.get_session()"
            f".create_client('sts', region_name='us-east-1').{call}"
        )
        status_env = {
            **env,
            "AWS_SESSION_TOKEN": "x",
            "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z",
        }
        cases: list[tuple[str, list[str], dict[str, str], bytes]] = [
            (FLOOR, [python, "-c", "pass"], env, b""),
            (
                "import floor: python -c 'import click, shellingham'",
                [python, "-c", "import click, shellingham"],
                env,
                b"",
            ),
            (
                "mfa-env USER, cache hit, in direnv",
                [mfa_env, "bench"],
                {**env, "DIRENV_IN_ENVRC": "1"},
                b"",
            ),
            # The long form: click builds (and discards) a "no such option" error, with gettext
            # and difflib, for every short option it parses, ~1.5 ms.
            (
                HIT,
                [mfa_env, "bench", "--shell", "bash"],
                env,
                b"",
            ),
            ("mfa-env USER, cache hit, shell detected", [mfa_env, "bench"], env, b""),
            (
                KEYRING_HIT,
                [mfa_env, "bench", "--shell", "bash"],
                keyring_env,
                b"",
            ),
            ("mfa-env --status", [mfa_env, "--status"], status_env, b""),
            (
                BRIEF,
                [mfa_env, "--status", "--brief"],
                status_env,
                b"",
            ),
            # What every new shell runs once its rc file holds the --init line.
            ("mfa-env --init bash (each shell start)", [mfa_env, "--init", "bash"], env, b""),
            (
                "mfa-env USER CODE, new session (--no-cache)",
                [mfa_env, "bench", "123456", "--no-cache", "-s", "bash"],
                env,
                b"",
            ),
            ("bare boto3 GetSessionToken script", [python, "-c", bare], env, b""),
            ("bare botocore GetSessionToken script", [python, "-c", bare_core], env, b""),
        ]
        # The same paths with the user's AWS files grown by 1,000 and 10,000 profiles.
        for profiles in (1000, 10000):
            scaled = {**env, "HOME": str(_scaled(home, profiles))}
            cases += [
                (
                    f"cache hit, {profiles:,} more profiles",
                    [mfa_env, "bench", "--shell", "bash"],
                    scaled,
                    b"",
                ),
                (
                    f"new session (--no-cache), {profiles:,} more profiles",
                    [mfa_env, "bench", "123456", "--no-cache", "-s", "bash"],
                    scaled,
                    b"",
                ),
                (
                    f"-w NAME, {profiles:,} more profiles",
                    [mfa_env, "bench", "-s", "bash", "-w", "w"],
                    scaled,
                    b"",
                ),
            ]
        cases.insert(
            5, ("-w NAME, cache hit", [mfa_env, "bench", "-s", "bash", "-w", "w"], env, b"")
        )
        if peers_dir is not None:
            # aws-mfa makes its STS client with no region: that fails once AWS_ENDPOINT_URL is set.
            peer_env = {**env, "AWS_DEFAULT_REGION": "us-east-1"}
            subprocess.run(
                [str(peers_dir / "awsumepy"), "default", "--mfa-token", "123456"],
                env=peer_env,
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [str(peers_dir / "aws-mfa"), "--profile", "bench"],
                env=peer_env,
                input=b"123456\n",
                check=True,
                capture_output=True,
            )
            cases += [
                ("awsume, cached", [str(peers_dir / "awsumepy"), "default"], peer_env, b""),
                (
                    "aws-mfa, cached",
                    [str(peers_dir / "aws-mfa"), "--profile", "bench"],
                    peer_env,
                    b"",
                ),
            ]
        lines = [
            f"Machine: {_cpu()}, {platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"{args.runs} rounds of every case, after 2 warm-up runs.",
            "",
            "| case | median | p10-p90 | vs floor | peak RSS |",
            "| --- | --- | --- | --- | --- |",
        ]
        print("\n".join(lines), flush=True)
        floor = None
        medians: dict[str, float] = {}
        for (name, *run), samples in zip(cases, _time_all(cases, args.runs), strict=True):
            lines.append(_row(name, samples, floor, _peak_rss(*run)))
            print(lines[-1], flush=True)
            medians[name] = statistics.median(samples)
            if floor is None:
                floor = medians[name]
        marks = _marks(medians)
        lines += ["", "The marks:", "", *marks, "", *_side_by_side(medians)]
        print("\n".join(lines[-(len(marks) + 14) :]), flush=True)
        big = {**env, "HOME": str(_scaled(home, 50000))}
        argv = [mfa_env, "bench", "-s", "bash", "-w", "w"]
        once = statistics.median(_once(argv, big, b"") for _ in range(3))
        lines += [
            "",
            f"`-w NAME` with 50,000 more profiles: {once / 1000:.2f} s (median of 3), inside the "
            "credentials file lock's 10-second timeout.",
        ]
        print(lines[-1], flush=True)
        together = [_concurrent([mfa_env, "bench", "--shell", "bash"], env, 50) for _ in range(5)]
        lines += [
            "",
            f"50 cache hits started at once: all done in {statistics.median(together):.0f} ms "
            f"(median of 5), {statistics.median(together) / 50:.1f} ms a run on {os.cpu_count()} "
            "cores.",
        ]
        print(lines[-1], flush=True)
        if args.write_readme:
            _write_between_markers(ROOT / "docs" / "performance.md", "\n".join(lines) + "\n")
            summary = f"Measured by `make bench` on {_cpu()}, {os.cpu_count()} cores:"
            _write_between_markers(ROOT / "README.md", "\n".join([summary, "", *marks]) + "\n")


if __name__ == "__main__":
    main()
