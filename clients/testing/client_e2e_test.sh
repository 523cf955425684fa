#!/usr/bin/env bash
# Runs an example client (clients/python or clients/go: `client_e2e_test.sh python|go`) against
# the real local stack (tools/demo/stack.sh: anvil + test KMS contracts, the Phala Cloud
# simulator, the signer, the orchestrator) and checks the results on chain and in the simulator
# (check_deploy.js), not just the exit code:
#   1. a deploy with env vars, followed with WatchOperation to SUCCEEDED;
#   2. a deploy during which the orchestrator restarts before encrypting the env values (the
#      signer is stopped so deploy_app_auth keeps retrying; SIGTERM; restart both): the client
#      reconnects its watch, sees WAITING_FOR_INPUT, sends its values with SupplyEnvVars, and the
#      CVM gets exactly those values;
#   3. an invalid request: exit 3 with the gRPC status code and the field named;
#   4. the orchestrator restarted on a TCP listener with TLS and bearer tokens: a deploy with
#      --ca-file and --token-file is recorded as caller "token:<name>"; a wrong token is
#      UNAUTHENTICATED (exit 3).
# The env values are random, made here, and must appear in no output of the client.
set -euo pipefail
lang=${1:?usage: client_e2e_test.sh python|go}
r="$TEST_SRCDIR/$TEST_WORKSPACE"
t0=$SECONDS
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/client.XXXXXX")

case $lang in
  python)
    "$r/clients/python/generate.sh" "$work/gen" "$r/proto"
    client=(env PYTHONPATH="$work/gen" /usr/bin/python3 "$r/clients/python/deploy_cvm.py")
    ;;
  go)
    "$r/clients/go/build_offline.sh" "$work/deploy_cvm"
    client=("$work/deploy_cvm")
    ;;
  *) echo "unknown client: $lang" >&2; exit 2 ;;
esac
echo "client_e2e_test: $lang client ready in $((SECONDS - t0)) s"

# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_start_for_test "$r"
export TOOLS_DEMO_DIR="$r/tools/demo" NODE_PATH="$STACK_NODE_MODULES"
echo "client_e2e_test: stack up at $((SECONDS - t0)) s"

printf 'services:\n  app:\n    image: nginx:1.27-alpine\n' >"$work/compose.yml"
new_env_file() {  # new_env_file <file>: random values, 0600
  (umask 077 && printf 'API_KEY=%s\nLOG_LEVEL=info\n' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$1")
}
fail() { echo "client_e2e_test: FAIL: $*" >&2; exit 1; }
no_secret_in() {  # no_secret_in <env file> <files...>
  local value
  value=$(sed -n 's/^API_KEY=//p' "$1")
  shift
  if grep -qF -- "$value" "$@"; then fail "an env value appears in the client's output"; fi
}
run_client() {  # run_client <label> <args...>: stdout to $work/<label>.out, stderr to .err
  local label=$1
  shift
  "${client[@]}" --address="${address:-$ORCHESTRATOR_ADDRESS}" --compose-file="$work/compose.yml" --kms-type=BASE \
    --timeout=120s "$@" >"$work/$label.out" 2>"$work/$label.err"
}

# 1. Deploy and follow.
new_env_file "$work/one.env"
status=0
run_client one --name="client-$lang-one" --env-file="$work/one.env" || status=$?
[ "$status" -eq 0 ] || { cat "$work/one.err" >&2; fail "deploy exited $status"; }
grep -q 'STEP_SUCCEEDED deploy_app_auth' "$work/one.err" || fail "no watch events: $(cat "$work/one.err")"
node "$r/clients/testing/check_deploy.js" "$work/one.out" "$work/one.env"
no_secret_in "$work/one.env" "$work/one.out" "$work/one.err"
echo "client_e2e_test: deploy checked at $((SECONDS - t0)) s"

# 2. The orchestrator restarts while the deploy waits for the signer: WAITING_FOR_INPUT.
stop_one() {  # stop_one <name>: SIGTERM to its process group, wait for it to exit
  local pid
  pid=$(cat "$STACK_TEST_DIR/pids/$1")
  kill -TERM -- "-$pid"
  wait "$pid" || true
  mv "$STACK_TEST_DIR/logs/$1.log" "$STACK_TEST_DIR/logs/$1.stopped-at-${SECONDS}s.log"
}
start_one() {  # start_one <name> <binary> <address>
  _stack_spawn "$STACK_TEST_DIR" "$1" "$2" --config="$STACK_TEST_DIR/$1.textproto"
  _stack_wait_healthy "$STACK_TEST_DIR" "$1" "$3" 60
}
new_env_file "$work/two.env"
stop_one signer
run_client two --name="client-$lang-two" --env-file="$work/two.env" --request-id="client-$lang-two-$RANDOM" &
client_pid=$!
for ((i = 0; i < 600; i++)); do
  grep -q 'STEP_RETRYING deploy_app_auth' "$work/two.err" 2>/dev/null && break
  kill -0 "$client_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q 'STEP_RETRYING deploy_app_auth' "$work/two.err" || fail "deploy_app_auth never retried: $(cat "$work/two.err")"
stop_one orchestrator
start_one signer "$STACK_SIGNER" "$SIGNER_ADDRESS"
start_one orchestrator "$STACK_ORCHESTRATOR" "$ORCHESTRATOR_ADDRESS"
status=0
wait "$client_pid" || status=$?
[ "$status" -eq 0 ] || { cat "$work/two.err" >&2; fail "deploy across the restart exited $status"; }
grep -q 'lost the watch' "$work/two.err" || fail "the client did not see the restart: $(cat "$work/two.err")"
grep -q 'sending \[.*API_KEY.*\] again' "$work/two.err" || fail "no SupplyEnvVars: $(cat "$work/two.err")"
node "$r/clients/testing/check_deploy.js" "$work/two.out" "$work/two.env"
no_secret_in "$work/two.env" "$work/two.out" "$work/two.err"
sed 's/^/  client: /' "$work/two.err"
echo "client_e2e_test: WAITING_FOR_INPUT + SupplyEnvVars checked at $((SECONDS - t0)) s"

# 3. A refused request: the gRPC status code and the field, exit 3.
status=0
run_client bad --name="x" --env-file="$work/one.env" || status=$?
[ "$status" -eq 3 ] || fail "an invalid name exited $status, want 3: $(cat "$work/bad.err")"
grep -q 'DeployCvm: INVALID_ARGUMENT: .*name' "$work/bad.err" || fail "no status in: $(cat "$work/bad.err")"

# 4. TLS + bearer token: the orchestrator restarted on 127.0.0.1 (a port it picks) with a CA,
#    server certificate and token made here.
tls=$work/tls
mkdir -p "$tls"
(
  cd "$tls"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 1 -subj /CN=client-e2e-ca
  openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out server.pem
) 2>"$work/openssl.log" || { cat "$work/openssl.log" >&2; fail "openssl"; }
(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$tls/token" && echo wrong-token >"$tls/wrong-token")
printf 'client-%s %s\n' "$lang" "$(tr -d '\n' <"$tls/token" | sha256sum | cut -d' ' -f1)" >"$tls/tokens"
stop_one orchestrator
sed -i "s#^listen { unix .*#listen { tcp { address: \"127.0.0.1:0\" tls { cert_file: \"$tls/server.pem\" key_file: \"$tls/server.key\" } bearer_tokens_file: \"$tls/tokens\" } }#" \
  "$STACK_TEST_DIR/orchestrator.textproto"
_stack_spawn "$STACK_TEST_DIR" orchestrator "$STACK_ORCHESTRATOR" --config="$STACK_TEST_DIR/orchestrator.textproto"
for ((i = 0; i < 300; i++)); do
  # The log appears when the spawned process opens it: not there yet is "not serving yet".
  address=$(sed -n 's/^orchestrator: serving on //p' "$STACK_TEST_DIR/logs/orchestrator.log" 2>/dev/null || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || fail "the orchestrator did not start on TCP: $(cat "$STACK_TEST_DIR/logs/orchestrator.log")"
new_env_file "$work/four.env"
status=0
run_client four --name="client-$lang-four" --env-file="$work/four.env" --ca-file="$tls/ca.pem" \
  --token-file="$tls/token" || status=$?
[ "$status" -eq 0 ] || { cat "$work/four.err" >&2; fail "deploy over TLS exited $status"; }
EXPECT_CALLER="token:client-$lang" node "$r/clients/testing/check_deploy.js" "$work/four.out" "$work/four.env"
no_secret_in "$work/four.env" "$work/four.out" "$work/four.err"
grep -qF -- "$(cat "$tls/token")" "$work/four.out" "$work/four.err" && fail "the token appears in the client's output"
status=0
run_client five --name="client-$lang-five" --ca-file="$tls/ca.pem" --token-file="$tls/wrong-token" || status=$?
[ "$status" -eq 3 ] || fail "a wrong token exited $status, want 3: $(cat "$work/five.err")"
grep -q 'DeployCvm: UNAUTHENTICATED' "$work/five.err" || fail "no UNAUTHENTICATED in: $(cat "$work/five.err")"
echo "client_e2e_test: TLS + bearer token checked at $((SECONDS - t0)) s"
echo "client_e2e_test: $lang client passed in $((SECONDS - t0)) s"
