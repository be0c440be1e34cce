"""Helpers for `make demo` and the README's emulator walkthrough (moto, at AWS_ENDPOINT_URL).

python scripts/demo_aws.py wait         -> waits until a moto server answers at AWS_ENDPOINT_URL
python scripts/demo_aws.py setup USER   -> IAM user USER with fresh long-term keys, written to
                                           ~/.aws/credentials, and a fresh virtual MFA device;
                                           prints the device's seed. Run it again: same user,
                                           new keys and device, old ones deleted.
                                           The user gets an MFA-only policy, as on AWS.
python scripts/demo_aws.py totp SEED    -> prints the current six-digit code (RFC 6238)
python scripts/demo_aws.py probe        -> asks the emulator what it makes of the long-term keys
                                           and of the session in the AWS_* variables, and says
                                           what that shows and what it cannot

Messages go to stderr; stdout holds only the seed or the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request

# The first line of a credentials file written by `setup`: only such a file is overwritten.
MARKER = "# written by scripts/demo_aws.py setup: keys for the AWS emulator, not for AWS"


# The usual "no MFA, no access" policy: without MFA, only what it takes to get a session.
MFA_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListAllMyBuckets", "iam:ListMFADevices", "sts:GetSessionToken"],
            "Resource": "*",
        },
        {
            "Sid": "DenyAllWithoutMFA",
            "Effect": "Deny",
            "NotAction": ["iam:ListMFADevices", "sts:GetSessionToken"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}


class DemoError(Exception):
    pass


def totp(seed_b32: str, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP with HMAC-SHA1, as an authenticator app computes it from the QR code's seed."""
    key = base64.b32decode(seed_b32.upper() + "=" * (-len(seed_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F  # RFC 4226 §5.3, dynamic truncation
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def endpoint() -> str:
    """The emulator's URL. Without one, boto3 would talk to AWS itself: refuse."""
    url = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if not url:
        raise DemoError("AWS_ENDPOINT_URL is not set; point it at the moto server")
    return url.rstrip("/")


def wait(timeout: float = 30) -> None:
    """Until moto's own API answers at the endpoint: another program on the port will not do."""
    url = endpoint() + "/moto-api/"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise DemoError(f"no moto server answered at {endpoint()} within {timeout:.0f} s")
        time.sleep(0.1)


def credentials_path() -> str:
    configured = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return os.path.expanduser(configured or "~/.aws/credentials")


def check_credentials_file() -> str:
    """The credentials file's path, if it is absent or ours: never overwrite one of yours."""
    path = credentials_path()
    try:
        with open(path, encoding="utf-8") as f:
            first = f.readline().rstrip("\n")
    except FileNotFoundError:
        return path
    if first != MARKER:
        raise DemoError(
            f"{path} exists and was not written by this script; it is left alone. "
            "Run in a throw-away HOME: export HOME=$(mktemp -d)"
        )
    return path


def write_credentials(access_key_id: str, secret_access_key: str) -> str:
    """Write [default] with the emulator's keys."""
    path = check_credentials_file()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(
            f"{MARKER}\n[default]\naws_access_key_id = {access_key_id}\n"
            f"aws_secret_access_key = {secret_access_key}\n"
        )
    return path


def setup(user: str) -> str:
    """USER with new long-term keys and a new enabled virtual MFA device; returns its seed.

    Idempotent: an existing user is kept, its keys and MFA devices are deleted and made anew,
    since neither a secret key nor a device's seed can be read back once created."""
    import boto3

    check_credentials_file()  # before anything changes in the emulator
    admin = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin"}
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint(), **admin)
    try:
        iam.create_user(UserName=user)
    except iam.exceptions.EntityAlreadyExistsException:
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for device in iam.list_mfa_devices(UserName=user)["MFADevices"]:
            iam.deactivate_mfa_device(UserName=user, SerialNumber=device["SerialNumber"])
    # The device is named after the user; one left unassigned (by this loop, or by a run that
    # stopped half-way) would make its name taken.
    unassigned = iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    for device in unassigned:
        if device["SerialNumber"].endswith(f":mfa/{user}"):
            iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])

    iam.put_user_policy(
        UserName=user, PolicyName="mfa-only", PolicyDocument=json.dumps(MFA_ONLY_POLICY)
    )
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
    write_credentials(key["AccessKeyId"], key["SecretAccessKey"])
    return seed


def say(line: str) -> None:
    print(line, file=sys.stderr)


def long_term_keys() -> dict[str, str]:
    """The [default] keys that `setup` wrote."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(credentials_path())
    if not parser.has_section("default"):
        raise DemoError(f"no [default] keys in {credentials_path()}; run setup first")
    return {
        "aws_access_key_id": parser["default"]["aws_access_key_id"],
        "aws_secret_access_key": parser["default"]["aws_secret_access_key"],
    }


def ask(keys: dict[str, str]) -> tuple[str, str]:
    """What the endpoint says to these keys: who they are, and whether the MFA-only policy lets
    them list buckets (on AWS: refused without MFA, allowed with)."""
    import boto3
    from botocore.exceptions import ClientError

    def refused(exc: ClientError) -> str:
        return f"refused ({exc.response['Error']['Code']})"

    try:
        arn = boto3.client("sts", region_name="us-east-1", **keys).get_caller_identity()["Arn"]
    except ClientError as exc:
        arn = refused(exc)
    try:
        boto3.client("s3", region_name="us-east-1", **keys).list_buckets()
        verdict = "allowed"
    except ClientError as exc:
        verdict = refused(exc)
    return arn, verdict


def probe() -> None:
    """Report, on stderr, what the emulator makes of the long-term keys and of the session in
    AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, saying only what it showed."""
    endpoint()
    if not os.environ.get("AWS_SESSION_TOKEN"):
        raise DemoError("no session in this environment: eval mfa-env's output first")
    long_arn, long_verdict = ask(long_term_keys())
    session_arn, session_verdict = ask({})  # the exported variables
    say(f"{'':15}{'GetCallerIdentity':46}s3 ListBuckets under the MFA-only policy")
    say(f"{'long-term keys':15}{long_arn:46}{long_verdict}")
    say(f"{'session keys':15}{session_arn:46}{session_verdict}")
    if session_arn == long_arn:
        say("The emulator knows the session as the same user's.")
    else:
        say("The emulator cannot tell whose session this is: it answers a placeholder.")
        say(f"On AWS the session is {long_arn}.")
    if long_verdict.startswith("refused") and session_verdict == "allowed":
        say("The policy at work: refused without MFA, allowed with it.")
    elif long_verdict == "allowed":
        say("The emulator let the long-term keys through: it does not enforce the policy, so")
        say("it cannot show what MFA buys you. On AWS the long-term keys are refused here and")
        say("the session is allowed.")
    else:
        say("The emulator refused the session too: it cannot show what MFA buys you. On AWS")
        say("the long-term keys are refused here and the session is allowed.")


def main(argv: list[str]) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if argv[:1] == ["wait"] and len(argv) == 1:
            wait()
        elif argv[:1] == ["setup"] and len(argv) == 2:
            print(setup(argv[1]))
        elif argv[:1] == ["totp"] and len(argv) == 2:
            print(totp(argv[1]))
        elif argv[:1] == ["probe"] and len(argv) == 1:
            probe()
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except (DemoError, BotoCoreError, ClientError, ValueError) as exc:
        print(f"demo_aws.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
