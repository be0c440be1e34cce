"""The credentials-file writer: only [NAME] changes, atomically, under a lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from unittest import mock

import botocore.configloader
import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfa_env import aws_files
from mfa_env.aws_files import WriteResult, credentials_path, write_profile
from mfa_env.credentials import Credentials
from mfa_env.errors import CredentialsFileError
from tests.helpers import counted, reached

NAME = "mfa"
CREDS = Credentials(
    access_key_id="ASIANEWSESSIONKEY",
    secret_access_key="new/Secret+Key=",
    session_token="NEW//Session+Token==",
    expiration=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
)
# Values that may stand in the files below; none may ever appear in an error message.
OLD_SECRETS = ("AKIAOLDKEY", "old/Secret+1", "OLDTOKEN==", "x=y", "a # b")
ROOT = Path(__file__).resolve().parent.parent


def body(eol: str = "\n", creds: Credentials = CREDS) -> str:
    """The keys write_profile puts under the header, in order."""
    return (
        f"aws_access_key_id = {creds.access_key_id}{eol}"
        f"aws_secret_access_key = {creds.secret_access_key}{eol}"
        f"aws_session_token = {creds.session_token}{eol}"
        f"mfa_env_expiration = 2030-01-02T03:04:05Z{eol}"
        f"managed_by = mfa-env{eol}"
    )


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME and no AWS_* variables, whatever conftest does."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    for variable in list(os.environ):
        if variable.startswith("AWS_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("HOME", str(home))
    return home


def botocore_reads(path: Path, profile: str) -> tuple[str, str, str | None]:
    """The access key, secret and token botocore itself takes from [profile] in `path`."""
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(path),
        "AWS_CONFIG_FILE": str(path.parent / "no-such-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with mock.patch.dict(os.environ, env):
        found = botocore.session.Session(profile=profile).get_credentials()
    assert found is not None, f"botocore found no credentials for [{profile}]"
    frozen = found.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def expected(creds: Credentials = CREDS) -> tuple[str, str, str]:
    return creds.access_key_id, creds.secret_access_key, creds.session_token


def leftovers(directory: Path) -> list[str]:
    """Temporary files write_profile may have left behind."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def assert_refused(path: Path, error: CredentialsFileError, before: bytes) -> None:
    message = str(error)
    assert path.read_bytes() == before
    assert message
    assert "\n" not in message
    assert "\r" not in message
    for secret in (*OLD_SECRETS, CREDS.secret_access_key, CREDS.session_token):
        assert secret not in message
    assert leftovers(path.parent) == []


# --- The property: only [NAME] changes, and botocore reads the new session from it -----------

# Near misses: botocore reads `[ mfa ]` as " mfa " and `[mfa]]` as "mfa]", neither of them [mfa].
OTHER_NAMES = ("default", "prod", " mfa ", "mfa ", "mfa-long-term", "MFA", "mfa]")
# What follows `]` on a header line: botocore's pattern `\[(?P<header>.+)\]` is greedy and not
# anchored at the end, so `[mfa] # note` is still [mfa] (there are no inline comments).
HEADER_TRAILERS = ("", "  ", " # note", " ; note")
KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "AWS_SESSION_TOKEN",  # configparser lower-cases keys, so this is a session token too
    "aws_security_token",
    "managed_by",
    "region",
)
FILLERS = ("", "   ", "# comment", "; comment", "  # indented", "#[mfa]", ";aws_session_token=x")
separators = st.sampled_from((" = ", "=", " : ", ":"))
values = st.sampled_from(OLD_SECRETS)


@dataclass(frozen=True)
class Line:
    text: str
    section: int | None  # index into Generated.names, None before the first header
    content: bool  # a header, key or continuation line (not a comment or blank line)


@dataclass(frozen=True)
class Generated:
    lines: tuple[Line, ...]
    names: tuple[str, ...]
    keys: tuple[dict[str, str], ...]  # each section's keys, lower case, with their values
    eol: str
    final_newline: bool
    bom: bool

    @property
    def text(self) -> str:
        text = self.eol.join(line.text for line in self.lines)
        if self.lines and self.final_newline:
            text += self.eol
        return ("\ufeff" if self.bom else "") + text

    def offset(self, index: int) -> int:
        """Where line `index` starts in text (past the end for index == len(lines))."""
        start = len("\ufeff") if self.bom else 0
        start += sum(len(line.text) + len(self.eol) for line in self.lines[:index])
        return min(start, len(self.text))


# How [NAME] itself is drawn, when it is there: mostly sections it may overwrite.
TARGET_KINDS = ("aws_session_token", "AWS_SESSION_TOKEN", "aws_security_token", "managed_by", "")


def filler(index: int | None) -> st.SearchStrategy[list[Line]]:
    return st.lists(st.sampled_from(FILLERS), max_size=3).map(
        lambda texts: [Line(text, index, False) for text in texts]
    )


@st.composite
def sections(
    draw: st.DrawFn, index: int, name: str, required: str = ""
) -> tuple[list[Line], dict[str, str]]:
    """One section: header, keys (with `required` among them) between comments and blanks."""
    lines = [Line(f"[{name}]{draw(st.sampled_from(HEADER_TRAILERS))}", index, True)]
    keys = draw(st.lists(st.sampled_from(KEYS), unique_by=str.lower, max_size=4))
    if required and required.lower() not in {key.lower() for key in keys}:
        keys.insert(draw(st.integers(0, len(keys))), required)
    found: dict[str, str] = {}
    for key in keys:
        lines += draw(filler(index))
        if key == "managed_by":
            value = "mfa-env" if required == key else draw(st.sampled_from(("mfa-env", "other")))
        else:
            value = draw(values)
        lines.append(Line(f"{key}{draw(separators)}{value}", index, True))
        if draw(st.integers(0, 5)) == 0:
            lines.append(Line("    continued", index, True))  # indented: part of the value
            value += "\ncontinued"
        found[key.lower()] = value
    lines += draw(filler(index))
    return lines, found


@st.composite
def credentials_files(draw: st.DrawFn) -> Generated:
    names = draw(st.lists(st.sampled_from(OTHER_NAMES), unique=True, max_size=4))
    if draw(st.integers(0, 2)):  # [NAME] is there two times in three
        names.insert(draw(st.integers(0, len(names))), NAME)
    if names and draw(st.integers(0, 14)) == 0:  # a repeated section: botocore refuses the file
        names.insert(draw(st.integers(0, len(names))), draw(st.sampled_from(names)))
    lines = draw(filler(None))
    found: list[dict[str, str]] = []
    for index, name in enumerate(names):
        required = draw(st.sampled_from(TARGET_KINDS)) if name == NAME else ""
        section_lines, keys = draw(sections(index, name, required))
        lines += section_lines
        found.append(keys)
    return Generated(
        lines=tuple(lines),
        names=tuple(names),
        keys=tuple(found),
        eol=draw(st.sampled_from(("\n", "\r\n"))),
        final_newline=draw(st.booleans()),
        bom=draw(st.integers(0, 9)) == 0,
    )


def may_overwrite(keys: dict[str, str]) -> bool:
    """The rule under test, stated from the generator's side."""
    has_token = "aws_session_token" in keys or "aws_security_token" in keys
    return has_token or keys.get("managed_by") == "mfa-env"


def expected_text(generated: Generated) -> str:
    """The file after a successful write, worked out from how it was generated."""
    text = generated.text
    # A file without any line break gets "\n", like a new file.
    eol = generated.eol if generated.eol in text else "\n"
    if NAME not in generated.names:
        lead = eol if text and not text.endswith(eol) else ""
        last_line = text.splitlines()[-1] if text else ""
        if last_line.strip():
            lead += eol  # a blank line between the last section and the new one
        return text + lead + f"[{NAME}]{eol}" + body(eol)
    target = generated.names.index(NAME)
    indexes = [i for i, line in enumerate(generated.lines) if line.section == target]
    header = indexes[0]
    last = max(i for i in indexes if generated.lines[i].content)
    prefix = text[: generated.offset(header)]
    suffix = text[generated.offset(last + 1) :]
    return prefix + generated.lines[header].text + eol + body(eol) + suffix


def others(path: Path) -> dict[str, dict[str, object]]:
    """Every section but [NAME], as botocore parses it."""
    parsed = botocore.configloader.raw_config_parse(str(path))
    return {name: values for name, values in parsed.items() if name != NAME}


@counted()
@settings(
    max_examples=100,
    database=None,  # nothing written into the working tree; every run draws afresh
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=credentials_files())
def test_only_the_section_changes_and_botocore_reads_it(generated: Generated) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "credentials"
        original = generated.text.encode()
        path.write_bytes(original)
        duplicated = len(set(generated.names)) < len(generated.names)
        target_keys = generated.keys[generated.names.index(NAME)] if NAME in generated.names else {}
        refused = (
            generated.bom
            or duplicated
            or (NAME in generated.names and not may_overwrite(target_keys))
        )
        reached("refused" if refused else "replaced" if NAME in generated.names else "appended")
        if refused:
            with pytest.raises(CredentialsFileError) as caught:
                write_profile(NAME, CREDS, path=path)
            assert_refused(path, caught.value, original)
            return
        before = others(path)
        write_profile(NAME, CREDS, path=path)
        assert path.read_bytes() == expected_text(generated).encode()
        assert botocore_reads(path, NAME) == expected()
        assert others(path) == before
        assert leftovers(path.parent) == []


# --- Named cases -------------------------------------------------------------------------------


def test_next_section_right_after_the_target_survives(tmp_path: Path) -> None:
    """Regression: the seed script's `sed '/\\[mfa\\]/,/^$/d'` also deleted [other]."""
    path = tmp_path / "credentials"
    other = "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = otherSecret\n"
    path.write_text(
        "[mfa]\naws_access_key_id = ASIAOLD\naws_secret_access_key = old\n"
        "aws_session_token = OLDTOKEN==\n" + other
    )
    write_profile(NAME, CREDS, path=path)
    assert path.read_text() == "[mfa]\n" + body() + other
    assert botocore_reads(path, "other") == ("AKIAOTHER", "otherSecret", None)
    assert botocore_reads(path, NAME) == expected()


def test_appends_a_new_section_after_a_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("# mine\n[default]\naws_access_key_id = AKIAOLDKEY\n")
    result = write_profile(NAME, CREDS, path=path)
    assert result == WriteResult(path=path, created=False, warnings=result.warnings)
    assert (
        path.read_text() == "# mine\n[default]\naws_access_key_id = AKIAOLDKEY\n\n[mfa]\n" + body()
    )


def test_crlf_file_gets_crlf_lines_and_a_missing_final_newline_is_added(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    original = b"[default]\r\naws_access_key_id = AKIAOLDKEY"
    path.write_bytes(original)
    write_profile(NAME, CREDS, path=path)
    assert path.read_bytes() == original + b"\r\n\r\n[mfa]\r\n" + body("\r\n").encode()


def test_lone_carriage_returns_end_lines_as_they_do_for_botocore(tmp_path: Path) -> None:
    """Text mode (universal newlines) ends a line at a lone \\r too: this file has two sections."""
    path = tmp_path / "credentials"
    original = b"[mfa]\raws_session_token = OLDTOKEN==\r[other]\rregion = eu-west-1\r"
    path.write_bytes(original)
    write_profile(NAME, CREDS, path=path)
    assert path.read_bytes() == b"[mfa]\r" + body("\r").encode() + b"[other]\rregion = eu-west-1\r"
    assert botocore_reads(path, NAME) == expected()


def test_comments_inside_the_section_go_and_those_after_its_last_key_stay(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text(
        "[mfa]   # temporary\n# from aws-mfa\naws_session_token = OLDTOKEN==\n"
        "; old note\naws_access_key_id = ASIAOLD\n\n# production below\n[prod]\nregion = x\n"
    )
    write_profile(NAME, CREDS, path=path)
    assert path.read_text() == (
        "[mfa]   # temporary\n" + body() + "\n# production below\n[prod]\nregion = x\n"
    )


def test_near_miss_headers_are_other_sections(tmp_path: Path) -> None:
    """botocore reads `[ mfa ]` as ' mfa ' and `[MFA]` as 'MFA': neither is [mfa]."""
    path = tmp_path / "credentials"
    original = (
        "[ mfa ]\naws_access_key_id = AKIAOLDKEY\naws_secret_access_key = old/Secret+1\n"
        "[MFA]\naws_access_key_id = AKIAOLDKEY\n"
        "[mfa-long-term]\naws_access_key_id = AKIAOLDKEY\n"
    )
    path.write_text(original)
    write_profile(NAME, CREDS, path=path)
    assert path.read_text() == original + "\n[mfa]\n" + body()


# --- Failure halfway: the original stays byte-identical -----------------------------------------

EFBIG_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    from datetime import datetime, timezone
    from pathlib import Path
    from mfa_env.aws_files import write_profile
    from mfa_env.credentials import Credentials
    from mfa_env.errors import CredentialsFileError

    # Without SIG_IGN the kernel kills the process with SIGXFSZ instead of failing the write.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
    creds = Credentials("ASIANEW", "secret", "token", datetime(2030, 1, 1, tzinfo=timezone.utc))
    try:
        write_profile("mfa", creds, path=Path(sys.argv[1]))
    except CredentialsFileError as error:
        print(error)
        sys.exit(3)
    """
)


def test_a_write_that_cannot_finish_leaves_the_original(tmp_path: Path) -> None:
    path = tmp_path / "aws" / "credentials"
    path.parent.mkdir()
    padding = "".join(f"# padding line {n:05d} to make the file large\n" for n in range(2000))
    path.write_text(f"[default]\nregion = x\n{padding}[mfa]\naws_session_token = OLDTOKEN==\n")
    original = path.read_bytes()
    assert len(original) > 16384
    done = subprocess.run(
        [sys.executable, "-c", EFBIG_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 3, done.stderr
    assert "File too large" in done.stdout
    assert "left unchanged" in done.stdout
    assert path.read_bytes() == original
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials", "credentials.lock"]


def test_a_failed_rename_leaves_the_original_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "credentials"
    path.write_text("[mfa]\naws_session_token = OLDTOKEN==\n")
    original = path.read_bytes()

    def broken(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(aws_files.os, "replace", broken)
    with pytest.raises(CredentialsFileError, match="No space left on device"):
        write_profile(NAME, CREDS, path=path)
    assert path.read_bytes() == original
    assert leftovers(tmp_path) == []


# --- Concurrent writers lose nothing ------------------------------------------------------------

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    from mfa_env.aws_files import write_profile
    from mfa_env.credentials import Credentials

    path, name, ready, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    creds = Credentials(
        "ASIA" + name.upper(), "secret-" + name, "token-" + name,
        datetime(2030, 1, 1, tzinfo=timezone.utc),
    )
    ready.touch()
    while not go.exists():  # start all writers at once
        time.sleep(0.001)
    write_profile(name, creds, path=path)
    """
)


def test_eight_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    original = (
        "# shared\n[default]\naws_access_key_id = AKIAOLDKEY\naws_secret_access_key = old\n\n"
        "[prod]\nregion = eu-west-1\n; trailing comment\n"
    )
    path.write_text(original)
    before = others(path)
    go = tmp_path / "go"
    names = [f"writer{n}" for n in range(8)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER_SCRIPT, str(path), name, str(tmp_path / name), str(go)],
            cwd=ROOT,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 30
        while not all((tmp_path / name).exists() for name in names):
            assert time.monotonic() < deadline, "the writers did not start"
            time.sleep(0.01)
        go.touch()
        assert [writer.wait(timeout=60) for writer in writers] == [0] * 8
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    text = path.read_text()
    assert text.startswith(original)
    for name in names:
        assert botocore_reads(path, name) == (
            "ASIA" + name.upper(),
            f"secret-{name}",
            f"token-{name}",
        )
    assert {k: v for k, v in others(path).items() if k not in names} == before
    assert leftovers(tmp_path) == []


# --- Symlinks, modes, new files ------------------------------------------------------------------


def test_a_symlinked_file_stays_a_symlink_and_its_target_is_updated(
    tmp_path: Path, home: Path
) -> None:
    real = tmp_path / "dotfiles" / "aws-credentials"
    real.parent.mkdir()
    real.write_text("[default]\nregion = x\n")
    real.chmod(0o600)
    link = home / ".aws" / "credentials"
    link.parent.mkdir()
    link.symlink_to(real)
    result = write_profile(NAME, CREDS)
    assert result.path == link
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    assert real.read_text() == "[default]\nregion = x\n\n[mfa]\n" + body()
    assert sorted(p.name for p in link.parent.iterdir()) == ["credentials"]
    assert botocore_reads(link, NAME) == expected()


def test_a_dangling_symlink_is_written_through(tmp_path: Path, home: Path) -> None:
    """The link's target is created (0600, in a new 0700 directory); the link stays a link."""
    real = tmp_path / "elsewhere" / "aws" / "credentials"
    link = home / ".aws" / "credentials"
    link.parent.mkdir()
    link.symlink_to(real)
    result = write_profile(NAME, CREDS)
    assert result.created
    assert link.is_symlink()
    assert real.read_text() == f"[{NAME}]\n" + body()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert stat.S_IMODE(real.parent.stat().st_mode) == 0o700


def test_a_new_file_is_0600_in_a_new_0700_directory_even_under_umask_000(home: Path) -> None:
    old_umask = os.umask(0)
    try:
        result = write_profile(NAME, CREDS)
    finally:
        os.umask(old_umask)
    path = home / ".aws" / "credentials"
    assert result == WriteResult(path=path, created=True, warnings=())
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((path.parent / "credentials.lock").stat().st_mode) == 0o600
    assert path.read_text() == f"[{NAME}]\n" + body()


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_the_existing_mode_is_kept_and_an_open_one_is_warned_about(
    home: Path, mode: int, warned: bool
) -> None:
    path = home / ".aws" / "credentials"
    path.parent.mkdir()
    path.write_text("[default]\nregion = x\n")
    path.chmod(mode)
    result = write_profile(NAME, CREDS)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    if warned:
        assert len(result.warnings) == 1
        assert "~/.aws/credentials" in result.warnings[0]
        assert "chmod 600" in result.warnings[0]
    else:
        assert result.warnings == ()


def test_credentials_path_is_read_from_the_environment_at_call_time(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert credentials_path() == home / ".aws" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds")
    assert credentials_path() == home / "elsewhere" / "creds"
    write_profile(NAME, CREDS)
    assert (home / "elsewhere" / "creds").read_text() == f"[{NAME}]\n" + body()


# --- Refusals: CredentialsFileError, file untouched, one line, no secret -------------------------

LONG_TERM = "[mfa]\naws_access_key_id = AKIAOLDKEY\naws_secret_access_key = old/Secret+1\n"
TEMPORARY = (
    "[mfa]\naws_access_key_id = ASIA\naws_secret_access_key = x=y\naws_session_token = a # b\n"
)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param(LONG_TERM, "long-term keys", id="long-term keys"),
        pytest.param("[mfa]\nregion = eu-west-1\n", "no session token", id="not ours, no token"),
        pytest.param("[mfa]\n", "no session token", id="empty section"),
        pytest.param(
            "aws_access_key_id = AKIAOLDKEY\n[mfa]\n", "before its first", id="key before header"
        ),
        pytest.param(
            "[default]\nAKIAOLDKEY old/Secret+1\n", "not `key = value`", id="not key=value"
        ),
        pytest.param(TEMPORARY + "[mfa]\nregion = x\n", r"\[mfa\] more than once", id="dup mfa"),
        pytest.param("[a]\n[b]\n[a]\n" + TEMPORARY, r"\[a\] more than once", id="dup other"),
        pytest.param(
            "[mfa]\naws_session_token = OLDTOKEN==\nAWS_SESSION_TOKEN = x=y\n",
            "aws_session_token twice",
            id="dup key",
        ),
        pytest.param("[a]\ns3 =\n  AKIAOLDKEY\n" + TEMPORARY, "nested value", id="bad nested"),
        pytest.param("\ufeff" + TEMPORARY, "byte-order mark", id="BOM"),
        pytest.param(
            "[DEFAULT]\naws_security_token = OLDTOKEN==\n" + TEMPORARY,
            "without changing",
            id="DEFAULT token shadows",
        ),
    ],
)
def test_refuses_a_file_it_must_not_or_cannot_edit(
    tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "credentials"
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(CredentialsFileError, match=match) as caught:
        write_profile(NAME, CREDS, path=path)
    assert_refused(path, caught.value, before)


def test_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_bytes(b"[mfa]\naws_session_token = \xff\n")
    with pytest.raises(CredentialsFileError, match="not valid UTF-8") as caught:
        write_profile(NAME, CREDS, path=path)
    assert_refused(path, caught.value, b"[mfa]\naws_session_token = \xff\n")


@pytest.mark.parametrize("existing", [TEMPORARY, ""], ids=["present", "absent"])
def test_never_writes_into_a_source_profile(tmp_path: Path, existing: str) -> None:
    path = tmp_path / "credentials"
    path.write_text(existing)
    with pytest.raises(CredentialsFileError, match="source profile") as caught:
        write_profile(NAME, CREDS, source_profiles={"default", NAME}, path=path)
    assert_refused(path, caught.value, existing.encode())


@pytest.mark.parametrize("field", ["access_key_id", "secret_access_key", "session_token"], ids=str)
@pytest.mark.parametrize("bad", ["\n[evil]\naws_access_key_id = X", "\r", " ", "\x85", ""])
def test_refuses_a_value_that_is_not_one_safe_line(tmp_path: Path, field: str, bad: str) -> None:
    path = tmp_path / "credentials"
    path.write_text(TEMPORARY)
    values = {
        "access_key_id": "ASIAINJECT",
        "secret_access_key": "SECRETINJECT",
        "session_token": "TOKENINJECT",
    }
    values[field] = values[field] + bad if bad else ""
    creds = Credentials(**values, expiration=CREDS.expiration)
    with pytest.raises(CredentialsFileError, match=f"aws_{field}") as caught:
        write_profile(NAME, creds, path=path)
    assert_refused(path, caught.value, TEMPORARY.encode())
    assert "SECRETINJECT" not in str(caught.value)
    assert "TOKENINJECT" not in str(caught.value)


@pytest.mark.parametrize("name", ["", " mfa", "mfa ", "mf]a", "[mfa", "a\nb", "a\rb", "DEFAULT"])
def test_refuses_a_name_that_cannot_be_a_section_header(tmp_path: Path, name: str) -> None:
    path = tmp_path / "credentials"
    path.write_text(TEMPORARY)
    with pytest.raises(CredentialsFileError, match="cannot write a profile named") as caught:
        write_profile(name, CREDS, path=path)
    assert_refused(path, caught.value, TEMPORARY.encode())


# --- Overwrites that are allowed ----------------------------------------------------------------


@pytest.mark.parametrize(
    "section",
    [
        pytest.param(TEMPORARY, id="session token"),
        pytest.param("[mfa]\naws_security_token = OLDTOKEN==\n", id="security token"),
        pytest.param(
            "[mfa]\naws_access_key_id = ASIAOLD\nmanaged_by = mfa-env\n"
            "mfa_env_expiration = 2020-01-01T00:00:00Z\n",
            id="our marker",
        ),
        pytest.param(
            "[mfa]\naws_access_key_id = ASIAOLD\naws_secret_access_key = x=y\n"
            "aws_security_token = STALE\naws_session_token = OLDTOKEN==\n",
            id="stale security token",
        ),
    ],
)
def test_overwrites_a_temporary_or_own_section_in_place(tmp_path: Path, section: str) -> None:
    path = tmp_path / "credentials"
    before = "[default]\nregion = x\n\n"
    after = "\n[prod]\nregion = y\n"
    path.write_text(before + section + after)
    result = write_profile(NAME, CREDS, path=path)
    assert not result.created
    assert path.read_text() == before + "[mfa]\n" + body() + after
    assert "aws_security_token" not in path.read_text()
    assert botocore_reads(path, NAME) == expected()


# An edit is checked on the lines from [NAME]'s header to the next header at the start of a line
# (aws_files._window); the layouts that decide whether that is enough, read both ways.
WINDOW_LINES = st.sampled_from(
    [
        f"[{NAME}]", "[other]", "  [other]", f"\t[{NAME}]", f"[{NAME}] # n", "[DEFAULT]", "[x]",
        "aws_session_token = t", "aws_access_key_id = a", "managed_by = mfa-env", "region = r",
        "  continued", "  [x]", "", "   ", "# c", "  # c", "k =", "  n = v", f"[{NAME}", "x:y",
    ]
)  # fmt: skip


@counted()
@settings(max_examples=150, database=None, deadline=None)
@given(st.lists(WINDOW_LINES, max_size=12), st.sampled_from(("\n", "\r\n", "\r")))
def test_an_edit_checked_on_its_window_is_decided_as_on_the_whole_file(
    lines: list[str], eol: str
) -> None:
    """Three ways: a plain file known readable without a parse, the window, the whole file."""
    text = eol.join(lines) + eol
    entries = aws_files._entries(CREDS, "f")

    def edited() -> str:
        for cached in (
            aws_files._parse_text,
            aws_files._sections_of,
            aws_files._lines_of,
            aws_files.plain_sections,
        ):
            cached.cache_clear()
        try:
            return aws_files._edited(text, NAME, dict(entries), "f")
        except CredentialsFileError:
            return "refused"

    def whole(text: str, _name: str, _sections: object) -> tuple[int, int]:
        return 0, len(aws_files._lines_of(text))

    as_is = edited()
    reached("refused" if as_is == "refused" else "edited")
    with mock.patch.object(aws_files, "plain_sections", return_value=None):
        assert edited() == as_is
        with mock.patch.object(aws_files, "_window", whole):
            assert edited() == as_is


PLAIN_LINES = st.sampled_from(
    [
        "[a]", "[b]", "[ a ]", "[a]  ", "[a] x", "[a]]", "[[a]", "[]", "[DEFAULT]", "[a",
        "k = v", "K=v", "k: v", "k = [x]", "a b = 1", "k =", "= v", "k", " k = v", "\tk = v",
        "\xa0k = v", "k\xa0= v", "# c", "; c", "  # c", "", "  ", "\x0c", "k = v = w",
    ]
)  # fmt: skip


@st.composite
def built_files(draw: st.DrawFn) -> list[str]:
    """Files laid out as the AWS files are (sections of distinct keys, comments, blanks), which
    a plain reader may take, with one of PLAIN_LINES' odd lines put in one time in three: lists
    of PLAIN_LINES alone are almost never plain (a twentieth of them)."""
    lines = draw(st.lists(st.sampled_from(["", "# c", "; c"]), max_size=2))
    for name in draw(st.lists(st.sampled_from(["a", "b", "c d", "x.y"]), unique=True, max_size=3)):
        lines.append(f"[{name}]")
        for key in draw(
            st.lists(st.sampled_from(["k", "region", "a b", "x"]), unique=True, max_size=3)
        ):
            separator = draw(st.sampled_from([" = ", "=", ": ", " : "]))
            lines.append(key + separator + draw(st.sampled_from(["v", "", "[x]", "v = w"])))
            lines += draw(st.lists(st.sampled_from(["", "# c", "  # c"]), max_size=1))
    if draw(st.integers(0, 2)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(PLAIN_LINES))
    return lines


# sampled_from, not one_of (which leans to its first): a fifth any lines, the rest built.
PLAIN_FILES = st.sampled_from([st.lists(PLAIN_LINES, max_size=10), *[built_files()] * 4]).flatmap(
    lambda kind: kind
)


@counted()
@settings(max_examples=400, database=None, deadline=None)
@given(PLAIN_FILES, st.sampled_from(("\n", "\r\n", "\r")))
def test_a_file_taken_as_plain_is_one_configparser_reads_whole(lines: list[str], eol: str) -> None:
    text = eol.join(lines) + eol
    aws_files.plain_sections.cache_clear()
    plain = aws_files.plain_sections(text)
    if plain is not None:
        reached()
        aws_files._parse_text.cache_clear()
        assert aws_files._parse_text(text, "f").sections() == list(plain)


def test_a_new_session_reads_each_aws_file_once(user, monkeypatch: pytest.MonkeyPatch):
    """config.resolve's reading of the AWS files is the one botocore's excerpt is cut from:
    the command reads each file once, and botocore is handed the excerpt in memory."""
    from click.testing import CliRunner

    from mfa_env import cli, config, platform

    reads: list[str] = []
    excerpts: list[object] = []
    read_file, memory_files = config._read_file, platform.memory_files
    monkeypatch.setattr(config, "_read_file", lambda path: reads.append(path) or read_file(path))
    monkeypatch.setattr(
        platform, "memory_files", lambda texts: excerpts.append(texts) or memory_files(texts)
    )
    done = CliRunner().invoke(cli.cli, ["--no-cache", "-s", "bash", user.name, "123456"])
    assert done.exit_code == 0, done.stderr
    assert "export AWS_SESSION_TOKEN=" in done.stdout
    assert sorted(reads) == sorted([config.credentials_file(), config.config_file()])
    assert len(excerpts) == 1  # botocore read the excerpt of that reading, not the files
