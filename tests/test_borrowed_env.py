"""The user's own settings survive eval and --unset, in a real bash through the real command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import IamUser, bin_dir, require, write_credentials

SHOW = 'printf "%s|%s|%s|%s\\n" "${AWS_REGION-unset}" "${AWS_DEFAULT_REGION-unset}" '
SHOW += '"${AWS_PROFILE-unset}" "${AWS_DEFAULT_PROFILE-unset}"'


def bash(script: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [require("bash"), "--norc", "-c", script], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("exported", "during", "after"),
    [
        # The user's region wins over the profile's, and is still there after --unset.
        ("export AWS_REGION=eu-west-1", "eu-west-1|eu-west-1", "eu-west-1|unset"),
        ("export AWS_DEFAULT_REGION=eu-west-1", "eu-west-1|eu-west-1", "unset|eu-west-1"),
        # No region of the user's: the profile's comes with the session and goes with it.
        ("true", "us-east-1|us-east-1", "unset|unset"),
    ],
)
def test_the_users_region_is_borrowed_not_taken(
    exported: str, during: str, after: str, user: IamUser, isolate: Path, tmp_path: Path
):
    (isolate / ".aws" / "config").write_text("[default]\nregion = us-east-1\n")
    env = {**os.environ, "PATH": f"{bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}"}
    script = (
        f'{exported}\neval "$(mfa-env {user.name} 123456)"\n{SHOW}\n'
        f'eval "$(mfa-env --unset)"\n{SHOW}\n'
    )
    lines = bash(script, env)
    assert lines == [f"{during}|unset|unset", f"{after}|unset|unset"]


def test_unset_gives_aws_default_profile_back_under_its_own_name(
    user: IamUser, isolate: Path, tmp_path: Path
):
    """After eval with AWS_DEFAULT_PROFILE=other, --unset gives back AWS_DEFAULT_PROFILE=other
    and leaves AWS_PROFILE unset (the Node SDK reads only AWS_PROFILE)."""
    write_credentials(isolate, user, "other")
    env = {
        **os.environ,
        "PATH": f"{bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "AWS_DEFAULT_PROFILE": "other",
    }
    script = (
        f'eval "$(mfa-env {user.name} 123456)"\n{SHOW}\n'
        f'eval "$(mfa-env --unset)"\n{SHOW}\n'
        'printf "%s\\n" "${MFA_ENV_PROFILE-gone}"\n'
    )
    lines = bash(script, env)
    assert lines == ["unset|unset|unset|unset", "unset|unset|unset|other", "gone"]
