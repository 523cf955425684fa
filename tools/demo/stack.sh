#!/usr/bin/env bash
# The local stack of the demo, the Node e2e test and the benchmark: anvil with the test
# DstackKms/DstackApp contracts (//test/anvil:devchain), the Phala Cloud simulator
# (//test/cloudsim), the signer with a demo keystore holding anvil's funded key #0 (a public test
# key), and the orchestrator, all on one machine, each in its own process group.
#
#   tools/demo/stack.sh start DIR    start everything in DIR (created, mode 0700); returns once
#                                    all four are ready; writes DIR/stack.env (below)
#   tools/demo/stack.sh stop DIR     stop what `start` started there (SIGTERM to each process
#                                    group, SIGKILL after 15 s), orchestrator first
#   source tools/demo/stack.sh       for stack_start DIR / stack_stop DIR in a script (tools/demo.sh),
#                                    stack_start_for_test R in a Bazel test
#
# Binaries: $STACK_BIN_DIR/{devchain,cloudsim,signer,orchestrator,health_probe}, or one by one
# $STACK_DEVCHAIN, $STACK_CLOUDSIM, $STACK_SIGNER, $STACK_ORCHESTRATOR, $STACK_HEALTH_PROBE;
# `stack_env_from_runfiles R` sets them (and STACK_NODE_MODULES) from a Bazel runfiles tree.
# anvil: $STACK_ANVIL, else the pinned npm one under $STACK_NODE_MODULES (default
# tools/node/node_modules of this checkout).
# Other knobs: STACK_CHAIN_ID (31337), STACK_BLOCK_TIME (0 = mine each transaction at once),
# STACK_MAX_CONCURRENT_OPERATIONS (the orchestrator's, default 128), STACK_POSTGRES=1 (the
# orchestrator's journal on a PostgreSQL 15 started here: a cluster in its own /tmp/okpg.XXXXXX,
# run as the postgres user when we are root, Unix socket only, scram password in a 0600 DSN
# file; fsync and synchronous_commit on, as in production), STACK_ORCHESTRATOR_REPLICAS=N
# (N orchestrators on that journal, replica ids r0..rN-1; needs STACK_POSTGRES=1 and leases).
#
# DIR/stack.env (shell syntax, also read by the Node tests):
#   STACK_DIR RPC_URL CHAIN_ID KMS_ADDRESS APP_IMPLEMENTATION DEPLOYER_ADDRESS
#   CLOUDSIM_BASE_URL CLOUDSIM_ADMIN_URL PHALA_CLOUD_API_KEY_FILE SIGNER_ADDRESS
#   ORCHESTRATOR_ADDRESS ORCHESTRATOR_PID SIGNER_PID CLOUDSIM_PID DEVCHAIN_PID (replica 0)
#   ORCHESTRATOR_ADDRESSES ORCHESTRATOR_PIDS (every replica, comma-separated) POSTGRES_PID (or empty)
# Logs: DIR/logs/<name>.log. Secrets (signer password, API key): DIR/secrets/, mode 0600.

# anvil's default account #0: a public test key, funded on every anvil chain. Never a real key.
STACK_TEST_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
STACK_TEST_ADDRESS=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
STACK_CLOUDSIM_API_KEY=phak_cloudsim_test_key

_stack_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_stack_root=$(cd "$_stack_here/../.." && pwd)

_stack_log() { echo "stack: $*" >&2; }

# The value at a dotted path of a JSON document (node: bootstrap guarantees it; jq it does not).
stack_json() {  # stack_json <json text> <path, e.g. .deploy.app_id>
  node -e 'let v = JSON.parse(process.argv[1]);
    for (const k of process.argv[2].split(".").filter(Boolean)) v = v == null ? undefined : v[k];
    process.stdout.write(v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));' "$1" "$2"
}

_stack_bin() {  # _stack_bin <name> <override var>
  local override=${!2:-}
  if [ -n "$override" ]; then echo "$override"; return; fi
  echo "${STACK_BIN_DIR:?set STACK_BIN_DIR or $2}/$1"
}

# Starts "$@" in a new session (so: its own process group, away from the terminal's Ctrl-C,
# which the caller handles), stdout to DIR/logs/<name>.out, stderr to DIR/logs/<name>.log.
_stack_spawn() {  # _stack_spawn <dir> <name> <command...>
  local dir=$1 name=$2
  shift 2
  setsid "$@" >"$dir/logs/$name.out" 2>"$dir/logs/$name.log" </dev/null &
  echo $! >"$dir/pids/$name"
}

# True while the process lives (a zombie counts as gone).
_stack_alive() {
  local pid=$1 state
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}

# Waits until DIR/logs/<name>.out holds a JSON line; prints it.
_stack_ready_line() {  # _stack_ready_line <dir> <name> <seconds>
  local dir=$1 name=$2 tries=$(($3 * 10)) pid line i
  pid=$(cat "$dir/pids/$name")
  for ((i = 0; i < tries; i++)); do
    line=$(head -n1 "$dir/logs/$name.out" 2>/dev/null)
    if [[ $line == \{*\} ]]; then
      echo "$line"
      return 0
    fi
    _stack_alive "$pid" || break
    sleep 0.1
  done
  _stack_log "$name did not become ready; its log:"
  sed 's/^/  /' "$dir/logs/$name.log" >&2
  return 1
}

_stack_wait_healthy() {  # _stack_wait_healthy <dir> <name> <address> <seconds>
  local dir=$1 name=$2 address=$3 seconds=$4 probe pid i
  probe=$(_stack_bin health_probe STACK_HEALTH_PROBE)
  pid=$(cat "$dir/pids/$name")
  for ((i = 0; i < seconds * 2; i++)); do
    if "$probe" --address="$address" --timeout=2s --quiet 2>/dev/null; then return 0; fi
    _stack_alive "$pid" || break
    sleep 0.5
  done
  _stack_log "$name did not become healthy at $address; its log:"
  sed 's/^/  /' "$dir/logs/$name.log" >&2
  return 1
}

# For Bazel tests and binaries whose data has the five binaries and //tools/node:package.json:
# the binaries from the runfiles tree R (…/<name>.runfiles/onchain_kms), the npm tools from
# beside package.json in the source tree (where tools/bootstrap.sh installed them).
stack_env_from_runfiles() {  # stack_env_from_runfiles <R>
  local r=$1
  export STACK_DEVCHAIN="$r/test/anvil/devchain" STACK_CLOUDSIM="$r/test/cloudsim/cloudsim" \
    STACK_SIGNER="$r/signer/signer" STACK_ORCHESTRATOR="$r/orchestrator/orchestrator" \
    STACK_HEALTH_PROBE="$r/platform/health_probe"
  STACK_NODE_MODULES="$(dirname "$(readlink -f "$r/tools/node/package.json")")/node_modules"
  export STACK_NODE_MODULES
  [ -d "$STACK_NODE_MODULES/@grpc/grpc-js" ] || { _stack_log "npm tools missing: run tools/bootstrap.sh"; return 1; }
}

# PostgreSQL for the orchestrator's journal (STACK_POSTGRES=1): initdb into a fresh
# /tmp/okpg.XXXXXX (the server refuses root, and the postgres user cannot enter DIR, which is
# 0700), a server on a Unix socket there, a role and database "orchestrator" with a random
# password, and DIR/secrets/orchestrator-journal.dsn (0600) for it. STACK_POSTGRES_LISTEN
# (e.g. 127.0.0.1) adds a TCP listener on STACK_POSTGRES_PORT (default 5432) for containers.
_stack_start_postgres() {  # _stack_start_postgres <dir>
  local dir=$1 bin=/usr/lib/postgresql/15/bin pgdir run=() password admin i port=${STACK_POSTGRES_PORT:-5432}
  pgdir=$(mktemp -d /tmp/okpg.XXXXXX)
  echo "$pgdir" >"$dir/postgres-dir"
  admin=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  (umask 077 && printf '%s\n' "$admin" >"$pgdir/admin.pw")
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$pgdir"
    run=(setpriv --reuid=postgres --regid=postgres --clear-groups)
  fi
  if ! "${run[@]}" "$bin/initdb" -D "$pgdir/data" -U admin --pwfile="$pgdir/admin.pw" --auth=scram-sha-256 \
    -E UTF8 --locale=C --no-instructions >"$dir/logs/initdb.log" 2>&1; then
    _stack_log "initdb failed:"
    sed 's/^/  /' "$dir/logs/initdb.log" >&2
    return 1
  fi
  rm -f "$pgdir/admin.pw"
  _stack_spawn "$dir" postgres "${run[@]}" "$bin/postgres" -D "$pgdir/data" -k "$pgdir" -p "$port" \
    -c listen_addresses="${STACK_POSTGRES_LISTEN:-}" -c max_connections=100
  (umask 077 && printf '*:*:*:admin:%s\n' "$admin" >"$dir/secrets/pgpass-admin")
  for ((i = 0; i < 300; i++)); do
    "$bin/pg_isready" -q -h "$pgdir" -p "$port" && break
    sleep 0.1
  done
  if ! printf "CREATE ROLE orchestrator LOGIN PASSWORD '%s';\nCREATE DATABASE orchestrator OWNER orchestrator;\n" \
    "$password" | PGPASSFILE="$dir/secrets/pgpass-admin" "$bin/psql" -q -v ON_ERROR_STOP=1 -h "$pgdir" \
    -p "$port" -U admin -d postgres >"$dir/logs/psql.log" 2>&1; then
    _stack_log "creating the orchestrator's database failed:"
    sed 's/^/  /' "$dir/logs/psql.log" "$dir/logs/postgres.log" >&2
    return 1
  fi
  (umask 077 && printf 'host=%s port=%s dbname=orchestrator user=orchestrator password=%s\n' "$pgdir" \
    "$port" "$password" >"$dir/secrets/orchestrator-journal.dsn")
}

# The journal section of replica <i>'s config (a replica id only when there are several).
_stack_journal_config() {  # _stack_journal_config <dir> <i> <replicas>
  local dir=$1 i=$2 n=$3
  if [ "${STACK_POSTGRES:-0}" != 1 ]; then
    echo "journal_path: \"$dir/orchestrator-journal.sqlite\""
  elif [ "$n" -eq 1 ]; then
    echo "journal { postgres { dsn_file: \"$dir/secrets/orchestrator-journal.dsn\" } }"
  else
    echo "journal { postgres { dsn_file: \"$dir/secrets/orchestrator-journal.dsn\" replica_id: \"r$i\" } }"
  fi
}

# Steps 1 and 2 of stack_start alone (tools/k8s-demo.sh runs the services in a pod): anvil with
# the KMS factory, and the simulator listing it. Sets STACK_RPC_URL, STACK_KMS_ADDRESS,
# STACK_APP_IMPLEMENTATION, STACK_CLOUDSIM_BASE_URL, STACK_CLOUDSIM_ADMIN_URL; writes
# DIR/secrets/phala-api-key.
stack_start_backends() {  # stack_start_backends <dir>
  local dir=$1 line chain_id=${STACK_CHAIN_ID:-31337}
  mkdir -p "$dir/logs" "$dir/pids" "$dir/secrets"
  chmod 0700 "$dir/secrets"
  local anvil=${STACK_ANVIL:-${STACK_NODE_MODULES:-$_stack_root/tools/node/node_modules}/@foundry-rs/anvil-linux-amd64/bin/anvil}
  if [ ! -x "$anvil" ]; then _stack_log "anvil not found at $anvil: run tools/bootstrap.sh"; return 1; fi

  # 1. The chain, with the KMS factory deployed.
  _stack_spawn "$dir" devchain "$(_stack_bin devchain STACK_DEVCHAIN)" --anvil="$anvil" --chain_id="$chain_id" \
    --block_time="${STACK_BLOCK_TIME:-0}"
  line=$(_stack_ready_line "$dir" devchain 60) || return 1
  STACK_RPC_URL=$(stack_json "$line" .rpc_url)
  STACK_KMS_ADDRESS=$(stack_json "$line" .kms_address)
  STACK_APP_IMPLEMENTATION=$(stack_json "$line" .app_implementation)

  # 2. The Phala Cloud simulator, listing the on-chain KMS on that chain.
  (umask 077 && printf '%s\n' "$STACK_CLOUDSIM_API_KEY" >"$dir/secrets/phala-api-key")
  _stack_spawn "$dir" cloudsim "$(_stack_bin cloudsim STACK_CLOUDSIM)" --db="$dir/cloudsim.sqlite" \
    --rpc_url="$STACK_RPC_URL" --chain_id="$chain_id" --kms_contract="$STACK_KMS_ADDRESS" \
    --api_keys="$STACK_CLOUDSIM_API_KEY" --threads=8
  line=$(_stack_ready_line "$dir" cloudsim 30) || return 1
  STACK_CLOUDSIM_BASE_URL=$(stack_json "$line" .base_url)
  STACK_CLOUDSIM_ADMIN_URL=$(stack_json "$line" .admin_url)
}

stack_start() {  # stack_start <dir>
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  mkdir -p "$dir/logs" "$dir/pids" "$dir/secrets" "$dir/keystore"
  chmod 0700 "$dir/secrets" "$dir/keystore"
  # Unix socket paths must fit in 107 bytes.
  if [ ${#dir} -gt 80 ]; then _stack_log "directory path too long for Unix sockets: $dir"; return 1; fi

  local chain_id=${STACK_CHAIN_ID:-31337}
  stack_start_backends "$dir" || return 1
  local rpc_url=$STACK_RPC_URL kms_address=$STACK_KMS_ADDRESS app_implementation=$STACK_APP_IMPLEMENTATION
  local base_url=$STACK_CLOUDSIM_BASE_URL admin_url=$STACK_CLOUDSIM_ADMIN_URL

  # 3. The signer: a keystore with the test key, imported from stdin (never argv), under a
  #    random password in a 0600 file.
  local signer signer_address="unix:$dir/signer.sock"
  signer=$(_stack_bin signer STACK_SIGNER)
  (umask 077 && head -c 24 /dev/urandom | base64 >"$dir/secrets/signer-password")
  if ! printf '%s\n' "$STACK_TEST_KEY" | "$signer" keys import --keystore_dir="$dir/keystore" \
    --password_file="$dir/secrets/signer-password" >"$dir/logs/keys-import.log" 2>&1; then
    _stack_log "'signer keys import' failed:"
    sed 's/^/  /' "$dir/logs/keys-import.log" >&2
    return 1
  fi
  cat >"$dir/signer-policy.textproto" <<EOF
# proto-message: onchainkms.signer.v1.Policy (generated by tools/demo/stack.sh)
chains {
  chain_id: $chain_id
  name: "local"
  kms_contract_addresses: "$kms_address"
  any_app: true
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
  max_gas_limit: 2000000
}
default_key_limits {
  rate_limit { requests_per_second: 1000 burst: 1000 }
  fee_budget_24h_wei: "1000000000000000000000"
}
keys { address: "$STACK_TEST_ADDRESS" }
message_signing { enabled: false }
callers {
  name: "orchestrator"
  identities: "uid:$(id -u)"
  keys: "$STACK_TEST_ADDRESS"
  intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH ]
}
EOF
  cat >"$dir/signer.textproto" <<EOF
# proto-message: onchainkms.signer.v1.SignerConfig (generated by tools/demo/stack.sh)
listen { unix { path: "$dir/signer.sock" mode: "0600" } }
keystore_dir: "$dir/keystore"
password { file: "$dir/secrets/signer-password" }
policy_file: "$dir/signer-policy.textproto"
anti_equivocation_db_path: "$dir/signer-equivocation.sqlite"
audit_log_path: "$dir/signer-audit.jsonl"
EOF
  _stack_spawn "$dir" signer "$signer" --config="$dir/signer.textproto"
  _stack_wait_healthy "$dir" signer "$signer_address" 30 || return 1

  # 4. The orchestrator(s), on SQLite or on PostgreSQL.
  local replicas=${STACK_ORCHESTRATOR_REPLICAS:-1} i name addresses="" pids=""
  if [ "$replicas" -gt 1 ] && [ "${STACK_POSTGRES:-0}" != 1 ]; then
    _stack_log "STACK_ORCHESTRATOR_REPLICAS > 1 needs STACK_POSTGRES=1"
    return 1
  fi
  if [ "${STACK_POSTGRES:-0}" = 1 ]; then _stack_start_postgres "$dir" || return 1; fi
  for ((i = 0; i < replicas; i++)); do
    name=orchestrator
    [ "$replicas" -gt 1 ] && name=orchestrator-$i
    cat >"$dir/$name.textproto" <<EOF
# proto-message: onchainkms.orchestrator.v1.OrchestratorConfig (generated by tools/demo/stack.sh)
listen { unix { path: "$dir/$name.sock" mode: "0600" } }
phala_cloud {
  base_url: "$base_url"
  api_key_file: "$dir/secrets/phala-api-key"
  request_timeout { seconds: 30 }
}
chains {
  chain_id: $chain_id
  kms_type: KMS_TYPE_BASE
  rpc_endpoints: "$rpc_url"
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
  receipt_timeout { seconds: 120 }
}
signer { address: "$signer_address" timeout { seconds: 10 } }
default_signer_key_address: "$STACK_TEST_ADDRESS"
$(_stack_journal_config "$dir" "$i" "$replicas")
max_concurrent_operations: ${STACK_MAX_CONCURRENT_OPERATIONS:-128}
EOF
    _stack_spawn "$dir" "$name" "$(_stack_bin orchestrator STACK_ORCHESTRATOR)" --config="$dir/$name.textproto"
    _stack_wait_healthy "$dir" "$name" "unix:$dir/$name.sock" 60 || return 1
    addresses+="${addresses:+,}unix:$dir/$name.sock"
    pids+="${pids:+,}$(cat "$dir/pids/$name")"
  done
  local orchestrator_address=${addresses%%,*}

  cat >"$dir/stack.env" <<EOF
STACK_DIR=$dir
RPC_URL=$rpc_url
CHAIN_ID=$chain_id
KMS_ADDRESS=$kms_address
APP_IMPLEMENTATION=$app_implementation
DEPLOYER_ADDRESS=$STACK_TEST_ADDRESS
CLOUDSIM_BASE_URL=$base_url
CLOUDSIM_ADMIN_URL=$admin_url
PHALA_CLOUD_API_KEY_FILE=$dir/secrets/phala-api-key
SIGNER_ADDRESS=$signer_address
ORCHESTRATOR_ADDRESS=$orchestrator_address
ORCHESTRATOR_PID=${pids%%,*}
ORCHESTRATOR_ADDRESSES=$addresses
ORCHESTRATOR_PIDS=$pids
POSTGRES_PID=$(cat "$dir/pids/postgres" 2>/dev/null)
SIGNER_PID=$(cat "$dir/pids/signer")
CLOUDSIM_PID=$(cat "$dir/pids/cloudsim")
DEVCHAIN_PID=$(cat "$dir/pids/devchain")
EOF
}

# Stops the process groups started in DIR, the orchestrator first (it checkpoints its
# operations), then the signer, the simulator and the chain. Reaps them when they are our
# children. Safe to call twice, or after a partial start.
stack_stop() {  # stack_stop <dir>
  local dir=$1 name pid stopped=() i
  [ -d "$dir/pids" ] || return 0
  local names=() f
  for f in "$dir"/pids/orchestrator*; do [ -f "$f" ] && names+=("$(basename "$f")"); done
  for name in "${names[@]}" signer postgres cloudsim devchain; do
    [ -f "$dir/pids/$name" ] || continue
    pid=$(cat "$dir/pids/$name")
    if _stack_alive "$pid"; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 150; i++)); do
        _stack_alive "$pid" || break
        sleep 0.1
      done
      if _stack_alive "$pid"; then
        _stack_log "$name (pid $pid) did not stop within 15 s; killing its process group"
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi
      stopped+=("$name")
    fi
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/pids/$name"
  done
  if [ -f "$dir/postgres-dir" ]; then
    rm -rf "$(cat "$dir/postgres-dir")"
    rm -f "$dir/postgres-dir"
  fi
  ((${#stopped[@]})) && _stack_log "stopped ${stopped[*]}"
  return 0
}

# For Bazel tests (test/e2e_node, test/grpc_node): starts the stack from the runfiles tree R in
# a new short-named directory $STACK_TEST_DIR (Unix socket paths stay short) and exports its
# stack.env. On exit (also a failure, or bazel's timeout) stops the stack, keeps its logs in the
# test's undeclared outputs, prints their last lines if the test failed, and removes the directory.
stack_start_for_test() {  # stack_start_for_test <R>
  stack_env_from_runfiles "$1"
  STACK_TEST_DIR=$(mktemp -d /tmp/okt.XXXXXX)
  trap _stack_test_finish EXIT
  trap 'exit 143' TERM
  stack_start "$STACK_TEST_DIR"
  set -a
  # shellcheck disable=SC1091
  source "$STACK_TEST_DIR/stack.env"
  set +a
}

_stack_test_finish() {
  local status=$? logs="$STACK_TEST_DIR/logs"
  stack_stop "$STACK_TEST_DIR"
  if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ] && [ -d "$logs" ]; then cp -r "$logs" "$TEST_UNDECLARED_OUTPUTS_DIR/"; fi
  if [ "$status" -ne 0 ] && [ -d "$logs" ]; then tail -n 40 "$logs"/*.log; fi
  rm -rf "$STACK_TEST_DIR"
  exit "$status"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    start)
      [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }
      if ! stack_start "$2"; then stack_stop "$2"; exit 1; fi
      ;;
    stop)
      [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
      stack_stop "$2"
      ;;
    *)
      sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
fi
