"""The demo's helper: its TOTP against RFC 6238, and setup run twice against the same server."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, admin_client, mfa_env

spec = importlib.util.spec_from_file_location("demo_aws", ROOT / "scripts" / "demo_aws.py")
assert spec
assert spec.loader
demo_aws = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo_aws)

# The RFC's SHA-1 seed is the ASCII "12345678901234567890"; in base32, as IAM hands seeds out:
SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


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
    devices = {d["SerialNumber"]: d for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]}
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
