#!/usr/bin/env bash
# kmsctl end to end against the real stack (tools/demo/stack.sh: anvil + KMS contracts, the
# simulator, the signer, the orchestrator): every command, --json output, exit codes, the
# idempotent retry with --request-id, --no-wait + ops watch, --timeout, and Ctrl-C while
# following an operation (kmsctl exits 130, the operation goes on and succeeds).
set -uo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"  # stack_start, stack_stop, stack_json
stack_env_from_runfiles "$r" || exit 1
dir=$(mktemp -d /tmp/okk.XXXXXX)
finish() {
  local status=$?
  stack_stop "$dir" 2>/dev/null
  if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ] && [ -d "$dir/logs" ]; then cp -r "$dir/logs" "$TEST_UNDECLARED_OUTPUTS_DIR/"; fi
  rm -rf "$dir"
  exit "$status"
}
trap finish EXIT
trap 'exit 143' TERM
stack_start "$dir" || exit 1
# shellcheck disable=SC1091
source "$dir/stack.env"

k() { "$r/orchestrator/kmsctl/kmsctl" --orchestrator="$ORCHESTRATOR_ADDRESS" "$@"; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
# run <want exit> <args...>: runs kmsctl, keeps stdout in $out and stderr in $err.
out="" err=""
run() {
  local want=$1 code
  shift
  out=$(k "$@" 2>"$dir/err" <"${STDIN_FILE:-/dev/null}")
  code=$?
  err=$(cat "$dir/err")
  [ "$code" -eq "$want" ] || fail "kmsctl $* exited $code, want $want; stderr: $err; stdout: ${out:0:2000}"
  return 0
}
j() { stack_json "$out" "$1"; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
fault() { node -e 'fetch(process.argv[1] + "/faults", {method: process.argv[2], headers: {"content-type": "application/json"},
  body: process.argv[3] || undefined}).then((r) => process.exit(r.ok ? 0 : 1))' "$CLOUDSIM_ADMIN_URL" "$@"; }

printf 'API_KEY=k1\nLOG_LEVEL=info\n' >"$dir/a.env"
printf 'API_KEY=k2\nLOG_LEVEL=debug\n' >"$dir/b.env"
printf 'services:\n  app:\n    image: nginx:1.27-alpine\n' >"$dir/compose.yml"
printf 'echo pre-launch\n' >"$dir/pre.sh"

echo "== kms list"
run 0 kms list
grep -q 'kms-base-sim' <<<"$out" || fail "kms list: no kms-base-sim in: $out"
run 0 kms list --onchain --json
node -e 'const r = JSON.parse(process.argv[1]); if (!r.kms_instances.length || r.kms_instances.some((k) => k.chain_id === "0")) process.exit(1)' "$out" \
  || fail "kms list --onchain --json: $out"

echo "== deploy (env from stdin, --json), then the same request again"
STDIN_FILE="$dir/a.env" run 0 deploy --name=kmsctl-e2e --kms=base --compose="$dir/compose.yml" --env-file=- \
  --request-id=kmsctl-e2e-deploy --json
expect_eq "$(j .state)" OPERATION_STATE_SUCCEEDED "deploy state"
deploy_op=$(j .id)
cvm=$(j .deploy.cvm_id)
app=$(j .deploy.app_auth_contract_address)
[ -n "$cvm" ] && [ -n "$app" ] || fail "deploy: no cvm/app in $out"
grep -q 'k1' <<<"$out$err" && fail "an env value was printed"
STDIN_FILE="$dir/a.env" run 0 deploy --name=kmsctl-e2e --kms=base --compose="$dir/compose.yml" --env-file=- \
  --request-id=kmsctl-e2e-deploy --json
expect_eq "$(j .id)" "$deploy_op" "a retry with the same --request-id returns the same operation"
STDIN_FILE="$dir/a.env" run 7 deploy --name=kmsctl-e2e-other --kms=base --compose="$dir/compose.yml" --env-file=- \
  --request-id=kmsctl-e2e-deploy

echo "== ops get / watch / list / cancel"
run 0 ops get "$deploy_op" --json
expect_eq "$(j .deploy.cvm_id)" "$cvm" "ops get"
run 0 ops get "$deploy_op"
grep -q '^state       succeeded' <<<"$out" || fail "ops get (text): $out"
run 0 ops watch "$deploy_op"
grep -q "^succeeded: deploy_cvm $deploy_op" <<<"$out" || fail "ops watch of a finished operation: $out"
run 0 ops list --kind=deploy-cvm --json
grep -q "$deploy_op" <<<"$out" || fail "ops list --kind=deploy-cvm lacks $deploy_op"
run 0 ops list --cvm="$cvm" --all
grep -q "$deploy_op" <<<"$out" || fail "ops list --cvm lacks $deploy_op: $out"
run 8 ops cancel "$deploy_op"
run 4 ops get op_does_not_exist
run 8 ops supply-envs "$deploy_op" --env-file="$dir/a.env"

echo "== envs update --no-wait, then ops watch --json"
run 0 envs update "$cvm" --env-file="$dir/b.env" --no-wait --json
op=$(j .id)
case "$(j .state)" in OPERATION_STATE_PENDING|OPERATION_STATE_RUNNING|OPERATION_STATE_SUCCEEDED) ;; *) fail "envs update --no-wait: $out" ;; esac
run 0 ops watch "$op" --json
last=$(tail -n1 <<<"$out")
expect_eq "$(stack_json "$last" .operation.state)" OPERATION_STATE_SUCCEEDED "ops watch --json: last event"
expect_eq "$(stack_json "$(head -n1 <<<"$out")" .type)" TYPE_SNAPSHOT "ops watch --json: first event"

echo "== compose update, compose-file update, compose-hash add"
printf 'services:\n  app:\n    image: nginx:1.27.3-alpine\n' >"$dir/compose2.yml"
run 0 compose update "$cvm" --compose="$dir/compose2.yml" --json
expect_eq "$(j .update.two_phase)" true "compose update: two-phase"
run 0 compose-file update "$cvm" --pre-launch-script="$dir/pre.sh" --json
expect_eq "$(j .state)" OPERATION_STATE_SUCCEEDED "compose-file update"
hash=0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
run 0 compose-hash add "$hash" --cvm="$cvm" --json
expect_eq "$(j .add_compose_hash.already_registered)" false "compose-hash add"
tx=$(j .add_compose_hash.transaction_hash)
run 0 compose-hash add "${hash#0x}" --chain-id="$CHAIN_ID" --app-contract="$app" --json
expect_eq "$(j .add_compose_hash.already_registered)" true "compose-hash add again"
expect_eq "$(j .add_compose_hash.transaction_hash)" "$tx" "compose-hash add again: the earlier transaction"

echo "== errors"
run 3 deploy --name=1-starts-with-a-digit --kms=base --compose="$dir/compose.yml"
grep -q 'INVALID_ARGUMENT' <<<"$err" && grep -q 'name' <<<"$err" || fail "invalid name: $err"
run 3 compose-hash add 0xzz --cvm="$cvm"
run 2 deploy --name=x

echo "== --timeout and Ctrl-C while following a slow operation (a provision held 4 s by the simulator)"
fault POST '{"kind":"latency","path_prefix":"/cvms/provision","latency_ms":4000,"times":2}' || fail "fault"
run 0 deploy --name=kmsctl-e2e-slow --kms=base --compose="$dir/compose.yml" --no-wait --json
slow=$(j .id)
run 12 ops watch "$slow" --timeout=1s
grep -q "timed out following operation $slow" <<<"$err" || fail "timeout message: $err"
run 0 ops watch "$slow"
# Ctrl-C: kmsctl stops following, says so, and the operation still succeeds. (env
# --default-signal: a background job of a non-interactive shell starts with SIGINT ignored.)
env --default-signal=INT "$r/orchestrator/kmsctl/kmsctl" --orchestrator="$ORCHESTRATOR_ADDRESS" deploy --name=kmsctl-e2e-int --kms=base \
  --compose="$dir/compose.yml" --request-id=kmsctl-e2e-int >"$dir/int.out" 2>"$dir/int.err" &
pid=$!
for _ in $(seq 100); do grep -q '^operation ' "$dir/int.out" && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
code=$?
expect_eq "$code" 130 "kmsctl after SIGINT"
grep -q 'interrupted; operation .* goes on in the orchestrator' "$dir/int.err" || fail "interrupt message: $(cat "$dir/int.err")"
int_op=$(grep -o 'kmsctl ops watch [^ ]*' "$dir/int.err" | head -n1 | cut -d' ' -f4)
run 0 ops watch "$int_op"
fault DELETE

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  tail -n 30 "$dir/logs/orchestrator.log"
  exit 1
fi
echo "PASS"
