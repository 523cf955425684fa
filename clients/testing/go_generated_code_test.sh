#!/usr/bin/env bash
# The Go code committed in clients/go/onchainkms/ is what clients/go/generate.sh writes from the
# current proto/ (a change to a .proto without regenerating fails here, naming the files).
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
out=$(mktemp -d "${TEST_TMPDIR:-/tmp}/gogen.XXXXXX")
"$r/clients/go/generate.sh" "$out" "$r/proto"
if ! diff -r "$out/onchainkms" "$r/clients/go/onchainkms" >"$out.diff"; then
  head -n 40 "$out.diff" >&2
  echo "go_generated_code_test: clients/go/onchainkms is stale: run clients/go/generate.sh" >&2
  exit 1
fi
echo "go_generated_code_test: $(find "$out/onchainkms" -name '*.go' | wc -l) files current"
