"""Everything that talks to AWS. The only module that imports botocore, and only inside
functions, so that a cached session never pays for it. Clients come from botocore directly:
boto3's session adds nothing here but its import (s3transfer, multiprocessing)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mfa_env import platform
from mfa_env.config import (
    AwsFiles,
    Role,
    Source,
    is_serial,
    no_credentials,
    unknown_profile,
)
from mfa_env.credentials import Credentials
from mfa_env.errors import AwsError, ConfigError
from mfa_env.ini import parse_problem
from mfa_env.paths import config_file, credentials_file, home_path, shown_config_file

if TYPE_CHECKING:
    import botocore.session

T = TypeVar("T")

# Set while botocore resolves the source credentials. A profile whose credential_process runs
# mfa-env again would otherwise recurse forever; the child sees this and stops at once.
RECURSION_MARKER = "MFA_ENV_RESOLVING_SOURCE"

# One attempt plus one retry, short timeouts: an unreachable or silent endpoint fails in about
# ten seconds instead of botocore's default minutes (60 s read timeout, several retries).
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 3
MAX_ATTEMPTS = 2
# And a deadline for each call as a whole, retries included: two attempts at 2 + 3 s, backoff.
CALL_DEADLINE = 12
# STS answers in every region; us-east-1 is the global endpoint's home when none is configured.
FALLBACK_REGION = "us-east-1"


_LOOP = "mfa-env was started by its own credential_process"


def check_not_recursing(source: Source) -> None:
    if os.environ.get(RECURSION_MARKER):
        raise ConfigError(
            f"{_LOOP} while resolving "
            f"{os.environ[RECURSION_MARKER]}; give the credential_process line --profile naming "
            "a profile with long-term keys"
        )


@dataclass
class Aws:
    """A botocore session on one set of credentials, with its clients made on demand."""

    session: botocore.session.Session
    region: str | None
    access_key_id: str
    # The bound on each call as a whole, retries included; tests shorten it.
    deadline: float = CALL_DEADLINE
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            from botocore.config import Config

            config = Config(
                connect_timeout=CONNECT_TIMEOUT,
                read_timeout=READ_TIMEOUT,
                retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            )
            with _settings("cannot use the AWS settings"):
                self.clients[service] = self.session.create_client(
                    service, region_name=self.region or FALLBACK_REGION, config=config
                )
        return self.clients[service]


@contextmanager
def _settings(what: str) -> Iterator[None]:
    """botocore refuses a bad setting (a region with a space, an endpoint that is not a URL, a
    bogus AWS_MAX_ATTEMPTS) with a BotoCoreError or a bare ValueError: one line either way."""
    import botocore.exceptions as bex

    try:
        yield
    except bex.ProfileNotFound as exc:
        raise unknown_profile(str(exc.kwargs.get("profile", "default"))) from None
    except bex.ConfigParseError as exc:
        # botocore names the file it read, which may be the in-memory excerpt, and quotes the
        # line: the real files are read again, for their names and line numbers alone.
        problems = (parse_problem(path) for path in (credentials_file(), config_file()) if path)
        found = next((problem for problem in problems if problem), None)
        raise ConfigError(found or f"cannot parse {exc.kwargs.get('path')}; fix it") from None
    except bex.PartialCredentialsError as exc:
        where = _partial(exc.kwargs.get("provider"))
        missing = exc.kwargs.get("cred_var")
        raise ConfigError(
            f"{what}: {where} holds half of a key pair ({missing} is missing); add it, or "
            "remove the other"
        ) from None
    except (bex.BotoCoreError, ValueError, TypeError, KeyError) as exc:
        detail = _one_line(exc)
        raise ConfigError(f"{what}: {detail}; {_where(detail)}") from None


def _partial(provider: object) -> str:
    """Where botocore's provider found half a pair of keys."""
    files = {"shared-credentials-file": credentials_file(), "config-file": config_file()}
    path = files.get(str(provider))
    return home_path(path) if path else f"the {provider} source"


# The only services mfa-env calls.
SERVICES = ("iam", "sts")


def _botocore_session(
    profile: str | None = None, files: AwsFiles | None = None
) -> botocore.session.Session:
    """A botocore session whose data loader lists only STS and IAM: botocore checks a service
    name against every service directory it ships (some 450, listed twice per client), which
    costs a new session tens of milliseconds. Through public API: a Loader subclass, given to
    the session with register_component, searching the same data paths as botocore's own.
    botocore reads an excerpt of the AWS files, where one reads as the whole files would: of
    `files`, the reading config.resolve made, so that a run reads them once."""
    import botocore.session
    from botocore.loaders import Loader

    class _Loader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            return list(SERVICES)

    session = botocore.session.Session(profile=profile)
    excerpt = _excerpt(profile, files)
    in_memory = _in_memory(excerpt) if excerpt is not None else None
    if in_memory is not None:
        session.set_config_variable("credentials_file", in_memory[0])
        session.set_config_variable("config_file", in_memory[1])
    paths = session.get_config_variable("data_path")  # as botocore.loaders.create_loader
    extra = (
        [os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)]
        if paths
        else []
    )
    session.register_component("data_loader", _Loader(extra_search_paths=extra))
    return session


def _excerpt(profile: str | None, files: AwsFiles | None = None) -> tuple[bytes, bytes] | None:
    """The sections of the AWS files that a botocore session on `profile` reads. Without one,
    botocore takes AWS_DEFAULT_PROFILE, then AWS_PROFILE (even empty), else [default]."""
    if profile is None:
        names = ("AWS_DEFAULT_PROFILE", "AWS_PROFILE")
        profile = next((os.environ[name] for name in names if name in os.environ), "default")
    try:
        return (files if files is not None else AwsFiles.load()).excerpt(profile)
    except ConfigError:  # botocore says what is wrong with the files, as it reads them
        return None


def _in_memory(texts: tuple[bytes, bytes]) -> tuple[str, str] | None:
    """Paths of in-memory files holding `texts`, for botocore to read in place of the AWS files:
    with thousands of profiles, parsing them all costs a new session seconds. Where the platform
    has none (platform.memory_files: Linux only), None, and botocore reads the files. They stay
    open for the process's life: botocore reads them when it likes."""
    paths = platform.memory_files(texts)
    return (paths[0], paths[1]) if paths is not None else None


def on_session(
    creds: Credentials,
    region: str | None,
    deadline: float = CALL_DEADLINE,
    files: AwsFiles | None = None,
) -> Aws:
    """A session on temporary credentials: the MFA session, to assume a role with (chaining)."""

    with _settings("cannot use the AWS settings"):
        session = _botocore_session(files=files)
        session.set_credentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
    return Aws(session, region, creds.access_key_id, deadline)


@contextmanager
def _source_keys(source: Source, process: str | None) -> Iterator[None]:
    """The source's own credential_process failing, or printing what botocore cannot read, is
    one line naming it (the program only: its arguments may hold a secret)."""
    import botocore.exceptions as bex

    if not process:
        with _settings(f"cannot load the keys of {source.describe}"):
            yield
        return
    try:
        yield
    except (bex.BotoCoreError, ValueError, TypeError, KeyError) as exc:
        program = process.split()[0] if process.split() else "it"
        if _LOOP in str(exc):  # the child refused (check_not_recursing): ours, not botocore's
            raise ConfigError(
                f"the credential_process of {source.describe} ({program}) runs mfa-env, which "
                "would call itself for that same profile; give mfa-env in that line --profile "
                "naming the profile with the long-term keys"
            ) from None
        # botocore's json.loads error says nothing of where: it printed something else.
        unread = isinstance(exc, ValueError) and not isinstance(exc, bex.BotoCoreError)
        reason = "it printed no JSON" if unread else _one_line(exc)
        raise ConfigError(
            f"the credential_process of {source.describe} gave no keys ({reason}); "
            f"run {program} by hand and fix it, or move the keys into the credentials file"
        ) from None


def connect(
    source: Source,
    region: str | None,
    deadline: float = CALL_DEADLINE,
    files: AwsFiles | None = None,
) -> Aws:
    """A session on the source's long-term keys; refuses temporary credentials."""
    check_not_recursing(source)

    with _settings(f"cannot load the keys of {source.describe}"):
        if source.in_keyring:
            from mfa_env import keys

            session = _botocore_session(source.profile, files)
            # The file's mfa_env_keys_id names the keys: load_keys refuses any others.
            key_id, secret = keys.load_keys(source.profile or "default", source.cache_id)
            session.set_credentials(key_id, secret)
        elif source.profile is None:
            session = _botocore_session(files=files)
            session.set_credentials(source.access_key_id, source.secret_access_key)
        else:
            # An explicit profile makes botocore skip the environment provider, so a stale
            # AWS_SESSION_TOKEN in the environment is never mixed in.
            session = _botocore_session(source.profile, files)
            resolver = session.get_component("credential_provider")
            # The container and instance-metadata providers only ever hand out temporary
            # credentials, which cannot be a source; asking them costs seconds off EC2. The role
            # providers would assume a role (with botocore's own MFA prompt, on stdin) where a
            # role profile is its own source_profile: the role is ours to assume, on the MFA
            # session made from the profile's own keys.
            for name in (
                "container-role",
                "iam-role",
                "assume-role",
                "assume-role-with-web-identity",
            ):
                resolver.remove(name)
        process = session.get_scoped_config().get("credential_process") if source.profile else None
    with _source_keys(source, process):
        os.environ[RECURSION_MARKER] = source.describe
        try:
            creds = session.get_credentials()
            frozen = creds.get_frozen_credentials() if creds is not None else None
        finally:
            os.environ.pop(RECURSION_MARKER, None)
    if frozen is None or not frozen.access_key:
        raise no_credentials(source)
    if frozen.token:
        raise ConfigError(
            f"{source.describe} holds temporary credentials (a session token), but GetSessionToken "
            "needs an IAM user's long-term access keys; pass --profile naming the profile "
            "that has them"
        )
    return Aws(session, region, frozen.access_key, deadline)


def _one_line(exc: BaseException) -> str:
    """botocore's text as one clause: one line, at most 300 characters, no closing stop."""
    text = " ".join(str(exc).split())[:300]
    text = text[:-1] if text.endswith((".", ":")) else text
    return text or type(exc).__name__


# Never named in a message, whatever they hold.
_SECRET_SETTINGS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def _where(detail: str) -> str:
    """The setting that holds the value botocore quotes, when it is one of the environment's."""
    for name, value in sorted(os.environ.items()):
        secret = name in _SECRET_SETTINGS or not name.startswith("AWS_")
        if not secret and len(value) > 1 and value in detail:
            return f"fix {name}"
    return f"fix the AWS_* environment variables or the profile in {shown_config_file()}"


def _is_skew(code: str, message: str) -> bool:
    return code in ("RequestExpired", "RequestTimeTooSkewed", "InvalidSignatureException") or (
        "Signature expired" in message or "Signature not yet current" in message
    )


@contextmanager
def _translate(action: str, source: Source) -> Iterator[None]:
    """Turn botocore's exceptions into one sentence that says how to fix it."""
    import botocore.exceptions as bex
    from botocore.parsers import ResponseParserError

    try:
        yield
    except bex.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = _one_line(Exception(error.get("Message", "")))
        raise AwsError(_client_error(action, code, message, source)) from None
    except (bex.ConnectTimeoutError, bex.ReadTimeoutError) as exc:
        raise AwsError(
            f"{action}: {exc.kwargs.get('endpoint_url', 'the endpoint')} did not answer in time; "
            "check your network, proxy or AWS_ENDPOINT_URL"
        ) from None
    except bex.EndpointConnectionError as exc:
        raise AwsError(
            f"{action}: cannot connect to {exc.kwargs.get('endpoint_url', 'the endpoint')}; "
            "check your network, proxy or AWS_ENDPOINT_URL"
        ) from None
    except bex.NoCredentialsError:
        raise no_credentials(source) from None
    except (ResponseParserError, bex.IncompleteReadError):
        # Not the parser's text: it quotes the body, which may hold part of a secret.
        raise AwsError(
            f"{action}: the endpoint sent a malformed or incomplete answer, not AWS's XML; "
            "check the proxy or AWS_ENDPOINT_URL"
        ) from None
    except (bex.BotoCoreError, ValueError) as exc:  # a timestamp botocore cannot parse, say
        raise AwsError(f"{action}: {_one_line(exc)}") from None
    except OSError as exc:  # below botocore (its retry's sleep, a socket it did not wrap)
        raise AwsError(
            f"{action}: {exc.strerror or _one_line(exc)}; check your network, proxy or "
            "AWS_ENDPOINT_URL"
        ) from None


def _client_error(action: str, code: str, message: str, source: Source) -> str:
    if code == "AccessDenied" and "MultiFactorAuthentication" in message:
        return (
            f"{action}: the MFA code was refused ({code}: {message}); wait for the next code and "
            "try again; if the device changed, pass --serial, or --refresh to look it up again"
        )
    if code == "InvalidClientTokenId":
        return (
            f"{action}: AWS does not know the access key of {source.describe} ({code}); "
            "check aws_access_key_id, or create a new key in IAM"
        )
    if _is_skew(code, message):
        return (
            f"{action}: your clock is off ({code}: {message}); "
            "sync it (e.g. 'timedatectl set-ntp true') and try again"
        )
    if code == "SignatureDoesNotMatch":
        return (
            f"{action}: the secret key of {source.describe} does not match its access key "
            f"({code}); "
            "check aws_secret_access_key"
        )
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded"):
        return f"{action}: AWS is throttling requests ({code}); wait a few seconds and try again"
    if code == "ExpiredToken":
        return f"{action}: the credentials have expired ({code}); run mfa-env again with a new code"
    return f"{action}: {code}: {message}"


def _call(aws: Aws, action: str, source: Source, fn: Callable[..., T], **kwargs: Any) -> T:
    def call() -> T:
        with _translate(action, source):
            return fn(**kwargs)

    return _within(action, aws.deadline, call)


# How often the wait for a call wakes: Ctrl-C interrupts it at once on POSIX, but on Windows
# only between waits.
_WAKE = 0.1


def _within(action: str, seconds: float, call: Callable[[], T]) -> T:
    """Bound a call as a whole, retries included: the read timeout restarts with every byte, so
    an endpoint that drips its answer would otherwise hold the user's prompt forever.

    The call runs in a worker thread, and we wait for it at most `seconds`: the same on every
    platform and from any thread (an alarm signal exists only on POSIX, and reaches only the
    main thread). A call still running at the deadline is abandoned: its daemon thread ends
    with the process, its answer unread."""
    import contextvars
    import threading
    import time

    done = threading.Event()
    results: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(call())
        except BaseException as exc:  # handed to the waiting thread, which raises it
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(
        target=contextvars.copy_context().run, args=(work,), name=f"mfa-env {action}", daemon=True
    )
    worker.start()
    end = time.monotonic() + seconds
    while not done.wait(max(0.0, min(_WAKE, end - time.monotonic()))):
        if time.monotonic() >= end:
            raise AwsError(
                f"{action}: the endpoint did not finish answering within {seconds:.0f} s; "
                "check your network, proxy or AWS_ENDPOINT_URL"
            )
    if errors:
        raise errors[0]
    return results[0]


@dataclass(frozen=True)
class Discovery:
    serial: str
    notes: tuple[str, ...]


def _caller_name(aws: Aws, source: Source) -> str | None:
    """The IAM user name of the source keys (None for the account's root user)."""
    sts = aws.client("sts")
    arn = _call(aws, "GetCallerIdentity", source, sts.get_caller_identity).get("Arn")
    # arn:aws:iam::123456789012:user/path/name, or :root for the account's root user.
    resource = arn.split(":", 5)[-1] if isinstance(arn, str) else ""
    if resource.startswith("user/"):
        return resource.rsplit("/", 1)[-1]
    if resource != "root":
        raise ConfigError(f"{source.describe} belongs to {arn}, not an IAM user; pass --serial")
    return None


def _list_devices(aws: Aws, source: Source, user: str | None) -> list[str]:
    iam = aws.client("iam")
    kwargs = {"UserName": user} if user else {}
    skip = "or skip the lookup: pass --serial ARN, or set mfa_serial in the profile"
    try:
        answer = _call(aws, "ListMFADevices", source, iam.list_mfa_devices, **kwargs)
    except AwsError as exc:
        if "NoSuchEntity" in str(exc):
            raise AwsError(
                f"IAM has no user named {user!r} (ListMFADevices: NoSuchEntity); check USER, "
                f"which names the IAM user whose device is used, {skip}"
            ) from None
        raise AwsError(f"{str(exc).rstrip('.')}; {skip}") from None
    devices = answer.get("MFADevices")
    if not isinstance(devices, list):
        raise AwsError("ListMFADevices: the endpoint's answer lists no devices")
    return [d["SerialNumber"] for d in devices if isinstance(d.get("SerialNumber"), str)]


def find_serial(aws: Aws, source: Source, user: str | None) -> Discovery:
    """The user's TOTP device from IAM ListMFADevices (for the caller when USER is not given)."""
    if user is None:
        user = _caller_name(aws, source)
    serials = _list_devices(aws, source, user)
    notes: list[str] = []
    totp = [s for s in serials if ":u2f/" not in s]
    skipped = [s for s in serials if ":u2f/" in s]
    who = f"user {user!r}" if user else "the root user"
    if skipped:
        notes.append(
            f"skipped {', '.join(skipped)}: STS cannot use U2F/FIDO security keys, "
            "only TOTP devices"
        )
    if not totp:
        raise ConfigError(
            f"{who} has no virtual or hardware MFA device; assign one in IAM, or pass --serial"
        )
    if not is_serial(totp[0]):
        raise AwsError(f"ListMFADevices answered with a serial that is not one: {totp[0]!r}")
    if len(totp) > 1:
        notes.append(
            f"{who} has {len(totp)} MFA devices; using {totp[0]} (others: "
            f"{', '.join(totp[1:])}); choose with --serial"
        )
    return Discovery(serial=totp[0], notes=tuple(notes))


def get_session_token(
    aws: Aws, source: Source, serial: str, code: str, duration: int
) -> Credentials:
    sts = aws.client("sts")
    response = _call(
        aws,
        "GetSessionToken",
        source,
        sts.get_session_token,
        DurationSeconds=duration,
        SerialNumber=serial,
        TokenCode=code,
    )
    return _credentials("GetSessionToken", response)


def _credentials(action: str, response: dict[str, Any], arn: str = "") -> Credentials:
    try:
        creds = Credentials.from_sts(response["Credentials"], arn)
    except (KeyError, TypeError, ValueError):
        raise AwsError(f"{action}: the endpoint's answer holds no usable credentials") from None
    fields = (creds.access_key_id, creds.secret_access_key, creds.session_token)
    if not all(isinstance(value, str) and value for value in fields):
        raise AwsError(f"{action}: the endpoint's answer holds no usable credentials")
    return creds


def assume_role(
    aws: Aws,
    source: Source,
    role: Role,
    duration: int,
    serial: str | None = None,
    code: str | None = None,
) -> Credentials:
    """AssumeRole on the MFA session (serial and code None), or with the MFA code directly."""
    sts = aws.client("sts")
    kwargs: dict[str, Any] = {
        "RoleArn": role.arn,
        "RoleSessionName": role.session_name,
        "DurationSeconds": duration,
    }
    if role.external_id:
        kwargs["ExternalId"] = role.external_id
    if serial and code:
        kwargs.update(SerialNumber=serial, TokenCode=code)
    response = _call(aws, "AssumeRole", source, sts.assume_role, **kwargs)
    arn = str(response.get("AssumedRoleUser", {}).get("Arn", ""))
    return _credentials("AssumeRole", response, arn)
