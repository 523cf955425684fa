#!/usr/bin/env bash
# ThreadSanitizer run of the concurrent parts: the orchestrator engine (operations, watch streams),
# the nonce allocator, the signer's slot locks, group commit and engine (over gRPC too), and the
# platform transport. Any report fails the test (TSan's exit code 66).
# Usage: tools/tsan.sh              the selection below (what tools/test.sh runs last)
#        tools/tsan.sh //x:y_test    those targets instead (arguments starting with - go to bazel)
#        tools/tsan.sh --print-args  the bazel test arguments, one per line (for tools/test.sh)
# What TSan can and cannot see here (Debian's uninstrumented Abseil and gRPC): tools/README.md.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=(
  //tools/tsan:absl_sync_annotations_test
  //signer/audit:audit_log_test
  //signer/equivocation:group_commit_test
  //signer/equivocation:slot_locks_test
  //signer/equivocation:store_test
  //signer/engine:engine_test
  //signer:signer_service_test
  //orchestrator/engine:engine_test
  //orchestrator/engine:journaled_events_test
  //chain/onchain:nonce_store_unit_test
  //chain/onchain:onchain_unit_test
  //chain/onchain:concurrency_anvil_test
  //platform/transport:transport_test
)
flags=()
chosen=()
print=false
for a in "$@"; do
  case "$a" in --print-args) print=true ;; -*) flags+=("$a") ;; *) chosen+=("$a") ;; esac
done
[ ${#chosen[@]} -gt 0 ] && targets=("${chosen[@]}")
args=(--config=tsan --test_env=TSAN_OPTIONS="suppressions=$root/tools/tsan.supp second_deadlock_stack=1"
  "${flags[@]}" "${targets[@]}")
if $print; then
  printf '%s\n' "${args[@]}"
  exit 0
fi
bazel test --nocache_test_results --test_summary=short "${args[@]}" 2>&1 |
  grep -v 'ld.gold: warning: Cannot export local symbol'
exit "${PIPESTATUS[0]}"
