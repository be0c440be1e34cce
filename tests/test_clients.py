"""The real AWS clients sign with the session mfa-env hands out, on every path it hands it out.

Clients: AWS CLI v1 and the Node.js SDK v3 (both installed pinned into .tools/ by `make
clients`), and boto3 in a process of its own. Paths: `eval` in bash (also with AWS_PROFILE
exported first), the `-w NAME` profile, `credential_process`, and exec mode. moto accepts any
key and gives every session the same example key, so each case checks, through the proxy in
tests/signing.py, WHICH key signed the client's GetCallerIdentity: the session's, with its
token, and never the long-term key of [default]."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, IamUser, bin_dir, need, no_tty
from tests.helpers import detached as run
from tests.signing import Signed, signing_log

AWS_CLI = ROOT / ".tools" / "awscli" / "bin" / "aws"
NODE_MODULES = ROOT / ".tools" / "aws-sdk" / "node_modules"
NODE = shutil.which("node") or "/usr/bin/node"
REGION = "us-east-1"  # in the environment on every path but -w, which brings its own
# What each client's User-Agent holds: mfa-env's own calls (boto3 too) are not the client's.
AGENT = {
    "aws": "aws-cli/",
    "boto3": "client-under-test",
    "node": "aws-sdk-js/",
    "node-fromProcess": "aws-sdk-js/",
}

# argv[1]: a profile for fromProcess, or "" for the client's default chain.
NODE_SCRIPT = """
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");
const { fromProcess } = require("@aws-sdk/credential-providers");
const profile = process.argv[1];
const client = new STSClient(profile ? { credentials: fromProcess({ profile }) } : {});
client.send(new GetCallerIdentityCommand({})).then(
  (out) => console.log(out.Arn),
  (err) => { console.error(err); process.exit(1); },
);
"""
BOTO3_SCRIPT = (
    "import sys, boto3, botocore.config\n"
    "session = boto3.Session(profile_name=sys.argv[1] or None)\n"
    "config = botocore.config.Config(user_agent_extra='client-under-test')\n"
    "print(session.client('sts', config=config).get_caller_identity()['Arn'])\n"
)


def tool(path: Path, what: str) -> str:
    need(path.exists(), f"{what} is not installed", "`make clients` installs it")
    return str(path)


def client(name: str, profile: str = "") -> tuple[list[str], dict[str, str]]:
    """The argv that runs one GetCallerIdentity with `name`, and the environment it adds; a
    profile is named as that client's users name it."""
    if name == "aws":
        argv = [tool(AWS_CLI, "AWS CLI v1"), "sts", "get-caller-identity", "--output", "text"]
        return argv + (["--profile", profile] if profile else []), {}
    if name == "boto3":
        return [sys.executable, "-c", BOTO3_SCRIPT, profile], {}
    tool(NODE_MODULES / "@aws-sdk" / "client-sts", "the AWS SDK for Node.js")
    node = [tool(Path(NODE), "node"), "-e", NODE_SCRIPT]
    if name == "node-fromProcess":
        return [*node, profile], {}
    return [*node, ""], ({"AWS_PROFILE": profile} if profile else {})


def eval_in_bash(user: IamUser, argv: list[str], env: dict[str, str], before: str = ""):
    """`eval "$(mfa-env USER 123456)"` in a real bash, then the client in that shell."""
    script = f'{before}eval "$(mfa-env "$1" 123456)"; shift; exec "$@"'
    return run(["bash", "--norc", "--noprofile", "-c", script, "bash", user.name, *argv], env)


CASES = [
    *(("eval", c) for c in ("aws", "boto3", "node")),
    # Target: mfa-env's statements unset AWS_PROFILE, so no chain prefers [default]'s keys.
    *(("eval-AWS_PROFILE", c) for c in ("aws", "boto3", "node")),
    # Target: [mfa] also gets `region = eu-central-1`; no region is configured anywhere else.
    *(("write-profile", c) for c in ("aws", "boto3", "node")),
    *(("credential_process", c) for c in ("aws", "boto3", "node", "node-fromProcess")),
    *(("exec", c) for c in ("aws", "boto3", "node")),
]


@pytest.mark.parametrize(("path", "name"), [pytest.param(*c, id="-".join(c)) for c in CASES])
def test_client_signs_with_the_session(
    path: str, name: str, user: IamUser, moto_url: str, isolate: Path, tmp_path: Path
):
    with signing_log(moto_url) as (proxy, log):
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": proxy,
            "AWS_REGION": REGION,  # the Node SDK reads this one,
            "AWS_DEFAULT_REGION": REGION,  # botocore this one
            "PATH": f"{bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}",
            "NODE_PATH": str(NODE_MODULES),
        }
        region = REGION
        if path == "eval":
            done = eval_in_bash(user, client(name)[0], env)
        elif path == "eval-AWS_PROFILE":
            argv, extra = client(name)
            done = eval_in_bash(user, argv, {**env, **extra}, "export AWS_PROFILE=default; ")
        elif path == "write-profile":
            region = "eu-central-1"
            del env["AWS_REGION"], env["AWS_DEFAULT_REGION"]
            wrote = no_tty("-w", "mfa", "-r", region, user.name, "123456", env=env)
            assert wrote.returncode == 0, wrote.stderr
            argv, extra = client(name, "mfa")
            done = run(argv, {**env, **extra})
        elif path == "credential_process":
            (isolate / ".aws" / "config").write_text(
                "[profile work-mfa]\ncredential_process = mfa-env --profile default --format json\n"
            )
            first = no_tty(user.name, "123456", env=env)  # caches the session
            assert first.returncode == 0, first.stderr
            primed = len(log)
            argv, extra = client(name, "work-mfa")
            done = run(argv, {**env, **extra})  # no terminal: mfa-env must use the cache
            # From the cache alone: the credential_process sent nothing with the long-term key.
            assert [s for s in list(log)[primed:] if s.access_key_id == user.access_key_id] == []
        else:
            assert path == "exec"
            argv, extra = client(name)
            done = run(["mfa-env", user.name, "123456", "--", *argv], {**env, **extra})
        assert done.returncode == 0, done.stderr
        seen = list(log)

        # The session mfa-env handed out, as it hands it to credential_process (from its cache).
        handed = no_tty("--profile", "default", "--format", "json", env=env)
        assert handed.returncode == 0, handed.stderr
    session_key = json.loads(handed.stdout)["AccessKeyId"]
    assert session_key != user.access_key_id

    # Every request the client sent (mfa-env's own, with the long-term key, are not its).
    calls = [s for s in seen if AGENT[name] in s.user_agent]
    assert calls == [Signed(session_key, region, "sts", "GetCallerIdentity", True)], (
        f"the long-term key is {user.access_key_id}\n{done.stderr}"
    )
