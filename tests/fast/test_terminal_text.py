"""deliver.printable: no raw control, separator or bidi character reaches a message (in process)."""

from __future__ import annotations

import re
import string

from hypothesis import example, given
from hypothesis import strategies as st

from mfa_env.deliver import printable
from tests.helpers import FORBIDDEN, counted, reached

PLAIN = string.printable.replace("\n", "").replace("\r", "").replace("\x0b", "").replace("\x0c", "")
ESCAPE = re.compile(r"\\(?:n|r|x[0-9a-f]{2}|u[0-9a-f]{4})")

# Text that leans on the characters that matter, with the rest of Unicode mixed in.
hostile = st.text(st.one_of(st.sampled_from([*sorted(FORBIDDEN), "\\", "\t"]), st.characters()))


def _unescape(shown: str) -> str:
    """The inverse of printable, on text without backslashes."""
    return ESCAPE.sub(lambda m: m[0].encode().decode("unicode_escape"), shown)


@counted()
@given(hostile)
@example("\x1b]0;owned\x07\x9b31m\u202egnp.exe\u2028error: fake")
def test_no_forbidden_character_survives(text: str):
    shown = printable(text)
    reached()
    assert not FORBIDDEN.intersection(shown)
    # Only those characters change, each to its repr spelling; tabs and backslashes are kept.
    assert shown == "".join(repr(c)[1:-1] if c in FORBIDDEN else c for c in text)


@counted()
@given(st.text(st.sampled_from(PLAIN)))
def test_plain_ascii_is_unchanged(text: str):
    reached()
    assert printable(text) == text


@counted()
@given(hostile)
def test_idempotent(text: str):
    reached()
    # A message part escaped in prompt.py is escaped again with its whole line later.
    assert printable(printable(text)) == printable(text)


@counted()
@given(hostile.map(lambda t: t.replace("\\", "")))
def test_injective_on_text_without_backslashes(text: str):
    reached()
    assert _unescape(printable(text)) == text


def test_each_character_has_its_repr_spelling():
    for char in FORBIDDEN:
        assert printable(char) == repr(char)[1:-1], hex(ord(char))
    assert printable("\t") == "\t"


def test_backslashes_are_kept_so_a_spelled_escape_looks_like_the_real_one():
    # The documented price of idempotence: not injective once the text has backslashes.
    assert printable("\\x1b") == printable("\x1b") == "\\x1b"
    assert printable("C:\\dir") == "C:\\dir"


def test_every_forbidden_character_is_non_printable_to_python():
    # printable's fast path returns a str.isprintable() text untouched; this keeps it right.
    assert not any(char.isprintable() for char in FORBIDDEN)
