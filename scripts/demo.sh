#!/usr/bin/env bash
# `make demo`: the whole job against a local AWS emulator (moto), narrated step by step.
# Nothing here touches your real ~/.aws: the demo runs in a throw-away HOME.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export PATH="$PWD/$VENV/bin:$PATH"

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

demo_home=$(mktemp -d)
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
say "Starting a moto server (the AWS emulator) on 127.0.0.1:$port"
"$PY" -m moto.server -H 127.0.0.1 -p "$port" >"$demo_home/moto.log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -rf "$demo_home"
  echo "(moto server stopped, demo HOME removed)" >&2
}
trap cleanup EXIT
for _ in $(seq 100); do
  "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done

export HOME="$demo_home" XDG_CACHE_HOME="$demo_home/.cache"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE
echo "HOME=$HOME  AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL" >&2

say "Creating IAM user demo-user with long-term keys and a virtual MFA device"
seed=$("$PY" scripts/demo_aws.py setup demo-user)
echo "long-term keys written to ~/.aws/credentials [default] (mode 0600)" >&2

say "Reading the current code off the device, as an authenticator app would (RFC 6238)"
code=$("$PY" scripts/demo_aws.py totp "$seed")
echo "code: $code" >&2

say "Without MFA the user would be refused; with it: eval \"\$(mfa-env demo-user $code)\""
eval "$(mfa-env demo-user "$code")"
echo "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID (a session key), expires $AWS_CREDENTIAL_EXPIRATION" >&2

say "Proving the session works: sts get-caller-identity with the exported variables"
"$PY" - <<'PY'
import boto3
session = boto3.Session()
creds = session.get_credentials()
assert creds.method == "env" and creds.token, "the session did not come from the environment"
print("GetCallerIdentity ->", session.client("sts", region_name="us-east-1").get_caller_identity()["Arn"])
PY

say "A second terminal: no code, no network needed; the cached session is reused"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CREDENTIAL_EXPIRATION
# The endpoint points at a closed port: the session can only have come from the cache.
statements=$(AWS_ENDPOINT_URL=http://127.0.0.1:9 mfa-env demo-user)
eval "$statements"
test -n "$AWS_SESSION_TOKEN"
echo "session restored from the cache: $AWS_ACCESS_KEY_ID" >&2

say "Demo finished: a working MFA session, in bash, from one line"
