#!/usr/bin/env bash
# phala_oracle.js against the worked vectors of the facts (see oracle_selftest.js).
set -euo pipefail
exec node "$TEST_SRCDIR/$TEST_WORKSPACE/test/oracle/oracle_selftest.js"
