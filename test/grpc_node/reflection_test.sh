#!/usr/bin/env bash
# Starts the local stack (tools/demo/stack.sh: anvil + contracts, simulator, signer,
# orchestrator) and runs reflection_test.js against the two real gRPC servers: the grpcurl
# workflow through reflection alone, and our proto/ files through @grpc/proto-loader.
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_env_from_runfiles "$r"

dir=$(mktemp -d /tmp/okr.XXXXXX)  # short: Unix socket paths
finish() {
  local status=$?
  stack_stop "$dir"
  if [ "$status" -ne 0 ] && [ -d "$dir/logs" ]; then tail -n 30 "$dir"/logs/*.log; fi
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
NODE_PATH="$STACK_NODE_MODULES" PROTO_DIR="$r/proto" node --test "$r/test/grpc_node/reflection_test.js"
