#!/usr/bin/env bash
# The local demo. For now (until the orchestrator issue adds the deploy/update flows): bootstrap,
# build the signer and the orchestrator, start both on Unix sockets in a temp dir, wait until both
# report SERVING through grpc.health.v1, print where they listen, and keep them running until
# Ctrl-C. Both processes are always stopped on exit.
#
# Usage: tools/demo.sh            run until Ctrl-C
#        tools/demo.sh --check    exit 0 as soon as both are healthy (for CI and smoke tests)
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/bootstrap.sh

echo "demo: building //signer //orchestrator //rpc:health_probe"
bazel build //signer:signer //orchestrator:orchestrator //rpc:health_probe
bazel_bin=$(bazel info bazel-bin 2>/dev/null)

# Everything of this run lives here; short, because a Unix socket path must fit in 107 bytes.
tmp=$(mktemp -d /tmp/onchain-kms-demo.XXXXXX)
# Run copies, so that another build in this workspace cannot swap the binaries under us.
mkdir "$tmp/bin"
cp "$bazel_bin/signer/signer" "$bazel_bin/orchestrator/orchestrator" "$bazel_bin/rpc/health_probe" "$tmp/bin/"

pids=()
stop_all() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo: process $pid did not stop within 15 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  ((${#pids[@]})) && echo "demo: stopped signer and orchestrator"
  rm -rf "$tmp"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

signer_address="unix:$tmp/signer.sock"
orchestrator_address="unix:$tmp/orchestrator.sock"
"$tmp/bin/signer" --listen="$signer_address" >"$tmp/signer.log" 2>&1 &
pids+=($!)
"$tmp/bin/orchestrator" --listen="$orchestrator_address" >"$tmp/orchestrator.log" 2>&1 &
pids+=($!)

for name in signer orchestrator; do
  address_var="${name}_address"
  if ! "$tmp/bin/health_probe" --address="${!address_var}" --wait=30s --quiet; then
    echo "demo: the $name did not become healthy; its log:" >&2
    sed 's/^/  /' "$tmp/$name.log" >&2
    exit 1
  fi
done

cat <<INFO
demo: both services are SERVING (grpc.health.v1)
  signer        $signer_address
  orchestrator  $orchestrator_address
  logs          $tmp/signer.log, $tmp/orchestrator.log
  probe         $tmp/bin/health_probe --address=$orchestrator_address
INFO
if ((check)); then
  echo "demo: --check: healthy, stopping"
  exit 0
fi
echo "demo: running; press Ctrl-C to stop"
# Returns when either process exits on its own (a failure) or a signal arrives (the traps).
set +e
wait -n "${pids[@]}"
code=$?
set -e
echo "demo: a service exited unexpectedly (status $code); logs:" >&2
tail -n 20 "$tmp/signer.log" "$tmp/orchestrator.log" >&2
exit 1
