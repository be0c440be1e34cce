"""The click command: parse, wire the parts, print once. The only module that prints or exits."""

# No `from __future__ import annotations` here: typing.NamedTuple would then compile each
# field's annotation string at import, ~2 ms on the cached path.

import os
import sys
from datetime import datetime, timezone
from typing import NamedTuple

import click

from mfa_env import __version__, cache, config, shells
from mfa_env.credentials import ENV_NAMES, STALE_NAMES, Credentials, parse_rfc3339
from mfa_env.errors import AwsError, MfaEnvError, UsageError

FORMATS = ("shell", "json", "dotenv")
SHELL_NAMES = tuple(shells.SHELLS)
DEFAULT_MIN_TTL = 900
# Set in the environment of an exec-mode child: names the session, and refuses nesting.
SESSION_MARKER = "MFA_ENV_SESSION"
# Removed from an exec-mode child: stale credentials and whatever would make tools ignore ours.
EXEC_REMOVED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)

EPILOG = """\b
Examples:
  eval "$(mfa-env ian_zhuang 123456)"          bash, zsh, sh, dash, ksh
  mfa-env ian_zhuang 123456 | source            fish
  mfa-env ian_zhuang 123456 | Invoke-Expression PowerShell
  eval "$(mfa-env)"                             a cached session, or a prompt
  mfa-env 123456 -- $SHELL                      a shell of its own for this terminal
  mfa-env --unset | source                      forget the session (fish)
"""


def _say(message: str) -> None:
    click.echo(f"mfa-env: {message}", err=True)


def _mask(value: str) -> str:
    return "****" + value[-4:] if len(value) > 8 else "****"


def _relative(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m"


def describe_expiry(expiration: datetime, now: datetime) -> str:
    """`valid until 2026-11-27 12:00 +08:00, in 11h 59m`: local time, and time left."""
    local = expiration.astimezone()
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    left = (expiration - now).total_seconds()
    return f"valid until {local:%Y-%m-%d %H:%M} {offset}, in {_relative(left)}"


class Output(NamedTuple):
    """What stdout will carry, decided before anything is printed."""

    fmt: str
    shell: shells.Shell
    tty: bool

    def fail_statement(self) -> str:
        # stdout is a terminal, another format, or exec mode's child's: nothing to make fail.
        return self.shell.fail if self.fmt == "shell" and not self.tty else ""


def _output(fmt: str, shell_name: str | None, exec_mode: bool = False) -> tuple[Output, str | None]:
    if exec_mode:  # stdout belongs to the command: no statements, no shell to detect
        return Output(fmt="exec", shell=shells.lookup("sh"), tty=sys.stdout.isatty()), None
    detected = shells.detect(shell_name or os.environ.get("MFA_ENV_SHELL"))
    shell = shells.lookup(detected.name)
    tty = sys.stdout.isatty()
    return Output(fmt=fmt, shell=shell, tty=tty), detected.hint


def _profiles(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
    """Profile names from the AWS files, for Tab completion; a broken file completes nothing."""
    try:
        names = config.AwsFiles.load().names()
    except MfaEnvError:
        return []
    return [name for name in names if name.startswith(incomplete)]


class _Command(click.Command):
    """Everything after the first `--` is the command to run in exec mode."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["exec_argv"] = args[cut + 1 :]
            args = args[:cut]
            if not ctx.meta["exec_argv"]:
                raise click.UsageError("-- must be followed by a command to run")
        return super().parse_args(ctx, args)


@click.command(
    cls=_Command,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EPILOG,
)
@click.argument("args", nargs=-1, metavar="[USER] [CODE] [-- COMMAND [ARG]...]")
@click.option(
    "-p",
    "--profile",
    metavar="NAME",
    shell_complete=_profiles,
    help="Profile with the long-term keys to use.",
)
@click.option("--serial", metavar="ARN", help="MFA device serial (else mfa_serial, else IAM).")
@click.option(
    "-d", "--duration", metavar="SECONDS", help="Session length, 900 to 129600 (default 43200)."
)
@click.option("-r", "--region", metavar="REGION", help="Region to export with the session.")
@click.option(
    "-s",
    "--shell",
    "shell_name",
    type=click.Choice(SHELL_NAMES, case_sensitive=False),
    help="Shell to write for (default: the calling shell).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="shell",
    show_default=True,
    help="Output format: shell statements, credential_process JSON, or dotenv lines.",
)
@click.option("--unset", is_flag=True, help="Print statements that remove the session's variables.")
@click.option(
    "-w",
    "--write-profile",
    metavar="NAME",
    shell_complete=_profiles,
    help="Also store the session as [NAME] in the credentials file.",
)
@click.option("--role-arn", metavar="ARN", help="Assume this role with the MFA session.")
@click.option("--role-session-name", metavar="NAME", help="Session name for the assumed role.")
@click.option("--mfa-command", metavar="CMD", help="Command that prints the MFA code.")
@click.option(
    "--min-ttl",
    type=click.IntRange(min=0),
    default=DEFAULT_MIN_TTL,
    show_default=True,
    metavar="SECONDS",
    help="Reuse a cached session only with at least this much time left.",
)
@click.option(
    "--refresh", is_flag=True, help="Ignore any cached session and ask STS for a new one."
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the session cache.")
@click.option(
    "--status", is_flag=True, help="Report the session in this environment; exit 1 if none."
)
@click.option(
    "--debug", is_flag=True, help="Print diagnostics on stderr (keys masked, secrets never)."
)
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, _param, value: _version(ctx) if value else None,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context, **opts: object) -> None:
    """Trade an MFA code for AWS session credentials and print them for your shell.

    USER is the IAM user whose MFA device is used; CODE is its six-digit code. A lone six-digit
    argument is the code. Without a code, a cached session is reused, or the code is asked for
    on the terminal. Statements go to stdout for your shell to evaluate; every message goes to
    stderr.
    """
    run = Run(ctx, opts)
    try:
        run.main()
    except MfaEnvError as exc:
        _fail(str(exc), exc.exit_code, run.output.fail_statement() if run.output else "")


def _version(ctx: click.Context) -> None:
    # Not click.version_option: its gettext lookup imports locale, a cost on every run.
    click.echo(f"mfa-env {__version__}")
    ctx.exit(0)


def _fail(message: str, code: int, statement: str) -> None:
    """The one place a failure is printed: one line on stderr, at most `false` on stdout."""
    _say(f"error: {message.splitlines()[0] if message else 'failed'}")
    if statement:
        click.echo(statement, nl=False)
    sys.exit(code)


class Run:
    """One invocation: options in, statements out."""

    def __init__(self, ctx: click.Context, opts: dict[str, object]) -> None:
        self.ctx = ctx
        self.opts = opts
        self.output: Output | None = None
        self.exec_argv: list[str] = ctx.meta.get("exec_argv", [])
        self.now = datetime.now(timezone.utc)
        # (USER, serial) discovered through IAM in this run, remembered once a session is had.
        self.found_serial: tuple[str | None, str] | None = None

    def opt(self, name: str) -> str | None:
        value = self.opts.get(name)
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool:
        return bool(self.opts.get(name))

    def debug(self, message: str) -> None:
        if self.flag("debug"):
            _say(f"debug: {message}")

    def main(self) -> None:
        if self.flag("status"):  # a report on stderr: no statements, so no shell to detect
            return self.status()
        fmt = self.opt("fmt") or "shell"
        self.output, hint = _output(fmt, self.opt("shell_name"), bool(self.exec_argv))
        if self.flag("unset"):
            return self.unset()
        if hint and fmt == "shell":
            _say(hint)
        user, code = config.split_positionals(tuple(self.opts.get("args") or ()))  # type: ignore[arg-type]
        if self.exec_argv and os.environ.get(SESSION_MARKER) and not self.flag("refresh"):
            raise UsageError(
                f"already inside an mfa-env session ({os.environ[SESSION_MARKER]}); "
                "exit it first, or pass --refresh to start a new one inside it"
            )
        settings = config.resolve(
            profile=self.opt("profile"),
            user=user,
            serial=self.opt("serial"),
            duration=self.opt("duration"),
            region=self.opt("region"),
            role_arn=self.opt("role_arn"),
            role_session_name=self.opt("role_session_name"),
        )
        self.debug(
            f"source {settings.source.describe}, serial {settings.serial or '(discover)'}, "
            f"duration {settings.duration}s, region {settings.region or '(none)'}"
        )
        if self.opt("write_profile"):
            self.check_write_profile(settings)
        creds, how = self.session(settings, code)
        if self.exec_argv:
            self.exec(creds, settings, how)
        text = self.render(creds, settings.region)
        written = self.write_profile(creds, settings)
        self.emit(text, creds, how, written)

    # -- sessions ---------------------------------------------------------------------------

    def session(self, settings: config.Settings, code: str | None) -> tuple[Credentials, str]:
        """A session from the cache, or a new one from STS; and a word on which."""
        use_cache = not self.flag("no_cache")
        fresh = self.flag("refresh")
        serial = settings.serial
        # --refresh looks the device up again too: a replaced device leaves a stale serial.
        if serial is None and use_cache and not fresh:
            serial = cache.load_serial(settings.source.label, settings.user)
            if serial:
                self.debug(f"serial {serial} from the cache")
        role = settings.role
        if role is not None and serial is not None and use_cache and not fresh:
            cached = self._cached(self._role_key(settings, serial))
            if cached:
                return cached, f"reused the cached session for role {role.arn}"
        if role is not None and role.duration and role.duration > config.ROLE_CHAIN_MAX:
            # Role chaining caps a session at one hour; a longer role session needs the code.
            aws, serial = self._connect(settings, serial)
            code = self._code(code, serial)
            from mfa_env import sts

            creds = self._live(
                sts.assume_role(aws, settings.source, role, role.duration, serial, code)
            )
            self._store(self._role_key(settings, serial), creds)
            return creds, f"new session for role {role.arn}"

        # A role is assumed with the MFA session, which must outlive AssumeRole's 15-minute minimum.
        floor = config.MIN_DURATION + 60 if role is not None else 0
        mfa, how, serial = self._mfa_session(settings, serial, code, floor)
        if role is None:
            return mfa, how
        from mfa_env import sts

        duration = role.duration or config.ROLE_CHAIN_MAX
        left = int(mfa.seconds_left(self.now)) - 60
        if left < duration:
            _say(
                f"note: the role session is capped at {_relative(left)}, when the MFA session "
                "it is assumed with ends; --refresh gets a new MFA session first"
            )
        creds = self._live(
            sts.assume_role(
                sts.with_session(mfa, settings.region), settings.source, role, min(duration, left)
            )
        )
        self._store(self._role_key(settings, serial), creds)
        return creds, f"new session for role {role.arn} (from the MFA session)"

    def _live(self, creds: Credentials) -> Credentials:
        """A new session that is already over means the clocks disagree: never hand it out."""
        if creds.seconds_left(self.now) <= 0:
            raise AwsError(
                f"STS returned a session that has already expired "
                f"({creds.expiration:%Y-%m-%d %H:%M} UTC); your clock is far off: sync it "
                "(e.g. 'timedatectl set-ntp true') and try again"
            )
        return creds

    def _role_key(self, settings: config.Settings, serial: str) -> cache.SessionKey:
        assert settings.role is not None
        role = f"{settings.role.arn}#{settings.role.session_name}#{settings.role.external_id or ''}"
        return cache.SessionKey(settings.source.label, serial, role)

    def _cached(self, key: cache.SessionKey, floor: int = 0) -> Credentials | None:
        """A cached session with more than --min-ttl (and at least `floor` seconds) left."""
        min_ttl = max(floor, int(self.opts.get("min_ttl") or 0))  # type: ignore[call-overload]
        cached = cache.load_session(key)
        if cached and cached.seconds_left(self.now) > min_ttl:
            self.debug(f"cache hit {key.path()} ({_mask(cached.access_key_id)})")
            return cached
        self.debug(f"cache miss {key.path()}")
        return None

    def _store(self, key: cache.SessionKey, creds: Credentials) -> None:
        if self.flag("no_cache"):
            return
        # A cache that cannot be written never blocks the user: warn and go on.
        try:
            if self.found_serial:
                cache.store_serial(key.source, *self.found_serial)
            cache.store_session(key, creds)
        except OSError as exc:
            self._cache_warning(exc)

    def _cache_warning(self, exc: OSError) -> None:
        _say(
            f"warning: could not write the session cache in {config.home_path(cache.cache_dir())} "
            f"({exc.strerror or exc}); the next run will ask for a code again"
        )

    def _connect(self, settings: config.Settings, serial: str | None) -> tuple[object, str]:
        """A session on the long-term keys, and the MFA serial (found through IAM if need be)."""
        from mfa_env import sts

        aws = sts.connect(settings.source, settings.region)
        if serial is None:
            found = sts.find_serial(aws, settings.source, settings.user)
            for note in found.notes:
                _say(note)
            serial = found.serial
            self.debug(f"serial {serial} from IAM ListMFADevices")
            # Stored with the session, so that a failed run leaves no file behind.
            self.found_serial = (settings.user, serial)
        return aws, serial

    def _code(self, code: str | None, serial: str) -> str:
        from mfa_env import prompt

        command = self.opt("mfa_command") or os.environ.get("MFA_ENV_MFA_COMMAND")
        return prompt.get_code(code, command, serial)

    def _mfa_session(
        self, settings: config.Settings, serial: str | None, code: str | None, floor: int = 0
    ) -> tuple[Credentials, str, str]:
        """The MFA session (GetSessionToken): cached, or new with a code."""
        if serial is not None and not self.flag("no_cache") and not self.flag("refresh"):
            cached = self._cached(cache.SessionKey(settings.source.label, serial), floor)
            if cached:
                return cached, f"reused the cached session for {settings.source.describe}", serial
        from mfa_env import sts

        known = serial is not None
        aws, serial = self._connect(settings, serial)
        if not known and not self.flag("no_cache") and not self.flag("refresh"):
            # The serial was just found through IAM: a session for it may be cached already.
            cached = self._cached(cache.SessionKey(settings.source.label, serial), floor)
            if cached:
                return cached, f"reused the cached session for {settings.source.describe}", serial
        code = self._code(code, serial)
        creds = self._live(
            sts.get_session_token(aws, settings.source, serial, code, settings.duration)
        )
        self._store(cache.SessionKey(settings.source.label, serial), creds)
        return creds, f"new session for {settings.source.describe}", serial

    # -- output -----------------------------------------------------------------------------

    def render(self, creds: Credentials, region: str | None) -> str:
        assert self.output is not None
        env = creds.env(region)
        if self.output.fmt == "json":
            return creds.process_json() + "\n"
        if self.output.fmt == "dotenv":
            return shells.dotenv(env)
        assignments: dict[str, str | None] = dict.fromkeys(STALE_NAMES)
        assignments.update(env)
        return self.output.shell.render(assignments)

    def _protected(self, settings: config.Settings) -> set[str]:
        """Profiles --write-profile must never write into: the source and the named profile."""
        protected = {p for p in (settings.source.profile, self.opt("profile")) if p}
        if settings.role and settings.role.profile:
            protected.add(settings.role.profile)
        return protected

    def check_write_profile(self, settings: config.Settings) -> None:
        from mfa_env import aws_files

        name = self.opt("write_profile") or ""
        aws_files.check_profile(name, source_profiles=self._protected(settings))

    def write_profile(self, creds: Credentials, settings: config.Settings) -> str | None:
        name = self.opt("write_profile")
        if not name:
            return None
        from mfa_env import aws_files

        result = aws_files.write_profile(name, creds, source_profiles=self._protected(settings))
        for warning in result.warnings:
            _say(f"warning: {warning}")
        return f"wrote [{name}] to {config.home_path(result.path)}"

    def emit(self, text: str, creds: Credentials, how: str, written: str | None) -> None:
        assert self.output is not None
        expiry = describe_expiry(creds.expiration, self.now)
        if self.output.tty:
            # The user forgot eval: no secret on the screen, and say how it is meant to be used.
            if written:
                _say(f"{written}, {expiry}")
                return
            usage = self.output.shell.usage if self.output.fmt == "shell" else "… | cat"
            _say(f"{how}, {expiry}")
            _say(
                f"stdout is a terminal, so nothing was printed; run it as: {usage} "
                "(pipe through cat to see the statements)"
            )
            return
        click.echo(text, nl=False)
        _say(f"{written + '; ' if written else ''}{how}, {expiry}")

    # -- other modes ------------------------------------------------------------------------

    def unset(self) -> None:
        assert self.output is not None
        if self.output.fmt != "shell":
            raise UsageError("--unset writes shell statements; drop --format")
        names = dict.fromkeys((*STALE_NAMES, *ENV_NAMES))
        click.echo(self.output.shell.render(names), nl=False)

    def status(self) -> None:
        raw = os.environ.get("AWS_CREDENTIAL_EXPIRATION", "").strip()
        if not raw or not os.environ.get("AWS_SESSION_TOKEN"):
            _say("no session in this environment")
            sys.exit(1)
        try:
            expiration = parse_rfc3339(raw)
        except ValueError:
            _say(f"AWS_CREDENTIAL_EXPIRATION is not a time: {raw!r}")
            sys.exit(1)
        if expiration <= self.now:
            _say(f"the session in this environment expired at {expiration:%Y-%m-%d %H:%M} UTC")
            sys.exit(1)
        _say(f"session {describe_expiry(expiration, self.now)}")

    def exec(self, creds: Credentials, settings: config.Settings, how: str) -> None:
        from mfa_env import sts

        env = {k: v for k, v in os.environ.items() if k not in EXEC_REMOVED}
        env.pop(sts.RECURSION_MARKER, None)
        env.update(creds.env(settings.region))
        env[SESSION_MARKER] = (
            settings.role.arn if settings.role else settings.source.profile or "environment keys"
        )
        _say(f"{how}, {describe_expiry(creds.expiration, self.now)}; running {self.exec_argv[0]}")
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execvpe(self.exec_argv[0], self.exec_argv, env)
        except OSError as exc:
            raise MfaEnvError(f"cannot run {self.exec_argv[0]!r}: {exc.strerror}") from None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: click's own usage errors become one line too."""
    try:
        cli.main(args=argv, prog_name="mfa-env", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        _say("error: cancelled")
        sys.exit(1)
    except click.ClickException as exc:
        try:
            statement = _output("shell", None)[0].fail_statement()
        except MfaEnvError:
            statement = ""
        _fail(f"{exc.format_message()} (see mfa-env --help)", exc.exit_code, statement)
