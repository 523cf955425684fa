#!/usr/bin/env bash
# The demo's flow, shared by tools/demo/demo.sh (services as host processes) and tools/k8s-demo.sh
# (services in a pod): with kmsctl, deploy a CVM with env vars on the on-chain KMS, change the env
# keys (two-phase), update the docker-compose (two-phase), update the env values only (one call),
# then summary.js prints the table and checks the outcome on chain and in the simulator.
#
#   source tools/demo/flow.sh
#   kmsctl() { ...; }                 the caller's kmsctl (binary, address, TLS flags)
#   flow_run <inputs dir> <start, date +%s%N> <summary.js args...>
#
# Needs RPC_URL CHAIN_ID KMS_ADDRESS DEPLOYER_ADDRESS CLOUDSIM_ADMIN_URL (stack.env's names); run
# from the checkout's root. Exits 1 when a step fails.

# flow_step <n> <title> <stdin file or ""> <kmsctl args...>: runs one kmsctl command with its live
# progress, then records its operation (kmsctl ops get --json) and the wall time.
flow_step() {
  local n=$1 title=$2 input=$3 rid t0 t1 code op_id
  shift 3
  rid="demo-$flow_run_id-step$n"
  echo
  echo "[$n/4] $title"
  echo "  \$ kmsctl $* --request-id=$rid${input:+ < $(basename "$input")}"
  t0=$(date +%s%N)
  set +e
  kmsctl "$@" --request-id="$rid" <"${input:-/dev/null}" 2>"$flow_inputs/step$n.err" | sed 's/^/  /'
  code=${PIPESTATUS[0]}
  set -e
  t1=$(date +%s%N)
  if [ "$code" -ne 0 ]; then
    sed 's/^/  /' "$flow_inputs/step$n.err" >&2
    echo "demo: step $n failed (kmsctl exit $code)" >&2
    exit 1
  fi
  # The request id names the operation; find it the way a script would.
  op_id=$(kmsctl ops list --all --json | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const op = r.operations.find(o => o.request_id === process.argv[1]);
    process.stdout.write(op ? op.id : "");' "$rid")
  [ -n "$op_id" ] || { echo "demo: no operation with request id $rid in 'kmsctl ops list'" >&2; exit 1; }
  kmsctl ops get "$op_id" --json >"$flow_inputs/step$n.json"
  printf '%s\t%s\t%s\t%s\n' "$n" "$title" "$(((t1 - t0) / 1000000))" "$flow_inputs/step$n.json" >>"$flow_inputs/steps.tsv"
}

flow_run() {  # flow_run <inputs dir> <start ns> <extra summary.js args...>
  flow_inputs=$1
  local start_ns=$2
  shift 2
  flow_run_id=$(date +%s)
  local here cvm_id
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  (umask 077
   printf 'API_KEY=demo-api-key-1\nLOG_LEVEL=info\n' >"$flow_inputs/step1.env"
   printf 'API_KEY=demo-api-key-2\nLOG_LEVEL=debug\nFEATURE_X=on\n' >"$flow_inputs/step2.env"
   printf 'API_KEY=demo-api-key-3\nLOG_LEVEL=info\nFEATURE_X=off\n' >"$flow_inputs/step4.env")

  flow_step 1 "deploy with 2 env vars, on-chain KMS" "$flow_inputs/step1.env" \
    deploy --name=demo-app --kms=base --compose=tools/demo/docker-compose.yml --env-file=-
  cvm_id=$(stack_json "$(cat "$flow_inputs/step1.json")" .deploy.cvm_id)
  [ -n "$cvm_id" ] || { echo "demo: the deploy returned no CVM id" >&2; exit 1; }

  flow_step 2 "env keys changed (+FEATURE_X)" "$flow_inputs/step2.env" \
    envs update "$cvm_id" --env-file=-

  flow_step 3 "docker-compose changed (new image)" "" \
    compose update "$cvm_id" --compose=tools/demo/docker-compose.v2.yml

  flow_step 4 "env values changed, same keys" "$flow_inputs/step4.env" \
    envs update "$cvm_id" --env-file=-

  echo
  node "$here/summary.js" --steps="$flow_inputs/steps.tsv" --rpc-url="$RPC_URL" --sim-admin-url="$CLOUDSIM_ADMIN_URL" \
    --kms-address="$KMS_ADDRESS" --chain-id="$CHAIN_ID" --deployer="$DEPLOYER_ADDRESS" \
    --expected-env="$flow_inputs/step4.env" --total-ms=$((($(date +%s%N) - start_ns) / 1000000)) "$@"
}
