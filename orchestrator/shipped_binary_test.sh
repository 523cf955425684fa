#!/usr/bin/env bash
# The shipped binaries hold no crash-point code: neither the ORCHESTRATOR_CRASH_AT string nor the
# armed implementation's symbol (orchestrator::ArmedCrashPoints), in the orchestrator nor in the
# signer (which has no crash points at all). The test build
# (//orchestrator:orchestrator_crash_points) must hold both, or the check would pass vacuously.
set -uo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}/orchestrator"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# (no grep -q after a pipe: with pipefail, the writer's SIGPIPE would fail the pipeline)
has_string() { grep -aF -- "$2" "$1" >/dev/null; }
has_symbol() { nm -C "$1" | grep -F -- "orchestrator::ArmedCrashPoints" >/dev/null; }

signer="${TEST_SRCDIR}/${TEST_WORKSPACE}/signer/signer"
for binary in "$dir/orchestrator" "$dir/orchestrator_crash_points" "$signer"; do
  [ -s "$binary" ] || fail "missing binary $binary"
done
has_symbol "$dir/orchestrator_crash_points" || fail "test build lacks the ArmedCrashPoints symbol (check is vacuous)"
has_string "$dir/orchestrator_crash_points" ORCHESTRATOR_CRASH_AT || fail "test build lacks ORCHESTRATOR_CRASH_AT"
has_symbol "$dir/orchestrator" && fail "shipped orchestrator contains the crash-point symbol ArmedCrashPoints"
has_string "$dir/orchestrator" ORCHESTRATOR_CRASH_AT && fail "shipped orchestrator contains the string ORCHESTRATOR_CRASH_AT"
has_symbol "$signer" && fail "shipped signer contains the crash-point symbol ArmedCrashPoints"
has_string "$signer" CRASH_AT && fail "shipped signer contains a CRASH_AT switch"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
