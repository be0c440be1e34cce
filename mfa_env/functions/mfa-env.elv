# mfa-env for elvish, from `eval (mfa-env --init elvish | slurp)` in ~/.config/elvish/rc.elv.
# After it, `mfa-env USER CODE` and `mfa-env --unset` change this shell; any other use runs as
# the command does. stdout is captured, and mfa-env itself tells the uses apart: statements for
# this shell come after the line "#mfa-env:statements"; for any other use it prints only
# "#mfa-env:run-plain", having done nothing, and the function runs it again as the command.
use str
fn mfa-env {|@args|
    var out = []
    var err = $nil
    try {
        # `env` runs the command, not this function.
        set out = [(e:env MFA_ENV_FUNCTION=elvish mfa-env $@args)]
    } catch e {
        set err = $e
    }
    var first = ''
    if (> (count $out) 0) {
        set first = $out[0]
    }
    if (==s $first '#mfa-env:statements') {
        # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
        if (not-eq $err $nil) {  # an exception is false: compare with $nil
            fail 'mfa-env failed: see the message above'
        }
        eval (str:join "\n" $out[1..])
    } elif (==s $first '#mfa-env:run-plain') {
        e:mfa-env $@args
    } elif (not-eq $err $nil) {
        fail $err  # a usage error's statement for other shells, or nothing: not printed
    } else {
        for line $out {
            echo $line
        }
    }
}
# eval runs the code above in a namespace of its own: the function reaches the REPL's through
# the line editor (so rc.elv, not elvish -c), as does Tab completion, through click's bash
# protocol.
edit:add-var mfa-env~ $mfa-env~
set edit:completion:arg-completer[mfa-env] = {|@words|
    var n = (- (count $words) 1)
    e:env COMP_WORDS=(str:join ' ' $words) COMP_CWORD=$n _MFA_ENV_COMPLETE=bash_complete mfa-env |
        each {|line|
            var kind value = (str:split &max=2 , $line)
            if (==s $kind plain) {
                put $value
            }
        }
}
