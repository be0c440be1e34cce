# mfa-env for zsh, from `eval "$(mfa-env --init zsh)"` in ~/.zshrc, after compinit. After it,
# `mfa-env USER CODE` and `mfa-env --unset` change this shell; any other use runs as the
# command does. mfa-env itself tells them apart: statements for this shell go to descriptor 3,
# which the function evaluates; everything else goes to stdout, which stays the function's own.
mfa-env() {
    # zsh's own defaults inside, restored on return: the user's options (xtrace and verbose
    # would print the statements; nounset, ksharrays...) neither show nor break anything.
    emulate -LR zsh
    local __mfa_env_out='' __mfa_env_status=0
    { __mfa_env_out=$(MFA_ENV_FUNCTION=zsh:3 command mfa-env "$@" 3>&1 1>&4 4>&-) ||
        __mfa_env_status=$?; } 4>&1
    # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
    if (( __mfa_env_status == 0 )) && [[ -n $__mfa_env_out ]]; then
        eval "$__mfa_env_out" || __mfa_env_status=$?
    fi
    return $__mfa_env_status
}
# Tab completion needs compinit's compdef; without it, the function works all the same.
if (( ${+functions[compdef]} )); then
@COMPLETION@
fi
