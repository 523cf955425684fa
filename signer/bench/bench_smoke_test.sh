#!/usr/bin/env bash
# The signer's throughput bench still runs, briefly: every row and every goal line, with raw
# signing measured around the 64-client rows. The numbers are not checked (bench/README.md holds
# them); the rows are.
set -euo pipefail
bench="${RUNFILES_DIR:?}/onchain_kms/signer/bench/signer_grpc_bench"
out=$(mktemp -d /tmp/sgbs.XXXXXX)
trap 'rm -rf "$out"' EXIT

expect() {  # expect <file> <extended regex> <what>
  grep -Eq "$2" "$1" || { echo "FAIL: $3 (no line matching /$2/):" >&2; cat "$1" >&2; exit 1; }
}

"$bench" --dir="$out" --record=sqlite --concurrency=1,64 --batch_items=4 --seconds=0.3 --raw_seconds=0.1 \
  --row_raw_seconds=0.05 --fsync_seconds=0.1 > "$out/run.txt" 2>&1 || { cat "$out/run.txt" >&2; exit 1; }
for rpc in 'SignAddComposeHash' 'SignBatch x4' 'Health/Check \(no work\)'; do
  for clients in 1 64; do
    expect "$out/run.txt" "^\| sqlite \| $rpc \| $clients \| [0-9]+ \|" "the $rpc row at $clients clients"
  done
done
expect "$out/run.txt" '^sqlite, 1 client, SignAddComposeHash: p50 [0-9]+ us; fsync alone just before' "the p50 goal"
for rpc in 'SignAddComposeHash' 'SignBatch x4'; do
  expect "$out/run.txt" "^sqlite, 64 clients, $rpc: [0-9]+ tx/s = [0-9.]+x raw on 2 threads .*; raw signing just before / after the row: [0-9]+ / [0-9]+ sig/s" "the $rpc goal line with raw signing around the row"
done
expect "$out/run.txt" '^sqlite, 1 client: lone fsync p50' "the one-client floor"
echo "signer bench smoke: every row ran"
