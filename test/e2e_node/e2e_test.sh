#!/usr/bin/env bash
# Starts the local stack (tools/demo/stack.sh) from the test's runfiles, runs e2e_test.js with
# Node against it, and stops the stack (also when the test fails or times out). The stack's logs
# are kept in the test's undeclared outputs.
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_env_from_runfiles "$r"

dir=$(mktemp -d /tmp/oke.XXXXXX)  # short: Unix socket paths
finish() {
  local status=$?
  stack_stop "$dir"
  if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ] && [ -d "$dir/logs" ]; then cp -r "$dir/logs" "$TEST_UNDECLARED_OUTPUTS_DIR/"; fi
  if [ "$status" -ne 0 ] && [ -f "$dir/logs/orchestrator.log" ]; then
    echo "== orchestrator log (last 40 lines)"; tail -n 40 "$dir/logs/orchestrator.log"
  fi
  rm -rf "$dir"
  exit "$status"
}
trap finish EXIT
trap 'exit 143' TERM  # bazel's timeout

stack_start "$dir"
set -a
# shellcheck disable=SC1091
source "$dir/stack.env"
set +a
NODE_PATH="$STACK_NODE_MODULES" PROTO_DIR="$r/proto" TOOLS_DEMO_DIR="$r/tools/demo" node "$r/test/e2e_node/e2e_test.js"
