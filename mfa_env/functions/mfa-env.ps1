# mfa-env for PowerShell, from `mfa-env --init pwsh | Out-String | Invoke-Expression` in
# $PROFILE. After it, `mfa-env USER CODE` and `mfa-env --unset` change this session; any other
# use runs as the command does. A native command gets no descriptor but stdout and stderr here,
# so stdout is captured and mfa-env itself tells the uses apart: statements for this shell come
# after the line "#mfa-env:statements"; for any other use it prints only "#mfa-env:run-plain",
# having done nothing, and the function runs it again as the command itself.
function mfa-env {
    # The command, not this function: a function comes before an application of the same name
    # (about_Command_Precedence).
    $mfaEnvCommand = Get-Command -Name mfa-env -CommandType Application -ErrorAction Stop |
        Select-Object -First 1
    $mfaEnvSaved = $env:MFA_ENV_FUNCTION
    $env:MFA_ENV_FUNCTION = 'pwsh'
    try {
        $mfaEnvOut = @(& $mfaEnvCommand @args)
    } finally {
        # $null removes the variable again when it was not set (about_Environment_Variables).
        $env:MFA_ENV_FUNCTION = $mfaEnvSaved
    }
    # Set by the command's exit status, in the global scope (about_Automatic_Variables).
    $mfaEnvStatus = $LASTEXITCODE
    if ($mfaEnvOut.Count -gt 0 -and $mfaEnvOut[0] -ceq '#mfa-env:statements') {
        # Only a run that succeeded is evaluated: a failure leaves this session as it was, and
        # stops as `mfa-env ... | Invoke-Expression` does.
        if ($mfaEnvStatus -ne 0) {
            throw 'mfa-env failed: see the message above'
        }
        ($mfaEnvOut | Select-Object -Skip 1) -join "`n" | Invoke-Expression
    } elseif ($mfaEnvOut.Count -gt 0 -and $mfaEnvOut[0] -ceq '#mfa-env:run-plain') {
        & $mfaEnvCommand @args
    } elseif ($mfaEnvStatus -eq 0) {
        $mfaEnvOut
    }
}
@COMPLETION@
