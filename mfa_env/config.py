"""Resolve every input of a run from options, the environment and the AWS files.

Reads the AWS files with configparser, as botocore itself does (botocore.configloader), so the
cached fast path never has to import botocore. Environment variables are read at call time.
"""

# No `from __future__ import annotations` here: typing.NamedTuple would then compile each
# field's annotation string at import, ~2 ms on the cached path.

import configparser
import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from mfa_env.errors import ConfigError, UsageError

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


def matches(pattern: str, text: str) -> bool:
    """The whole of text matches pattern, with ASCII-only \\w and \\d, as AWS means them."""
    return re.fullmatch(pattern, text, re.ASCII) is not None


def home_path(path: str | os.PathLike[str]) -> str:
    """A path as the user would type it, for messages: ~ for the home directory."""
    home = os.path.expanduser("~")
    text = str(path)
    if home not in ("", "/") and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text


# Paths are plain strings here: pathlib costs the cached path ~2 ms of imports.
def credentials_file() -> str:
    return os.path.expanduser(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials")


def config_file() -> str:
    return os.path.expanduser(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config")


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


class AwsFiles(NamedTuple):
    """Profiles from the credentials file and the config file (config's `[profile x]` -> x)."""

    credentials: Mapping[str, Mapping[str, str]]
    config: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls) -> "AwsFiles":
        profiles: dict[str, dict[str, str]] = {}
        for section, values in _read_ini(config_file()).items():
            # botocore: "[profile NAME]" names a profile; of the bare names only "default" counts.
            match = re.fullmatch(r"profile\s+(.+)", section)
            if match:
                profiles[match.group(1).strip()] = values
            elif section == "default":
                profiles.setdefault("default", values)
        return cls(credentials=_read_ini(credentials_file()), config=profiles)

    def exists(self, profile: str) -> bool:
        return profile in self.credentials or profile in self.config

    def get(self, profile: str, key: str) -> str | None:
        """A setting of a profile: config file first, as botocore merges them for these keys."""
        for source in (self.config, self.credentials):
            value = source.get(profile, {}).get(key)
            if value:
                return value.strip()
        return None

    def names(self) -> list[str]:
        return sorted(set(self.credentials) | set(self.config))


class Source(NamedTuple):
    """Where the long-term keys come from: a named profile, or keys in the environment."""

    profile: str | None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def __repr__(self) -> str:  # never the secret, should a Source reach a traceback
        return f"Source(profile={self.profile!r}, access_key_id={self.access_key_id!r})"

    @property
    def label(self) -> str:
        """Stable identity for the cache; never holds a secret."""
        if self.profile is None:
            return f"env:{self.access_key_id}"
        return f"profile:{self.profile}:{credentials_file()}"

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
    serial: str | None  # as configured; None means: discover it through IAM
    duration: int
    region: str | None
    role: Role | None
    user: str | None


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


def _source_from_env() -> Source | None:
    key, secret = _env("AWS_ACCESS_KEY_ID"), _env("AWS_SECRET_ACCESS_KEY")
    # A session token beside them means these are an earlier session, never a source.
    if key and secret and not (_env("AWS_SESSION_TOKEN") or _env("AWS_SECURITY_TOKEN")):
        return Source(profile=None, access_key_id=key, secret_access_key=secret)
    return None


def _role_from_profile(files: AwsFiles, name: str) -> tuple[Role | None, str]:
    """For a role profile, the role and the profile holding the long-term keys."""
    if not files.get(name, "role_arn"):
        return None, name
    seen = [name]
    current = name
    while True:
        parent = files.get(current, "source_profile")
        if not parent:
            raise ConfigError(
                f"profile {current!r} has role_arn but no source_profile; mfa-env needs "
                "source_profile to name the profile with long-term keys"
            )
        if parent == current and current == name:
            break  # botocore: a profile may be its own source (role_arn beside static keys)
        if parent in seen:
            chain = " -> ".join([*seen, parent])
            raise ConfigError(f"source_profile loops ({chain}); point one at long-term keys")
        if not files.exists(parent):
            raise ConfigError(
                f"profile {current!r} names source_profile {parent!r}, which does not exist"
            )
        seen.append(parent)
        if files.get(parent, "role_arn"):
            current = parent
            continue
        if len(seen) > 2:
            chain = " -> ".join(seen)
            raise ConfigError(
                f"profile {name!r} chains roles ({chain}); mfa-env assumes one role: "
                "point source_profile at the profile with long-term keys"
            )
        break
    source = seen[-1] if len(seen) > 1 else name
    arn = files.get(name, "role_arn") or ""
    if not matches(ROLE_ARN_RE, arn):
        raise ConfigError(f"role_arn of profile {name!r} is not a role ARN: {arn!r}")
    session_name = files.get(name, "role_session_name") or default_session_name()
    duration = files.get(name, "duration_seconds")
    return (
        Role(
            arn=arn,
            session_name=session_name,
            external_id=files.get(name, "external_id"),
            duration=parse_duration(duration, f"duration_seconds of profile {name!r}")
            if duration
            else None,
            profile=name,
        ),
        source,
    )


def default_session_name() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "user"
    name = re.sub(r"[^\w+=,.@-]", "-", f"mfa-env-{user}", flags=re.ASCII)
    return name[:64]


def resolve(
    *,
    profile: str | None,
    user: str | None,
    serial: str | None,
    duration: str | None,
    region: str | None,
    role_arn: str | None,
    role_session_name: str | None,
) -> Settings:
    """Work out every input; raises UsageError or ConfigError before any network call."""
    files = AwsFiles.load()
    env_source = None if profile else _source_from_env()
    if profile is None and env_source is None:
        profile = _env("AWS_PROFILE") or _env("AWS_DEFAULT_PROFILE") or "default"
    role: Role | None = None
    if profile is not None:
        explicit = profile
        if not files.exists(profile) and profile == "default":
            raise ConfigError(
                "no AWS credentials found: no [default] profile in "
                f"{home_path(credentials_file())} "
                "and no AWS_ACCESS_KEY_ID; run 'aws configure', or pass --profile"
            )
        if not files.exists(profile):
            raise unknown_profile(profile)
        role, source_name = _role_from_profile(files, profile)
        source = Source(profile=source_name)
        setting_profiles = [explicit, source_name]
    else:
        assert env_source is not None
        source = env_source
        setting_profiles = []

    def setting(key: str) -> str | None:
        for name in setting_profiles:
            value = files.get(name, key)
            if value:
                return value
        return None

    if serial is None:
        serial = _env("MFA_ENV_SERIAL")
        where = "MFA_ENV_SERIAL"
        if serial is None:
            serial = setting("mfa_serial")
            where = "mfa_serial in the AWS config"
    else:
        where = "--serial"
    if serial is not None:
        serial = check_serial(serial, where)

    if duration is not None:
        seconds = parse_duration(duration, "--duration")
    elif _env("MFA_ENV_DURATION"):
        seconds = parse_duration(_env("MFA_ENV_DURATION") or "", "MFA_ENV_DURATION")
    else:
        configured = files.get(source.profile, "duration_seconds") if source.profile else None
        seconds = (
            parse_duration(configured, f"duration_seconds of profile {source.profile!r}")
            if configured
            else DEFAULT_DURATION
        )

    if role_arn is not None:
        if not matches(ROLE_ARN_RE, role_arn):
            raise UsageError(
                f"--role-arn must look like arn:aws:iam::ACCOUNT:role/NAME, not {role_arn!r}"
            )
        role = Role(
            arn=role_arn,
            session_name=role_session_name or default_session_name(),
            duration=seconds if duration is not None else None,
        )
    elif role is not None:
        if role_session_name:
            role = role._replace(session_name=role_session_name)
        if duration is not None:
            role = role._replace(duration=seconds)
    elif role_session_name:
        raise UsageError("--role-session-name needs a role: give --role-arn or a role profile")
    if role is not None and not matches(SESSION_NAME_RE, role.session_name):
        raise UsageError(
            f"role session name {role.session_name!r} must be 2-64 of letters, digits and +=,.@_-"
        )

    region = region or setting("region") or _env("AWS_REGION") or _env("AWS_DEFAULT_REGION")
    return Settings(
        source=source, serial=serial, duration=seconds, region=region, role=role, user=user
    )
