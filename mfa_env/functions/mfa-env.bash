# mfa-env for bash, from `eval "$(mfa-env --init bash)"` in ~/.bashrc. After it, `mfa-env USER
# CODE` and `mfa-env --unset` change this shell; any other use runs as the command does.
# mfa-env itself tells them apart: statements for this shell go to descriptor 3, which the
# function evaluates; everything else goes to stdout, which stays the function's own.
mfa-env() {
    # Tracing off while the statements pass through variables: set -x or -v would print them.
    { local __mfa_env_opts=$-; set +xv; } 2>/dev/null
    local __mfa_env_out='' __mfa_env_status=0
    { __mfa_env_out=$(MFA_ENV_FUNCTION=bash:3 command mfa-env "$@" 3>&1 1>&4 4>&-) ||
        __mfa_env_status=$?; } 4>&1
    # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
    if [ "$__mfa_env_status" = 0 ] && [ -n "$__mfa_env_out" ]; then
        eval "$__mfa_env_out" || __mfa_env_status=$?
    fi
    case $__mfa_env_opts in *v*) set -v ;; esac
    case $__mfa_env_opts in *x*) set -x ;; esac
    return "$__mfa_env_status"
}
@COMPLETION@
