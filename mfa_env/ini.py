"""An AWS file read whole, as botocore reads it, and what is wrong with one, in words: what a
new session, an error or Tab completion needs of the files and a cache hit never does
(mfa_env.config reads a hit's one or two sections alone). mfa_env.config hands out these names
too, importing this module when one is first asked for.
"""

from __future__ import annotations

import os
import stat

from mfa_env import config
from mfa_env.errors import ConfigError
from mfa_env.paths import home_path
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    import configparser
    from collections.abc import Mapping
    from typing import TypeVar

    T = TypeVar("T")


def not_read(path: str) -> str | None:
    """Why botocore reads no file at `path` though something is there ("is a FIFO, not a regular
    file"), for a message that would puzzle without it; None when nothing is there or it is a
    regular file that can be read."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        import errno

        what = "a symlink loop" if exc.errno == errno.ELOOP else f"out of reach ({exc.strerror})"
        return f"is {what}, so botocore reads no file there"
    if not stat.S_ISREG(mode):
        kind = (
            "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device"
        )
        return f"is {kind}, not a regular file, so botocore reads no file there"
    if config._read_file(path) is None:
        return "cannot be read, so botocore reads no file there"
    return None


def _parse(path: str) -> configparser.RawConfigParser | None:
    """The AWS file parsed as botocore's raw_config_parse parses it; None where botocore reads no
    file. A file botocore cannot parse is a ConfigError naming it and the line."""
    import configparser
    import io

    data = config._read_file(path)  # looked up there: a test counts the reads
    if data is None:
        return None
    shown = home_path(path)
    parser = configparser.RawConfigParser()
    try:
        # As text mode hands configparser the lines: universal newlines, each ending in "\n".
        parser.read_file(io.StringIO(data.decode("utf-8"), newline=None))
    except UnicodeDecodeError as exc:
        line = _newlines(data[: exc.start]) + 1
        raise ConfigError(f"cannot parse {shown}: line {line} is not UTF-8 text; fix it") from None
    except configparser.Error as exc:
        raise ConfigError(f"cannot parse {shown}: it {parse_error(exc)}; fix it") from None
    return parser


def _newlines(data: bytes) -> int:
    """How many line breaks universal newlines see in `data`."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def _read_ini(path: str) -> dict[str, dict[str, str]]:
    """Sections of an AWS file the way botocore's raw_config_parse reads them; no file = empty."""
    parser = _parse(path)
    if parser is None:
        return {}
    return {name: dict(parser.items(name)) for name in parser.sections()}


def parse_problem(path: str) -> str | None:
    """What stops botocore from reading the AWS file at `path`, as one line that names the file
    and the line numbers, never a line's text (any line may hold a secret); None when botocore
    reads it. For botocore's ConfigParseError, whose own message quotes the line."""
    try:
        parser = _parse(path)
    except ConfigError as exc:
        return str(exc)
    problem = nested_problem(parser) if parser is not None else ""
    return f"cannot parse {home_path(path)}: it {problem}; fix it" if problem else None


def parse_error(error: configparser.Error) -> str:
    """What configparser found wrong with an AWS file, as the rest of a sentence about the file
    ("has [a] more than once (line 7)"): names and line numbers, never a line's text."""
    import configparser

    if isinstance(error, configparser.DuplicateSectionError):
        return f"has [{error.section}] more than once (line {error.lineno})"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"sets {error.option} twice in [{error.section}] (line {error.lineno})"
    if isinstance(error, configparser.MissingSectionHeaderError):
        if error.lineno == 1 and error.line.startswith("\ufeff"):
            return "starts with a UTF-8 byte-order mark, which botocore cannot read"
        return f"has a line before its first [section] header (line {error.lineno})"
    if isinstance(error, configparser.ParsingError):
        numbers = [str(number) for number, _line in error.errors]
        shown = ", ".join(numbers[:5]) + (
            f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
        )
        return f"has lines that are not `key = value`, [section] or comment (line {shown})"
    return "is not in the INI format botocore reads"


def nested_problem(parser: configparser.RawConfigParser) -> str:
    """As botocore's _parse_nested reads them: a value that starts on a new line must hold
    `key = value` lines. The problem as the rest of a sentence about the file, or ""."""
    for section in parser.sections():
        for option, value in parser.items(section):
            if value.startswith("\n") and any(
                "=" not in line for line in value.splitlines() if line.strip()
            ):
                return f"has a nested value without `=` under {option} in [{section}]"
    return ""


def _reads_cleanly(text: str) -> bool:
    """Whether botocore reads this one section without an error, nested values included."""
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return False
    return not nested_problem(parser)


def _profiles(sections: Mapping[str, T], config: bool) -> dict[str, T]:
    """A file's sections by profile name, as botocore.configloader.build_profile_map reads the
    config file: `[profile NAME]` is NAME (shlex-split into exactly two words), of the bare
    names only `default` counts, and a later section wins over an earlier one of the same name."""
    if not config:
        return dict(sections)
    import shlex

    profiles: dict[str, T] = {}
    for section, value in sections.items():
        if section.startswith("profile"):
            try:
                words = shlex.split(section)
            except ValueError:
                continue
            if len(words) == 2:
                profiles[words[1]] = value
        elif section == "default":
            profiles["default"] = value
    return profiles


def excerpt(sections: config._Sections, name: str, services: str | None) -> bytes | None:
    """The sections botocore reads for profile `name` (in the config file, with the [services]
    section `services`), byte for byte: alone in a file, botocore reads them as it reads them in
    the whole one. None where only the whole file reads the same, and where botocore may refuse
    the whole file (a key given twice in another section, say): a part must never read where the
    whole would not."""
    if sections._all is not None:
        return b"" if sections._missing else None
    from mfa_env.aws_files import plain_sections  # a new session's cost: botocore follows

    data = sections._data
    try:
        if plain_sections(data.decode()) is None:
            return None
    except ValueError:  # not UTF-8
        return None
    kinds = [(name, "profile")]
    if services and sections._config:
        kinds.append((services, "services"))
    text = b""
    try:
        for part, kind in kinds:
            start = sections._find(part, kind)
            if start is not None:
                end = sections._end(start)
                if not _reads_cleanly(data[start:end].decode()):
                    return None  # botocore's error, naming the file, from the whole file
                text += data[start:end] + b"\n"
    except (config._Ambiguous, ValueError):
        return None
    return text
