"""The entry point. A cache hit for the common invocations is served here, before click is
imported (click is a third of a cached run); everything else goes to the click command.

Served: `[USER]` with `-p/--profile`, `-s/--shell`, `-f/--format` and `--min-ttl`, in any order,
each at most once, and `--status [--brief]`, from the file cache or (MFA_ENV_CACHE=keyring)
what mfa_env.secret_service reads of the keyring. Anything else (a code, another option, a
repeated one, a value click might read differently, `--`, Tab completion), and any run that is
not a cache hit or fails, goes to mfa_env.cli before a byte is printed: the command decides as
it always did. Both print through mfa_env.deliver, and a test runs every served shape both ways.

Every shell prompt runs `--status --brief`: main() answers it first, with mfa_env.clock alone
(and mfa_env.init under the --init function, for its descriptor). What a hit needs is imported
once a run is one; tests/test_cache.py holds the list of what each imports.
"""

import os
import sys

# As mfa_env.record has it, and no `from __future__ import annotations` (the __future__ module
# is an import too): --status --brief imports nothing it does not use.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from mfa_env.config import Source
    from mfa_env.credentials import Credentials
    from mfa_env.session import Store
    from mfa_env.sts import Aws

# Each spelling click accepts for a served option (also `--long=value`), and its field.
_VALUED = {
    "-p": "profile",
    "--profile": "profile",
    "-s": "shell",
    "--shell": "shell",
    "-f": "fmt",
    "--format": "fmt",
    "--min-ttl": "min_ttl",
}
_FLAGS = {"--status": "status", "--brief": "brief"}
_FORMATS = ("shell", "json", "dotenv")
_BRIEF = (["--status", "--brief"], ["--brief", "--status"])


class _Miss(Exception):
    """Not a cache hit: the click command takes over."""


class _Offline:
    """The engine's way to AWS, closed: needing it means a miss."""

    def connect(self, source: "Source", region: str | None) -> "Aws":
        raise _Miss

    def on_session(self, creds: "Credentials", region: str | None) -> "Aws":
        raise _Miss


def _no_code(serial: str) -> str:
    raise _Miss


def _no_wait() -> None:
    """Another run is making this session: the command waits for it, saying so."""
    raise _Miss


def parse(argv: list[str]) -> dict[str, str] | None:
    """The served options by field (`args`: the one positional), or None: not a served shape."""
    from mfa_env import shells

    given: dict[str, str] = {}
    rest = iter(argv)
    for arg in rest:
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _FLAGS and not equals:
            field, value = _FLAGS[name], "1"
        elif name in _VALUED:
            field, value = _VALUED[name], value if equals else next(rest, "")
            if not value or value.startswith("-"):  # absent, empty, or maybe an option
                return None
        elif arg.startswith("-"):
            return None
        else:
            field, value = "args", arg
        if field in given:
            return None
        given[field] = value
    valid = (
        given.get("shell", "sh") in shells.SHELLS  # exactly; click also folds case: not here
        and given.get("fmt", "shell") in _FORMATS
        and given.get("min_ttl", "0").isascii()
        and given.get("min_ttl", "0").isdigit()
        and len(given.get("min_ttl", "0")) <= 9  # past int()'s 4,300 digits click says why
        # A code (`912 320` too), or a numeric user: click's.
        and not given.get("args", "x").replace(" ", "").replace("-", "").isdigit()
        and not ("status" in given and "args" in given)  # a usage error: click says so
    )
    return given if valid else None


def _store(choice: str) -> "Store | None":
    """The session cache MFA_ENV_CACHE names, for the engine: None is the file cache; the
    keyring is read straight from the Secret Service where keyring would read it there, and
    anything that read cannot answer is a miss (the command asks keyring)."""
    if choice in ("", "file"):
        return None
    if choice == "keyring":
        from mfa_env import secret_service

        return secret_service.Store(_Miss)
    raise _Miss


def serve(argv: list[str]) -> bool:
    """Serve a cache hit and return True, or print nothing and return False."""
    if "_MFA_ENV_COMPLETE" in os.environ:  # Tab completion is click's
        return False
    given = parse(argv)
    if given is None:
        return False
    from mfa_env import clock, deliver

    now = clock.now()
    if "status" in given:
        deliver.status(now, "brief" in given)  # exits
    if "brief" in given:
        return False
    from mfa_env import cache, config, session

    fmt = given.get("fmt", "shell")
    min_ttl = given.get("min_ttl")
    policy = session.Policy(None if min_ttl is None else int(min_ttl), fmt == "json")
    try:
        store = _store(os.environ.get("MFA_ENV_CACHE", "file"))
        output, hint = deliver.output_for(fmt, given.get("shell"), exec_mode=False)
        inputs = config.Inputs(profile=given.get("profile"), user=given.get("args"))
        settings = config.resolve(inputs)
        engine = session.Engine(
            settings,
            policy,
            now,
            _no_code,
            store=store,
            aws=_Offline(),
            lock=lambda parts: cache.locked(parts, waiting=_no_wait),
        )
        outcome = engine.obtain()
        deliver.hand_out(output, outcome, settings, now, hint)  # prints only once it cannot fail
    except _Miss:
        return False
    except Exception as exc:  # caught wide, as in session.Engine.obtain
        from mfa_env.errors import MfaEnvError

        if isinstance(exc, MfaEnvError):
            return False
        raise
    return True


def _brief(argv: list[str]) -> None:
    """Answer `--status --brief` (exits), reading the environment and the clock only; return
    for anything else."""
    if argv not in _BRIEF or "_MFA_ENV_COMPLETE" in os.environ:
        return
    from mfa_env import clock

    if "MFA_ENV_FUNCTION" in os.environ:  # the --init function's descriptor, as a run takes it
        from mfa_env import init

        init.adopt()
    clock.answer_brief(os.environ, clock.now())


def main() -> None:
    """Console-script entry point. Ctrl-C and a closed pipe end a served run as click ends the
    command (click.Command.main): "cancelled" after a line break with status 130, or quietly
    with status 1."""
    try:
        argv = sys.argv[1:]
        _brief(argv)
        # The --init function's descriptor taken, `--init SHELL` answered: a run with neither
        # has no use for mfa_env.init (mfa_env.deliver routes through it only once it is loaded).
        if "MFA_ENV_FUNCTION" in os.environ or any(a.startswith("--init") for a in argv[:1]):
            from mfa_env import init

            init.start(argv)
        import gc

        # What a served run builds lives until the process ends. The collector's passes over it,
        # as it runs and at exit (where they take every class and module apart), cost a third
        # of a cache hit beyond the interpreter's start; the command, which may run long, has
        # the collector as ever.
        gc.disable()
        try:
            served = serve(argv)
        finally:
            gc.enable()
        if served:
            gc.freeze()
    except (KeyboardInterrupt, EOFError):
        from mfa_env import deliver

        deliver.cancelled()
    except BrokenPipeError:
        from mfa_env import deliver

        deliver.silence()
        sys.exit(1)
    if not served:
        from mfa_env import cli

        cli.main()
