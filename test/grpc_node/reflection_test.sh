#!/usr/bin/env bash
# Starts the local stack (tools/demo/stack.sh: anvil + contracts, simulator, signer,
# orchestrator) and runs reflection_test.js against the two real gRPC servers: the grpcurl
# workflow through reflection alone, and our proto/ files through @grpc/proto-loader.
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_start_for_test "$r"
NODE_PATH="$STACK_NODE_MODULES" PROTO_DIR="$r/proto" node --test "$r/test/grpc_node/reflection_test.js"
