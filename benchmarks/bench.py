"""Whole-process times of mfa-env's paths, next to the import floor and a bare boto3 script.

    python benchmarks/bench.py [--runs 30]          (make bench)

Starts its own moto server on 127.0.0.1 and works in a throw-away HOME. awsume and aws-mfa are
measured too when they are on PATH, against the same emulator. Prints a Markdown table: the median
and the 10th-90th percentile spread of wall-clock time per run, and each median's ratio to the
import floor (`python -c 'import click, shellingham'`).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("moto server did not start")


def _time(argv: list[str], env: dict[str, str], runs: int, shell: bool = False) -> list[float]:
    samples = []
    for i in range(runs + 2):
        start = time.perf_counter()
        done = subprocess.run(
            argv, env=env, capture_output=True, stdin=subprocess.DEVNULL, shell=shell
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
        if i >= 2:  # two warm-up runs fill the page cache
            samples.append(elapsed * 1000)
    return samples


def _row(name: str, samples: list[float], floor: float | None) -> str:
    q = statistics.quantiles(samples, n=10)
    median = statistics.median(samples)
    ratio = f"{median / floor:.2f}x" if floor else "1.00x"
    return f"| {name} | {median:.1f} ms | {q[0]:.1f}-{q[-1]:.1f} ms | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    spec = importlib.util.spec_from_file_location("demo_aws", ROOT / "scripts" / "demo_aws.py")
    assert spec is not None
    assert spec.loader is not None
    demo_aws = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_aws)

    home = Path(tempfile.mkdtemp(prefix="mfa-env-bench-"))
    port = _free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MFA_ENV_", "XDG_"))
        }
        env.update(HOME=str(home), AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
        os.environ.update(env)
        demo_aws.setup("bench-user")
        serial = "arn:aws:iam::123456789012:mfa/bench-user"
        mfa_env = (
            [str(BIN / "mfa-env")]
            if (BIN / "mfa-env").exists()
            else [sys.executable, "-m", "mfa_env"]
        )
        subprocess.run(
            [*mfa_env, "bench-user", "123456", "-s", "bash"],
            env=env,
            check=True,
            capture_output=True,
        )
        bare = (
            "import boto3; boto3.client('sts', region_name='us-east-1').get_session_token("
            f"SerialNumber='{serial}', TokenCode='123456', DurationSeconds=43200)"
        )
        cases: list[tuple[str, list[str], bool]] = [
            (
                "import floor: python -c 'import click, shellingham'",
                [sys.executable, "-c", "import click, shellingham"],
                False,
            ),
            ("mfa-env, cache hit (--shell bash)", [*mfa_env, "bench-user", "-s", "bash"], False),
            ("mfa-env, cache hit (shell detected)", [*mfa_env, "bench-user"], False),
            ("mfa-env --status", [*mfa_env, "--status"], False),
            (
                "mfa-env, new session (--no-cache)",
                [*mfa_env, "bench-user", "123456", "--no-cache", "-s", "bash"],
                False,
            ),
            ("bare boto3 GetSessionToken script", [sys.executable, "-c", bare], False),
        ]
        status_env = {
            **env,
            "AWS_SESSION_TOKEN": "x",
            "AWS_CREDENTIAL_EXPIRATION": "2999-01-01T00:00:00Z",
        }
        for peer, argv in (("awsume", ["awsume", "-s", "mfa"]), ("aws-mfa", ["aws-mfa"])):
            if shutil.which(peer):
                cases.append((f"{peer}, cached", argv, False))
        print(
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}; {args.runs} runs each\n"
        )
        print("| case | median | p10-p90 | vs floor |")
        print("| --- | --- | --- | --- |")
        floor = None
        for name, argv, shell in cases:
            samples = _time(argv, status_env if "--status" in argv else env, args.runs, shell)
            print(_row(name, samples, floor), flush=True)
            if floor is None:
                floor = statistics.median(samples)
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
