"""Reading the AWS files as botocore finds them (a file that is not a regular one, an empty
variable), one wording for a broken line with its number and never its text, and stdout and
stderr in any encoding: in-process. The fuzzers of the same boundaries are in
tests/fast/test_boundaries.py; the process-level ones in tests/test_file_kinds.py and
tests/test_stdio.py."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mfa_env import aws_files, cli, config, deliver, ini, paths
from mfa_env.errors import ConfigError, CredentialsFileError
from tests.fast.stubs import SERIAL, creds

HOUR = timedelta(hours=1)
KEYS = "[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = s\n"


def write(home: Path, credentials: str = "", aws_config: str = "") -> None:
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text(credentials)
    (home / ".aws" / "config").write_text(aws_config)


def run(*args: str):
    return CliRunner().invoke(cli.cli, list(args))


@contextlib.contextmanager
def _within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging the suite, if the body blocks (a FIFO opened for reading)."""

    def hung(_signum: int, _frame: object) -> None:
        raise AssertionError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _odd_file(path: Path, kind: str) -> str:
    """Make `path` a file of `kind`; the path to name, which for a device is the device."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    else:
        return kind  # /dev/zero, /dev/null
    return str(path)


@pytest.mark.parametrize("kind", ["fifo", "directory", "loop", "/dev/zero", "/dev/null"])
@pytest.mark.parametrize("variable", ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"])
def test_an_aws_file_that_is_not_regular_reads_as_absent_as_botocore_reads_it(
    isolate, monkeypatch, kind, variable
):
    import botocore.configloader
    import botocore.exceptions

    write(isolate, KEYS, "[default]\nregion = eu-west-1\n")
    named = _odd_file(isolate / "odd", kind)
    monkeypatch.setenv(variable, named)
    with pytest.raises(botocore.exceptions.ConfigNotFound):
        botocore.configloader.raw_config_parse(named)
    with _within(5):
        files = config.AwsFiles.load()
        both = (dict(files.credentials), dict(files.config))
        assert ini._read_ini(named) == {}
        assert ini.parse_problem(named) is None
    emptied = 0 if variable == "AWS_SHARED_CREDENTIALS_FILE" else 1
    assert both[emptied] == {}
    assert both[1 - emptied] != {}  # the other file is read as ever
    assert "botocore reads no file there" in (ini.not_read(named) or "")


def test_an_unreadable_aws_file_reads_as_absent(isolate, monkeypatch):
    """configparser's read(), which botocore calls, skips a file it cannot open (EACCES). As
    root no mode stops a read, so the refusal is the kernel's answer, put in its place."""
    write(isolate, KEYS)
    path = str(isolate / ".aws" / "credentials")
    real_open = os.open

    def refused(name, *args, **kwargs):
        if os.fspath(name) == path:
            raise PermissionError(13, "Permission denied", name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    assert dict(config.AwsFiles.load().credentials) == {}
    assert ini.not_read(path) == "cannot be read, so botocore reads no file there"


def test_a_fifo_is_never_opened_for_a_blocking_read(isolate, monkeypatch):
    """A FIFO put in place between a check and the open would block a plain open(): the file is
    opened with O_NONBLOCK and judged on what was opened."""
    os.mkfifo(isolate / "fifo")
    opened = []
    real_open = os.open

    def watched(name, flags, *args, **kwargs):
        opened.append(flags)
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watched)
    with _within(5):
        assert config._read_file(str(isolate / "fifo")) is None
    assert opened
    assert all(flags & os.O_NONBLOCK for flags in opened)


@pytest.mark.parametrize("variable", ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"])
def test_an_empty_file_variable_names_no_file_as_botocore_reads_it(isolate, monkeypatch, variable):
    import botocore.session

    write(isolate, KEYS, f"[default]\nmfa_serial = {SERIAL}\n")
    monkeypatch.setenv(variable, "")
    setting = "credentials_file" if variable == "AWS_SHARED_CREDENTIALS_FILE" else "config_file"
    assert botocore.session.Session().get_config_variable(setting) == ""
    assert (paths.credentials_file(), paths.config_file())[setting == "config_file"] == ""
    files = config.AwsFiles.load()
    settings = config.resolve(config.Inputs())
    if setting == "credentials_file":  # ~/.aws/credentials holds keys, and is not read
        assert dict(files.credentials) == {}
        assert settings.source.access_key_id != "AKIADEFAULT000000000"
    else:  # ~/.aws/config holds mfa_serial, and is not read
        assert dict(files.config) == {}
        assert settings.serial is None


def test_write_profile_refuses_an_empty_credentials_variable(isolate, monkeypatch):
    """botocore would read no credentials file, so a profile written anywhere would be one no
    SDK reads: refused, and nothing is written (not ~/.aws/credentials, not the current
    directory, which is what Path("") means)."""
    monkeypatch.chdir(isolate)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "")
    before = sorted(p.name for p in isolate.iterdir())
    with pytest.raises(CredentialsFileError, match="AWS_SHARED_CREDENTIALS_FILE is set but empty"):
        aws_files.write_profile("out", creds("ASIA", HOUR, None))
    with pytest.raises(CredentialsFileError, match="set but empty"):
        aws_files.check_profile("out")
    assert sorted(p.name for p in isolate.iterdir()) == before


def test_a_relative_xdg_cache_home_is_ignored_as_the_spec_says(isolate, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")
    assert paths.cache_dir() == str(isolate / ".cache" / "mfa-env")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert paths.cache_dir() == str(isolate / ".cache" / "mfa-env")


SECRET_LINE = "AKIASECRETLINE wJalrSECRETLINE"
BROKEN = [
    ("region = x\n[a]\n", "has a line before its first [section] header (line 1)"),
    (f"[a]\nx = 1\n{SECRET_LINE}\n", "has lines that are not `key = value`, [section] or comment"),
    (f"[a]\n{SECRET_LINE}\n{SECRET_LINE}\n", "(line 2, 3)"),
    (f"[a]\nx = 1\n{SECRET_LINE}\n", "(line 3)"),
    ("[a]\n" + "junk\n" * 8, "(line 2, 3, 4, 5, 6 and 3 more)"),
    ("[a]\nx = 1\n[b]\n[a]\n", "has [a] more than once (line 4)"),
    ("[a]\nx = 1\nX = 2\n", "sets x twice in [a] (line 3)"),
    ("\ufeff[a]\nx = 1\n", "starts with a UTF-8 byte-order mark, which botocore cannot read"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "problem"), BROKEN)
def test_a_broken_aws_file_is_named_with_its_line_never_its_text(tmp_path, text, problem):
    """One wording for every reader: the whole-file reader (and parse_problem, for botocore's
    ConfigParseError) and the -w editor say the same, with line numbers and no line's text."""
    path = tmp_path / "file"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as read:
        ini._read_ini(str(path))
    assert problem in str(read.value)
    assert str(read.value).startswith(f"cannot parse {path}: it ")
    assert ini.parse_problem(str(path)) == str(read.value)
    aws_files._parse_text.cache_clear()
    with pytest.raises(CredentialsFileError) as edited:
        aws_files._parse_text(text, "f")
    assert problem in str(edited.value)
    for message in (str(read.value), str(edited.value)):
        assert "SECRET" not in message


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"[a]\r\nx = 1\r\ny = \xff\r\n")
    assert ini.parse_problem(str(path)) == (
        f"cannot parse {path}: line 3 is not UTF-8 text; fix it"
    )


def test_a_nested_value_botocore_refuses_is_a_parse_problem(tmp_path):
    path = tmp_path / "file"
    path.write_text("[a]\ns3 =\n  AKIASECRETLINE\n")
    assert ini._read_ini(str(path))  # configparser reads it; botocore's _parse_nested not
    problem = ini.parse_problem(str(path))
    assert (
        problem == f"cannot parse {path}: it has a nested value without `=` under s3 in [a]; fix it"
    )
    path.write_text("[a]\ns3 =\n  addressing_style = path\n")
    assert ini.parse_problem(str(path)) is None


def test_a_broken_line_is_reported_with_its_number_by_the_command(isolate):
    write(isolate, KEYS, f"[default]\nmfa_serial = {SERIAL}\n{SECRET_LINE}\n")
    done = run("--shell", "bash", "123456")
    assert done.exit_code == 1
    assert "cannot parse ~/.aws/config: it has lines that are not" in done.stderr
    assert "(line 3)" in done.stderr
    assert "SECRET" not in done.stderr


@pytest.mark.parametrize(
    ("encoding", "text", "written"),
    [
        ("latin-1", "caf\u00e9\n", "caf\u00e9\n".encode("latin-1")),  # the stream's own
        ("latin-1", "\u0142\u00f3d\u017a\n", "\u0142\u00f3d\u017a\n".encode()),  # else UTF-8
        ("ascii", "caf\u00e9\n", "caf\u00e9\n".encode()),
        ("utf-16-le", "caf\u00e9\n", "caf\u00e9\n".encode("utf-16-le")),
    ],
)
def test_stdout_gets_its_encoding_when_it_holds_the_text_else_utf8(encoding, text, written):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    deliver._write(stream, text)
    assert raw.getvalue() == written


def test_stderr_shows_what_its_encoding_cannot_hold_as_escapes(monkeypatch):
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(raw, encoding="latin-1"))
    deliver.say("profile 'caf\u00e9 \u0142\u00f3d\u017a'")
    assert raw.getvalue() == b"mfa-env: profile 'caf\xe9 \\u0142\xf3d\\u017a'\n"


def test_a_write_removes_the_temporary_files_killed_writers_left(tmp_path):
    """A kill -9 between mkstemp and the rename leaves `.NAME.XXXX.tmp`: the next write of NAME
    removes those older than paths.STALE_TEMP, and nothing else."""
    import time

    tmp_path = tmp_path / "aws"  # a folder of its own: HOME is in tmp_path
    tmp_path.mkdir()

    target = tmp_path / "credentials"
    old = time.time() - paths.STALE_TEMP - 5
    stale = tmp_path / ".credentials.k1ll3d.tmp"
    fresh = tmp_path / ".credentials.wr1t1ng.tmp"  # another writer, right now
    other = tmp_path / ".config.k1ll3d.tmp"  # another file's
    not_a_file = tmp_path / ".credentials.d1r.tmp"
    for made in (stale, fresh, other):
        made.write_text("x")
    not_a_file.mkdir()
    for aged in (stale, other, not_a_file):
        os.utime(aged, (old, old))
    paths.write_private(str(target), b"[default]\n")
    assert target.read_bytes() == b"[default]\n"
    assert not stale.exists()
    assert fresh.exists()
    assert other.exists()
    assert not_a_file.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".config.k1ll3d.tmp", ".credentials.d1r.tmp", ".credentials.wr1t1ng.tmp", "credentials"]
    )
