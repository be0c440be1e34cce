"""Renderers, proven in the real shells: any value round-trips exactly, or is refused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mfa_env import shells
from mfa_env.errors import UnsafeValueError
from tests.shellrun import READERS, eval_in_shell

REAL = {"bash": "bash", "dash": "dash", "sh": "sh", "zsh": "zsh", "ksh": "ksh", "fish": "fish"}
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
values = st.lists(st.one_of(holdable, st.sampled_from(HOSTILE)), max_size=8).map("".join)


@pytest.mark.parametrize("shell", sorted(REAL))
@settings(
    max_examples=int(os.environ.get("MFA_ENV_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("MFA_ENV_FUZZ_RANDOM") != "1",
)
@given(batch=st.lists(values, min_size=1, max_size=6))
@example(batch=["a'b", "it’s", "$(touch mfa_env_pwned)", "line1\nline2\n", "back\\slash\\", ""])
def test_any_value_round_trips_in_the_real_shell(shell: str, batch: list[str], tmp_path: Path):
    renderer = shells.lookup(shell).render
    names = [f"MFA_ENV_T{i}" for i in range(len(batch))]
    assignments = dict(zip(names, batch, strict=True))
    script = renderer(assignments)  # every holdable value must be rendered, none refused
    got = eval_in_shell(shell, script, names, tmp_path, env=_clean_env())
    for name, value in assignments.items():
        assert got[name] == value.encode("utf-8"), (shell, value)
    assert not (tmp_path / MARKER).exists(), "a value was executed"


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LC_ALL", "TZ", "TERM")
    return {k: os.environ[k] for k in keep if k in os.environ}


@pytest.mark.parametrize("shell", sorted(REAL))
def test_unset_statement_removes_the_variable(shell: str, tmp_path: Path):
    script = shells.lookup(shell).render({"MFA_ENV_GONE": None})
    env = {**_clean_env(), "MFA_ENV_GONE": "stale"}
    assert eval_in_shell(shell, script, ["MFA_ENV_GONE"], tmp_path, env=env) == {
        "MFA_ENV_GONE": None
    }


@pytest.mark.parametrize("shell", sorted(REAL))
def test_fail_statement_makes_the_evaluation_fail(shell: str, tmp_path: Path):
    program, flags, _ = READERS[shell]
    from tests.conftest import require

    script = tmp_path / "s"
    script.write_text(shells.lookup(shell).fail)
    import subprocess

    done = subprocess.run([require(program), *flags, str(script)], capture_output=True, check=False)
    assert done.returncode != 0


# --- PowerShell: cannot run here, so the output is checked against the language's rules --------
# PowerShell Language Specification 3.0, §2.3.5.2 "String literals": a verbatim-string-literal is
# delimited by single-quote-characters, which are ' and U+2018-U+201B; inside it, nothing is
# interpreted except a doubled single-quote-character, which stands for one. No $ expansion, no
# backtick escapes. Statements are separated by newlines (§2.2.2), which may also appear inside
# a string literal without ending it.
_PS_QUOTE = "'\u2018\u2019\u201a\u201b"


def parse_pwsh(text: str) -> dict[str, str | None]:
    """An independent reader of our PowerShell output: only the two statement forms we emit."""
    result: dict[str, str | None] = {}
    i = 0
    while i < len(text):
        m = re.compile(
            r"Remove-Item -Path Env:([A-Za-z_][A-Za-z0-9_]*) -ErrorAction SilentlyContinue\n"
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
        assert text[i] == "\n", "a statement must end after its string"
        result[name] = "".join(chars)
        i += 1
    return result


@given(batch=st.lists(values, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
@example(batch=["it’s", "‘quoted’", "‚low‛", "'", "''", "$env:PATH", "`n"])
def test_powershell_output_follows_the_verbatim_string_rules(batch: list[str]):
    names = [f"T{i}" for i in range(len(batch))]
    script = shells.pwsh(dict(zip(names, batch, strict=True)))
    assert parse_pwsh(script) == dict(zip(names, batch, strict=True))


@pytest.mark.parametrize("renderer", [shells.posix, shells.fish, shells.pwsh, shells.dotenv])
@pytest.mark.parametrize("value", ["a\0b", "lone \ud800 surrogate"])
def test_unholdable_values_are_refused(renderer, value: str):
    with pytest.raises(UnsafeValueError):
        renderer({"K": value})


def test_powershell_doubles_each_typographic_quote_with_itself():
    assert shells.pwsh({"K": "a\u2019b'c"}) == "$Env:K = 'a\u2019\u2019b''c'\n"


@given(value=values)
def test_dotenv_writes_only_values_every_reader_agrees_on(value: str):
    try:
        line = shells.dotenv({"K": value})
    except UnsafeValueError:
        assert not re.fullmatch(r"[A-Za-z0-9+/=_.:,@-]*", value)
        return
    assert line == f"K={value}\n"


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
