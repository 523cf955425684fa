#!/usr/bin/env bash
# The shipped orchestrator holds no crash-point code: neither the ORCHESTRATOR_CRASH_AT string
# nor the armed implementation's symbol (orchestrator::ArmedCrashPoints). The test build
# (//orchestrator:orchestrator_crash_points) must hold both, or the check would pass vacuously.
set -uo pipefail
dir="${TEST_SRCDIR}/${TEST_WORKSPACE}/orchestrator"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# (no grep -q after a pipe: with pipefail, the writer's SIGPIPE would fail the pipeline)
has_string() { grep -aF -- "$2" "$1" >/dev/null; }
has_symbol() { nm -C "$1" | grep -F -- "orchestrator::ArmedCrashPoints" >/dev/null; }

for binary in orchestrator orchestrator_crash_points; do
  [ -s "$dir/$binary" ] || fail "missing binary $dir/$binary"
done
has_symbol "$dir/orchestrator_crash_points" || fail "test build lacks the ArmedCrashPoints symbol (check is vacuous)"
has_string "$dir/orchestrator_crash_points" ORCHESTRATOR_CRASH_AT || fail "test build lacks ORCHESTRATOR_CRASH_AT"
has_symbol "$dir/orchestrator" && fail "shipped orchestrator contains the crash-point symbol ArmedCrashPoints"
has_string "$dir/orchestrator" ORCHESTRATOR_CRASH_AT && fail "shipped orchestrator contains the string ORCHESTRATOR_CRASH_AT"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
