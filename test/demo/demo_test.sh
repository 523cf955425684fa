#!/usr/bin/env bash
# tools/demo.sh (tools/demo/demo.sh) end to end, from this test's runfiles (--bin-dir: no bootstrap,
# no build):
#  1. the whole flow: exit 0, the summary (JSON and text) says what the demo promises, in
#     minutes at worst, and every process it started is gone afterwards;
#  2. --check: the stack comes up healthy and goes away;
#  3. Ctrl-C (SIGINT to the demo's process group, as a terminal sends it) in the middle of the
#     flow: exit 130, every process gone, the run's directory removed.
set -uo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$(mktemp -d)}"
export STACK_NODE_MODULES="$(dirname "$(readlink -f "$r/tools/node/package.json")")/node_modules"
bin=$(mktemp -d /tmp/okt.XXXXXX)
trap 'rm -rf "$bin"' EXIT
ln -s "$r/test/anvil/devchain" "$r/test/cloudsim/cloudsim" "$r/signer/signer" "$r/orchestrator/orchestrator" \
  "$r/platform/health_probe" "$r/orchestrator/kmsctl/kmsctl" "$bin/"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The stack directory a demo run printed, and a check that nothing of it survives.
run_dir_of() { grep -o '/tmp/okd\.[A-Za-z0-9]*' "$1" | head -n1; }
check_all_gone() {  # check_all_gone <log> <label>
  local dir
  dir=$(run_dir_of "$1")
  [ -n "$dir" ] || { fail "$2: no run directory in the demo's output"; return; }
  # Polled, not one look after a fixed sleep: a process already told to stop may take a while to
  # go on a loaded machine; one still there after 30 s survived.
  local f survivors i
  for i in $(seq 300); do
    survivors=""
    for f in /proc/[0-9]*/cmdline; do
      tr '\0' ' ' <"$f" 2>/dev/null | grep -qF "$dir/" && survivors+=" ${f//[^0-9]/}"
    done
    [ -z "$survivors" ] && break
    sleep 0.1
  done
  [ -z "$survivors" ] || fail "$2: processes of $dir survived:$survivors"
  [ ! -e "$dir" ] || fail "$2: $dir was not removed"
}

# 1. The whole flow.
"$r/tools/demo/demo.sh" --bin-dir="$bin" --summary-json="$out/summary.json" >"$out/demo.log" 2>&1
code=$?
if [ "$code" -ne 0 ]; then
  fail "tools/demo.sh exited $code; its output:"
  sed 's/^/  /' "$out/demo.log"
else
  grep -q '^demo: summary' "$out/demo.log" || fail "no summary in the output"
  grep -q '^demo: done, every check passed' "$out/demo.log" || fail "the demo's own checks did not all pass"
  node - "$out/summary.json" <<'JS' || fail "summary.json: see above"
const s = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const assert = require('assert/strict');
assert.equal(s.ok, true);
assert.match(s.app_id, /^0x[0-9a-fA-F]{40}$/);
assert.equal(s.app_id.toLowerCase(), s.app_auth_contract_address.toLowerCase());
assert.ok(s.cvm_id);
assert.equal(s.steps.length, 4);
for (const st of s.steps) {
  assert.equal(st.state, 'OPERATION_STATE_SUCCEEDED', `step ${st.step}`);
  assert.match(st.compose_hash, /^0x[0-9a-f]{64}$/, `step ${st.step} compose hash`);
}
const [deploy, keys, compose, values] = s.steps;
assert.match(deploy.transaction_hash, /^0x[0-9a-f]{64}$/, 'deploy transaction');
assert.ok(keys.two_phase && /^0x[0-9a-f]{64}$/.test(keys.transaction_hash), 'env keys: two-phase');
assert.ok(compose.two_phase && /^0x[0-9a-f]{64}$/.test(compose.transaction_hash), 'compose: two-phase');
assert.ok(!values.two_phase && values.transaction_hash === '', 'values only: one call');
assert.equal(new Set(s.steps.map((x) => x.compose_hash)).size, 3, 'three compose hashes (values keep theirs)');
assert.equal(s.steps[3].compose_hash, s.steps[2].compose_hash);
// About 15 s on an idle machine; the bound is generous (a loaded 2-core machine) and still
// catches a flow that sits out a retry or receipt timeout (minutes).
assert.ok(s.flow_seconds < 180, `the flow took ${s.flow_seconds} s`);
console.log(`summary ok: flow ${s.flow_seconds} s, whole demo ${s.total_seconds} s`);
JS
  grep -qE '^  1  deploy with 2 env vars' "$out/demo.log" || fail "no step rows in the summary table"
  check_all_gone "$out/demo.log" "full flow"
fi

# 2. --check.
"$r/tools/demo/demo.sh" --bin-dir="$bin" --check >"$out/check.log" 2>&1 || fail "--check exited $?: $(cat "$out/check.log")"
grep -q 'everything is healthy' "$out/check.log" || fail "--check did not report health"
check_all_gone "$out/check.log" "--check"

# 3. Ctrl-C in the middle of the flow (at step 2). setsid: its own process group, like a
#    terminal's foreground job; env --default-signal: undo the SIGINT ignore that a background
#    job of a non-interactive shell inherits.
wait_for='^\[2/4\]'
setsid env --default-signal=INT "$r/tools/demo/demo.sh" --bin-dir="$bin" >"$out/interrupt.log" 2>&1 &
pid=$!
for _ in $(seq 1800); do grep -q "$wait_for" "$out/interrupt.log" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if grep -q "$wait_for" "$out/interrupt.log"; then
  kill -INT -- "-$pid"
  wait "$pid"
  code=$?
  [ "$code" -eq 130 ] || fail "interrupted demo exited $code, want 130: $(tail -n 5 "$out/interrupt.log")"
  grep -q 'demo: interrupted, stopping' "$out/interrupt.log" || fail "no interruption message"
  check_all_gone "$out/interrupt.log" "Ctrl-C"
else
  kill -KILL -- "-$pid" 2>/dev/null
  fail "the demo never reached '$wait_for': $(tail -n 20 "$out/interrupt.log")"
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s); logs in $out"; exit 1; fi
echo "PASS"
