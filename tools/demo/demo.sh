#!/usr/bin/env bash
# The local demo, the README's first command. Bootstraps what is missing, builds, starts the local
# stack (tools/demo/stack.sh: anvil with the test KMS contracts, the Phala Cloud simulator, the
# signer with a demo keystore for anvil's funded test key #0, the orchestrator), then with kmsctl:
# deploys a CVM with env vars on the on-chain KMS, changes the env keys (two-phase), updates the
# docker-compose (two-phase), updates the env values only (one call), and prints a summary. Every
# process it started is stopped at the end, also on Ctrl-C.
#
# (tools/demo.sh runs this script.)
#
# Usage: tools/demo.sh            the whole flow, then stop (exit 0 when every step and check passed)
#        tools/demo.sh --check    start the stack, check that everything is healthy, stop
#        tools/demo.sh --serve    start the stack and keep it running until Ctrl-C, to try kmsctl
# Options: --bin-dir=DIR          binaries from DIR (devchain, cloudsim, signer, orchestrator,
#                                 health_probe, kmsctl): no bootstrap, no build (for tests)
#          --summary-json=FILE    also write the summary as JSON
#          --keep                 keep the run's directory (logs, configs, operations)
set -euo pipefail

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
mode=flow
bin_dir=""
summary_json=""
keep=0
for arg in "$@"; do
  case "$arg" in
    --check) mode=check ;;
    --serve) mode=serve ;;
    --bin-dir=*) bin_dir=${arg#*=} ;;
    --summary-json=*) summary_json=$(realpath -m "${arg#*=}") ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
start_ns=$(date +%s%N)

# Everything of this run lives here; short, because a Unix socket path must fit in 107 bytes.
tmp=$(mktemp -d /tmp/okd.XXXXXX)
chmod 0700 "$tmp"
mkdir "$tmp/bin" "$tmp/run"

if [ -z "$bin_dir" ]; then
  tools/bootstrap.sh
  targets=(//test/anvil:devchain //test/cloudsim:cloudsim //signer:signer //orchestrator:orchestrator
           //platform:health_probe //orchestrator/kmsctl:kmsctl)
  # -c opt: what tools/test.sh and the images build, so either command reuses the other's build.
  echo "demo: building ${targets[*]} (-c opt)"
  bazel build -c opt "${targets[@]}"
  bin_dir=$(bazel info -c opt bazel-bin 2>/dev/null)
  # Run copies, so that another build in this workspace cannot swap the binaries under us.
  for t in test/anvil/devchain test/cloudsim/cloudsim signer/signer orchestrator/orchestrator \
           platform/health_probe orchestrator/kmsctl/kmsctl; do
    cp "$bin_dir/$t" "$tmp/bin/"
  done
else
  for b in devchain cloudsim signer orchestrator health_probe kmsctl; do cp "$bin_dir/$b" "$tmp/bin/"; done
fi
bin="$tmp/bin"
export STACK_BIN_DIR="$bin"
# shellcheck source=demo/stack.sh
source tools/demo/stack.sh

interrupted=0
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ] && [ "$interrupted" -eq 0 ] && [ -d "$tmp/stack/logs" ]; then
    echo "demo: failed (exit $status); the last lines of each log:" >&2
    for f in "$tmp"/stack/logs/{orchestrator,signer,cloudsim,devchain}.log; do
      [ -s "$f" ] && { echo "  == $(basename "$f")" >&2; tail -n 15 "$f" | sed 's/^/  /' >&2; }
    done
  fi
  stack_stop "$tmp/stack"
  if [ "$keep" -eq 1 ]; then echo "demo: kept $tmp"; else rm -rf "$tmp"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'interrupted=1; echo; echo "demo: interrupted, stopping" >&2; exit 130' INT
trap 'interrupted=1; exit 143' TERM

echo "demo: starting anvil + KMS contracts, the Phala Cloud simulator, the signer, the orchestrator"
stack_start "$tmp/stack"
# shellcheck disable=SC1091
source "$tmp/stack/stack.env"
secs() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e9 }'; }
echo "demo: stack up after $(secs $(($(date +%s%N) - start_ns)))s"
cat <<INFO
  chain         $RPC_URL (chain id $CHAIN_ID), DstackKms factory $KMS_ADDRESS
  simulator     $CLOUDSIM_BASE_URL
  signer        $SIGNER_ADDRESS (key $DEPLOYER_ADDRESS, anvil's public test key #0)
  orchestrator  $ORCHESTRATOR_ADDRESS
INFO

case "$mode" in
  check)
    echo "demo: --check: everything is healthy; stopping"
    exit 0
    ;;
  serve)
    cat <<INFO
demo: running; press Ctrl-C to stop. Try:
  $bin/kmsctl --orchestrator=$ORCHESTRATOR_ADDRESS kms list
  $bin/kmsctl --orchestrator=$ORCHESTRATOR_ADDRESS ops list
  logs: $tmp/stack/logs/
INFO
    set +e
    wait -n "$(cat "$tmp/stack/pids/devchain")" "$(cat "$tmp/stack/pids/cloudsim")" \
      "$(cat "$tmp/stack/pids/signer")" "$(cat "$tmp/stack/pids/orchestrator")"
    echo "demo: a process of the stack exited on its own (status $?)" >&2
    exit 1
    ;;
esac

# ---------------------------------------------------------------------------------------------
# The flow

kmsctl() { "$bin/kmsctl" --orchestrator="$ORCHESTRATOR_ADDRESS" "$@"; }
# shellcheck source=demo/flow.sh
source tools/demo/flow.sh
flow_run "$tmp/run" "$start_ns" ${summary_json:+--json-out="$summary_json"}
