# mfa-env for xonsh, from `execx($(mfa-env --init xonsh))` in ~/.xonshrc. After it,
# `mfa-env USER CODE` and `mfa-env --unset` change this shell; any other use runs as the command
# does. stdout is captured, and mfa-env itself tells the uses apart: statements for this shell
# come after the line "#mfa-env:statements"; for any other use it prints only
# "#mfa-env:run-plain", having done nothing, and the command is run again as itself.
from xonsh.tools import unthreadable as _mfa_env_unthreadable


# unthreadable: the command runs in the foreground, with the terminal for the code prompt.
@_mfa_env_unthreadable
def _mfa_env(args, stdin=None, stdout=None, stderr=None):
    import subprocess
    import sys

    env = __xonsh__.env.detype()
    run = subprocess.run(
        ["mfa-env", *args], env={**env, "MFA_ENV_FUNCTION": "xonsh"}, stdout=subprocess.PIPE
    )
    lines = run.stdout.decode("utf-8", "surrogateescape").split("\n")
    if lines[0] == "#mfa-env:statements":
        # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
        if run.returncode == 0:
            execx("\n".join(lines[1:]))
        return run.returncode
    if lines[0] == "#mfa-env:run-plain":
        return subprocess.run(["mfa-env", *args], env=env, stdout=stdout).returncode
    if run.returncode == 0:
        (stdout or sys.stdout).write(run.stdout.decode("utf-8", "surrogateescape"))
    return run.returncode


aliases["mfa-env"] = _mfa_env
