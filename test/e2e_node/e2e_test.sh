#!/usr/bin/env bash
# Starts the local stack (tools/demo/stack.sh) from the test's runfiles, runs e2e_test.js with
# Node against it, and stops the stack (also when the test fails or times out). The stack's logs
# are kept in the test's undeclared outputs (stack_start_for_test).
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_start_for_test "$r"
NODE_PATH="$STACK_NODE_MODULES" ORACLE_JS="$r/test/oracle/phala_oracle.js" PROTO_DIR="$r/proto" TOOLS_DEMO_DIR="$r/tools/demo" node "$r/test/e2e_node/e2e_test.js"
