"""The text of --help beyond the options: how each shell uses the output, and the environment.

One table each, so that the help and the README (tests/test_readme.py compares them) cannot
drift apart."""

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
    ("MFA_ENV_PROFILE", "the source profile an earlier eval set aside from AWS_PROFILE"),
    ("AWS_PROFILE", "the source profile, when --profile is not given"),
    ("AWS_SHARED_CREDENTIALS_FILE", "the credentials file, as botocore reads it"),
    ("AWS_CONFIG_FILE", "the config file, as botocore reads it"),
    ("AWS_ENDPOINT_URL", "another STS/IAM endpoint, as botocore reads it"),
    ("XDG_CACHE_HOME", "where the session cache lives (XDG_CACHE_HOME/mfa-env)"),
    ("MFA_ENV_FUNCTION", "set by the --init function for the one run it starts, not by you"),
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
    ]
)
