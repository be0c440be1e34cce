"""The shared credentials file writer: it changes only its own [NAME] section.

botocore reads the file with a default `configparser.RawConfigParser` (botocore/configloader.py,
`raw_config_parse`). configparser drops comments when it writes, so the file is edited here as
text, line by line; configparser is used only to read the file the way botocore will, before the
edit (a file botocore cannot read is refused) and after it (the edit must change nothing botocore
sees outside [NAME], and [NAME] must read back as the new session).

Decisions, each also noted where it is made:
- A repeated section: botocore's parser is strict, so any section (or key) given twice makes it
  refuse the whole file. Such a file is refused here too, naming the section and line.
- Comments inside [NAME]: the lines from its header to its last key (or continuation line) are
  the section; its header line is kept byte for byte and everything after it up to that last key
  is replaced, comments included (they described the old keys). Comment and blank lines after the
  last key stay: they usually introduce the next section.
- A dangling symlink: written through, creating its target (0600, parent directories 0700).
- A missing final newline: a line break is added before an appended section, the only byte that
  changes outside [NAME], and only because a header must start a line.
- A UTF-8 byte-order mark: botocore cannot read such a file at all (configparser sees U+FEFF before
  the first header and raises MissingSectionHeaderError), so it is refused, left as it was.

This module imports no boto3 or botocore: it stays on the fast path.
"""

from __future__ import annotations

import codecs
import configparser
import contextlib
import dataclasses
import functools
import io
import os
import re
import stat
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mfa_env import paths, platform
from mfa_env.credentials import Credentials, rfc3339
from mfa_env.errors import CredentialsFileError
from mfa_env.memory import collector_paused

MARKER_KEY = "managed_by"
MARKER_VALUE = "mfa-env"
# botocore ignores keys it does not know, so the expiry can sit beside the keys for people to read.
EXPIRATION_KEY = "mfa_env_expiration"
# botocore's SharedCredentialProvider.TOKENS, in its order: aws_security_token is looked up first,
# so a stale one left in the section would shadow the new aws_session_token.
TOKEN_KEYS = ("aws_security_token", "aws_session_token")
LONG_TERM_KEYS = ("aws_access_key_id", "aws_secret_access_key")
LOCK_TIMEOUT = 10.0

# configparser's default comment prefixes; inline comments are off by default, so `key = a # b`
# holds the value `a # b`.
_COMMENT_PREFIXES = ("#", ";")
# configparser.read() opens the file in text mode, whose universal newlines end a line at \r\n,
# \r or \n (and nowhere else: \x0b, \x85 or \u2028 stay inside a line).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_BREAKS = ("\n", "\r")
paths.PRIVATE_FILE = 0o600


@dataclass(frozen=True)
class WriteResult:
    """What write_profile did: the file as the user names it, and warnings for stderr."""

    path: Path
    created: bool
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Section:
    """A section as botocore reads it: lines[start] is its header, lines[end - 1] its last key."""

    name: str
    start: int
    end: int
    keys: tuple[str, ...]


def credentials_path() -> Path:
    """The shared credentials file, expanded as botocore expands it."""
    return Path(paths.credentials_file())


def write_profile(
    name: str,
    creds: Credentials,
    *,
    source_profiles: Collection[str] = (),
    path: Path | None = None,
    region: str | None = None,
) -> WriteResult:
    """Store `creds` as the profile [name] in the shared credentials file.

    Only [name] changes: every other byte stays as it was. An existing [name] is overwritten only
    when it holds a session token or carries mfa-env's marker; a name in `source_profiles` is
    never written. A known region is written too: botocore and the Node.js SDK read `region`
    from the credentials file, so `--profile NAME` works with nothing else configured. The file
    is replaced atomically under an exclusive lock, keeping its mode (new
    files are 0600); a symlink stays a symlink and its target is updated. Raises
    CredentialsFileError, with the file left unchanged, when any of this cannot be done.
    """
    target = Path(path) if path is not None else credentials_path()
    shown = paths.home_path(target)
    _check_name(name, source_profiles)
    entries = _entries(creds, shown, region)
    real = _real_file(target, shown)
    _make_private_dirs(real.parent)
    with _locked(real, shown):
        data, existing = _read(real, shown)
        text = _edited(_decoded(data, shown), name, entries, shown)
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else paths.PRIVATE_FILE
        # A cached session written again (mfa-env -w in a shell rc) leaves the file alone.
        if text.encode("utf-8") != data or existing is None:
            _replace(real, text.encode("utf-8"), mode, existing, shown)
    return WriteResult(path=target, created=existing is None, warnings=_warnings(mode, shown))


def managed_profiles() -> list[str]:
    """The sections --write-profile would overwrite (ours, or holding only a session), for Tab
    completion; a file that cannot be read offers none."""
    from mfa_env.config import AwsFiles
    from mfa_env.errors import MfaEnvError

    try:
        sections = AwsFiles.load().credentials
        return sorted(
            name
            for name, keys in sections.items()
            if keys.get(MARKER_KEY) == MARKER_VALUE or set(keys) & set(TOKEN_KEYS)
        )
    except MfaEnvError:  # sections are read lazily: a broken one shows up here
        return []


def check_profile(
    name: str, *, source_profiles: Collection[str] = (), path: Path | None = None
) -> None:
    """Raise CredentialsFileError now if write_profile(name) would be refused, so that no MFA
    code is spent on a session that cannot be stored. Reads only; takes no lock."""
    target = Path(path) if path is not None else credentials_path()
    shown = paths.home_path(target)
    _check_name(name, source_profiles)
    real = _real_file(target, shown)
    data, _existing = _read(real, shown)
    _check_unlocked(real, shown)
    placeholder = Credentials(
        "ASIACHECK", "check", "check", datetime.fromtimestamp(0, timezone.utc)
    )
    _edited(_decoded(data, shown), name, _entries(placeholder, shown), shown, verify=False)


def _check_name(name: str, source_profiles: Collection[str]) -> None:
    problem = _name_problem(name)
    if problem:
        raise CredentialsFileError(
            f"cannot write a profile named {name!r} ({problem}); "
            "choose a plain name such as mfa for --write-profile"
        )
    if name in source_profiles:
        raise CredentialsFileError(
            f"[{name}] is the source profile whose long-term keys this session comes from, "
            "so mfa-env will not overwrite it; choose another name for --write-profile"
        )


def _name_problem(name: str) -> str:
    """Why `[name]` would not be read back by botocore as `name`, or "" when it would."""
    if not name:
        return "it is empty"
    if not name.isprintable():
        return "it holds a line break or control character"
    if name != name.strip():
        return "it starts or ends with whitespace"
    if "[" in name or "]" in name:
        return "it holds a square bracket"
    if name == configparser.DEFAULTSECT:
        # configparser turns [DEFAULT] into defaults for every section; botocore never lists it.
        return "botocore reads [DEFAULT] as defaults for every profile, not as a profile"
    return ""


def _entries(creds: Credentials, shown: str, region: str | None = None) -> dict[str, str]:
    """The keys of the new section, in order; a value that cannot be one safe line is refused."""
    entries = {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
        "aws_session_token": creds.session_token,
        **({"region": region} if region else {}),
        EXPIRATION_KEY: rfc3339(creds.expiration),
        MARKER_KEY: MARKER_VALUE,
    }
    for key, value in entries.items():
        # A line break would end the value and let the rest be read as more keys or sections
        # (INI injection); configparser strips surrounding whitespace, so that would not round-trip.
        if not value or not value.isprintable() or value != value.strip():
            raise CredentialsFileError(
                f"the {key} value cannot be written to {shown} safely (it is empty or holds a "
                "line break, control character or surrounding space); get a new session with "
                "--refresh"
            )
    return entries


def _real_file(target: Path, shown: str) -> Path:
    """The file to replace: a symlink's final target, so that the link itself stays a link."""
    if target == Path() and paths.credentials_file() == "":
        # Path("") is ".". botocore reads no credentials file for an empty variable, so there
        # is none to write: the session would be stored where nothing reads it.
        raise CredentialsFileError(
            "AWS_SHARED_CREDENTIALS_FILE is set but empty, so botocore reads no credentials "
            "file; unset it, or set it to the file to use"
        )
    try:
        real = Path(os.path.realpath(target))
        loop = real.is_symlink()  # realpath stops resolving when it meets a loop
        odd = real.exists() and not real.is_file()
    except OSError as error:  # a directory on the way that cannot be searched
        raise CredentialsFileError(
            f"cannot look at {shown} ({error.strerror}); check the permissions on its directory"
        ) from None
    if loop:
        raise CredentialsFileError(f"{shown} is a symlink loop; point it at a file and try again")
    if odd:
        raise CredentialsFileError(
            f"{shown} is not a regular file; move it away or set AWS_SHARED_CREDENTIALS_FILE"
        )
    return real


def _make_private_dirs(directory: Path) -> None:
    """Create the missing directories up to `directory`, each 0700 whatever the umask."""
    try:
        paths.private_dirs(str(directory))
    except OSError as error:
        raise CredentialsFileError(
            f"could not create {paths.home_path(error.filename or directory)} ({error.strerror}); "
            "create it yourself or set AWS_SHARED_CREDENTIALS_FILE to a writable place"
        ) from None


@contextlib.contextmanager
def _locked(real: Path, shown: str) -> Iterator[None]:
    """Hold the platform's exclusive lock on `<file>.lock` while the file is read, edited and
    replaced.

    The credentials file itself cannot carry the lock: os.replace swaps its inode, so a writer
    waiting on the old inode would then edit a stale copy. The lock file is left in place, since
    unlinking it would let a waiting writer and a new one lock two different inodes.
    """
    lock_path = real.with_name(real.name + ".lock")
    flags = os.O_RDWR | os.O_CREAT | platform.CLOEXEC | platform.NOFOLLOW
    try:
        fd = os.open(lock_path, flags, 0o600)
    except OSError as error:
        raise CredentialsFileError(
            f"could not create the lock file {paths.home_path(lock_path)} ({error.strerror}); "
            f"make {paths.home_path(real.parent)} writable and try again"
        ) from None
    platform.adopt_owner(str(lock_path), fd)  # under sudo -E: the user's next run must lock it
    try:
        _wait_for_lock(fd, shown)
        platform.mark_holder(fd)  # who holds it, for a run that finds it held
        yield
    finally:
        platform.unlock(fd)
        os.close(fd)


def _check_unlocked(real: Path, shown: str) -> None:
    """Refuse now, before a code is asked for or spent, when another writer holds the lock;
    the lock itself is taken only to write (a prompt must not hold up other writers)."""
    lock_path = real.with_name(real.name + ".lock")
    flags = os.O_RDONLY | platform.NOFOLLOW | platform.NONBLOCK | platform.CLOEXEC
    try:
        fd = os.open(lock_path, flags)
    except OSError:
        return  # none yet, or not one to open: the write says what is wrong
    try:
        taken = platform.try_lock(fd)
        holder = "" if taken else platform.holder(fd)
    except OSError:
        taken = True  # no locks to be had here: the write says what is wrong
    finally:
        platform.unlock(fd)  # the probe's lock, at once
        os.close(fd)
    if not taken:
        who = f"process {holder}" if holder else "another writer"
        raise CredentialsFileError(
            f"{shown} is locked by {who} (another mfa-env -w, or mfa-env --store-keys); wait "
            "for it to finish and try again (no code was used)"
        )


def _wait_for_lock(fd: int, shown: str) -> None:
    try:
        held = platform.lock(fd, time.monotonic() + LOCK_TIMEOUT, 0.01)
    except OSError as error:
        raise CredentialsFileError(
            f"could not lock {shown} ({error.strerror}); try again or write elsewhere "
            "with AWS_SHARED_CREDENTIALS_FILE"
        ) from None
    if not held:
        raise CredentialsFileError(
            f"{shown} has been locked by another writer for {LOCK_TIMEOUT:.0f} s; "
            "wait for it to finish and try again"
        )


def _read(real: Path, shown: str) -> tuple[bytes, os.stat_result | None]:
    """The file's bytes and status; a missing file is empty and has no status. Opened without
    blocking and checked once open, so that a FIFO put in its place since _real_file looked
    cannot hang the run."""
    try:
        fd = os.open(real, os.O_RDONLY | platform.NONBLOCK | platform.CLOEXEC)
    except FileNotFoundError:
        return b"", None
    except OSError as error:
        raise CredentialsFileError(
            f"could not read {shown} ({error.strerror}); check its permissions and try again"
        ) from None
    with open(fd, "rb") as handle:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise CredentialsFileError(
                f"{shown} is not a regular file; move it away or set AWS_SHARED_CREDENTIALS_FILE"
            )
        try:
            return handle.read(), status
        except OSError as error:
            raise CredentialsFileError(
                f"could not read {shown} ({error.strerror}); check its permissions and try again"
            ) from None


def _decoded(data: bytes, shown: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        raise CredentialsFileError(
            f"{shown} starts with a UTF-8 byte-order mark, which stops botocore from reading "
            "any of it; save it without the mark and try again"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CredentialsFileError(
            f"{shown} is not valid UTF-8 (byte {error.start}), so botocore cannot read it; "
            "fix its encoding and try again"
        ) from None


def _edited(text: str, name: str, entries: dict[str, str], shown: str, verify: bool = True) -> str:
    """`text` with [name] holding `entries`; every other line as it was. Without `verify`, the
    edit is not read back (check_profile: its placeholder session is never written)."""
    lines = list(_lines_of(text))
    # A file of plain lines is known readable without parsing it all (10,000 profiles: 0.2 s).
    plain = plain_sections(text)
    names = plain if plain is not None else _parse(lines, shown).sections()
    first, stop = _window(text, name, names) if "[DEFAULT]" not in text else (0, len(lines))
    whole = (first, stop) == (0, len(lines))
    # The window alone, read before and after, tells what the edit changes: outside it the lines
    # are the same, and so is configparser's state where they start.
    before = _parse(lines if whole else lines[first:stop], shown)
    # _parse refused repeated sections (botocore's parser is strict), so there is at most one.
    found = _sections_of(text) if whole else _sections(lines[first:stop])
    section = next((s for s in found if s.name == name), None)
    if section is None:
        new_lines = _appended(lines, name, entries)
    else:
        section = dataclasses.replace(section, start=section.start + first, end=section.end + first)
        _check_overwrite(section, before, shown)
        new_lines = _replaced(lines, section, entries)
    if verify:
        after = new_lines[first : len(new_lines) - (len(lines) - stop)]
        _check_result(before, after, name, entries, shown)
    return "".join(new_lines)


@functools.lru_cache(maxsize=2)
def plain_sections(text: str) -> tuple[str, ...] | None:
    """The sections of a file made only of plain lines, when no section and no key of a section
    is given twice; None for any other file. Plain: `[name]` alone on its line and the lines
    config.plain_options reads, no [DEFAULT]. configparser, and so botocore, reads such a file
    whole without an error, and nothing in it continues a value; a property test holds this
    against configparser."""
    from mfa_env.config import plain_options

    if "[DEFAULT]" in text:
        return None
    lines = "\n" + text.replace("\r\n", "\n").replace("\r", "\n")
    before, *sections = lines.split("\n[")
    if plain_options(before) != {}:  # an option before the first header, or an odd line
        return None
    names: dict[str, None] = {}
    for section in sections:
        header, _, body = section.partition("\n")
        name, bracket, rest = header.partition("]")
        if not name or not bracket or "]" in rest or rest.strip(" \t") or name in names:
            return None
        if plain_options("\n" + body) is None:
            return None
        names[name] = None
    return tuple(names)


@functools.lru_cache(maxsize=2)
def _lines_of(text: str) -> tuple[str, ...]:
    """The lines of a file's text, each with its ending; found once for check_profile and
    write_profile alike."""
    return tuple(_LINE.findall(text))


@functools.lru_cache(maxsize=2)
def _headers_of(text: str) -> tuple[int, ...]:
    """The lines that are headers at the start of a line: none of those continues a value."""
    sectcre = configparser.RawConfigParser.SECTCRE
    return tuple(
        index
        for index, line in enumerate(_lines_of(text))
        if line.startswith("[") and sectcre.match(line.strip())
    )


def _window(text: str, name: str, sections: Collection[str]) -> tuple[int, int]:
    """The lines an edit of [name] can read differently: from its header to the next header at
    the start of a line (none there is a value's continuation, so configparser's state is the
    same there whatever came before), or the end, where a new [name] goes. The whole file where
    [name]'s header is indented: then what came before decides whether it is one."""
    lines = _lines_of(text)
    if name not in sections:
        return len(lines), len(lines)
    headers = _headers_of(text)
    for at, index in enumerate(headers):
        match = configparser.RawConfigParser.SECTCRE.match(lines[index].strip())
        if match is not None and match.group("header") == name:
            return index, headers[at + 1] if at + 1 < len(headers) else len(lines)
    return 0, len(lines)


def _parse(lines: list[str], shown: str) -> configparser.RawConfigParser:
    """The lines parsed as botocore parses the file, or a refusal that names the problem.

    Messages carry line numbers, never line contents: any line may hold a secret. The same text
    is parsed once: check_profile's reading serves write_profile's.
    """
    return _parse_text("".join(lines), shown)


@functools.lru_cache(maxsize=4)
def _parse_text(text: str, shown: str) -> configparser.RawConfigParser:
    # The defaults, as in botocore's raw_config_parse: strict (no repeated section or key), no
    # inline comments, blank lines allowed inside values.
    from mfa_env.ini import nested_problem, parse_error  # one wording for every reader

    parser = configparser.RawConfigParser()
    problem = ""
    try:
        # As text mode hands configparser the lines: universal newlines, each ending in "\n".
        with collector_paused():
            parser.read_file(io.StringIO(text, newline=None), source=shown)
    except configparser.Error as error:
        problem = parse_error(error)
    # Only a value whose first line is empty (a line that ends in = or :) can be nested: the
    # full check runs wherever there is one, and the rest of the time costs one search.
    if not problem and re.search(r"[=:][^\S\r\n]*$", text, re.M):
        problem = nested_problem(parser)
    if problem:
        raise CredentialsFileError(
            f"{shown} {problem}, so botocore cannot read it; fix the file and try again"
        )
    return parser


@functools.lru_cache(maxsize=2)
def _sections_of(text: str) -> tuple[_Section, ...]:
    """_sections of a file's text, found once for check_profile and write_profile alike."""
    return tuple(_sections(list(_lines_of(text))))


def _sections(lines: list[str]) -> list[_Section]:
    """Where each section starts and ends, following configparser's _read step by step.

    Called only on text that _parse accepted, so every line that is not blank, a comment or a
    continuation is a header or a `key = value` line.
    """
    parser = configparser.RawConfigParser()  # for its patterns and optionxform (lower case)
    found: list[_Section] = []
    name: str | None = None
    start = end = indent_level = 0
    keys: list[str] = []
    in_value = False
    for index, line in enumerate(lines):
        content = line.rstrip("\r\n")
        value = content.strip()
        # Blank and comment lines change no state: with empty_lines_in_values (the default)
        # a blank line does not even end a multi-line value.
        if not value or value.startswith(_COMMENT_PREFIXES):
            continue
        first = parser.NONSPACECRE.search(content)
        indent = first.start() if first else 0
        if in_value and indent > indent_level:
            end = index + 1  # a continuation line: part of the current key's value
            continue
        indent_level = indent
        header = parser.SECTCRE.match(value)
        if header:
            if name is not None:
                found.append(_Section(name, start, end, tuple(keys)))
            name, start, end, keys, in_value = header.group("header"), index, index + 1, [], False
        else:
            option = parser.OPTCRE.match(value)
            assert option is not None, "_parse accepted a line that is not an option"
            keys.append(parser.optionxform(option.group("option").rstrip()))
            end, in_value = index + 1, True
    if name is not None:
        found.append(_Section(name, start, end, tuple(keys)))
    return found


def _check_overwrite(section: _Section, parser: configparser.RawConfigParser, shown: str) -> None:
    """Refuse to overwrite a section that neither holds a session token nor is ours."""
    keys = set(section.keys)
    if keys & set(TOKEN_KEYS):
        return  # temporary credentials: nothing lasting is lost
    if MARKER_KEY in keys and parser.get(section.name, MARKER_KEY) == MARKER_VALUE:
        return
    if keys & set(LONG_TERM_KEYS):
        problem = "holds long-term keys (no session token)"
    else:
        problem = "holds no session token and was not written by mfa-env"
    raise CredentialsFileError(
        f"[{section.name}] in {shown} {problem}, so mfa-env will not overwrite it; "
        "choose another name for --write-profile"
    )


def _line_ending(lines: list[str]) -> str:
    """The file's line ending: that of its first line, "\n" for a file with no line break."""
    for line in lines:
        if line.endswith(_BREAKS):
            return line[len(line.rstrip("\r\n")) :]
    return "\n"


def _body(entries: dict[str, str], eol: str) -> list[str]:
    return [f"{key} = {value}{eol}" for key, value in entries.items()]


def _replaced(lines: list[str], section: _Section, entries: dict[str, str]) -> list[str]:
    """The section's header kept byte for byte, everything up to its last key replaced."""
    header = lines[section.start]
    eol = header[len(header.rstrip("\r\n")) :] or _line_ending(lines)
    if not header.endswith(_BREAKS):
        header += eol  # the file ended on the bare header
    return [*lines[: section.start], header, *_body(entries, eol), *lines[section.end :]]


def _appended(lines: list[str], name: str, entries: dict[str, str]) -> list[str]:
    """The lines with a new section at the end, after a blank line, in the file's line ending."""
    eol = _line_ending(lines)
    new = list(lines)
    if new and not new[-1].endswith(_BREAKS):
        # The only byte outside [name] that changes, and only because the new header must
        # start a line of its own.
        new[-1] += eol
    if new and new[-1].strip():
        new.append(eol)
    return [*new, f"[{name}]{eol}", *_body(entries, eol)]


def _check_result(
    before: configparser.RawConfigParser,
    new_lines: list[str],
    name: str,
    entries: dict[str, str],
    shown: str,
) -> None:
    """Refuse an edit after which botocore would read anything but [name] differently.

    The line-level edit cannot normally do that; this guards the odd layouts it cannot foresee
    (an indented header right after [name] would become part of its last value, say, or a
    [DEFAULT] aws_security_token would shadow the new token).
    """
    failed = CredentialsFileError(
        f"could not update [{name}] in {shown} without changing how botocore reads the rest "
        f"of it (look at [DEFAULT] and the indentation after [{name}]); fix the file and try again"
    )
    try:
        after = _parse(new_lines, shown)
    except CredentialsFileError:
        raise failed from None
    sections = before.sections()
    if name not in sections:
        sections.append(name)
    unchanged = (
        after.sections() == sections
        and before.defaults() == after.defaults()
        and all(
            before.items(other) == after.items(other)
            for other in before.sections()
            if other != name
        )
    )
    # What botocore's SharedCredentialProvider takes from [name], DEFAULT included.
    view = dict(after.items(name))
    token = next((view[key] for key in TOKEN_KEYS if key in view), None)
    reads_back = (
        view.get("aws_access_key_id") == entries["aws_access_key_id"]
        and view.get("aws_secret_access_key") == entries["aws_secret_access_key"]
        and token == entries["aws_session_token"]
    )
    if not (unchanged and reads_back):
        raise failed


def _replace(
    real: Path, data: bytes, mode: int, existing: os.stat_result | None, shown: str
) -> None:
    """Write `data` over `real` atomically, keeping its mode and owner; on failure `real` is left
    exactly as it was."""
    owner = (existing.st_uid, existing.st_gid) if existing is not None else None
    try:
        paths.write_private(str(real), data, mode, owner)
    except OSError as error:
        raise CredentialsFileError(
            f"could not write {shown} ({error.strerror or error}); it was left unchanged"
        ) from None


def _warnings(mode: int, shown: str) -> tuple[str, ...]:
    if mode & 0o077:
        return (
            f"{shown} can be read or changed by group or others (mode {mode:04o}); "
            f"run chmod 600 {shown}",
        )
    return ()


# -- --store-keys: the long-term keys leave [NAME], a marker stays -------------------------------

# What a reader of the file sees where the keys were; the second names the keys (a hash of the
# access key ID, as the cache does) so that a cached session is found without the keyring.
KEYRING_MARKER = "mfa_env_keys"
KEYRING_VALUE = "keyring"
KEYRING_SOURCE = "mfa_env_keys_id"


def section(name: str, path: Path | None = None) -> dict[str, str]:
    """[name] as botocore reads it (empty when there is none)."""
    target = Path(path) if path is not None else credentials_path()
    shown = paths.home_path(target)
    data, _existing = _read(_real_file(target, shown), shown)
    parser = _parse(_LINE.findall(_decoded(data, shown)), shown)
    return dict(parser.items(name)) if parser.has_section(name) else {}


def long_term_keys(name: str, path: Path | None = None) -> tuple[str, str] | None:
    """[name]'s access key ID and secret as botocore reads them, or None when it has none.
    A section holding a session token is refused: those keys are not long-term."""
    view = section(name, path)
    shown = paths.home_path(Path(path) if path is not None else credentials_path())
    if any(view.get(key) for key in TOKEN_KEYS):
        raise CredentialsFileError(
            f"[{name}] in {shown} holds a session token, so its keys are temporary; "
            "--store-keys takes a profile with long-term keys"
        )
    key_id, secret = (view.get(key, "").strip() for key in LONG_TERM_KEYS)
    return (key_id, secret) if key_id or secret else None


def move_keys_out(
    name: str, marks: dict[str, str], path: Path | None = None, *, write: bool = True
) -> Path:
    """Remove [name]'s two key lines and write `marks` in their place (or in a new [name]);
    every other byte stays, as with write_profile, and the same lock and atomic rename. Raises
    CredentialsFileError, with the file left as it was, when that cannot be done. With `write`
    False the file is only read, so that an edit that would be refused is refused first."""
    target = Path(path) if path is not None else credentials_path()
    shown = paths.home_path(target)
    real = _real_file(target, shown)
    if not write:
        _moved(_read(real, shown)[0], name, marks, shown)
        return target
    _make_private_dirs(real.parent)
    with _locked(real, shown):
        data, existing = _read(real, shown)
        text = _moved(data, name, marks, shown)
        mode = stat.S_IMODE(existing.st_mode) if existing is not None else paths.PRIVATE_FILE
        if text != data or existing is None:
            _replace(real, text, mode, existing, shown)
    return target


def _moved(data: bytes, name: str, marks: dict[str, str], shown: str) -> bytes:
    """The file's bytes with [name]'s keys out and `marks` in, checked as botocore reads them."""
    lines = _LINE.findall(_decoded(data, shown))
    before = _parse(lines, shown)
    section = next((s for s in _sections(lines) if s.name == name), None)
    if section is None:
        problem = _name_problem(name)  # a name typed on the command line, not read in the file
        if problem:
            raise CredentialsFileError(
                f"cannot add a profile named {name!r} to {shown} ({problem}); check the name"
            )
        new_lines = _appended(lines, name, marks)
    else:
        new_lines = _keys_replaced(lines, section, marks)
    _check_moved(before, new_lines, name, marks, shown)
    return "".join(new_lines).encode("utf-8")


def _keys_replaced(lines: list[str], section: _Section, marks: dict[str, str]) -> list[str]:
    """The section's key lines (and their continuation lines) out, `marks` where the first one
    stood; a mark already there is replaced, not repeated."""
    parser = configparser.RawConfigParser()  # for its option pattern and optionxform
    drop = {*LONG_TERM_KEYS, *marks}
    kept: list[str] = []
    at: int | None = None
    margin = ""  # the first dropped key's indentation: the marks take its place as it stood
    dropping = False
    value_indent: int | None = None  # the indentation of the key whose value may continue
    for index in range(section.start + 1, section.end):
        line = lines[index]
        content = line.strip()
        indent = len(line) - len(line.lstrip())
        # As configparser reads it: a line indented deeper than its key continues the value.
        continuation = bool(content) and value_indent is not None and indent > value_indent
        option = None if continuation else parser.OPTCRE.match(content)
        if option:
            dropping = parser.optionxform(option.group("option").rstrip()) in drop
            value_indent = indent
            if dropping and at is None:
                at, margin = len(kept), line[:indent]
        elif not continuation and content and not content.startswith(_COMMENT_PREFIXES):
            dropping, value_indent = False, None
        if not dropping:
            kept.append(line)
    body = [margin + line for line in _body(marks, _line_ending(lines))]
    at = len(kept) if at is None else at
    return [*lines[: section.start + 1], *kept[:at], *body, *kept[at:], *lines[section.end :]]


def _check_moved(
    before: configparser.RawConfigParser,
    new_lines: list[str],
    name: str,
    marks: dict[str, str],
    shown: str,
) -> None:
    """Refuse the edit unless botocore reads every other section as before and [name] as
    before, less the keys, plus the marks."""
    failed = CredentialsFileError(
        f"could not take the keys out of [{name}] in {shown} without changing how botocore "
        f"reads the rest of it (look at the indentation of the lines after [{name}]); "
        "fix the file and try again"
    )
    try:
        after = _parse(new_lines, shown)
    except CredentialsFileError:
        raise failed from None
    others = [s for s in before.sections() if s != name]
    wanted = {
        **{
            k: v
            for k, v in (before.items(name) if before.has_section(name) else [])
            if k not in {*LONG_TERM_KEYS, *marks}
        },
        **marks,
    }
    # The section names first: a header the edit turned into part of a value is gone from
    # `after`, where asking for its items would raise NoSectionError.
    same = sorted(after.sections()) == sorted({*others, name})
    if not (
        same
        and before.defaults() == after.defaults()
        and all(before.items(other) == after.items(other) for other in others)
        and dict(after.items(name)) == wanted
    ):
        raise failed
