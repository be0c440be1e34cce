"""How a run ends: every line on stderr, the statements on stdout once, a failure, exec mode.

Every message and statement is written here (click itself prints only --help, --version and
completions), for the click command (mfa_env.cli) and the cache-hit path that runs before click
is imported (mfa_env.main) alike.
"""

from __future__ import annotations

import os
import sys

from mfa_env import clock, credentials, platform, shells
from mfa_env.credentials import Credentials, describe_expiry, describe_status, unset_env
from mfa_env.record import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime
    from typing import NoReturn, TextIO

    from mfa_env.config import Settings
    from mfa_env.session import Outcome

SESSION_MARKER = "MFA_ENV_SESSION"  # an exec-mode child's: names the session, refuses nesting


# Filled on the first call that needs it, so that importing this module (which the cached path
# does) builds nothing.
_ESCAPES: dict[int, str] = {}


def _escapes() -> dict[int, str]:
    if not _ESCAPES:
        codes = [
            *range(0x00, 0x09),  # C0 controls; tab (0x09) is harmless and kept
            *range(0x0A, 0x20),
            *range(0x7F, 0xA0),  # DEL, and the C1 controls (U+009B is CSI to xterm)
            0x061C,  # the bidi controls: they reorder what follows them on the line
            0x200E,
            0x200F,
            *range(0x202A, 0x202F),
            *range(0x2066, 0x206A),
            0x2028,  # line and paragraph separators: a line break to some terminals and logs
            0x2029,
            # Lone surrogates: what Python makes of bytes that are not UTF-8 in argv, the
            # environment or a file name; no stream can encode them, so writing one would fail.
            *range(0xD800, 0xE000),
        ]
        table = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in codes}
        table.update({0x0A: "\\n", 0x0D: "\\r"})
        _ESCAPES.update(table)
    return _ESCAPES


def printable(text: str) -> str:
    """TEXT with every character that could end the line, move the cursor, send a terminal
    command or reorder the line shown as an escape, so that outside text (a serial from IAM, a
    program's name) cannot forge or hide part of a message.

    The escapes are Python's repr spellings (`\\n`, `\\r`, `\\x1b`, `\\u202e`), so a message that
    shows one value with !r and another through this function reads the same.

    A backslash is left as it is, so the function is idempotent: a message part escaped here may
    be escaped again with its whole line, and shows the same. The price is that the escaping is
    injective only on text without backslashes: the four characters `\\x1b` and an ESC look alike.
    That confuses nobody's terminal, and text a message shows is never parsed back.
    """
    # In C, and true of nearly every message: every character escaped here is non-printable.
    if text.isprintable():
        return text
    return text.translate(_escapes())


def say(message: str) -> None:
    """Every stderr line passes here: outside text in it is shown with its controls escaped."""
    _to_stderr(f"mfa-env: {printable(message)}\n")


def _write(stream: TextIO | None, text: str, escape: bool = False) -> None:
    """Write and flush, never failing for the text: nothing when the stream is closed (`2>&-`).

    The text goes in the stream's encoding when that can hold it. Otherwise stdout gets UTF-8
    bytes, what every shell and AWS tool reads, where Python chose ASCII (PYTHONIOENCODING=ascii,
    the C locale) or latin-1 and a profile name is neither; a message (`escape`) shows what the
    encoding cannot hold as \\x…/\\u… escapes. Either way the bytes are settled before any is
    written, so there is never half a line. Only the stream itself can fail (OSError; ValueError
    once it is closed)."""
    if stream is None:
        return
    encoding = stream.encoding or "utf-8"
    buffer = getattr(stream, "buffer", None)
    if not _holds(encoding, text):
        if not escape and buffer is not None:
            data = text.encode("utf-8", "backslashreplace")  # statements are valid Unicode
            stream.flush()
            buffer.write(data)
            buffer.flush()
            return
        text = _escaped(encoding, text)
    stream.write(text)
    stream.flush()


def _holds(encoding: str, text: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def _escaped(encoding: str, text: str) -> str:
    """Text the encoding can hold: what it cannot, as Python escapes (\\xe9, \\u0142)."""
    try:
        # A round trip through the encoding itself keeps what it can hold (é in latin-1).
        escaped = text.encode(encoding, "backslashreplace").decode(encoding)
    except (UnicodeError, LookupError):
        escaped = ""
    if _holds(encoding, escaped):
        return escaped
    return text.encode("ascii", "backslashreplace").decode()  # every stdio encoding holds ASCII


def _to_stderr(text: str) -> None:
    """A line for the person. When no one reads stderr any more (a closed pipe, a full disk),
    the run goes on without it: the statements on stdout still matter."""
    try:
        _write(sys.stderr, text, escape=True)
    except (OSError, ValueError):
        mute(sys.stderr)


def stdout_lost(exc: OSError | ValueError) -> NoReturn:
    """stdout could not take the statements (or click's --help): status 1, and a line unless the
    pipe was closed, which is its reader's choice (as click.Command.main ends it)."""
    mute(sys.stdout)
    if not isinstance(exc, BrokenPipeError):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        say(f"error: could not write to stdout ({reason})")
    sys.exit(1)


def mute(stream: TextIO | None) -> None:
    """Point a stream that failed at /dev/null: what it still holds, and what Python would flush
    at exit, then go nowhere, with no "Exception ignored" and no exit status 120."""
    if stream is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError):
        pass


def waiting() -> None:
    """Said once by a run that waits for another to finish getting the same session."""
    say(
        "waiting for another mfa-env that is getting this session "
        "(answer its prompt, if it shows one)"
    )


def cancelled() -> NoReturn:
    """Ctrl-C: a line break (^C sits where the cursor was), then the one line."""
    from mfa_env.errors import Cancelled

    _to_stderr("\n")
    fail("cancelled", Cancelled.exit_code, None)


def silence() -> None:
    """After a broken pipe: what Python would flush at exit goes nowhere, with no traceback."""
    for stream in (sys.stdout, sys.stderr):
        mute(stream)


def stdout_is_a_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def output_for(fmt: str, shell_name: str | None, exec_mode: bool) -> tuple[shells.Output, str]:
    """What stdout will carry, and a hint for stderr ("" for none) when the shell is a guess."""
    tty = stdout_is_a_terminal()
    # The --init function's, if one runs this command: main() imports mfa_env.init first in a
    # run with MFA_ENV_FUNCTION or --init, and the click command imports it, so a run where it
    # is not loaded has no function to route to (and a cache hit is spared its import).
    init = sys.modules.get("mfa_env.init")
    if exec_mode:  # stdout belongs to the command: no statements, no shell to detect
        output = shells.Output("exec", shells.lookup("sh"), tty)
        return (init.route(output) if init else output), ""
    # Under the --init function, its shell comes before MFA_ENV_SHELL: it evaluates the output.
    default = (init and init.function_shell()) or os.environ.get("MFA_ENV_SHELL")
    detected = shells.detect(shell_name or default)
    hint = detected.hint if detected.hint and fmt == "shell" else ""
    output = shells.Output(fmt, shells.lookup(detected.name), tty)
    return (init.route(output) if init else output), hint


def render(output: shells.Output, creds: Credentials, settings: Settings) -> str:
    """The text for stdout; raises UnsafeValueError for a value its format cannot hold."""
    if output.fmt == "json":
        return creds.process_json() + "\n"
    if output.fmt == "dotenv":
        return shells.dotenv(creds.env(settings.region))
    return output.shell.render(creds.shell_env(settings.region, os.environ))


def emit(output: shells.Output, text: str, summary: str, usage: str | None) -> None:
    if summary:
        say(summary)
    if not output.tty:
        try:
            _write(sys.stdout, text)
        except (OSError, ValueError) as exc:
            stdout_lost(exc)
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
    debug: bool = False,
) -> None:
    """The session had: the shell hint and the notes, the summary, then the statements (or the
    command to run). A value the output cannot hold raises before anything is printed.

    A credential_process (--format json) succeeds in silence: the Go and Ruby SDKs and
    terraform pass its stderr through on every fetch. Only warnings are said there, and
    --debug says the rest."""
    text = "" if exec_argv else render(output, outcome.creds, settings)
    quiet = output.fmt == "json" and not debug
    for line in (hint, *outcome.notes):
        if line and not (quiet and not line.startswith("warning:")):
            say(line)
    if settings.moved_profile and output.fmt == "shell":
        say(
            f"note: AWS_PROFILE={settings.moved_profile} is set aside in "
            f"{credentials.PROFILE_KEEPER} so that every SDK uses the session; "
            "mfa-env --unset puts it back"
        )
    if settings.moved_profile and output.fmt == "dotenv":
        name = "AWS_PROFILE" if os.environ.get("AWS_PROFILE", "").strip() else "AWS_DEFAULT_PROFILE"
        say(
            f"warning: {name}={settings.moved_profile} is set, and tools that prefer a named "
            "profile (the Node.js SDK, among others) will use it, not these keys; unset it "
            "where this file is read"
        )
    summary = f"{written}{outcome.how}, {describe_expiry(outcome.creds.expiration, now)}"
    if exec_argv:
        execute(exec_argv, outcome.creds, settings, summary)
    usage = None if written else output.usage("…")  # -w: the profile is what was asked for
    emit(output, text, "" if quiet else summary, usage)


def unset(output: shells.Output, hint: str) -> None:
    if output.fmt != "shell":
        from mfa_env.errors import UsageError

        raise UsageError("--unset writes shell statements; drop --format")
    text = output.shell.render(unset_env(os.environ))
    if hint:
        say(hint)
    emit(output, text, "statements that end the session in this shell", output.usage("--unset"))


def status(now: datetime, brief: bool) -> NoReturn:
    if brief:  # for a prompt: no prefix, and nothing at all without a session
        clock.answer_brief(os.environ, now)
    ok, report = describe_status(os.environ, now)
    say(report)
    sys.exit(0 if ok else 1)


def execute(argv: tuple[str, ...], creds: Credentials, settings: Settings, summary: str) -> None:
    """Exec mode: the command runs with the session as the rest of this process
    (platform.execute: it replaces us on POSIX; on Windows its exit status becomes ours)."""
    marker = settings.role.arn if settings.role else settings.source.profile or "environment keys"
    env = creds.child_env(os.environ, settings.region, {SESSION_MARKER: marker})
    say(f"{summary}; running {argv[0]}")
    try:
        platform.execute(argv, env)
    except OSError as exc:
        from mfa_env.errors import CommandNotRun

        not_found = isinstance(exc, FileNotFoundError)
        what = "not found" if not_found else exc.strerror or type(exc).__name__
        raise CommandNotRun(f"cannot run {argv[0]!r}: {what}", not_found) from None


def fail(message: str, code: int, output: shells.Output | None) -> NoReturn:
    """The one place a failure is printed: one line on stderr, at most a failing statement. A
    stream that cannot take its part changes nothing: the status is the failure's."""
    say(f"error: {message or 'failed'}")  # one line: say escapes any break in it
    if output is not None and output.fail_statement():
        try:
            _write(sys.stdout, output.fail_statement())
        except (OSError, ValueError):
            mute(sys.stdout)
    sys.exit(code)
