#!/usr/bin/env bash
# `make demo`: mfa-env's whole job against a local AWS emulator (moto), narrated on stderr.
# Nothing here touches your real ~/.aws or caches: the demo runs in a throw-away HOME.
# The emulator is not AWS: each step says what it did and did not check.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-demo}
case $VENV in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
exec 1>&2 # every message on stderr; $(…) still captures what it captures

# Bold headings only on a terminal, and never with NO_COLOR set (https://no-color.org).
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
fail() {
  echo "demo: $*"
  exit 1
}
[ -x "$PY" ] || fail "$PY is missing: run make demo, which creates $VENV"
mask() { printf '%s... (%d characters)' "${1:0:8}" "${#1}"; }

for name in $(compgen -e); do
  case $name in AWS_* | DIRENV_* | MFA_ENV_* | XDG_*) unset "$name" ;; esac
done
demo_home=$(mktemp -d)
export HOME="$demo_home" XDG_CACHE_HOME="$demo_home/.cache" XDG_CONFIG_HOME="$demo_home/.config"
export XDG_DATA_HOME="$demo_home/.local/share" AWS_EC2_METADATA_DISABLED=true
say "Starting a moto server, the AWS emulator, on 127.0.0.1"
# It binds port 0 itself and says which port it got: a port picked here and let go could be
# taken by another program before the server binds it.
serve='import os
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the reader of the port is gone
server._thread.join()'
mkfifo "$demo_home/moto.port"
"$PY" -c "$serve" >"$demo_home/moto.port" 2>"$demo_home/moto.log" &
moto_pid=$!
stop_moto() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
}
cleanup() {
  stop_moto
  rm -rf "$demo_home"
  echo "(moto server stopped, demo HOME removed)"
}
trap cleanup EXIT
read -r -t 60 port <"$demo_home/moto.port" || fail "moto did not start; its log: $(cat "$demo_home/moto.log")"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
echo "moto listens on 127.0.0.1:$port"
"$PY" scripts/demo_aws.py wait
echo "HOME=$HOME (throw-away)  AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"

say "IAM user demo-user: long-term keys in ~/.aws/credentials, an MFA device, an MFA-only policy"
seed=$("$PY" scripts/demo_aws.py setup demo-user)
long_key=$(sed -n 's/^aws_access_key_id = //p' ~/.aws/credentials)
echo "long-term key: $long_key. On AWS the MFA-only policy leaves it only getting a session."

say "The current code, computed from the device's seed as an authenticator app does (RFC 6238)"
code=$("$PY" scripts/demo_aws.py totp "$seed")
echo "code: $code"

say "eval \"\$(mfa-env demo-user $code)\": the session goes into this shell"
eval "$(mfa-env demo-user "$code")"
[ -n "${AWS_SESSION_TOKEN:-}" ] || fail "mfa-env exported no session token"
[ "$AWS_ACCESS_KEY_ID" != "$long_key" ] || fail "the exported key is the long-term key"
echo "now exported in this bash:"
echo "  AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
echo "  AWS_SECRET_ACCESS_KEY=$(mask "$AWS_SECRET_ACCESS_KEY")"
echo "  AWS_SESSION_TOKEN=$(mask "$AWS_SESSION_TOKEN")"
echo "  AWS_CREDENTIAL_EXPIRATION=$AWS_CREDENTIAL_EXPIRATION"
if [ "$AWS_ACCESS_KEY_ID" = AKIAIOSFODNN7EXAMPLE ]; then
  echo "That is the example key from AWS's documentation: moto hands it out for every session."
  echo "On AWS a session key starts with ASIA and is new each time."
fi

say "What the emulator makes of each pair of keys"
"$PY" scripts/demo_aws.py probe

say "What the emulator checks: a made-up code, mfa-env --no-cache demo-user 000000"
if mfa-env --no-cache demo-user 000000 >/dev/null; then
  echo "The emulator gave a session for 000000 too: it does not check codes. AWS refuses a"
  echo "wrong or reused code, and mfa-env then says 'the MFA code was refused'."
else
  echo "The emulator refused 000000, as AWS refuses a wrong code."
fi

say "Stopping the emulator: from here on there is no endpoint to ask"
stop_moto
echo "nothing listens on 127.0.0.1:$port any more"

say "A second shell, no code: bash -c 'eval \"\$(mfa-env demo-user)\"'"
second=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  -u AWS_CREDENTIAL_EXPIRATION bash -c 'eval "$(mfa-env demo-user)" && printf %s "$AWS_SESSION_TOKEN"')
[ "$second" = "$AWS_SESSION_TOKEN" ] || fail "the second shell did not get the cached session"
echo "The second shell holds the first one's session, read from the cache"
echo "(~/.cache/mfa-env, mode 0600) with the emulator gone."

if command -v direnv >/dev/null; then
  say "direnv: ~/project/.envrc holds eval \"\$(mfa-env demo-user)\"; cd there and it loads"
  mkdir -p ~/project
  echo 'eval "$(mfa-env demo-user)"' >~/project/.envrc
  direnv allow ~/project
  # direnv's own log lines are silenced: they start with an escape code even with NO_COLOR.
  from_direnv=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u AWS_CREDENTIAL_EXPIRATION DIRENV_LOG_FORMAT='' direnv exec ~/project printenv AWS_SESSION_TOKEN)
  [ "$from_direnv" = "$AWS_SESSION_TOKEN" ] || fail "direnv did not hand out the cached session"
  echo "direnv exec ~/project printenv AWS_SESSION_TOKEN: the same cached session, no code asked."
else
  say "direnv is not installed: its step is skipped"
fi

say "Done"
echo "Shown for real: mfa-env found the device, traded the code for a session, printed"
echo "statements that bash evaluated, and a second shell and direnv reused the cached session"
echo "with no code and no endpoint. What the emulator did not check is said above; AWS checks"
echo "the code, the policy and who the session belongs to."
