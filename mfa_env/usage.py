"""The text of --help beyond the options: how each shell uses the output, the environment, and
the exit statuses. One table each."""

from mfa_env import shells

# (shells, how to use the output there); the how comes from the renderer table itself.
SHELL_USAGE = tuple(
    (
        ", ".join(name for name, shell in shells.SHELLS.items() if shell is family),
        family.usage.replace("…", "USER CODE"),
    )
    for family in dict.fromkeys(shells.SHELLS.values())
)

ENVIRONMENT = (
    ("MFA_ENV_SHELL", "the shell to write for, as --shell"),
    ("MFA_ENV_MFA_COMMAND", "a command that prints the code, as --mfa-command"),
    ("MFA_ENV_SERIAL", "the MFA device serial, as --serial"),
    ("MFA_ENV_DURATION", "the session length in seconds, as --duration"),
    ("MFA_ENV_CACHE", "file (the default) or keyring: where sessions are cached"),
    ("AWS_ACCESS_KEY_ID", "with AWS_SECRET_ACCESS_KEY and no token: the long-term keys"),
    ("AWS_PROFILE", "the source profile, when --profile is not given"),
    ("AWS_DEFAULT_PROFILE", "the same, when AWS_PROFILE is not set"),
    ("AWS_REGION", "your region, which wins over the profile's and is never touched"),
    ("AWS_DEFAULT_REGION", "the same, when AWS_REGION is not set"),
    ("AWS_SHARED_CREDENTIALS_FILE", "the credentials file, as botocore reads it"),
    ("AWS_CONFIG_FILE", "the config file, as botocore reads it"),
    ("AWS_ENDPOINT_URL", "another STS/IAM endpoint (also _STS, _IAM), as botocore reads it"),
    ("XDG_CACHE_HOME", "where the session cache lives (XDG_CACHE_HOME/mfa-env)"),
    ("MFA_ENV_PROFILE", "set by mfa-env: the profile an eval set aside from AWS_PROFILE"),
    ("MFA_ENV_SAVED_*", "set by mfa-env: AWS_PROFILE and AWS_DEFAULT_PROFILE, for --unset"),
    ("MFA_ENV_EXPORTED", "set by mfa-env: the region variables it exported itself"),
    ("MFA_ENV_SESSION", "set by mfa-env in exec mode's command: refuses a nested one"),
    ("MFA_ENV_FUNCTION", "set by the --init function for the one run it starts"),
)

EXIT_STATUS = (
    ("0", "the session was handed out (--status: a live session in this environment)"),
    ("1", "it failed, with one line saying why (--status: no live session)"),
    ("2", "a usage error: an option or argument that cannot be used"),
    ("130", "cancelled with Ctrl-C"),
    ("126, 127", "exec mode: the command cannot run, or is not found; else its own status"),
)


def _table(rows: tuple[tuple[str, str], ...]) -> list[str]:
    width = max(len(left) for left, _right in rows)
    return [f"  {left:<{width}}  {right}" for left, right in rows]


EPILOG = "\n".join(
    [
        "\b",
        "Use the output (with USER and CODE as above, or neither):",
        *_table(
            (
                *((how, where) for where, how in SHELL_USAGE),
                ("mfa-env USER CODE -- $SHELL", "a shell of its own, for this terminal only"),
                ('eval "$(mfa-env --init bash)"', "in ~/.bashrc: mfa-env USER CODE then sets it"),
            )
        ),
        "",
        "\b",
        "Environment:",
        *_table(ENVIRONMENT),
        "",
        "\b",
        "Exit status:",
        *_table(EXIT_STATUS),
    ]
)
