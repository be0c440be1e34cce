# mfa-env for nushell 0.98 or later, from `mfa-env --init nu | save -f ~/.mfa-env.nu` once and
# `source ~/.mfa-env.nu` in config.nu (nushell sources only files it can read when it parses).
# After it, `mfa-env USER CODE` and `mfa-env --unset` change this shell; any other use runs as
# the command does. stdout is captured, and mfa-env itself tells the uses apart: statements for
# this shell (one NUON record) come after the line "#mfa-env:statements"; for any other use it
# prints only "#mfa-env:run-plain", having done nothing, and the command is run again as itself.

# Tab completion through click's bash protocol.
def "nu-complete mfa-env" [context: string] {
    let words = ($context | split row " ")
    let cword = (($words | length) - 1)
    with-env {COMP_WORDS: $context, COMP_CWORD: ($cword | into string), _MFA_ENV_COMPLETE: "bash_complete"} {
        ^mfa-env
    } | lines | parse "{kind},{value}" | where kind == "plain" | get value
}

# --wrapped: mfa-env's own options reach it as they are, not as this command's flags.
def --env --wrapped mfa-env [...args: string@"nu-complete mfa-env"] {
    # `complete` keeps the exit status from ending this command before it is looked at; what the
    # command said on stderr is passed on as it is (the code prompt is on the terminal itself).
    let run = (with-env {MFA_ENV_FUNCTION: "nu"} { ^mfa-env ...$args } | complete)
    print --stderr --no-newline $run.stderr
    let lines = ($run.stdout | lines)
    let first = (if ($lines | is-empty) { "" } else { $lines | first })
    if $first == "#mfa-env:statements" {
        # Only a run that succeeded is evaluated: a failure leaves this shell as it was.
        if $run.exit_code != 0 {
            error make --unspanned {msg: "mfa-env failed: see the message above"}
        }
        $lines | skip 1 | str join "\n" | from nuon | load-env
    } else if $first == "#mfa-env:run-plain" {
        ^mfa-env ...$args
    } else if $run.exit_code != 0 {
        error make --unspanned {msg: $"mfa-env exited with ($run.exit_code)"}
    } else {
        print --no-newline $run.stdout
    }
}
