"""The error matrix: every bad input or fault, the exit status, and the words on stderr.

One source for two things: tests/test_failures.py runs every row through the real command, and
the troubleshooting table (docs/troubleshooting.md) is rendered from the same rows
(`python -m tests.error_matrix --write docs/troubleshooting.md`, checked by a test), so they
cannot drift apart.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests import hostile

LONG_TERM_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzLONGTERM"
SERIAL = "arn:aws:iam::123456789012:mfa/x"
ROLE = "arn:aws:iam::123456789012:role/r"


def keys(home: Path, extra: str = "") -> None:
    """[default] with long-term keys (the secret is checked never to appear on stderr)."""
    aws = home / ".aws"
    aws.mkdir(exist_ok=True)
    (aws / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIALONGTERMEXAMPLE\n"
        f"aws_secret_access_key = {LONG_TERM_SECRET}\n{extra}"
    )


def keys_and_config(config: str, extra: str = "") -> Callable[[Path], None]:
    def setup(home: Path) -> None:
        keys(home, extra)
        (home / ".aws" / "config").write_text(config)

    return setup


def raw_credentials(text: str | bytes) -> Callable[[Path], None]:
    def setup(home: Path) -> None:
        (home / ".aws").mkdir(exist_ok=True)
        path = home / ".aws" / "credentials"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return setup


@dataclass
class Case:
    id: str
    args: list[str]
    exit: int
    words: str  # on the one stderr line; the troubleshooting table's "message contains"
    cause: str
    fix: str
    setup: Callable[[Path], None] = keys
    replies: dict[str, hostile.Reply] = field(default_factory=dict)
    endpoint: str = "hostile"  # or "closed": nothing listens there
    env: dict[str, str] = field(default_factory=dict)
    stdout: str = "false\n"  # what the evaluating shell gets
    # A session obtained before the failure stays cached (the code was spent on it).
    keeps_session: bool = False


def _err(code: str, message: str, status: int = 403, ns: str = hostile.STS_NS) -> hostile.Reply:
    return hostile.error(code, message, status, ns)


MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."

CASES = [
    # -- the code and the device ---------------------------------------------------------------
    Case(
        "wrong-code",
        ["123456"],
        1,
        "the MFA code was refused",
        "wrong or already used code, or the wrong device",
        "wait for the next code; check `--serial` / `mfa_serial`",
        replies={"GetSessionToken": _err("AccessDenied", MFA_FAILED)},
    ),
    Case(
        "code-too-short",
        ["someone", "12345"],
        2,
        "the MFA code must be six digits",
        "a typo",
        "pass the six digits; a numeric user name needs the code too",
    ),
    Case(
        "user-after-code",
        ["123456", "someone"],
        2,
        "USER comes before CODE: mfa-env someone 123456",
        "the code was given first",
        "give USER, then the six-digit code",
    ),
    Case(
        "unknown-user",
        ["nobody", "123456"],
        1,
        "IAM has no user named 'nobody'",
        "USER names no IAM user",
        "check USER (the IAM user whose device is used), or pass `--serial`",
        replies={
            "ListMFADevices": _err(
                "NoSuchEntity", "The user with name nobody cannot be found.", 404, hostile.IAM_NS
            )
        },
    ),
    Case(
        "code-not-digits",
        ["someone", "12a456"],
        2,
        "the MFA code must be six digits",
        "a typo",
        "pass the six digits; a numeric user name needs the code too",
    ),
    Case(
        "no-code-no-terminal",
        [],
        1,
        "no MFA code given and no terminal",
        "no code, no cached session, and no terminal to ask on (CI, cron, direnv)",
        "pass the code, or use `--mfa-command`",
    ),
    Case(
        "mfa-command-fails",
        ["--mfa-command", "false"],
        1,
        "--mfa-command 'false' failed",
        "the code command exited non-zero",
        "run the command by hand and fix it",
    ),
    Case(
        "no-mfa-device",
        ["123456"],
        1,
        "has no virtual or hardware MFA device",
        "the user has no TOTP device",
        "assign one in IAM, or pass `--serial`",
        replies={
            "ListMFADevices": hostile.ok(
                "ListMFADevices", b"<MFADevices/><IsTruncated>false</IsTruncated>", hostile.IAM_NS
            )
        },
    ),
    Case(
        "list-mfa-devices-denied",
        ["someone", "123456"],
        1,
        "pass --serial ARN",
        "not allowed to call `iam:ListMFADevices`",
        "pass `--serial`, or set `mfa_serial`",
        replies={
            "ListMFADevices": _err(
                "AccessDenied", "not authorized to perform: iam:ListMFADevices", ns=hostile.IAM_NS
            )
        },
    ),
    Case(
        "u2f-serial",
        ["--serial", "arn:aws:iam::123456789012:u2f/user/x/k", "123456"],
        2,
        "U2F/FIDO security key",
        "STS cannot use security keys",
        "use a virtual or hardware TOTP device",
    ),
    Case(
        "bad-serial",
        ["--serial", "not a serial", "123456"],
        2,
        "is not an MFA device serial",
        "a mistyped `--serial` or `mfa_serial`",
        "use the ARN IAM shows for the device",
    ),
    # -- the long-term keys ------------------------------------------------------------------
    Case(
        "bad-access-key",
        ["123456"],
        1,
        "does not know the access key",
        "`InvalidClientTokenId`: the key was deleted or mistyped",
        "check `aws_access_key_id`, or create a new key in IAM",
        replies={
            "GetCallerIdentity": _err(
                "InvalidClientTokenId", "The security token included in the request is invalid."
            )
        },
    ),
    Case(
        "bad-secret-key",
        ["--serial", SERIAL, "123456"],
        1,
        "does not match its access key",
        "`SignatureDoesNotMatch`: the secret key is wrong",
        "check `aws_secret_access_key`",
        replies={
            "GetSessionToken": _err(
                "SignatureDoesNotMatch", "The request signature we calculated does not match."
            )
        },
    ),
    Case(
        "clock-skew",
        ["123456"],
        1,
        "your clock is off",
        "the request's time is too far from AWS's",
        "sync the clock (`timedatectl set-ntp true`)",
        replies={
            "GetCallerIdentity": _err(
                "SignatureDoesNotMatch",
                "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z",
            )
        },
    ),
    Case(
        "session-creds-as-source",
        ["123456"],
        1,
        "holds temporary credentials",
        "the source profile holds a session token",
        "use `--profile` naming the profile with long-term keys",
        setup=lambda home: keys(home, "aws_session_token = stale-token\n"),
    ),
    Case(
        "no-credentials",
        ["123456"],
        1,
        "no AWS credentials found",
        "no `[default]` profile and no keys in the environment",
        "run `aws configure`, or pass `--profile`",
        setup=lambda home: None,
    ),
    Case(
        "unknown-profile",
        ["--profile", "nope", "123456"],
        1,
        "is not in ~/.aws/credentials",
        "the profile does not exist",
        "check the name in `~/.aws/credentials` and `~/.aws/config`",
    ),
    Case(
        "malformed-config",
        ["123456"],
        1,
        "cannot parse ~/.aws/config",
        "a broken line in an AWS file",
        "fix or remove the line named",
        setup=keys_and_config("region = x\n[oops\n"),
    ),
    Case(
        "malformed-credentials",
        ["123456"],
        1,
        "cannot parse ~/.aws/credentials",
        "a broken line in an AWS file",
        "fix or remove the line named",
        setup=raw_credentials("junk\n"),
    ),
    Case(
        "credential-process-loop",
        ["123456"],
        1,
        "gets its keys from mfa-env without --profile",
        "a profile's `credential_process` runs mfa-env, which then uses that profile",
        "add `--profile` naming long-term keys to that `credential_process` line",
        setup=keys_and_config(
            f"[profile loop]\ncredential_process = {sys.executable} -m mfa_env --format json\n"
        ),
        env={"AWS_PROFILE": "loop"},
    ),
    Case(
        "half-a-key-pair",
        ["--serial", SERIAL, "123456"],
        1,
        "~/.aws/credentials holds half of a key pair (aws_secret_access_key is missing)",
        "a profile with an access key ID but no secret",
        "add the missing key, or remove the other",
        setup=raw_credentials("[default]\naws_access_key_id = AKIAHALFAPAIR\n"),
    ),
    # -- roles --------------------------------------------------------------------------------
    Case(
        "role-loop",
        ["--profile", "a", "123456"],
        1,
        "source_profile loops",
        "role profiles name each other as `source_profile`",
        "point `source_profile` at the profile with long-term keys",
        setup=keys_and_config(
            f"[profile a]\nrole_arn = {ROLE}\nsource_profile = b\n"
            f"[profile b]\nrole_arn = {ROLE}\nsource_profile = a\n"
        ),
    ),
    Case(
        "role-no-source",
        ["--profile", "a", "123456"],
        1,
        "has role_arn but no source_profile",
        "a role profile without `source_profile`",
        "add `source_profile = NAME` to it",
        setup=keys_and_config(f"[profile a]\nrole_arn = {ROLE}\n"),
    ),
    Case(
        "bad-role-arn",
        ["--role-arn", "admin", "123456"],
        2,
        "--role-arn must look like",
        "not a role ARN",
        "pass `arn:aws:iam::ACCOUNT:role/NAME`",
    ),
    Case(
        "role-denied",
        ["--serial", SERIAL, "--role-arn", ROLE, "123456"],
        1,
        "AssumeRole: AccessDenied",
        "the role's trust policy does not let you in",
        "ask for the role, or check `role_arn`",
        replies={"AssumeRole": _err("AccessDenied", "not authorized to perform sts:AssumeRole")},
        keeps_session=True,
    ),
    # -- options ------------------------------------------------------------------------------
    Case(
        "duration-too-long",
        ["-d", "200000", "123456"],
        2,
        "between 900 and 129600",
        "a session length STS will not give",
        "use 900 to 129600 seconds (3600 for the root user)",
    ),
    Case(
        "duration-not-a-number",
        ["-d", "1h", "123456"],
        2,
        "whole number of seconds",
        "`--duration` takes seconds",
        "write `-d 3600`, not `-d 1h`",
    ),
    Case(
        "unknown-option",
        ["--bogus"],
        2,
        "No such option",
        "a mistyped option",
        "see `mfa-env --help`",
    ),
    Case(
        "too-many-arguments",
        ["a", "123456", "extra"],
        2,
        "at most USER and CODE",
        "a third argument",
        "put a command to run after `--`",
    ),
    Case(
        "unknown-shell",
        ["123456"],
        2,
        "unknown shell 'tcsh2'",
        "`MFA_ENV_SHELL` names no shell",
        "use one of the names in `mfa-env --help`",
        env={"MFA_ENV_SHELL": "tcsh2"},
    ),
    Case(
        "nested-exec",
        ["123456", "--", "true"],
        2,
        "already inside an mfa-env session",
        "`mfa-env … -- COMMAND` run inside another",
        "exit the inner shell, or pass `--refresh`",
        env={"MFA_ENV_SESSION": "default"},
        stdout="",
    ),
    # -- --write-profile ----------------------------------------------------------------------
    Case(
        "write-into-source",
        ["-w", "default", "123456"],
        1,
        "source",
        "`--write-profile` names the profile with the long-term keys",
        "choose another name, e.g. `-w mfa`",
    ),
    Case(
        "write-over-long-term-keys",
        ["-w", "keep", "123456"],
        1,
        "long-term",
        "that section holds long-term keys, which mfa-env never overwrites",
        "choose another name",
        setup=lambda home: keys(
            home, "[keep]\naws_access_key_id = AKIAKEEP\naws_secret_access_key = keep\n"
        ),
    ),
    Case(
        "bom-in-credentials",
        ["123456"],
        1,
        "byte-order mark",
        "the credentials file starts with a UTF-8 BOM, which botocore cannot read",
        "save the file without the mark",
        setup=raw_credentials(
            b"\xef\xbb\xbf[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
        ),
    ),
    # -- the endpoint -------------------------------------------------------------------------
    Case(
        "endpoint-unreachable",
        ["123456"],
        1,
        "cannot connect to",
        "no network, a proxy, or a wrong endpoint",
        "check the network, proxy or `AWS_ENDPOINT_URL`",
        endpoint="closed",
    ),
    Case(
        "endpoint-silent",
        ["123456"],
        1,
        "did not answer in time",
        "the endpoint accepts connections but never answers",
        "check the network, proxy or `AWS_ENDPOINT_URL`",
        replies={"GetCallerIdentity": hostile.Reply(hang=30)},
    ),
    Case(
        "endpoint-drips",
        ["123456"],
        1,
        "did not finish answering within 12 s",
        "the endpoint answers a byte at a time and never finishes",
        "check the network, proxy or `AWS_ENDPOINT_URL`",
        replies={"GetCallerIdentity": hostile.Reply(200, b" " * 1000, drip=1.0)},
    ),
    Case(
        "throttled",
        ["123456"],
        1,
        "AWS is throttling requests",
        "too many calls",
        "wait a few seconds",
        replies={"GetCallerIdentity": _err("Throttling", "Rate exceeded", 400)},
    ),
    Case(
        "server-error",
        ["123456"],
        1,
        "InternalFailure",
        "AWS failed (HTTP 5xx), twice",
        "try again later",
        replies={"GetCallerIdentity": _err("InternalFailure", "oops", 500)},
    ),
    Case(
        "malformed-xml",
        ["123456"],
        1,
        "the endpoint sent a malformed or incomplete answer",
        "a proxy or endpoint answered with something that is not AWS's XML",
        "check the proxy or `AWS_ENDPOINT_URL`",
        replies={"GetSessionToken": hostile.Reply(200, b"<GetSessionTokenResponse><unclosed")},
    ),
    Case(
        "truncated-body",
        ["123456"],
        1,
        "the endpoint sent a malformed or incomplete answer",
        "the connection closed in the middle of the answer",
        "check the network, proxy or `AWS_ENDPOINT_URL`",
        replies={
            "GetSessionToken": hostile.Reply(
                200, hostile.ok("GetSessionToken", hostile.credentials()).body[:80], truncate=True
            )
        },
    ),
    Case(
        "no-credentials-in-answer",
        ["123456"],
        1,
        "holds no usable credentials",
        "STS answered without credentials",
        "check the proxy or `AWS_ENDPOINT_URL`",
        replies={"GetSessionToken": hostile.ok("GetSessionToken", b"")},
    ),
    Case(
        "expired-session-returned",
        ["123456"],
        1,
        "has already expired",
        "STS handed out a session that has already expired: your clock is far off",
        "sync the clock (`timedatectl set-ntp true`)",
        replies={
            "GetSessionToken": hostile.ok(
                "GetSessionToken", hostile.credentials(expiration="2001-01-01T00:00:00Z")
            )
        },
    ),
    # -- settings botocore rejects, answers it cannot read, a broken source ------------------
    Case(
        "endpoint-not-a-url",
        ["123456"],
        1,
        "Invalid endpoint: not-a-url; fix AWS_ENDPOINT_URL",
        "`AWS_ENDPOINT_URL` is not a URL",
        "set it to `https://…`, or unset it",
        env={"AWS_ENDPOINT_URL": "not-a-url"},
    ),
    Case(
        "sts-endpoint-not-a-url",
        ["123456"],
        1,
        "fix AWS_ENDPOINT_URL_STS",
        "`AWS_ENDPOINT_URL_STS` is not a URL",
        "set it to `https://…`, or unset it",
        env={"AWS_ENDPOINT_URL_STS": "sts-not-a-url"},
    ),
    Case(
        "bogus-defaults-mode",
        ["123456"],
        1,
        "fix AWS_DEFAULTS_MODE",
        "a botocore setting in the environment holds a value botocore refuses",
        "fix or unset the variable the message names",
        env={"AWS_DEFAULTS_MODE": "bogus"},
    ),
    Case(
        "bogus-checksum-setting",
        ["123456"],
        1,
        "fix AWS_REQUEST_CHECKSUM_CALCULATION",
        "a botocore setting in the environment holds a value botocore refuses",
        "fix or unset the variable the message names",
        env={"AWS_REQUEST_CHECKSUM_CALCULATION": "bogus"},
    ),
    Case(
        "bad-region-option",
        ["-r", "eu west 1", "123456"],
        2,
        "--region is not a region name",
        "a region botocore would refuse (a space, say)",
        "pass a region name such as `eu-west-1`",
    ),
    Case(
        "bad-region-env",
        ["123456"],
        2,
        "AWS_REGION is not a region name",
        "a region botocore would refuse (a space, say)",
        "pass a region name such as `eu-west-1`",
        env={"AWS_REGION": "eu west 1"},
    ),
    Case(
        "bad-region-config",
        ["123456"],
        2,
        "region in the AWS config is not a region name",
        "a region botocore would refuse (a space, say)",
        "pass a region name such as `eu-west-1`",
        setup=keys_and_config("[default]\nregion = eu west 1\n"),
    ),
    Case(
        "bad-setting-in-config",
        ["123456"],
        1,
        "STS regional endpoints option nope is invalid",
        "a setting in `~/.aws/config` holds a value botocore refuses",
        "fix the profile in `~/.aws/config`",
        setup=keys_and_config("[default]\nsts_regional_endpoints = nope\n"),
    ),
    Case(
        "source-process-not-json",
        ["--profile", "src", "123456"],
        1,
        "the credential_process of profile 'src' gave no keys (it printed no JSON)",
        "the source profile's `credential_process` printed something other than JSON",
        "run that program by hand and fix it",
        setup=keys_and_config("[profile src]\ncredential_process = sh -c 'echo not json'\n"),
    ),
    Case(
        "source-process-fails",
        ["--profile", "src", "123456"],
        1,
        "the credential_process of profile 'src' gave no keys",
        "the source profile's `credential_process` failed",
        "run that program by hand and fix it",
        setup=keys_and_config("[profile src]\ncredential_process = sh -c 'exit 3'\n"),
    ),
    Case(
        "expiration-not-a-time",
        ["123456"],
        1,
        "Invalid timestamp",
        "STS answered with an expiry that is not a time",
        "check the proxy or `AWS_ENDPOINT_URL`",
        replies={
            "GetSessionToken": hostile.ok("GetSessionToken", hostile.credentials(expiration="soon"))
        },
    ),
    Case(
        "expiration-absurd",
        ["123456"],
        1,
        "ends further ahead than any can",
        "STS handed out a session that ends further ahead than any can: a clock is far off",
        "sync the clock (`timedatectl set-ntp true`)",
        replies={
            "GetSessionToken": hostile.ok(
                "GetSessionToken", hostile.credentials(expiration="9999-12-31T23:59:59Z")
            )
        },
    ),
    Case(
        "serial-from-iam-not-a-serial",
        ["someone", "123456"],
        1,
        "is not one",
        "IAM answered with a device serial that is not one",
        "check the proxy or `AWS_ENDPOINT_URL`, or pass `--serial`",
        replies={
            "ListMFADevices": hostile.ok(
                "ListMFADevices",
                b"<MFADevices><member><UserName>someone</UserName><SerialNumber>\xc2\x9b31m"
                b" evil</SerialNumber><EnableDate>2026-01-01T00:00:00Z</EnableDate></member>"
                b"</MFADevices><IsTruncated>false</IsTruncated>",
                hostile.IAM_NS,
            )
        },
    ),
]


def render_table() -> str:
    """The troubleshooting table (docs/troubleshooting.md): one row per distinct message."""
    rows = ["| message contains | cause | fix |", "| --- | --- | --- |"]
    seen = set()
    for case in CASES:
        if case.words in seen:
            continue
        seen.add(case.words)
        rows.append(f"| `{case.words}` | {case.cause} | {case.fix} |")
    return "\n".join(rows) + "\n"


START = (
    "<!-- troubleshooting:start "
    "(generated by python -m tests.error_matrix --write docs/troubleshooting.md) -->\n"
)
END = "<!-- troubleshooting:end -->\n"


def with_table(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}{render_table()}{END}{tail}"


if __name__ == "__main__":
    if sys.argv[1:2] != ["--write"] or len(sys.argv) != 3:
        sys.exit(textwrap.dedent(__doc__ or ""))
    target = Path(sys.argv[2])
    target.write_text(with_table(target.read_text()))
