"""Evaluate rendered statements in a real shell and read the variables back, byte for byte."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import require

# How each real shell reads a script from a file, and writes one variable's value to a file.
READERS = {
    "bash": ("bash", ["--norc", "--noprofile"], 'printf %s "${NAME}" > "OUT"'),
    "dash": ("dash", [], 'printf %s "${NAME}" > "OUT"'),
    "sh": ("sh", [], 'printf %s "${NAME}" > "OUT"'),
    "zsh": ("zsh", ["-f"], 'printf %s "${NAME}" > "OUT"'),
    "ksh": ("ksh", [], 'printf %s "${NAME}" > "OUT"'),
    "fish": ("fish", ["--no-config"], 'printf %s "$NAME" > "OUT"'),
}


@dataclass(frozen=True)
class Idiom:
    """A shell that runs our output the way its users are told to (shells.Shell.usage).

    `cat rendered` stands in for mfa-env; afterwards `env -0` writes the environment that the
    shell hands to the commands it starts, which is what the AWS tools read.
    """

    shell: str  # the name the renderer is looked up by
    program: str
    flags: tuple[str, ...]
    evaluate: str  # the documented one-liner
    dump: str  # writes `env -0` to env.out
    on_failure: str  # EVAL, then `touch failed` if it failed: the shell lives on to run it
    interactive: bool = False  # the script is typed on stdin of `program -i`
    prelude: str = ""  # runs first; exit status 75 means "the shell flaked: run it again"


_TCSH_EVAL = 'eval "`cat rendered`"'
_TCSH_FAILED = "EVAL\nif ($status != 0) touch failed"
IDIOMS = {
    "tcsh": Idiom("tcsh", "tcsh", ("-f",), _TCSH_EVAL, "env -0 > env.out", _TCSH_FAILED),
    # The same typed into an interactive tcsh.
    "tcsh-interactive": Idiom(
        "tcsh", "tcsh", ("-f", "-i"), _TCSH_EVAL, "env -0 > env.out", _TCSH_FAILED, True
    ),
    # `mfa-env … > file; source file` is the other way csh users take: it must work too.
    "tcsh-source": Idiom(
        "tcsh", "tcsh", ("-f",), "source rendered", "env -0 > env.out", _TCSH_FAILED
    ),
    "elvish": Idiom(
        "elvish",
        "elvish",
        ("-norc",),
        "eval (cat rendered | slurp)",
        "env -0 > env.out",
        "try { EVAL } catch { touch failed }",
    ),
    # `execx($(cat rendered))` in two steps, to tell xonsh's own flake from ours: Debian's
    # xonsh 0.13.4 now and then (1 run in 200 here, under load) returns "" from $(), and then
    # execx sets nothing and says nothing. xonsh 0.25 did not in 2400 runs.
    "xonsh": Idiom(
        "xonsh",
        "xonsh",
        ("--no-rc",),
        "execx(_out)",
        "env -0 > env.out",
        "try:\n    EVAL\nexcept Exception:\n    ![touch failed]",
        prelude="_out = $(cat rendered)\nif not _out:\n    import sys\n    sys.exit(75)",
    ),
    "nu": Idiom(
        "nu",
        "nu",
        ("-n",),
        "^cat rendered | from nuon | load-env",
        "^env -0 o> env.out",
        "try { EVAL } catch { touch failed }",
    ),
}

# tcsh -i on a pipe says so on stderr before anything else.
_TTY_WARNING = (
    b"Warning: no access to tty (Inappropriate ioctl for device).\n"
    b"Thus no job control in this shell.\n"
)


def _run_idiom(
    idiom: Idiom, rendered: str, body: str, workdir: Path, env: dict[str, str] | None
) -> tuple[int, bytes]:
    """Put our output in `rendered`, run `body` in the shell; its status and stderr."""
    (workdir / "rendered").write_text(rendered, encoding="utf-8")
    script = workdir / "driver"
    script.write_text(f"{idiom.prelude}\n{body}\n".lstrip("\n"), encoding="utf-8")
    argv = [require(idiom.program), *idiom.flags]
    for _attempt in range(5):
        with open(script if idiom.interactive else os.devnull, "rb") as stdin:
            done = subprocess.run(
                argv if idiom.interactive else [*argv, str(script)],
                stdin=stdin,
                capture_output=True,
                timeout=60,
                cwd=workdir,
                env=env,
                check=False,
            )
        if done.returncode != 75 or not idiom.prelude:
            break
    return done.returncode, done.stderr.replace(_TTY_WARNING, b"")


def _eval_idiom(
    idiom: Idiom, script: str, names: list[str], workdir: Path, env: dict[str, str] | None
) -> dict[str, bytes | None]:
    out = workdir / "env.out"
    if out.exists():
        out.unlink()
    rc, stderr = _run_idiom(idiom, script, f"{idiom.evaluate}\n{idiom.dump}", workdir, env)
    # An interactive shell goes on after an error, and `source` ignores some: stderr tells.
    assert rc == 0, (idiom, rc, stderr.decode(errors="replace"))
    assert not stderr, (idiom, stderr.decode(errors="replace"))
    seen = dict(item.partition(b"=")[::2] for item in out.read_bytes().split(b"\0") if item)
    return {name: seen.get(name.encode()) for name in names}


def fails_in_shell(shell: str, text: str, workdir: Path, env: dict[str, str] | None = None) -> bool:
    """Whether evaluating `text` the documented way fails, and the shell goes on after it."""
    idiom = IDIOMS[shell]
    failed = workdir / "failed"
    if failed.exists():
        failed.unlink()
    body = idiom.on_failure.replace("EVAL", idiom.evaluate)
    rc, stderr = _run_idiom(idiom, text, body, workdir, env)
    assert rc == 0, (shell, rc, stderr.decode(errors="replace"))
    return failed.exists()


def eval_in_shell(
    shell: str, script: str, names: list[str], workdir: Path, env: dict[str, str] | None = None
) -> dict[str, bytes | None]:
    """Run `script` in `shell`, then return each variable as the shell holds it (None: unset)."""
    if shell in IDIOMS:
        return _eval_idiom(IDIOMS[shell], script, names, workdir, env)
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
