"""How a run ends: every line on stderr, the statements on stdout once, a failure, exec mode.

Every message and statement is written here (click itself prints only --help, --version and
completions), for the click command (mfa_env.cli) and the cache-hit path that runs before click
is imported (mfa_env.main) alike.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
from datetime import datetime

from mfa_env import credentials, shells
from mfa_env.credentials import Credentials, describe_expiry, describe_status, unset_env
from mfa_env.errors import MfaEnvError, UsageError, printable
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NoReturn, TextIO

    from mfa_env.config import Settings
    from mfa_env.session import Outcome

SESSION_MARKER = "MFA_ENV_SESSION"  # an exec-mode child's: names the session, refuses nesting


def say(message: str) -> None:
    """Every stderr line passes here: outside text in it is shown with its controls escaped."""
    _write(sys.stderr, f"mfa-env: {printable(message)}\n")


def _write(stream: TextIO | None, text: str) -> None:
    """Write and flush, as click.echo did: nothing when the stream is closed (`2>&-`), and UTF-8
    where Python chose ASCII (PYTHONIOENCODING=ascii), so a non-ASCII name is not an error."""
    if stream is None:
        return
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and codecs.lookup(stream.encoding or "utf-8").name == "ascii":
        stream.flush()
        buffer.write(text.encode())
        buffer.flush()
    else:
        stream.write(text)
        stream.flush()


def cancelled() -> NoReturn:
    """Ctrl-C: a line break (^C sits where the cursor was), then the one line."""
    _write(sys.stderr, "\n")
    fail("cancelled", 1, None)


def silence() -> None:
    """After a broken pipe: what Python would flush at exit goes nowhere, with no traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, stream.fileno())


def stdout_is_a_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def output_for(fmt: str, shell_name: str | None, exec_mode: bool) -> tuple[shells.Output, str]:
    """What stdout will carry, and a hint for stderr ("" for none) when the shell is a guess."""
    tty = stdout_is_a_terminal()
    if exec_mode:  # stdout belongs to the command: no statements, no shell to detect
        return shells.Output("exec", shells.lookup("sh"), tty), ""
    detected = shells.detect(shell_name or os.environ.get("MFA_ENV_SHELL"))
    hint = detected.hint if detected.hint and fmt == "shell" else ""
    return shells.Output(fmt, shells.lookup(detected.name), tty), hint


def render(output: shells.Output, creds: Credentials, settings: Settings) -> str:
    """The text for stdout; raises UnsafeValueError for a value its format cannot hold."""
    if output.fmt == "json":
        return creds.process_json() + "\n"
    if output.fmt == "dotenv":
        return shells.dotenv(creds.env(settings.region))
    return output.shell.render(creds.shell_env(settings.region, os.environ))


def emit(output: shells.Output, text: str, summary: str, usage: str | None) -> None:
    say(summary)
    if not output.tty:
        _write(sys.stdout, text)
    elif usage:  # the user forgot eval: no secret on the screen, and how to use it
        say(f"stdout is a terminal, so nothing was printed; run it as: {usage}")


def hand_out(
    output: shells.Output,
    outcome: Outcome,
    settings: Settings,
    now: datetime,
    hint: str = "",
    written: str = "",
    exec_argv: tuple[str, ...] = (),
) -> None:
    """The session had: the shell hint and the notes, the summary, then the statements (or the
    command to run). A value the output cannot hold raises before anything is printed."""
    text = "" if exec_argv else render(output, outcome.creds, settings)
    for line in (hint, *outcome.notes):
        if line:
            say(line)
    if settings.moved_profile and output.fmt == "shell":
        say(
            f"note: AWS_PROFILE={settings.moved_profile} is set aside in "
            f"{credentials.PROFILE_KEEPER} so that every SDK uses the session; "
            "mfa-env --unset puts it back"
        )
    summary = f"{written}{outcome.how}, {describe_expiry(outcome.creds.expiration, now)}"
    if exec_argv:
        execute(exec_argv, outcome.creds, settings, summary)
    usage = None if written else output.usage("…")  # -w: the profile is what was asked for
    emit(output, text, summary, usage)


def unset(output: shells.Output, hint: str) -> None:
    if output.fmt != "shell":
        raise UsageError("--unset writes shell statements; drop --format")
    text = output.shell.render(unset_env(os.environ))
    if hint:
        say(hint)
    emit(output, text, "statements that end the session in this shell", output.usage("--unset"))


def status(now: datetime, brief: bool) -> NoReturn:
    ok, report = describe_status(os.environ, now, brief)
    if not brief:
        say(report)
    elif report:  # for a prompt: no prefix, and nothing at all without a session
        _write(sys.stderr, printable(report) + "\n")
    sys.exit(0 if ok else 1)


def execute(argv: tuple[str, ...], creds: Credentials, settings: Settings, summary: str) -> None:
    """Exec mode: the command replaces us, with the session and default signal dispositions."""
    import signal

    marker = settings.role.arn if settings.role else settings.source.profile or "environment keys"
    env = creds.child_env(os.environ, settings.region, {SESSION_MARKER: marker})
    say(f"{summary}; running {argv[0]}")
    # What Python changed: it ignores SIGPIPE and SIGXFSZ (exec passes that on, and `yes | head
    # -1` would never end) and handles SIGINT. What we inherited (nohup's SIGHUP) stays.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        os.execvpe(argv[0], list(argv), env)
    except OSError as exc:
        raise MfaEnvError(f"cannot run {argv[0]!r}: {exc.strerror}") from None


def fail(message: str, code: int, output: shells.Output | None) -> NoReturn:
    """The one place a failure is printed: one line on stderr, at most a failing statement."""
    say(f"error: {message or 'failed'}")  # one line: say escapes any break in it
    if output is not None and output.fail_statement():
        _write(sys.stdout, output.fail_statement())
    sys.exit(code)
