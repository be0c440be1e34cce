"""The click command: parse into Options, resolve, ask the session engine, print once, through
mfa_env.deliver. How a session is had lives in mfa_env.session; a cache hit of the common shapes
is served before this module is imported (mfa_env.main)."""

# No `from __future__ import annotations`: NamedTuple would compile each annotation string.

import os
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from mfa_env import __version__, config, init, shells, usage
from mfa_env.credentials import Credentials
from mfa_env.deliver import (
    SESSION_MARKER,
    fail,
    hand_out,
    output_for,
    say,
    status,
    stdout_is_a_terminal,
    stdout_lost,
    unset,
    waiting,
)
from mfa_env.errors import Cancelled, MfaEnvError, UsageError
from mfa_env.memory import collector_paused
from mfa_env.paths import home_path

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mfa_env import session


class Options(NamedTuple):
    """The command line, parsed: one field per option, as click names it."""

    args: tuple[str, ...]
    profile: str | None
    serial: str | None
    duration: str | None
    region: str | None
    shell_name: str | None
    fmt: str
    unset: bool
    write_profile: str | None
    store_keys: str | None
    role_arn: str | None
    role_session_name: str | None
    mfa_command: str | None
    min_ttl: int | None
    refresh: bool
    no_cache: bool
    status: bool
    brief: bool
    debug: bool
    exec_argv: tuple[str, ...] = ()
    init: "str | None" = None


def _profiles(_ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Tab completion from the AWS files; for -w only the sections it would write (its own)."""
    from mfa_env import aws_files

    names = aws_files.managed_profiles() if param.name == "write_profile" else config.names()
    return [name for name in names if name.startswith(incomplete)]


class _Command(click.Command):
    """Everything after the first `--` is the command to run in exec mode."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["exec_argv"] = tuple(args[cut + 1 :])
            args = args[:cut]
            if not ctx.meta["exec_argv"]:
                raise click.UsageError("-- must be followed by a command to run")
        return super().parse_args(ctx, args)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # Not click.version_option: its gettext lookup imports locale, a cost on every run.
    if value:
        click.echo(f"mfa-env {__version__}")
        ctx.exit(0)


def _not_negative(
    _ctx: click.Context, _param: click.Parameter, value: "int | None"
) -> "int | None":
    # Not click.IntRange: its "[x>=0]" would show in --help.
    if value is not None and value < 0:
        raise click.BadParameter(f"{value} is less than 0")
    return value


def _option(names: str, help: str, **kw: Any) -> click.Option:
    return click.Option(names.split(), help=help, **kw)


PARAMS = [
    click.Argument(["args"], nargs=-1, metavar="[USER] [CODE] [-- COMMAND [ARG]...]"),
    _option("-p --profile", "Profile with the long-term keys to use.", metavar="NAME",
            shell_complete=_profiles),
    _option("--serial", "MFA device serial (else mfa_serial, else IAM).", metavar="ARN"),
    _option("-d --duration", "Session length, 900 to 129600 (default 43200); with a role, the "
            "role session's.", metavar="SECONDS"),
    _option("-r --region", "Region to export with the session (and to write with -w).",
            metavar="REGION"),
    _option("-s --shell shell_name", "Shell to write for (default: the calling shell).",
            type=click.Choice(tuple(shells.SHELLS), case_sensitive=False)),
    _option("-f --format fmt", "Output: shell statements, credential_process JSON, or dotenv.",
            type=click.Choice(("shell", "json", "dotenv")), default="shell", show_default=True),
    _option("--unset", "Print statements that end the session in this shell.", is_flag=True),
    _option("-w --write-profile", "Also store the session as [NAME] in the credentials file.",
            metavar="NAME", shell_complete=_profiles),
    _option("--store-keys", "Move PROFILE's long-term keys into the OS keyring (mfa-env[keyring]).",
            metavar="PROFILE", shell_complete=_profiles),
    _option("--init", "Print the shell integration for your rc file: a function mfa-env that "
            "sets this shell, and Tab completion.", metavar="SHELL",
            shell_complete=init.complete_shell),
    _option("--role-arn", "Assume this role with the MFA session.", metavar="ARN"),
    _option("--role-session-name", "Session name for the assumed role.", metavar="NAME"),
    _option("--mfa-command", "Command that prints the MFA code.", metavar="CMD"),
    _option("--min-ttl", "Reuse a cached session only with this much time left (default 900, "
            "or a quarter of a shorter session; 60 with --format json).", metavar="SECONDS",
            type=int, callback=_not_negative),
    _option("--refresh", "Ignore any cached session and ask STS for a new one.", is_flag=True),
    _option("--no-cache", "Neither read nor write the session cache.", is_flag=True),
    _option("--status", "Report the session in this environment; exit 1 if none.", is_flag=True),
    _option("--brief", "With --status: `aws 11h59m`, for a shell prompt.", is_flag=True),
    _option("--debug", "Print diagnostics on stderr (keys masked, secrets never).", is_flag=True),
    _option("--version", "Show the version and exit.", is_flag=True, is_eager=True,
            expose_value=False, callback=_version),
]  # fmt: skip


@click.command(
    cls=_Command,
    params=PARAMS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=usage.EPILOG,
)
@click.pass_context
def cli(ctx: click.Context, **params: Any) -> None:
    """Trade an MFA code for AWS session credentials and print them for your shell.

    USER is the IAM user whose MFA device is used; CODE is its six-digit code. A lone six-digit
    argument is the code. Without a code, a cached session is reused, or the code is asked for
    on the terminal. Statements go to stdout for your shell to evaluate; every message goes to
    stderr.
    """
    run(Options(exec_argv=ctx.meta.get("exec_argv", ()), **params))


def run(options: Options) -> None:
    """One invocation: work everything out, then print once."""
    now = datetime.now(timezone.utc)
    output = None if stdout_is_a_terminal() else shells.POSIX_OUTPUT
    try:
        if options.init is not None:  # the rc-file line: nothing else, no session, no shell
            others = [v for k, v in options._asdict().items() if k not in ("init", "fmt")]
            extra = [v for v in others if v is not None and v is not False and v != ()]
            if extra or options.fmt != "shell":
                raise UsageError("--init SHELL takes no other option or argument")
            return init.answer(options.init)
        _refuse_conflicts(options)
        if options.status:  # a report on stderr: no statements, so no shell to detect
            status(now, options.brief)
        if options.store_keys:  # no statements either
            from mfa_env import keys, prompt

            output = None
            return say(keys.store_keys(options.store_keys, prompt.ask_keys))
        output, hint = output_for(options.fmt, options.shell_name, bool(options.exec_argv))
        if options.unset:
            return unset(output, hint)
        if options.exec_argv and os.environ.get(SESSION_MARKER) and not options.refresh:
            raise UsageError(
                f"already inside an mfa-env session ({os.environ[SESSION_MARKER]}); "
                "exit it first, or pass --refresh to start a new one inside it"
            )
        user, code = config.split_positionals(options.args)
        given = {name: getattr(options, name) for name in config.Inputs._fields if name != "user"}
        files = config.AwsFiles.load()  # read once: a new session's botocore reads this too
        settings = config.resolve(config.Inputs(user=user, **given), files)
        if options.write_profile:  # refused now, before a code is spent on it
            from mfa_env import aws_files

            aws_files.check_profile(options.write_profile, source_profiles=settings.own_profiles)
        outcome = _obtain(settings, options, code, now, files)
        written = _write_profile(options.write_profile, outcome.creds, settings)
        hand_out(output, outcome, settings, now, hint, written, options.exec_argv, options.debug)
    except MfaEnvError as exc:
        for note in exc.notes:
            say(note)
        fail(str(exc), exc.exit_code, output)


def _refuse_conflicts(options: Options) -> None:
    """Options that mean nothing together are a usage error, never one of them ignored."""
    if options.brief and not options.status:
        raise UsageError("--brief goes with --status: mfa-env --status --brief")
    modes = {
        "--status": options.status,
        "--unset": options.unset,
        "--store-keys": options.store_keys is not None,
        "-- COMMAND": bool(options.exec_argv),
        "-w/--write-profile": options.write_profile is not None and not options.exec_argv,
    }
    chosen = [name for name, on in modes.items() if on]
    if len(chosen) > 1:
        raise UsageError(f"{chosen[0]} and {chosen[1]} cannot be used together")
    if chosen and chosen[0] in ("--status", "--unset", "--store-keys") and options.args:
        raise UsageError(f"{chosen[0]} takes no USER or CODE")


def _obtain(
    settings: config.Settings,
    options: Options,
    code: "str | None",
    now: datetime,
    files: config.AwsFiles,
) -> "session.Outcome":
    from mfa_env import session

    policy = session.Policy(
        options.min_ttl,
        options.fmt == "json",
        options.refresh,
        not options.no_cache,
        options.debug,
        code_given=code is not None,
        duration_given=options.duration is not None,
    )
    command = options.mfa_command or os.environ.get("MFA_ENV_MFA_COMMAND")

    def ask(serial: str) -> str:
        from mfa_env import prompt  # subprocess and friends: only when a code is needed

        return prompt.get_code(code, command, serial)

    def lock(parts: list[str]) -> "AbstractContextManager[bool]":
        from mfa_env import cache

        return cache.locked(parts, waiting=waiting)

    store = session.store_for(os.environ.get("MFA_ENV_CACHE"))
    with collector_paused():  # botocore's models, loaded to the end of the run
        engine = session.Engine(
            settings, policy, now, code=ask, store=store, aws=session.Botocore(files), lock=lock
        )
        return engine.obtain()


def _write_profile(name: "str | None", creds: Credentials, settings: config.Settings) -> str:
    if not name:
        return ""
    from mfa_env import aws_files

    result = aws_files.write_profile(
        name, creds, source_profiles=settings.own_profiles, region=settings.region
    )
    for warning in result.warnings:
        say(f"warning: {warning}")
    return f"wrote [{name}] to {home_path(result.path)}; "


def main(argv: "list[str] | None" = None) -> None:
    """Console-script entry point: every failure becomes one line and a failing statement."""
    try:
        cli.main(args=argv, prog_name="mfa-env", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        fail("cancelled", Cancelled.exit_code, None)
    except click.ClickException as exc:  # a usage error: before run() knows the shell
        message = f"{exc.format_message()} (see mfa-env --help)"
        fail(message, exc.exit_code, None if stdout_is_a_terminal() else shells.POSIX_OUTPUT)
    except OSError as exc:
        if not _in_click_echo(exc):
            raise  # not stdout's failure: a bug, which tests must see
        stdout_lost(exc)


def _in_click_echo(exc: BaseException) -> bool:
    """Whether click's own text (--help, --version, Tab completion) met a stdout that could not
    take it: click ends a closed pipe itself (Command.main), but not a full disk, nor a closed
    pipe under Tab completion. Told by where it was raised, so that any other OSError stays a
    traceback."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_globals.get("__name__") == "click.utils"
