"""Resolve every input of a run from options, the environment and the AWS files.

Reads the AWS files with configparser, as botocore itself does (botocore.configloader), so the
cached fast path never has to import botocore. Environment variables are read at call time.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would then compile each
# field's annotation string at import, ~2 ms on the cached path.

import configparser
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple, TypeVar

from mfa_env.errors import ConfigError, UsageError
from mfa_env.paths import config_file, credentials_file, home_path

T = TypeVar("T")
DEFAULT_DURATION = 43200
MIN_DURATION = 900
MAX_DURATION = 129600
ROLE_CHAIN_MAX = 3600  # AWS caps a role session assumed with session credentials at one hour
# Patterns, not compiled objects: re compiles (and caches) one only when a run needs it, which
# keeps the cached path's start-up short. Match them with matches().
CODE_RE = r"[0-9]{6}"
# STS SerialNumber: "[\w+=/:,.@-]*", 9 to 256 characters (STS API reference, GetSessionToken).
SERIAL_RE = r"[\w+=/:,.@-]{9,256}"
ROLE_ARN_RE = r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}"
SESSION_NAME_RE = r"[\w+=,.@-]{2,64}"
REGION_RE = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"


def matches(pattern: str, text: str) -> bool:
    """The whole of text matches pattern, with ASCII-only \\w and \\d, as AWS means them."""
    return re.fullmatch(pattern, text, re.ASCII) is not None


def _read_ini(path: str) -> dict[str, dict[str, str]]:
    """Sections of an AWS file the way botocore's raw_config_parse reads them; missing = empty."""
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{home_path(path)} is a directory, not an AWS file") from None
    except configparser.MissingSectionHeaderError as exc:
        if exc.line.startswith("\ufeff"):
            raise ConfigError(
                f"{home_path(path)} starts with a UTF-8 byte-order mark, which botocore cannot "
                "read; save it without the mark"
            ) from None
        raise ConfigError(
            f"cannot parse {home_path(path)} (line {exc.lineno} comes before any [section]); "
            "fix or remove it"
        ) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        detail = str(exc).splitlines()[0].rstrip(":")
        # "While reading from '/full/path' [line  8]: section 'x' already exists" -> "line 8: …"
        detail = re.sub(r"While reading from .*? \[line\s+(\d+)\]: ", r"line \1: ", detail)
        raise ConfigError(
            f"cannot parse {home_path(path)} ({detail}); fix or remove the broken line"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {home_path(path)}: {exc.strerror}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


# Where configparser could read an AWS file differently from one section taken alone, each
# anchored on a newline, which the regular-expression engine finds far faster than a ^: an
# indented line starting with [ (configparser counts any whitespace as indentation: a header, or
# part of a value, depending on what precedes it), a header with more than blanks after its ],
# and a [ with no ].
_AMBIGUOUS = r"\n[^\S\n]+\[|\n\[[^\]\n]*\][^\S\n]*\S|\n\[[^\]\n]*\n"
# A config-file header other than `[profile NAME]` with one space and a plain NAME: botocore
# shlex-splits it (quotes, two names), so only the whole map tells what it names.
_SPELLINGS = r"\n\[(?!profile [^\s\"'\\\]]+\]|default\])[^\S\n]*profile"
_HEADER = r"\n(\[[^\]\n]*\])"


class _Sections(Mapping[str, Mapping[str, str]]):
    """An AWS file's sections, by profile name, each parsed when first asked for.

    A cached run needs one or two sections, and configparser takes most of a second over a file
    of 10,000 profiles. So the file is checked with a few regular expressions, which run in C,
    and a section is parsed alone, which reads it exactly as the whole file would. Where that
    could differ (see _AMBIGUOUS, a [DEFAULT] section, whose keys go into every section, a
    section given twice, which configparser refuses, a line before the first header) the whole
    file is parsed at once, as botocore does, with botocore's errors. A broken line in another
    section does not stop a cache hit: botocore, which reads the whole file, refuses it when a
    new session is needed."""

    def __init__(self, path: str, config: bool) -> None:
        self._path = path
        self._config = config
        self._text = ""
        self._lines: set[str] = set()  # the header lines, `[name]`
        self._done: dict[str, dict[str, str] | None] = {}
        self._all: dict[str, dict[str, str]] | None = None
        try:
            with open(path, encoding="utf-8") as f:
                self._text = "\n" + f.read() + "\n"  # every line starts after a newline
            self._index()
        except (OSError, ValueError):  # unreadable, not UTF-8, ambiguous: all at once
            self._all = _profiles(_read_ini(path), config)

    def _index(self) -> None:
        text = self._text
        if (
            text.startswith("\n\ufeff")
            or "\n[DEFAULT]" in text
            or re.search(_AMBIGUOUS, text)
            or (self._config and re.search(_SPELLINGS, text))
        ):
            raise ValueError("ambiguous")
        lines = re.findall(_HEADER, text)
        self._lines = set(lines)
        if len(self._lines) != len(lines):
            raise ValueError("a section twice")
        first = text.find("\n[")
        before = text if first < 0 else text[:first]
        if any(line.strip() and line.lstrip()[0] not in "#;" for line in before.splitlines()):
            raise ValueError("a line before the first header")

    def _header(self, name: str) -> str | None:
        if not self._config:
            line = f"[{name}]"
            return line if line in self._lines else None
        if name == "default" and "[default]" in self._lines:
            if "[profile default]" in self._lines:  # the later one wins: their order tells
                text = self._text
                later = text.rindex("\n[default]") > text.rindex("\n[profile default]")
                return "[default]" if later else "[profile default]"
            return "[default]"
        line = f"[profile {name}]"
        return line if line in self._lines else None

    def _section(self, name: str) -> dict[str, str] | None:
        if self._all is not None:
            return self._all.get(name)
        if name not in self._done:
            self._done[name] = self._parse(name)
        return self._done[name]

    def _parse(self, name: str) -> dict[str, str] | None:
        header = self._header(name)
        if header is None:
            return None
        start = self._text.index(f"\n{header}") + 1
        end = self._text.find("\n[", start)
        parser = configparser.RawConfigParser()
        try:
            parser.read_string(self._text[start : end if end >= 0 else None])
        except configparser.Error:
            self._all = _profiles(_read_ini(self._path), self._config)  # botocore's error
            return self._all.get(name)
        return dict(parser.items(parser.sections()[0]))

    def __getitem__(self, name: str) -> Mapping[str, str]:
        section = self._section(name)
        if section is None:
            raise KeyError(name)
        return section

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._section(name) is not None

    def _names(self) -> list[str]:
        if self._all is not None:
            return list(self._all)
        return list(_profiles({line[1:-1]: line for line in self._lines}, self._config))

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


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


class AwsFiles(NamedTuple):
    """Profiles from the credentials file and the config file (config's `[profile x]` -> x)."""

    credentials: Mapping[str, Mapping[str, str]]
    config: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls) -> "AwsFiles":
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
        """The profile's access key ID: credentials file first, as botocore's chain reads it."""
        for source in (self.credentials, self.config):
            value = source.get(profile, {}).get("aws_access_key_id")
            if value:
                return value.strip()
        return None

    def names(self) -> list[str]:
        return sorted(set(self.credentials) | set(self.config))


def names() -> list[str]:
    """Every profile, for Tab completion: none when the files cannot be read."""
    try:
        return AwsFiles.load().names()
    except ConfigError:
        return []


class Source(NamedTuple):
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
    return ConfigError(
        f"profile {profile!r} is not in {home_path(credentials_file())} "
        f"or {home_path(config_file())}; check the name or run "
        f"'aws configure --profile {profile}'"
    )


def no_credentials(source: Source) -> ConfigError:
    return ConfigError(
        f"no AWS credentials found for {source.describe}; add long-term keys with "
        "'aws configure', or pass --profile"
    )


class Role(NamedTuple):
    arn: str
    session_name: str
    external_id: str | None = None
    duration: int | None = None  # the role's own duration_seconds or --duration
    profile: str | None = None  # the role profile it came from, if any


class Settings(NamedTuple):
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


class Inputs(NamedTuple):
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
        raise UsageError(f"{where} must be a whole number of seconds, not {text!r}") from None
    if not MIN_DURATION <= seconds <= MAX_DURATION:
        raise UsageError(
            f"{where} must be between {MIN_DURATION} and {MAX_DURATION} seconds, not {seconds}"
        )
    return seconds


def check_code(code: str) -> str:
    if not matches(CODE_RE, code):
        raise UsageError(f"the MFA code must be six digits, not {code!r}")
    return code


def check_serial(serial: str, where: str) -> str:
    if ":u2f/" in serial:
        raise UsageError(
            f"{where} names a U2F/FIDO security key, which STS cannot use; "
            "use a virtual or hardware TOTP device"
        )
    if not matches(SERIAL_RE, serial):
        raise UsageError(
            f"{where} is not an MFA device serial: expected arn:aws:iam::ACCOUNT:mfa/NAME "
            f"or a hardware serial, got {serial!r}"
        )
    return serial


def split_positionals(args: tuple[str, ...]) -> tuple[str | None, str | None]:
    """[USER] [CODE]: a lone six-digit argument is the code."""
    if len(args) > 2:
        raise UsageError(
            f"expected at most USER and CODE, got {len(args)} arguments; "
            "put a command to run after --"
        )
    if len(args) == 2:
        if matches(CODE_RE, args[0]) and not args[1].isdigit():
            raise UsageError(
                f"USER comes before CODE: mfa-env {args[1]} {args[0]} (the code is the six digits)"
            )
        return args[0], check_code(args[1])
    if len(args) == 1:
        if matches(CODE_RE, args[0]):
            return None, args[0]
        if args[0].isdigit():
            raise UsageError(
                f"the MFA code must be six digits, not {args[0]!r} "
                "(for a numeric user name, give the code too)"
            )
        return args[0], None
    return None, None


def default_session_name() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "user"
    name = re.sub(r"[^\w+=,.@-]", "-", f"mfa-env-{user}", flags=re.ASCII)
    return name[:64]


# -- one resolver per row of SPEC.md's table ---------------------------------------------------


def shell_profile() -> str | None:
    """The profile this shell names: AWS_PROFILE, else the one an earlier eval moved aside."""
    return _env("AWS_PROFILE") or _env("AWS_DEFAULT_PROFILE") or _env("MFA_ENV_PROFILE")


def _source_from_env() -> Source | None:
    key, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    # A session token beside them means these are an earlier session, never a source.
    if key and secret and not (_env("AWS_SESSION_TOKEN") or _env("AWS_SECURITY_TOKEN")):
        return Source(profile=None, access_key_id=key, secret_access_key=secret)
    return None


def _role_chain(files: AwsFiles, name: str) -> list[str]:
    """The profiles from `name` along source_profile to the one with long-term keys."""
    chain = [name]
    current = name
    while files.get(current, "role_arn"):
        parent = files.get(current, "source_profile")
        if not parent:
            raise ConfigError(
                f"profile {current!r} has role_arn but no source_profile; mfa-env needs "
                "source_profile to name the profile with long-term keys"
            )
        if parent == current == name:
            break  # botocore: a profile may be its own source (role_arn beside static keys)
        if parent in chain:
            raise ConfigError(
                f"source_profile loops ({' -> '.join([*chain, parent])}); "
                "point one at long-term keys"
            )
        if not files.exists(parent):
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
        raise ConfigError(
            f"profile {name!r} chains roles ({' -> '.join(chain)}); mfa-env assumes one role: "
            "point source_profile at the profile with long-term keys"
        )
    arn = files.get(name, "role_arn") or ""
    if not matches(ROLE_ARN_RE, arn):
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
            raise ConfigError(
                "no AWS credentials found: no [default] profile in "
                f"{home_path(credentials_file())} "
                "and no AWS_ACCESS_KEY_ID; run 'aws configure', or pass --profile"
            )
        raise unknown_profile(profile)
    chain = _role_chain(files, profile)
    role = _role_from_chain(files, chain)
    source_name = chain[-1]
    marks = files.credentials.get(source_name, {})
    if marks.get("mfa_env_keys") == "keyring":  # aws_files.KEYRING_MARKER, without its import
        source = Source(source_name, in_keyring=True, cache_id=marks.get("mfa_env_keys_id"))
    else:
        source = Source(profile=source_name, access_key_id=files.key_id(source_name))
    return source, role, [profile, source_name]


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
        if not matches(ROLE_ARN_RE, inputs.role_arn):
            raise UsageError(
                f"--role-arn must look like arn:aws:iam::ACCOUNT:role/NAME, not {inputs.role_arn!r}"
            )
        role = Role(arn=inputs.role_arn, session_name=default_session_name())
    elif role is None:
        if inputs.role_session_name:
            raise UsageError("--role-session-name needs a role: give --role-arn or a role profile")
        return None
    if inputs.role_session_name:
        role = role._replace(session_name=inputs.role_session_name)
    if duration is not None:
        role = role._replace(duration=duration)
    if not matches(SESSION_NAME_RE, role.session_name):
        raise UsageError(
            f"role session name {role.session_name!r} must be 2-64 of letters, digits and +=,.@_-"
        )
    return role


def resolve_region(explicit: str | None, setting: Callable[[str], str | None]) -> str | None:
    for value, where in (
        (explicit, "--region"),
        (setting("region"), "region in the AWS config"),
        (_env("AWS_REGION"), "AWS_REGION"),
        (_env("AWS_DEFAULT_REGION"), "AWS_DEFAULT_REGION"),
    ):
        if value:
            # botocore.utils.validate_region_name: a host label, or it refuses to build a client.
            if not matches(REGION_RE, value):
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
