#!/usr/bin/env bash
# Runs bench.js against a fresh local stack (tools/demo/stack.sh) built from this target's
# runfiles, then stops the stack. With --configs, once per journal configuration, each on a fresh
# stack in the given order (rotate it between runs), then the ratios side by side:
#
#   bazel run -c opt //bench/orchestrator:orchestrator_bench -- --n=100
#   bazel run -c opt //bench/orchestrator:orchestrator_bench -- --n=100 --configs=sqlite:1,postgres:1
#   bazel run -c opt //bench/orchestrator:orchestrator_bench -- --n=100 --block-time=2 --sdk-n=10
#
# A configuration is <journal>:<replicas>, journal sqlite or postgres; postgres:3 (three replicas
# on one journal) needs leases and database nonces (issue [G]). With --configs the SDK run is
# left out unless --order names it.
set -euo pipefail
r="${RUNFILES_DIR:-$0.runfiles}/onchain_kms"
# shellcheck source=../../tools/demo/stack.sh
source "$r/tools/demo/stack.sh"
stack_env_from_runfiles "$r"
# Another orchestrator binary (e.g. one built from main, for a before/after in the same session).
[ -z "${BENCH_ORCHESTRATOR:-}" ] || export STACK_ORCHESTRATOR=$BENCH_ORCHESTRATOR
# Another signer binary, likewise.
[ -z "${BENCH_SIGNER:-}" ] || export STACK_SIGNER=$BENCH_SIGNER
# The orchestrator runs every deploy at once (the default would queue those beyond 64).
export STACK_MAX_CONCURRENT_OPERATIONS=256

configs=""
args=()
for a in "$@"; do
  case "$a" in
    --configs=*) configs=${a#--configs=} ;;
    # Interval mining instead of automine; bench.js then counts blocks per deploy.
    --block-time=*) export STACK_BLOCK_TIME=${a#--block-time=}; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done

results=$(mktemp -d /tmp/okr.XXXXXX)
dir=""
finish() {
  local status=$?
  if [ -n "$dir" ]; then
    stack_stop "$dir"
    [ "$status" -eq 0 ] || tail -n 30 "$dir"/logs/orchestrator*.log >&2 2>/dev/null || true
    rm -rf "$dir"
  fi
  rm -rf "$results"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One stack, one bench.js run; "$1" = <journal>:<replicas> or "" (the defaults: SQLite, 1).
run_once() {
  local config=$1 journal=${1%%:*} replicas=${1##*:}
  shift
  [ -n "$config" ] || { journal=sqlite; replicas=1; }
  case "$journal" in
    sqlite) [ "$replicas" = 1 ] || { echo "bench: sqlite takes one replica" >&2; return 2; }; export STACK_POSTGRES=0 ;;
    postgres) export STACK_POSTGRES=1 ;;
    *) echo "bench: unknown journal '$journal' (sqlite or postgres)" >&2; return 2 ;;
  esac
  export STACK_ORCHESTRATOR_REPLICAS=$replicas
  dir=$(mktemp -d /tmp/okb.XXXXXX)
  stack_start "$dir"
  (
    set -a
    # shellcheck disable=SC1091
    source "$dir/stack.env"
    set +a
    # Results written relative to where `bazel run` was called from.
    cd "${BUILD_WORKING_DIRECTORY:-.}"
    NODE_PATH="$STACK_NODE_MODULES" PROTO_DIR="$r/proto" TOOLS_DEMO_DIR="$r/tools/demo" \
      node "$r/bench/orchestrator/bench.js" "$@"
  )
  stack_stop "$dir"
  rm -rf "$dir"
  dir=""
}

if [ -z "$configs" ]; then
  run_once "" "${args[@]}"
  exit 0
fi
order=(--order=orchestrator)
for a in "${args[@]}"; do [[ $a == --order=* ]] && order=(); done
files=()
IFS=, read -r -a list <<<"$configs"
for c in "${list[@]}"; do
  run_once "$c" "${args[@]}" "${order[@]}" --label="$c" --json-out="$results/${c/:/-}.json"
  files+=("$results/${c/:/-}.json")
done
NODE_PATH="$STACK_NODE_MODULES" TOOLS_DEMO_DIR="$r/tools/demo" node "$r/bench/orchestrator/bench.js" \
  --summarize="$(IFS=,; echo "${files[*]}")"
