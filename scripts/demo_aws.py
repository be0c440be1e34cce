"""Helpers for `make demo`: set up a demo IAM user in the emulator, and compute TOTP codes.

python scripts/demo_aws.py setup USER   -> writes ~/.aws/credentials, prints the device seed
python scripts/demo_aws.py totp SEED    -> prints the current six-digit code (RFC 6238)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import sys
import time


def totp(seed_b32: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP with HMAC-SHA1, as an authenticator app computes it from the QR code's seed."""
    key = base64.b32decode(seed_b32.upper() + "=" * (-len(seed_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F  # RFC 4226 §5.3, dynamic truncation
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def setup(user: str) -> str:
    """Create USER with long-term keys and an enabled virtual MFA device; return its seed."""
    import boto3

    admin = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin"}
    iam = boto3.client("iam", region_name="us-east-1", **admin)
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
    seed = device["Base32StringSeed"]
    seed = seed.decode() if isinstance(seed, bytes) else seed
    now = time.time()
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp(seed, now - 30),
        AuthenticationCode2=totp(seed, now),
    )
    path = os.path.expanduser("~/.aws/credentials")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f"[default]\naws_access_key_id = {key['AccessKeyId']}\n"
            f"aws_secret_access_key = {key['SecretAccessKey']}\n"
        )
    return seed


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "setup":
        print(setup(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "totp":
        print(totp(sys.argv[2]))
    else:
        sys.exit(__doc__)
