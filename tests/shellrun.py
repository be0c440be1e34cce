"""Evaluate rendered statements in a real shell and read the variables back, byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import require

# How each real shell reads a script from a file, and writes one variable's value to a file.
READERS = {
    "bash": ("bash", ["--norc", "--noprofile"], 'printf %s "${NAME}" > "OUT"'),
    "dash": ("dash", [], 'printf %s "${NAME}" > "OUT"'),
    "sh": ("sh", [], 'printf %s "${NAME}" > "OUT"'),
    "zsh": ("zsh", ["-f"], 'printf %s "${NAME}" > "OUT"'),
    "ksh": ("ksh", [], 'printf %s "${NAME}" > "OUT"'),
    "fish": ("fish", ["--no-config"], 'printf %s "$NAME" > "OUT"'),
}


def eval_in_shell(
    shell: str, script: str, names: list[str], workdir: Path, env: dict[str, str] | None = None
) -> dict[str, bytes | None]:
    """Run `script` in `shell`, then return each variable as the shell holds it (None: unset)."""
    program, flags, read = READERS[shell]
    path = require(program)
    lines = [script]
    outs = {}
    for i, name in enumerate(names):
        out = workdir / f"out-{i}"
        if out.exists():
            out.unlink()
        outs[name] = out
        check = "set -q {0}; and " if shell == "fish" else '[ -n "${{{0}+x}}" ] && '
        lines.append(check.format(name) + read.replace("NAME", name).replace("OUT", str(out)))
    body = workdir / "script"
    lines.append("true")  # the last check may be false when a variable is unset
    body.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [path, *flags, str(body)],
        capture_output=True,
        timeout=30,
        cwd=workdir,
        env=env,
        check=False,
    )
    assert done.returncode == 0, (shell, done.stderr.decode(errors="replace"))
    return {name: out.read_bytes() if out.exists() else None for name, out in outs.items()}
