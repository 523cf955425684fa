#!/usr/bin/env bash
# Runs bench.js against a fresh local stack (tools/demo/stack.sh) built from this target's
# runfiles, then stops the stack.
#
#   bazel run -c opt //bench/orchestrator:orchestrator_bench -- --n=100
set -euo pipefail
r="${RUNFILES_DIR:-$0.runfiles}/onchain_kms"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_env_from_runfiles "$r"
# The orchestrator runs every deploy at once (the default would queue those beyond 64).
export STACK_MAX_CONCURRENT_OPERATIONS=256

dir=$(mktemp -d /tmp/okb.XXXXXX)
finish() {
  local status=$?
  stack_stop "$dir"
  [ "$status" -eq 0 ] || tail -n 30 "$dir/logs/orchestrator.log" >&2 2>/dev/null || true
  rm -rf "$dir"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stack_start "$dir"
set -a
# shellcheck disable=SC1091
source "$dir/stack.env"
set +a
# Results written relative to where `bazel run` was called from.
cd "${BUILD_WORKING_DIRECTORY:-.}"
NODE_PATH="$STACK_NODE_MODULES" PROTO_DIR="$r/proto" TOOLS_DEMO_DIR="$r/tools/demo" node "$r/bench/orchestrator/bench.js" "$@"
