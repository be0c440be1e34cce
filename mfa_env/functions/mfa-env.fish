# mfa-env for fish, from `mfa-env --init fish | source` in ~/.config/fish/config.fish. After
# it, `mfa-env USER CODE` and `mfa-env --unset` change this shell; any other use runs as the
# command does. mfa-env itself tells them apart: statements for this shell go to descriptor 3,
# which the function evaluates; everything else goes to stdout, which stays the function's own.
function mfa-env --description 'mfa-env, handing the session to this shell'
    # Tracing off while the statements pass through variables: fish_trace would print them.
    set -l fish_trace
    set -l __mfa_env_out
    set -l __mfa_env_status 0
    # A pipe into read, not a command substitution: fish gives a command substitution no
    # descriptor but its own stdout, so the function's stdout could not reach the command.
    # `env` runs the command, not this function, in fish before 3.1 too.
    begin
        env MFA_ENV_FUNCTION=fish:3 mfa-env $argv 3>&1 1>&4 4>&- | read -z __mfa_env_out
        set __mfa_env_status $pipestatus[1]
    end 4>&1
    # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
    if test "$__mfa_env_status" = 0; and test -n "$__mfa_env_out"
        printf %s $__mfa_env_out | source
        or set __mfa_env_status $status
    end
    return $__mfa_env_status
end
@COMPLETION@
