"""`eval $(mfa-env USER)` without quotes, the ssh-agent habit, in the real shells: it sets the same
variables as the quoted form, and nothing secret reaches the terminal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import IamUser, bin_dir, mfa_env, require

NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION")
# Each shell's forms: the documented one first, then the unquoted habits.
FORMS = {
    "bash": ['eval "$(mfa-env {user})"', "eval $(mfa-env {user})", "eval `mfa-env {user}`"],
    "dash": ['eval "$(mfa-env {user})"', "eval $(mfa-env {user})", "eval `mfa-env {user}`"],
    "zsh": ['eval "$(mfa-env {user})"', "eval $(mfa-env {user})", "eval `mfa-env {user}`"],
    "ksh": ['eval "$(mfa-env {user})"', "eval $(mfa-env {user})", "eval `mfa-env {user}`"],
    "fish": ["mfa-env {user} | source", "eval (mfa-env {user})", 'eval "$(mfa-env {user})"'],
}
FLAGS = {"bash": ["--norc"], "dash": [], "zsh": ["-f"], "ksh": [], "fish": ["--no-config"]}


@pytest.mark.parametrize("shell", list(FORMS))
def test_the_unquoted_eval_sets_what_the_quoted_one_does(
    shell: str, user: IamUser, isolate: Path, tmp_path: Path
):
    program = require(shell)
    first = mfa_env(user.name, "123456", "--region", "eu-west-1", "-s", "bash")
    assert first.returncode == 0, first.stderr  # a cached session from now on
    secret = next(line for line in first.stdout.splitlines() if "SECRET" in line).split("'")[1]
    token = next(line for line in first.stdout.splitlines() if "TOKEN='" in line).split("'")[1]
    env = {
        **os.environ,
        "PATH": f"{bin_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}",
        "AWS_REGION": "eu-west-1",
    }
    results = []
    for index, form in enumerate(FORMS[shell]):
        out = tmp_path / f"vars-{index}"
        dump = "; ".join(f'printf "%s\\n" "${name}" >> {out}' for name in NAMES)
        script = f"{form.format(user=user.name)}\n{dump}\n"
        done = subprocess.run(
            [program, *FLAGS[shell], "-c", script],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        seen = done.stdout + done.stderr
        assert secret not in seen, f"{form}: the secret reached the terminal"
        assert token[:16] not in seen, f"{form}: the token reached the terminal"
        assert done.returncode == 0, f"{form}: {seen}"
        values = out.read_text().splitlines()
        assert values[1] == secret, form
        assert values[2] == token, form
        results.append(values)
    assert all(values == results[0] for values in results), "every form sets the same"
