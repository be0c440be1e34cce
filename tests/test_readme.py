"""The README's own code blocks, run as written against the emulator: only the user name, the
account and the device serial are replaced by the emulator's."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers import ROOT, IamUser, bin_dir, make_role, need, require

AWS_CLI = ROOT / ".tools" / "awscli" / "bin" / "aws"
README = (ROOT / "README.md").read_text()
BLOCKS = [body for _lang, body in re.findall(r"```(\w*)\n(.*?)```", README, re.S)]


def block(marker: str) -> str:
    """The one code block holding `marker`, dedented."""
    found = [b for b in BLOCKS if marker in b]
    assert len(found) == 1, f"{len(found)} README blocks hold {marker!r}"
    lines = found[0].splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


def as_user(text: str, user: IamUser) -> str:
    return (
        text.replace("ian_zhuang", user.name)
        .replace("arn:aws:iam::123456789012:mfa/" + user.name, user.serial)
        .replace("111111111111", "123456789012")
    )


@pytest.fixture
def shell_env(user: IamUser, isolate: Path, tmp_path: Path) -> dict[str, str]:
    need(AWS_CLI.exists(), "AWS CLI v1 is not installed", "`make clients` installs it")
    # The walkthrough's ~/.aws/config, with its region: the examples below add to it, as a
    # user following the README would, and no region comes from anywhere else.
    (isolate / ".aws" / "config").write_text(block("[default]\n   region = us-east-1"))
    path = f"{bin_dir(tmp_path)}:{AWS_CLI.parent}:{os.environ['PATH']}"
    return {**os.environ, "PATH": path}


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require("bash"), "--norc", "-e", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # no terminal: a missing code would fail, not hang
        timeout=120,
    )


def test_the_first_eval_works(user: IamUser, shell_env: dict[str, str]):
    script = as_user(block('   eval "$(mfa-env ian_zhuang 123456)"'), user)
    done = bash(script + 'test -n "$AWS_SESSION_TOKEN"\naws sts get-caller-identity\n', shell_env)
    assert done.returncode == 0, done.stderr


def test_the_credential_process_and_write_profile_examples_live_side_by_side(
    user: IamUser, isolate: Path, shell_env: dict[str, str]
):
    config = block("[profile work-mfa]")
    with open(isolate / ".aws" / "config", "a") as f:
        f.write(config)
    first = as_user(block("mfa-env -w mfa ian_zhuang 123456"), user)
    done = bash(first + "aws --profile work-mfa sts get-caller-identity\n", shell_env)
    assert done.returncode == 0, done.stderr
    assert "wrote [mfa] to ~/.aws/credentials" in done.stderr


def test_the_role_examples(user: IamUser, moto_url: str, isolate: Path, shell_env):
    # The README's profiles, admin and ops, on roles of this test's own in the shared server.
    role = {name: f"{name}-{uuid.uuid4().hex[:10]}" for name in ("admin", "ops")}
    for name in role.values():
        make_role(moto_url, name)
    roles = as_user(block("[profile admin]\nrole_arn"), user).replace("ian_zhuang", user.name)
    roles = re.sub(r"mfa_serial = .*", f"mfa_serial = {user.serial}", roles)
    ops = roles.replace("admin", "ops").replace(":role/ops", f":role/{role['ops']}")
    with open(isolate / ".aws" / "config", "a") as f:
        f.write(roles.replace(":role/admin", f":role/{role['admin']}") + ops)
    script = block('eval "$(mfa-env --profile admin 123456)"')
    done = bash(script + "aws sts get-caller-identity --output text\n", shell_env)
    assert done.returncode == 0, done.stderr
    assert f":assumed-role/{role['ops']}/" in done.stdout
    run = block("mfa-env --profile admin -- terraform apply").splitlines()[1]
    done = bash(run.replace("terraform apply", "aws sts get-caller-identity"), shell_env)
    assert done.returncode == 0, done.stderr
    assert f":assumed-role/{role['admin']}/" in done.stdout
