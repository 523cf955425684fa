#!/usr/bin/env bash
# The bench still runs, in both modes, with a handful of deploys: the CPU mode through the
# orchestrator and the SDK, and the blocks mode on 1 s blocks without the SDK (--sdk-n=0). The
# numbers are not checked (bench/README.md holds them); the rows are.
set -euo pipefail
bench="${RUNFILES_DIR:?}/onchain_kms/bench/orchestrator/orchestrator_bench"
out=$(mktemp -d /tmp/okbs.XXXXXX)
trap 'rm -rf "$out"' EXIT

expect() {  # expect <file> <extended regex> <what>
  grep -Eq "$2" "$1" || { echo "FAIL: $3 (no line matching /$2/):" >&2; cat "$1" >&2; exit 1; }
}

"$bench" --n=2 --warmup=1 > "$out/cpu.txt" 2>&1 || { cat "$out/cpu.txt" >&2; exit 1; }
expect "$out/cpu.txt" '^orchestrator +2 deploys .*CPU/op: orchestrator [0-9.]+ ms' "the orchestrator row"
expect "$out/cpu.txt" '^sdk +2 deploys' "the SDK row"
expect "$out/cpu.txt" 'step deploy_app_auth +[0-9.]+ ms CPU per deploy' "the step breakdown"

"$bench" --n=2 --warmup=1 --block-time=1 --sdk-n=0 > "$out/blocks.txt" 2>&1 || { cat "$out/blocks.txt" >&2; exit 1; }
expect "$out/blocks.txt" '^orchestrator +2 deploys .*blocks from call to inclusion: avg' "the blocks row"
if grep -Eq '^sdk' "$out/blocks.txt"; then
  echo "FAIL: --sdk-n=0 ran the SDK" >&2
  exit 1
fi
echo "bench smoke: both modes ran"
