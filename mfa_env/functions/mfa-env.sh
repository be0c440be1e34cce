# mfa-env for @SHELL@, from `eval "$(mfa-env --init @SHELL@)"` in its rc file (~/.kshrc, or the
# file $ENV names). After it, `mfa-env USER CODE` and `mfa-env --unset` change this shell; any
# other use runs as the command does. mfa-env itself tells them apart: statements for this
# shell go to descriptor 3, which the function evaluates; everything else goes to stdout, which
# stays the function's own. These shells' function names cannot hold "-": an alias gives it.
__mfa_env() {
    # Tracing off while the statements pass through variables: set -x or -v would print them.
    { __mfa_env_opts=$-; set +xv; } 2>/dev/null
    __mfa_env_out='' __mfa_env_status=0
    { __mfa_env_out=$(MFA_ENV_FUNCTION=@SHELL@:3 command mfa-env "$@" 3>&1 1>&4 4>&-) ||
        __mfa_env_status=$?; } 4>&1
    # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
    if [ "$__mfa_env_status" = 0 ] && [ -n "$__mfa_env_out" ]; then
        eval "$__mfa_env_out" || __mfa_env_status=$?
    fi
    # No `local` in POSIX sh: the scratch variables go, and the status and options stay in $@.
    set -- "$__mfa_env_status" "$__mfa_env_opts"
    unset __mfa_env_out __mfa_env_status __mfa_env_opts
    case $2 in *v*) set -v ;; esac
    case $2 in *x*) set -x ;; esac
    return "$1"
}
alias mfa-env=__mfa_env
