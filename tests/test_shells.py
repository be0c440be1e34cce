"""Renderers, proven in the real shells: any value round-trips exactly, or is refused."""

from __future__ import annotations

import base64
import io
import os
import re
import string
import subprocess
import sys
from datetime import timezone
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mfa_env import shells
from mfa_env.errors import UnsafeValueError
from tests.helpers import ROOT, counted, reached, require
from tests.shellrun import IDIOMS, READERS, eval_in_shell, evaluator, fails_in_shell

REAL = {"bash": "bash", "dash": "dash", "sh": "sh", "zsh": "zsh", "ksh": "ksh", "fish": "fish"}
# Each run of the real-shell tests, and the shell whose renderer it evaluates: a script in the
# shells above, the documented one-liner in the others (tests/shellrun.py IDIOMS).
RUNS = {**REAL, **{run: idiom.shell for run, idiom in IDIOMS.items()}}
MARKER = "mfa_env_pwned"

# Text that hunts for quoting slips: shell metacharacters, every kind of quote, commands that
# would leave a marker file behind if anything in a value were ever executed.
HOSTILE = [
    "'",
    '"',
    "\\",
    "$",
    "`",
    ";",
    "&",
    "|",
    "\n",
    "\r",
    "\t",
    "!",
    "%",
    "^",
    "*",
    "?",
    "~",
    "#",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "\u201c",
    "\u201d",
    "$(touch mfa_env_pwned)",
    "`touch mfa_env_pwned`",
    "'; touch mfa_env_pwned; '",
    "\\'; touch mfa_env_pwned; echo \\'",
    "(touch mfa_env_pwned)",
    "{touch mfa_env_pwned}",
    "%PATH%",
    "!!",
    "$HOME",
    "${HOME}",
    "$env:HOME",
    "''",
    "\\\\'",
    "\u2019; touch mfa_env_pwned",
]
# Any text a variable can hold: every code point but NUL and lone surrogates (which no
# environment can carry; test_unholdable_values_are_refused covers those).
holdable = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"))
ascii_text = st.text(st.characters(max_codepoint=0x7F, exclude_characters="\0"))
values = st.lists(st.one_of(holdable, ascii_text, st.sampled_from(HOSTILE)), max_size=8).map(
    "".join
)

# What a shell cannot hold, by its documentation and by our runs of it: the renderer must refuse
# exactly these values, with UnsafeValueError, and render every other value exactly.
CANNOT_HOLD = {
    # tcsh(1), "Command substitution": `eval "`…`"` splits the output into words at newlines and
    # eval joins them with spaces; and tcsh 6.24 drops bytes of long non-ASCII backquoted output
    # in the C locale. test_tcsh_refusals_are_what_tcsh_would_mangle shows both.
    "tcsh": lambda value: "\n" in value or not value.isascii(),
}


# Read at import: the autouse `isolate` fixture clears MFA_ENV_* before each test runs.
_FUZZ_EXAMPLES = os.environ.get("MFA_ENV_FUZZ_EXAMPLES")
_FUZZ_RANDOM = os.environ.get("MFA_ENV_FUZZ_RANDOM") == "1"


def _examples() -> int:
    # 200 examples of up to 6 values each in every shell, derandomized: a few seconds a shell
    # here. `make fuzz` runs thousands, randomized.
    return int(_FUZZ_EXAMPLES or 200)


@pytest.mark.property
@pytest.mark.parametrize("run", sorted(RUNS))
def test_any_value_round_trips_in_the_real_shell(run: str, tmp_path: Path):
    """Every example in the same interpreter where the shell is slow to start (shellrun.LOOPS),
    each with its variables unset first; a new one for each elsewhere."""
    renderer = shells.lookup(RUNS[run]).render
    cannot_hold = CANNOT_HOLD.get(RUNS[run], lambda value: False)

    @counted()
    @settings(
        max_examples=_examples(),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=not _FUZZ_RANDOM,
    )
    @given(batch=st.lists(values, min_size=1, max_size=6))
    @example(batch=["a'b", "it’s", "$(touch mfa_env_pwned)", "line1\nline2\n", "back\\slash\\", ""])
    @example(batch=["x!y", "!!", "\\!", "a\\", "'\\''", "!$ !# ^x^y", "%PATH%", "\r\t \x01\x7f"])
    @example(batch=['"\\"', "\\u{41}", "{a: 1}", "null", "${...}", "'''", "@(ls)", "é\u2028😀"])
    def check(batch: list[str]) -> None:
        names = [f"MFA_ENV_T{i}" for i in range(len(batch))]
        assignments = dict(zip(names, batch, strict=True))
        held = {name: value for name, value in assignments.items() if not cannot_hold(value)}
        if held != assignments:
            with pytest.raises(UnsafeValueError):
                renderer(assignments)
        script = renderer(held)  # every value the shell can hold must be rendered, none refused
        got = evaluate(script, names)
        reached()
        for name, value in assignments.items():
            assert got[name] == (value.encode("utf-8") if name in held else None), (run, value)
        assert not (tmp_path / MARKER).exists(), "a value was executed"

    with evaluator(run, tmp_path, env=_clean_env()) as evaluate:
        check()


@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_newline_round_trips_in_every_shell_that_can_hold_one(run: str, tmp_path: Path):
    """Every shell but tcsh keeps a newline in a variable (POSIX 2.2.2: inside '…' nothing is
    special but '): the renderer must write it, never refuse it. tcsh's `eval "`…`"` would
    turn it into a space, so there it is refused."""
    value = "line1\nline2\n\n"
    renderer = shells.lookup(RUNS[run]).render
    if RUNS[run] == "tcsh":
        with pytest.raises(UnsafeValueError):
            renderer({"MFA_ENV_T": value})
        return
    script = renderer({"MFA_ENV_T": value})
    got = eval_in_shell(run, script, ["MFA_ENV_T"], tmp_path, env=_clean_env())
    assert got == {"MFA_ENV_T": value.encode()}


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LC_ALL", "TZ", "TERM")
    return {k: os.environ[k] for k in keep if k in os.environ}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_unset_statement_removes_the_variable(run: str, tmp_path: Path):
    names = ["MFA_ENV_GONE", "MFA_ENV_NEVER"]
    script = shells.lookup(RUNS[run]).render(dict.fromkeys(names))
    env = {**_clean_env(), "MFA_ENV_GONE": "stale"}
    assert eval_in_shell(run, script, names, tmp_path, env=env) == dict.fromkeys(names)


@pytest.mark.parametrize("run", sorted(RUNS))
def test_fail_statement_makes_the_evaluation_fail(run: str, tmp_path: Path):
    shell = shells.lookup(RUNS[run])
    if run in IDIOMS:
        # The documented one-liner fails, and the shell goes on to the next statement.
        assert fails_in_shell(run, shell.fail, tmp_path, env=_clean_env())
        # ...which the check tells apart from a good evaluation.
        good = shell.render({"MFA_ENV_T0": "v", "MFA_ENV_T1": None})
        assert not fails_in_shell(run, good, tmp_path, env=_clean_env())
        return
    program, flags, _ = READERS[run]
    script = tmp_path / "s"
    script.write_text(shell.fail)
    done = subprocess.run([require(program), *flags, str(script)], capture_output=True, check=False)
    assert done.returncode != 0


def test_tcsh_refusals_are_what_tcsh_would_mangle(tmp_path: Path):
    """What tcsh does to the lines the renderer refuses to write, through `eval "`…`"`."""
    tcsh = require("tcsh")

    def evaluate(line: str, locale: str) -> bytes:
        (tmp_path / "rendered").write_text(line, encoding="utf-8")
        (tmp_path / "driver").write_text('eval "`cat rendered`"\nprintenv MFA_ENV_T\n')
        env = {**_clean_env(), "LC_ALL": locale}
        done = subprocess.run(
            [tcsh, "-f", "driver"], cwd=tmp_path, env=env, capture_output=True, check=True
        )
        return done.stdout.removesuffix(b"\n")

    # csh's own way to keep a newline in '…' (a backslash before it) works with `source`, but
    # backquotes split the output at the newline and eval joins the words with a space.
    assert evaluate("setenv MFA_ENV_T 'a\\\nb';\n", "C.UTF-8") == b"a\\ b"
    # Over 4 KiB of backquoted output with bytes over 0x7f loses bytes in the C locale.
    long = "\u00e4" * 2100
    assert evaluate(f"setenv MFA_ENV_T '{long}';\n", "C.UTF-8") == long.encode()
    assert evaluate(f"setenv MFA_ENV_T '{long}';\n", "C") != long.encode()


def test_csh_is_tcsh():
    # csh is tcsh on Debian (here), FreeBSD and macOS. The original BSD csh (Debian's bsd-csh)
    # was not tried.
    assert shells.lookup("csh") is shells.lookup("tcsh")


def test_nushell_output_is_data_that_load_env_takes():
    out = shells.nu({"A": 'x"y\\z\n\u00e9', "B": None, "C": ""})
    assert out == '{"A": "x\\"y\\\\z\\u{a}\\u{e9}", "B": null, "C": ""}\n'
    assert out.isascii()


def test_xonsh_output_is_python_literals():
    assert shells.xonsh({"A": "it's \u00e9\n", "B": None}) == (
        "$A = \"it's \\xe9\\n\"\n${...}.pop('B', None)\n"
    )


def test_tcsh_escapes_quote_and_bang_outside_the_quotes():
    assert shells.tcsh({"A": "it's!", "B": None}) == "setenv A 'it'\\''s'\\!'';\nunsetenv B;\n"


def test_elvish_doubles_single_quotes():
    assert shells.elvish({"A": "it's\n", "B": None}) == "set-env A 'it''s\n'\nunset-env B\n"


# How each shell is started with a command, for detection: a second statement keeps it from
# exec'ing the command in its own place.
STARTS = {
    "tcsh": ("tcsh", ["-f", "-c", "CMD; true"]),
    "elvish": ("elvish", ["-norc", "-c", "CMD; nop"]),
    "xonsh": ("xonsh", ["--no-rc", "-c", "CMD; true"]),
    "nu": ("nu", ["-n", "-c", "^CMD; null"]),
}


def _under_a_login_bash(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`argv` run by a login bash (argv0 "-bash", $SHELL bash), as in a terminal where the user
    typed the shell's name: shellingham would answer $SHELL for it."""
    bash = require("bash")
    return subprocess.run(
        ["-bash", "--norc", "-c", '"$@"; true', "bash", *argv],
        executable=bash,
        env={**_clean_env(), "SHELL": bash, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("shell", sorted(STARTS))
def test_the_calling_shell_is_detected_under_a_login_shell(shell: str, tmp_path: Path):
    program, args = STARTS[shell]
    detect = f"{sys.executable} -c 'from mfa_env import shells; print(shells.detect(None).name)'"
    argv = [require(program), *(a.replace("CMD", detect) for a in args)]
    done = _under_a_login_bash(argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == shell


def test_xonsh_run_by_its_interpreter_is_detected(tmp_path: Path):
    # Without setproctitle, xonsh's command line is `python3 /usr/bin/xonsh`.
    fake = tmp_path / "xonsh"
    fake.write_text(
        "import subprocess, sys\n"
        "code = 'from mfa_env import shells; print(shells.detect(None).name)'\n"
        "sys.exit(subprocess.call([sys.executable, '-c', code]))\n"
    )
    bash = require("bash")
    done = subprocess.run(
        ["-bash", "--norc", "-c", '"$@"; true', "bash", sys.executable, str(fake)],
        executable=bash,
        env={**_clean_env(), "SHELL": bash},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "xonsh"


# --- PowerShell: cannot run here, so the output is checked against the language's rules --------
# PowerShell Language Specification 3.0, §2.3.5.2 "String literals": a verbatim-string-literal is
# delimited by single-quote-characters, which are ' and U+2018-U+201B; inside it, nothing is
# interpreted except a doubled single-quote-character, which stands for one. No $ expansion, no
# backtick escapes. A statement ends at a semicolon or a newline (§8.1, statement-terminator),
# and a newline may also appear inside a string literal without ending it. We end each with
# both, so that `Invoke-Expression "$(mfa-env …)"`, which joins the lines with spaces, works.
_PS_QUOTE = "'\u2018\u2019\u201a\u201b"


def parse_pwsh(text: str) -> dict[str, str | None]:
    """An independent reader of our PowerShell output: only the two statement forms we emit."""
    result: dict[str, str | None] = {}
    i = 0
    while i < len(text):
        m = re.compile(
            r"Remove-Item -Path Env:([A-Za-z_][A-Za-z0-9_]*) -ErrorAction SilentlyContinue;\n"
        ).match(text, i)
        if m:
            result[m.group(1)] = None
            i = m.end()
            continue
        m = re.compile(r"\$Env:([A-Za-z_][A-Za-z0-9_]*) = ([" + _PS_QUOTE + "])").match(text, i)
        assert m, f"unexpected statement at {text[i : i + 40]!r}"
        name, i = m.group(1), m.end()
        chars = []
        while True:
            assert i < len(text), "unterminated string"
            c = text[i]
            if c in _PS_QUOTE:
                if i + 1 < len(text) and text[i + 1] in _PS_QUOTE:
                    chars.append(text[i + 1])
                    i += 2
                    continue
                i += 1
                break
            chars.append(c)
            i += 1
        assert text[i : i + 2] == ";\n", "a statement must end after its string"
        result[name] = "".join(chars)
        i += 2
    return result


@counted()
@given(batch=st.lists(values, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
@example(batch=["it’s", "‘quoted’", "‚low‛", "'", "''", "$env:PATH", "`n"])
def test_powershell_output_follows_the_verbatim_string_rules(batch: list[str]):
    names = [f"T{i}" for i in range(len(batch))]
    script = shells.pwsh(dict(zip(names, batch, strict=True)))
    reached()
    assert parse_pwsh(script) == dict(zip(names, batch, strict=True))


@pytest.mark.parametrize(
    "renderer",
    [
        shells.posix,
        shells.fish,
        shells.pwsh,
        shells.dotenv,
        shells.tcsh,
        shells.cmd,
        shells.nu,
        shells.xonsh,
        shells.elvish,
    ],
)
@pytest.mark.parametrize("value", ["a\0b", "lone \ud800 surrogate"])
def test_unholdable_values_are_refused(renderer, value: str):
    with pytest.raises(UnsafeValueError):
        renderer({"K": value})


def test_powershell_doubles_each_typographic_quote_with_itself():
    assert shells.pwsh({"K": "a\u2019b'c"}) == "$Env:K = 'a\u2019\u2019b''c';\n"


# What AWS hands out, by its documentation, apart from mfa_env/shells.py: base64 (keys, secrets,
# tokens: A-Z a-z 0-9 + / =), ISO 8601 times (digits, - : T Z +), ARNs (: / and IAM names, which
# are "alphanumeric characters plus =,.@_-"). A dotenv renderer must write every such value.
AWS_CHARACTERS = string.ascii_letters + string.digits + "+/=" + "-:TZ" + "=,.@_-"
aws_values = st.one_of(
    st.text(st.sampled_from(AWS_CHARACTERS)),
    st.binary(min_size=1, max_size=300).map(lambda raw: base64.b64encode(raw).decode()),
    st.datetimes(timezones=st.just(timezone.utc)).map(lambda moment: moment.isoformat()),
)


def read_by_python_dotenv(text: str) -> dict[str, str | None]:
    """What python-dotenv, one of the readers --format dotenv is for, makes of the output."""
    return dict(dotenv_values(stream=io.StringIO(text)))


@counted()
@given(value=aws_values)
def test_dotenv_writes_every_value_aws_hands_out(value: str):
    line = shells.dotenv({"K": value})
    reached()
    assert line == f"K={value}\n"  # `docker --env-file` takes everything after the "=" as is
    assert read_by_python_dotenv(line) == {"K": value}


@counted(each={"written": 0.5, "refused": 0.1})
@settings(max_examples=300)
@given(hostile=values, plain=aws_values)
@example(hostile="x #comment", plain="")
@example(hostile="'quoted'", plain="")
@example(hostile="${HOME}", plain="")
@example(hostile="a\nb", plain="")
@example(hostile="trailing ", plain="")
def test_dotenv_writes_only_values_every_reader_agrees_on(hostile: str, plain: str):
    """Each value is either refused, or written so that python-dotenv and `docker --env-file`
    (everything after the first "=") both read it back exactly: never one they would change.
    Every example tries a hostile value and a plain one, so both outcomes are seen."""
    for value in (hostile, plain):
        try:
            line = shells.dotenv({"K": value})
        except UnsafeValueError:
            reached("refused")  # allowed for any value but the ones AWS hands out (above)
        else:
            reached("written")
            assert line == f"K={value}\n"
            assert read_by_python_dotenv(line) == {"K": value}


def test_unknown_shell_is_a_usage_error():
    from mfa_env.errors import UsageError

    with pytest.raises(UsageError, match="unknown shell 'cmdx'"):
        shells.lookup("cmdx")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"DIRENV_IN_ENVRC": "1"}, "bash")],
)
def test_direnv_means_bash(monkeypatch, environ, expected):
    for k, v in environ.items():
        monkeypatch.setenv(k, v)
    assert shells.detect(None).name == expected


def test_without_proc_detection_falls_back_to_shellingham(tmp_path: Path):
    """macOS and the BSDs have no /proc: there the real shellingham answers. Run under a fish
    (its parent a login bash with SHELL=bash), with our own /proc reading made to find no
    /proc, detection must still name fish, as only shellingham can then tell."""
    detect = (
        "from mfa_env import shells\n"
        "def no_proc(max_depth=10):\n"
        "    raise FileNotFoundError('/proc')\n"
        "shells._proc_shell = no_proc\n"
        "found = shells.detect(None)\n"
        "print(found.name, found.hint)\n"
    )
    (tmp_path / "detect.py").write_text(detect)
    fish = [require("fish"), "--no-config", "-c", f"{sys.executable} detect.py; true"]
    done = _under_a_login_bash(fish, tmp_path, PYTHONPATH=str(ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "fish None\n", done.stderr


def test_when_shellingham_finds_no_shell_posix_sh_is_written_with_a_hint(monkeypatch):
    """shellingham's own failure (ShellDetectionFailure: no shell among the ancestors)."""
    import shellingham

    def no_shell() -> tuple[str, str]:
        raise shellingham.ShellDetectionFailure

    def no_proc() -> str:
        raise FileNotFoundError("/proc")

    monkeypatch.setattr(shells, "_proc_shell", no_proc)
    monkeypatch.setattr(shellingham, "detect_shell", no_shell)
    assert shells.detect(None).name == "sh"
    assert "--shell" in (shells.detect(None).hint or "")
