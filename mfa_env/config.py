"""Resolve every input of a run from options, the environment and the AWS files.

Reads the AWS files with configparser, as botocore itself does (botocore.configloader), so the
cached fast path never has to import botocore. Environment variables are read at call time.
A cache hit reads a section or two alone; a file read whole, and what is wrong with one, is
mfa_env.ini's. Each exception type is imported where it is raised (see mfa_env.errors).
"""

from __future__ import annotations

import os
import stat
from _collections_abc import Mapping  # collections.abc's, without importing collections

from mfa_env import platform
from mfa_env.credentials import user_set
from mfa_env.paths import (
    config_file,
    credentials_file,
    shown_config_file,
    shown_credentials_file,
)
from mfa_env.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mfa_env.errors import ConfigError


DEFAULT_DURATION = 43200
MIN_DURATION = 900
MAX_DURATION = 129600
ROLE_CHAIN_MAX = 3600  # AWS caps a role session assumed with session credentials at one hour
# Patterns, not compiled objects: re compiles (and caches) one only when a run needs it. A cache
# hit imports no `re` (~3 ms): it checks what it reads with the is_* functions below, each held
# to its pattern by a property test (tests/fast/test_fast_path.py).
CODE_RE = r"[0-9]{6}"
# STS SerialNumber: "[\w+=/:,.@-]*", 9 to 256 characters (STS API reference, GetSessionToken).
SERIAL_RE = r"[\w+=/:,.@-]{9,256}"
ROLE_ARN_RE = r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"
SESSION_NAME_RE = r"[\w+=,.@-]{2,64}"
REGION_RE = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"


def matches(pattern: str, text: str) -> bool:
    """The whole of text matches pattern, with ASCII-only \\w and \\d, as AWS means them."""
    import re

    return re.fullmatch(pattern, text, re.ASCII) is not None


_WORD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")  # \w, ASCII
_SERIAL_CHARS = _WORD | frozenset("+=/:,.@-")
_SESSION_NAME_CHARS = _WORD | frozenset("+=,.@-")
_ROLE_NAME_CHARS = _SESSION_NAME_CHARS | {"/"}
_REGION_CHARS = (_WORD - {"_"}) | {"-"}
_PARTITION_CHARS = _WORD | {"-"}


def is_serial(text: str) -> bool:
    """SERIAL_RE."""
    return 9 <= len(text) <= 256 and _SERIAL_CHARS.issuperset(text)


def is_session_name(text: str) -> bool:
    """SESSION_NAME_RE."""
    return 2 <= len(text) <= 64 and _SESSION_NAME_CHARS.issuperset(text)


def is_region(text: str) -> bool:
    """REGION_RE: a host label."""
    return (
        0 < len(text) <= 63
        and _REGION_CHARS.issuperset(text)
        and text[0] != "-"
        and text[-1] != "-"
    )


def is_role_arn(text: str) -> bool:
    """ROLE_ARN_RE: arn:aws[\\w-]*:iam::\\d{12}:role/[\\w+=,.@/-]{1,512}."""
    partition, colon, rest = text.removeprefix("arn:aws").partition(":")
    account, name = rest[5:17], rest[23:]
    return (
        text.startswith("arn:aws")
        and bool(colon)
        and _PARTITION_CHARS.issuperset(partition)
        and rest[:5] == "iam::"
        and account.isascii()
        and account.isdigit()
        and len(account) == 12
        and rest[17:23] == ":role/"
        and 1 <= len(name) <= 512
        and _ROLE_NAME_CHARS.issuperset(name)
    )


def _read_file(path: str) -> bytes | None:
    """The bytes of an AWS file, or None where botocore reads no file: nothing there, or not a
    regular file (a FIFO, a directory, a device such as /dev/zero, a symlink loop: its
    configloader.raw_config_parse asks os.path.isfile), or one that cannot be opened or read
    (EACCES: configparser's read() skips it). Opened without blocking and checked on the open
    descriptor, so a FIFO put in its place meanwhile cannot hang the run."""
    try:
        fd = os.open(path, os.O_RDONLY | platform.NONBLOCK | platform.CLOEXEC)
    except (OSError, ValueError):  # ValueError: a NUL in the path, which botocore finds no file
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(fd, "rb", closefd=False) as f:
            return f.read()
    except OSError:
        return None
    finally:
        os.close(fd)


# `[profile` (or `[services`) spelled otherwise than `[profile NAME]` with one space and a plain
# NAME, anywhere (indented, it may be a header): botocore shlex-splits such a header (quotes, two
# names), so only the whole map tells what it names. As a pattern (the property test holds
# respelled() to it): rb"\[(?!(?:profile|services) [^\s\"'\\\]]+\])[^\S\n]*(?:profile|services)"
_KEYWORDS = (b"profile", b"services")
_AS_SPACE = bytes.maketrans(b"\t\r\f\v", b"    ")  # [^\S\n] of a bytes pattern, as spaces
# [\s"'\\] of a bytes pattern, each as a line break: all that may not be in a plain NAME but `]`
_AS_BREAK = bytes.maketrans(b" \t\r\f\v\"'\\", b"\n" * 8)


def respelled(data: bytes) -> bool:
    """Whether `data` spells a profile or services header otherwise than `[profile NAME]` (see
    above). Every step is a string operation over the whole file, or a map of one over every
    header, in C: a Python loop over 10,000 headers would cost a cache hit ~10 ms."""
    broken = data.translate(_AS_BREAK)
    if b"[\n" in broken:  # a `[` before a blank (or a quote, a line break: rare, and looked at)
        spaced = data.translate(_AS_SPACE)
        for piece in spaced.split(b"[ ")[1:]:  # `[`, blanks, a keyword: never the plain spelling
            if piece.lstrip(b" ").startswith(_KEYWORDS):
                return True
    for keyword in _KEYWORDS:
        opened = b"[" + keyword
        pieces = broken.split(opened + b"\n")[1:]  # what follows each `[keyword` and a blank
        count = len(pieces)
        if count != broken.count(opened) or count != data.count(opened + b" "):
            return True  # a `[keyword` followed by a NAME character, or a blank but a space
        if count:
            # In each: a NAME, then `]`, with no line break (a blank, a quote) before it.
            closes = list(map(bytes.find, pieces, [b"]"] * count))
            if (
                min(closes) < 1
                or max(map(bytes.find, pieces, [b"\n"] * count, [0] * count, closes)) >= 0
            ):
                return True
    return False


def is_plain(name: str) -> bool:
    r"""A plain profile name: written `[profile NAME]`, it is NAME to botocore's shlex too. The
    pattern it stands for: r"[^\s\"'\\\]]+" (\s of a str pattern is str.isspace)."""
    return bool(name) and not any(c.isspace() or c in "\"'\\]" for c in name)


class _Ambiguous(Exception):
    """One section taken alone might read differently from the whole file: parse it all."""


class _Sections(Mapping[str, Mapping[str, str]]):
    """An AWS file's sections, by profile name, each read when first asked for.

    A cached run needs one or two sections, and configparser takes most of a second over a file
    of 10,000 profiles. So a section is found by its header line with plain string searches,
    which run in C, and parsed alone, which reads it exactly as the whole file would: its header
    is the only line that names it, at the start of its line, and it ends at the next line that
    starts with `[` and is a header. Where that could differ (a [DEFAULT] section, whose keys go
    into every section; an indented header, which may be a value; a header with more on its
    line; a section given twice, which configparser refuses; a line before the first header;
    another spelling of a config profile) the whole file is parsed, as botocore does, with
    botocore's errors. A broken line in another section does not stop a cache hit: botocore,
    which reads the whole file, refuses it when a new session is needed."""

    def __init__(self, path: str, config: bool) -> None:
        self._path = path
        self._config = config
        self._data = b""  # bytes: no decoding, or newline translation, of sections not read
        self._done: dict[str, dict[str, str] | None] = {}
        self._all: dict[str, dict[str, str]] | None = None
        self._missing = False
        data = _read_file(path)
        if data is None:  # no file botocore reads is no profiles
            self._all, self._missing = {}, True
            return
        if b"\r" in data:  # as universal newlines read it, as configparser does
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self._data = data
        try:
            self._check()
        except (ValueError, _Ambiguous):  # not UTF-8, ambiguous
            self._whole()

    def _whole(self) -> dict[str, dict[str, str]]:
        if self._all is None:
            from mfa_env import ini

            self._all = ini._profiles(ini._read_ini(self._path), self._config)
        return self._all

    def _check(self) -> None:
        data = self._data
        if (
            data.startswith(b"\xef\xbb\xbf")
            or b"[DEFAULT]" in data
            or (self._config and respelled(data))
        ):
            raise _Ambiguous
        first = 0 if data.startswith(b"[") else data.find(b"\n[")
        before = (data if first < 0 else data[:first]).decode()
        if any(line.strip() and line.lstrip()[0] not in "#;" for line in before.splitlines()):
            raise _Ambiguous  # a line before the first header

    def _header(self, line: str) -> int | None:
        """Where the one header line `line` (`[name]`) starts; None if there is none. A header
        is named by what lies between its first `[` and its last `]`."""
        data, token, found = self._data, line.encode(), None
        at = data.find(token)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            lead, rest = data[start:at].decode(), data[at + len(token) : end].decode()
            if lead.strip() or "]" in rest:
                pass  # more before it on its line, or a `]` after it: not this name
            elif lead or found is not None:
                raise _Ambiguous  # indented (a header, or part of a value), or a second one
            else:
                found = start
            at = data.find(token, end)
        return found

    def _find(self, name: str, kind: str = "profile") -> int | None:
        """Where the section botocore reads for profile `name` (or, with kind "services", for
        the [services] section `name`) starts; None if there is none."""
        if not name or "\n" in name:  # no header line names it; the whole file tells
            raise _Ambiguous
        if not self._config:
            return self._header(f"[{name}]")
        if not is_plain(name):
            raise _Ambiguous
        spelled = self._header(f"[{kind} {name}]")
        if kind != "profile" or name != "default":
            return spelled
        bare = self._header("[default]")
        return bare if spelled is None or (bare is not None and bare > spelled) else spelled

    def _end(self, start: int) -> int:
        """Where the section starting at `start` ends: at the next line that is a header."""
        data = self._data
        end = data.find(b"\n[", start)
        if end < 0:
            return len(data)
        eol = data.find(b"\n", end + 1)
        if data.find(b"]", end + 3, len(data) if eol < 0 else eol) < 0:
            raise _Ambiguous  # the next `[` line is no header: it may be part of this one
        return end

    def _section(self, name: str) -> dict[str, str] | None:
        if self._all is None and name not in self._done:
            try:
                self._done[name] = self._parse(name)
            except (_Ambiguous, ValueError):  # ValueError: not UTF-8
                self._whole()
        if self._all is not None:
            return self._all.get(name)
        return self._done[name]

    def _parse(self, name: str) -> dict[str, str] | None:
        start = self._find(name)
        if start is None:
            return None
        text = self._data[start : self._end(start)].decode()
        plain = plain_options(text)
        if plain is not None:
            return plain
        import configparser

        parser = configparser.RawConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error:
            raise _Ambiguous from None  # botocore's error, from the whole file
        return dict(parser.items(parser.sections()[0]))

    def excerpt(self, name: str, services: str | None = None) -> bytes | None:
        """mfa_env.ini.excerpt: a new session's."""
        from mfa_env import ini

        return ini.excerpt(self, name, services)

    def __getitem__(self, name: str) -> Mapping[str, str]:
        section = self._section(name)
        if section is None:
            raise KeyError(name)
        return section

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._section(name) is not None

    def __iter__(self) -> Iterator[str]:  # every name: Tab completion only, so the whole file
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())


def plain_options(text: str) -> dict[str, str] | None:
    """The options of one section (its header line first, not read) as configparser reads
    them, when every other line is a plain `key = value` at the start of its line, a comment or
    blank, as AWS files are, and no key is given twice; else None, and configparser must read
    it (a cached run then imports it, ~2 ms)."""
    options: dict[str, str] = {}
    for line in text.split("\n")[1:]:
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0].isspace():
            return None  # part of the value above, perhaps
        cut = min((at for at in (line.find("="), line.find(":")) if at >= 0), default=-1)
        key = line[:cut].rstrip().lower()
        if cut < 0 or not key or key in options:
            return None
        options[key] = line[cut + 1 :].strip()
    return options


class AwsFiles(Record):
    """Profiles from the credentials file and the config file (config's `[profile x]` -> x)."""

    credentials: Mapping[str, Mapping[str, str]]
    config: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls) -> AwsFiles:
        return cls(_Sections(credentials_file(), False), _Sections(config_file(), True))

    def exists(self, profile: str) -> bool:
        return profile in self.credentials or profile in self.config

    def get(self, profile: str, key: str) -> str | None:
        """A setting of a profile: the credentials file's over the config file's, as botocore's
        Session.full_config merges them."""
        for source in (self.credentials, self.config):
            value = source.get(profile, {}).get(key)
            if value:
                return value.strip()
        return None

    def key_id(self, profile: str) -> str | None:
        """The access key ID botocore's chain signs with for `profile`, when the AWS files alone
        tell it; None where a provider botocore runs first produces the keys, so that only
        botocore knows them (botocore.credentials.ProfileProviderBuilder: SSO, then the
        credentials file, then login, credential_process, and last the config file's keys)."""
        merged = {**self.config.get(profile, {}), **self.credentials.get(profile, {})}
        if any(key.startswith("sso_") for key in merged):
            return None
        value = self.credentials.get(profile, {}).get("aws_access_key_id")
        if value:
            return value.strip()
        if merged.get("credential_process") or merged.get("login_session"):
            return None
        value = self.config.get(profile, {}).get("aws_access_key_id")
        return value.strip() if value else None

    def names(self) -> list[str]:
        return sorted(set(self.credentials) | set(self.config))

    def excerpt(self, profile: str) -> tuple[bytes, bytes] | None:
        """What botocore reads of each file for a session on `profile`, so that it need not
        parse every profile: the profile's sections, and the [services] section it names.
        None where that could read differently from the whole files."""
        credentials, config = self.credentials, self.config
        if not (isinstance(credentials, _Sections) and isinstance(config, _Sections)):
            return None
        if self.get(profile, "sso_session"):  # it names an [sso-session] too: botocore's words
            return None
        texts = credentials.excerpt(profile), config.excerpt(profile, self.get(profile, "services"))
        return None if texts[0] is None or texts[1] is None else (texts[0], texts[1])


def names() -> list[str]:
    """Every profile, for Tab completion: none when the files cannot be read."""
    from mfa_env.errors import ConfigError

    try:
        return AwsFiles.load().names()
    except ConfigError:
        return []


class Source(Record):
    """Where the long-term keys come from: a named profile, or keys in the environment.

    `access_key_id` is known without botocore for keys in the environment or the AWS files; it is
    None for a profile whose keys only botocore can produce (credential_process, say)."""

    profile: str | None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    in_keyring: bool = False  # moved there with --store-keys: the file has a marker instead
    cache_id: str | None = None  # the cache's name for the keys, when the file records it

    def __repr__(self) -> str:  # never the secret, should a Source reach a traceback
        return f"Source(profile={self.profile!r}, access_key_id={self.access_key_id!r})"

    @property
    def describe(self) -> str:
        if self.profile is None:
            return "the keys in AWS_ACCESS_KEY_ID"
        return f"profile {self.profile!r}"


def unknown_profile(profile: str) -> ConfigError:
    from mfa_env.errors import ConfigError

    return ConfigError(
        f"profile {profile!r} is not in {shown_credentials_file()} "
        f"or {shown_config_file()}; check the name or run "
        f"'aws configure --profile {profile}'"
    )


def no_credentials(source: Source) -> ConfigError:
    from mfa_env.errors import ConfigError

    return ConfigError(
        f"no AWS credentials found for {source.describe}; add long-term keys with "
        "'aws configure', or pass --profile"
    )


class Role(Record):
    arn: str
    session_name: str
    external_id: str | None = None
    duration: int | None = None  # the role's own duration_seconds or --duration
    profile: str | None = None  # the role profile it came from, if any


class Settings(Record):
    source: Source
    serial: str | None  # as configured; None means: remembered, or discovered through IAM
    duration: int  # of the MFA session; a role's own is Role.duration
    region: str | None
    role: Role | None
    user: str | None
    # AWS_PROFILE (or AWS_DEFAULT_PROFILE) as set now: the shell output moves it aside, since
    # SDKs whose chain prefers a named profile (Node.js v3) would ignore the session otherwise.
    moved_profile: str | None = None

    @property
    def own_profiles(self) -> set[str]:
        """Profiles -w must never write into: the source, and the role profile named."""
        return {p for p in (self.source.profile, self.role and self.role.profile) if p}


class Inputs(Record):
    """What the command line says, before anything is resolved."""

    profile: str | None = None
    user: str | None = None
    serial: str | None = None
    duration: str | None = None
    region: str | None = None
    role_arn: str | None = None
    role_session_name: str | None = None


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def parse_duration(text: str, where: str) -> int:
    try:
        seconds = int(text)
    except ValueError:
        from mfa_env.errors import UsageError

        raise UsageError(f"{where} must be a whole number of seconds, not {text!r}") from None
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        from mfa_env.errors import UsageError

        raise UsageError(
            f"{where} must be between {MIN_DURATION} and {MAX_DURATION} seconds, not {seconds}"
        )
    return seconds


def as_code(text: str) -> str | None:
    """The six digits of `text` as authenticator apps show them (`912 320`, `912-320`): digits
    with spaces or dashes between them; None for anything else."""
    digits = text.replace(" ", "").replace("-", "")
    if text[:1].isdigit() and text[-1:].isdigit() and matches(CODE_RE, digits):
        return digits
    return None


def check_code(code: str) -> str:
    digits = as_code(code)
    if digits is None:
        from mfa_env.errors import UsageError

        raise UsageError(f"the MFA code must be six digits, not {code!r}")
    return digits


def check_serial(serial: str, where: str) -> str:
    if ":u2f/" in serial:
        from mfa_env.errors import UsageError

        raise UsageError(
            f"{where} names a U2F/FIDO security key, which STS cannot use; "
            "use a virtual or hardware TOTP device"
        )
    if not is_serial(serial):
        from mfa_env.errors import UsageError

        raise UsageError(
            f"{where} is not an MFA device serial: expected arn:aws:iam::ACCOUNT:mfa/NAME "
            f"or a hardware serial, got {serial!r}"
        )
    return serial


def split_positionals(args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """[USER] [CODE]: a lone six-digit argument is the code."""
    if len(args) > 2:
        from mfa_env.errors import UsageError

        raise UsageError(
            f"expected at most USER and CODE, got {len(args)} arguments; "
            "put a command to run after --"
        )
    if len(args) == 2:
        if as_code(args[0]) and as_code(args[1]) is None and not args[1].isdigit():
            from mfa_env.errors import UsageError

            raise UsageError(
                f"USER comes before CODE: mfa-env {args[1]} {args[0]} (the code is the six digits)"
            )
        return args[0], check_code(args[1])
    if len(args) == 1:
        code = as_code(args[0])
        if code is not None:
            return None, code
        if args[0].isdigit():
            from mfa_env.errors import UsageError

            raise UsageError(
                f"the MFA code must be six digits, not {args[0]!r} "
                "(for a numeric user name, give the code too)"
            )
        return args[0], None
    return None, None


def default_session_name() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "user"
    # Every character outside SESSION_NAME_RE's set becomes "-".
    name = "".join(c if c in _SESSION_NAME_CHARS else "-" for c in f"mfa-env-{user}")
    return name[:64]


# -- one resolver per input: the source, the serial, the duration, the role, the region ------


def shell_profile() -> str | None:
    """The profile this shell names: AWS_PROFILE, else the one an earlier eval moved aside."""
    return _env("AWS_PROFILE") or _env("AWS_DEFAULT_PROFILE") or _env("MFA_ENV_PROFILE")


def _key_from_env(name: str, value: str) -> str:
    """A key from the environment as AWS makes every key: printable ASCII. Anything else (a byte
    that is not UTF-8, a pasted non-breaking space) can be neither hashed nor signed."""
    if not (value.isascii() and value.isprintable()):
        from mfa_env.errors import ConfigError

        raise ConfigError(
            f"{name} holds characters that are not printable ASCII, which no AWS key has; "
            "set it again (its value is not shown)"
        )
    return value


def _source_from_env() -> Source | None:
    key, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    # A session token beside them means these are an earlier session, never a source.
    if key and secret and not (_env("AWS_SESSION_TOKEN") or _env("AWS_SECURITY_TOKEN")):
        return Source(
            profile=None,
            access_key_id=_key_from_env("AWS_ACCESS_KEY_ID", key),
            secret_access_key=_key_from_env("AWS_SECRET_ACCESS_KEY", secret),
        )
    return None


def _role_chain(files: AwsFiles, name: str) -> list[str]:
    """The profiles from `name` along source_profile to the one with long-term keys."""
    chain = [name]
    current = name
    while files.get(current, "role_arn"):
        parent = files.get(current, "source_profile")
        if not parent:
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"profile {current!r} has role_arn but no source_profile; mfa-env needs "
                "source_profile to name the profile with long-term keys"
            )
        if parent == current == name:
            break  # botocore: a profile may be its own source (role_arn beside static keys)
        if parent in chain:
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"source_profile loops ({' -> '.join([*chain, parent])}); "
                "point one at long-term keys"
            )
        if not files.exists(parent):
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"profile {current!r} names source_profile {parent!r}, which does not exist"
            )
        chain.append(parent)
        current = parent
    return chain


def _role_from_chain(files: AwsFiles, chain: list[str]) -> Role | None:
    """The role of a walked chain, validated: one hop, a role ARN, a valid duration."""
    name = chain[0]
    if not files.get(name, "role_arn"):
        return None
    if len(chain) > 2:
        from mfa_env.errors import ConfigError

        raise ConfigError(
            f"profile {name!r} chains roles ({' -> '.join(chain)}); mfa-env assumes one role: "
            "point source_profile at the profile with long-term keys"
        )
    arn = files.get(name, "role_arn") or ""
    if not is_role_arn(arn):
        from mfa_env.errors import ConfigError

        raise ConfigError(f"role_arn of profile {name!r} is not a role ARN: {arn!r}")
    duration = files.get(name, "duration_seconds")
    return Role(
        arn=arn,
        session_name=files.get(name, "role_session_name") or default_session_name(),
        external_id=files.get(name, "external_id"),
        duration=parse_duration(duration, f"duration_seconds of profile {name!r}")
        if duration
        else None,
        profile=name,
    )


def resolve_source(files: AwsFiles, profile: str | None) -> tuple[Source, Role | None, list[str]]:
    """The long-term keys, the role of a role profile, and the profiles settings are read from."""
    if profile is None:
        env_source = _source_from_env()
        if env_source is not None:
            return env_source, None, []
        profile = shell_profile() or "default"
    if not files.exists(profile):
        if profile == "default":
            from mfa_env.errors import ConfigError

            raise ConfigError(
                "no AWS credentials found: no [default] profile in "
                f"{shown_credentials_file()} "
                "and no AWS_ACCESS_KEY_ID; run 'aws configure', or pass --profile"
            )
        raise unknown_profile(profile)
    chain = _role_chain(files, profile)
    role = _role_from_chain(files, chain)
    chain.extend(_own_process_sources(files, chain[-1]))
    source_name = chain[-1]
    marks = files.credentials.get(source_name, {})
    if marks.get("mfa_env_keys") == "keyring":  # aws_files.KEYRING_MARKER, without its import
        source = Source(source_name, in_keyring=True, cache_id=marks.get("mfa_env_keys_id"))
    else:
        source = Source(profile=source_name, access_key_id=files.key_id(source_name))
    return source, role, list(dict.fromkeys(chain))


def _own_process_sources(files: AwsFiles, name: str) -> list[str]:
    """The profiles a source profile hands over to through mfa-env's own credential_process
    line (`mfa-env --profile OTHER --format json`, the README's set-up): botocore would run
    mfa-env again to resolve them, so the keys are taken from OTHER here."""
    first, hops = name, list[str]()
    while files.key_id(name) is None:
        line = files.get(name, "credential_process")
        target = _own_profile(line) if line else None
        if target is None:
            break  # not ours: botocore runs it
        if not target:
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"profile {name!r} gets its keys from mfa-env without --profile (its "
                "credential_process), which would call itself for that same profile; add "
                "--profile NAME to that line, naming the profile with the long-term keys"
            )
        if target == first or target in hops:
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"credential_process lines of mfa-env loop ({' -> '.join([first, *hops, target])})"
                "; point one at the profile with the long-term keys"
            )
        if not files.exists(target):
            raise unknown_profile(target)
        if files.get(target, "role_arn"):
            from mfa_env.errors import ConfigError

            raise ConfigError(
                f"profile {name!r} gets a role session from mfa-env --profile {target} (its "
                "credential_process), and a role session cannot make an MFA session; use "
                f"--profile {target} itself"
            )
        hops.append(target)
        name = target
    return hops


def _own_profile(line: str) -> str | None:
    """The --profile of a credential_process line that runs mfa-env ("" for none); None for a
    line that runs something else. Split as botocore's ProcessProvider splits it (shlex)."""
    import shlex

    try:
        argv = shlex.split(line)
    except ValueError:
        return None
    program = os.path.basename(argv[0]) if argv else ""
    if program in ("mfa-env", "mfa-env.exe"):
        args = argv[1:]
    elif program.startswith("python") and argv[1:3] == ["-m", "mfa_env"]:
        args = argv[3:]
    else:
        return None
    for at, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-p", "--profile"):
            return args[at + 1] if at + 1 < len(args) else ""
        if arg.startswith("--profile="):
            return arg.partition("=")[2]
        if arg.startswith("-p") and not arg.startswith("--"):
            return arg[2:]
    return ""


def resolve_serial(explicit: str | None, setting: Callable[[str], str | None]) -> str | None:
    for value, where in (
        (explicit, "--serial"),
        (_env("MFA_ENV_SERIAL"), "MFA_ENV_SERIAL"),
        (setting("mfa_serial"), "mfa_serial in the AWS config"),
    ):
        if value is not None:
            return check_serial(value, where)
    return None


def resolve_duration(explicit: str | None, files: AwsFiles, source: Source) -> int:
    """The MFA session's length. With a role, --duration is the role's (see resolve_role)."""
    if explicit is not None:
        return parse_duration(explicit, "--duration")
    configured = _env("MFA_ENV_DURATION")
    if configured:
        return parse_duration(configured, "MFA_ENV_DURATION")
    configured = files.get(source.profile, "duration_seconds") if source.profile else None
    if configured:
        return parse_duration(configured, f"duration_seconds of profile {source.profile!r}")
    return DEFAULT_DURATION


def resolve_role(inputs: Inputs, from_profile: Role | None, duration: int | None) -> Role | None:
    """--role-arn, else the role profile's role; --role-session-name and --duration apply."""
    role = from_profile
    if inputs.role_arn is not None:
        if not is_role_arn(inputs.role_arn):
            from mfa_env.errors import UsageError

            raise UsageError(
                f"--role-arn must look like arn:aws:iam::ACCOUNT:role/NAME, not {inputs.role_arn!r}"
            )
        role = Role(arn=inputs.role_arn, session_name=default_session_name())
    elif role is None:
        if inputs.role_session_name:
            from mfa_env.errors import UsageError

            raise UsageError("--role-session-name needs a role: give --role-arn or a role profile")
        return None
    if inputs.role_session_name:
        role = role._replace(session_name=inputs.role_session_name)
    if duration is not None:
        role = role._replace(duration=duration)
    if not is_session_name(role.session_name):
        from mfa_env.errors import UsageError

        raise UsageError(
            f"role session name {role.session_name!r} must be 2-64 of letters, digits and +=,.@_-"
        )
    return role


def resolve_region(explicit: str | None, setting: Callable[[str], str | None]) -> str | None:
    """--region, then a region the user exported (as botocore and the AWS CLI let it win over
    the profile's; not one an earlier mfa-env exported), then the profile's."""
    for value, where in (
        (explicit, "--region"),
        (user_set(os.environ, "AWS_REGION"), "AWS_REGION"),
        (user_set(os.environ, "AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION"),
        (setting("region"), "region in the AWS config"),
    ):
        if value:
            # botocore.utils.validate_region_name: a host label, or it refuses to build a client.
            if not is_region(value):
                from mfa_env.errors import UsageError

                raise UsageError(f"{where} is not a region name: {value!r}; e.g. eu-west-1")
            return value
    return None


def resolve(inputs: Inputs, files: AwsFiles | None = None) -> Settings:
    """Work out every input; raises UsageError or ConfigError before any network call."""
    files = files if files is not None else AwsFiles.load()
    source, profile_role, setting_profiles = resolve_source(files, inputs.profile)

    def setting(key: str) -> str | None:
        for name in setting_profiles:
            value = files.get(name, key)
            if value:
                return value
        return None

    explicit_duration = (
        parse_duration(inputs.duration, "--duration") if inputs.duration is not None else None
    )
    role = resolve_role(inputs, profile_role, explicit_duration)
    # The MFA session keeps its own length whatever the role's: --duration is the role's then.
    duration = resolve_duration(None if role else inputs.duration, files, source)
    return Settings(
        source=source,
        serial=resolve_serial(inputs.serial, setting),
        duration=duration,
        region=resolve_region(inputs.region, setting),
        role=role,
        user=inputs.user,
        moved_profile=_env("AWS_PROFILE") or _env("AWS_DEFAULT_PROFILE"),
    )
