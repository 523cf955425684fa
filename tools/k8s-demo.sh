#!/usr/bin/env bash
# The Kubernetes manifests proven by running them: builds the images (tools/images.sh), starts
# anvil with the test KMS contracts and the Phala Cloud simulator on the host
# (tools/demo/stack.sh), generates the run's secrets (a demo CA and TLS certificates with openssl,
# a bearer token, a keystore holding anvil's public test key #0 under a random password) and the
# environment's ConfigMap, runs deploy/k8s/onchain-kms.yaml with `podman kube play`, checks the
# pod (both exec probes, the signer's socket refusing other uids, both metrics ports, the probe's
# certificate refused for API calls), then `kmsctl` from outside the pod (the kmsctl image on the
# host network, mTLS + bearer token) runs the demo's flow (tools/demo/flow.sh: deploy with env
# vars, env keys two-phase, compose two-phase, env values) checked on chain and in the simulator.
# Everything it started is removed at the end (pod, volumes, host processes), also on failure.
#
# Usage: tools/k8s-demo.sh [--replicas] [--bin-dir=DIR] [--no-images] [--keep]
#   --replicas      deploy/k8s/replicas/onchain-kms-replicas.yaml instead: the journal and the
#                   signer's record on a PostgreSQL 15 started on the host (one pod: podman would
#                   put the N pods on the one host network, README.md)
#   --bin-dir=DIR   devchain, cloudsim and health_probe from DIR: no bootstrap, no Bazel build
#   --no-images     use the images already built (tools/images.sh not run)
#   --keep          keep the run's directory (logs, generated configs and manifest)
# Environment: K8S_DEMO_IMAGE_PREFIX (default localhost/onchain-kms) and K8S_DEMO_IMAGE_TAG
# (default dev) to run other images.
# Needs ports 7443, 9102 and 9103 free on the host (the pod runs on the host's network: the
# simulator's plain http is allowed on loopback only).
set -euo pipefail

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
bin_dir=""
replicas=0
build_images=1
keep=0
for arg in "$@"; do
  case "$arg" in
    --replicas) replicas=1 ;;
    --bin-dir=*) bin_dir=${arg#*=} ;;
    --no-images) build_images=0 ;;
    --keep) keep=1 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start_ns=$(date +%s%N)
log() { echo "k8s-demo: $*"; }
die() { echo "k8s-demo: $*" >&2; exit 1; }

# podman on this kind of machine: runc and ulimits the kernel setup allows
# (../shared/facts/containers.md); the project's own containers.conf, nothing in /etc changed.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  if [ -f deploy/podman/containers.conf ]; then
    export CONTAINERS_CONF=$root/deploy/podman/containers.conf
  else
    die "deploy/podman/containers.conf missing (tools/images.sh's); set CONTAINERS_CONF"
  fi
fi
prefix=${K8S_DEMO_IMAGE_PREFIX:-localhost/onchain-kms}
tag=${K8S_DEMO_IMAGE_TAG:-dev}
manifest=deploy/k8s/onchain-kms.yaml
config_flags=()
if [ "$replicas" -eq 1 ]; then
  manifest=deploy/k8s/replicas/onchain-kms-replicas.yaml
  config_flags=(--replicas)
fi
for port in 7443 9102 9103; do
  if ss -Hltn "sport = :$port" | grep -q .; then die "port $port is in use on this host (the pod runs on the host's network)"; fi
done

tmp=$(mktemp -d /tmp/okk.XXXXXX)
trap 'rm -rf "$tmp"' EXIT  # until cleanup (below) takes over
chmod 0700 "$tmp"
mkdir "$tmp/bin" "$tmp/run" "$tmp/client" "$tmp/secrets"

if [ -z "$bin_dir" ]; then
  tools/bootstrap.sh
  log "building //test/anvil:devchain //test/cloudsim //platform:health_probe (-c opt)"
  bazel build -c opt //test/anvil:devchain //test/cloudsim:cloudsim //platform:health_probe
  b=$(bazel info -c opt bazel-bin 2>/dev/null)
  cp "$b/test/anvil/devchain" "$b/test/cloudsim/cloudsim" "$b/platform/health_probe" "$tmp/bin/"
else
  for x in devchain cloudsim health_probe; do cp "$bin_dir/$x" "$tmp/bin/"; done
fi
if [ "$build_images" -eq 1 ]; then
  log "building the images (tools/images.sh)"
  tools/images.sh --tag "$tag"
fi
for x in orchestrator signer kmsctl; do
  podman image exists "$prefix/$x:$tag" || die "image $prefix/$x:$tag missing (tools/images.sh)"
done
export STACK_BIN_DIR="$tmp/bin"
# shellcheck source=demo/stack.sh
source tools/demo/stack.sh
# shellcheck source=demo/flow.sh
source tools/demo/flow.sh

pod_file="$tmp/onchain-kms.yaml"
# The named volumes `podman kube play` makes for the ConfigMap and the claims (kept by kube down).
volumes=(onchain-kms-config onchain-kms-orchestrator-data onchain-kms-signer-data)
cleanup() {
  local status=$? c
  trap - EXIT INT TERM
  if [ -f "$pod_file" ]; then
    if [ "$status" -ne 0 ]; then
      for c in signer orchestrator; do
        echo "  == $c (last lines)" >&2
        podman logs --tail 20 "$(pod_container "$c")" 2>&1 | sed 's/^/  /' >&2 || true
      done
    fi
    podman kube down "$pod_file" >/dev/null 2>&1 || true
  fi
  podman volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true
  stack_stop "$tmp/stack"
  if [ "$keep" -eq 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo; log "interrupted, stopping" >&2; exit 130' INT
trap 'exit 143' TERM

# podman names a Deployment's pod <name>-pod-0 and its containers <pod>-<container>.
pod_container() { echo "onchain-kms-pod-0-$1"; }

# ---------------------------------------------------------------------------------------------
# 1. Anvil + KMS contracts and the simulator, on the host.
mkdir -p "$tmp/stack"
chmod 0700 "$tmp/stack"
log "starting anvil + KMS contracts and the Phala Cloud simulator on the host"
stack_start_backends "$tmp/stack"
if [ "$replicas" -eq 1 ]; then
  log "starting PostgreSQL 15 on 127.0.0.1 (the journal's and the signers' databases)"
  pg_port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  STACK_POSTGRES_LISTEN=127.0.0.1 STACK_POSTGRES_PORT=$pg_port _stack_start_postgres "$tmp/stack"
  psql_admin() {  # psql_admin <database> <sql>
    PGPASSFILE="$tmp/stack/secrets/pgpass-admin" /usr/lib/postgresql/15/bin/psql -qtA -v ON_ERROR_STOP=1 \
      -h 127.0.0.1 -p "$pg_port" -U admin -d "$1" -c "$2"
  }
  signer_db_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  psql_admin postgres "CREATE ROLE signer LOGIN PASSWORD '$signer_db_password'" >/dev/null
  psql_admin postgres "CREATE DATABASE signer OWNER signer" >/dev/null
  # The journal's DSN as stack.sh wrote it, over TCP instead of its socket directory.
  journal_dsn=$(sed -E "s#host=[^ ]+ port=[0-9]+#host=127.0.0.1 port=$pg_port#" "$tmp/stack/secrets/orchestrator-journal.dsn")
  record_dsn="host=127.0.0.1 port=$pg_port dbname=signer user=signer password=$signer_db_password"
  unset signer_db_password
fi
RPC_URL=$STACK_RPC_URL CHAIN_ID=${STACK_CHAIN_ID:-31337} KMS_ADDRESS=$STACK_KMS_ADDRESS
DEPLOYER_ADDRESS=$STACK_TEST_ADDRESS
export CLOUDSIM_ADMIN_URL=$STACK_CLOUDSIM_ADMIN_URL  # flow.sh's summary

# ---------------------------------------------------------------------------------------------
# 2. The run's secrets: one directory per Secret of the manifest, laid out as a kubelet writes a
#    Secret volume with the manifest's fsGroup: 10000 and defaultMode: 0440 (root-owned files,
#    group 10000, behind the ..data symlinks), which the services accept (platform/README.md,
#    secret files) and podman 4.3 would not produce.
s=$tmp/secrets
# kubelet_secret_dir <dir>: its files move to <dir>/..<time>/ (root:10000 0440), ..data -> ..<time>,
# and each name becomes a symlink ..data/<name>; the directories are root:10000 0750.
kubelet_secret_dir() {
  local d=$1 v f
  v=..$(date -u +%Y_%m_%d_%H_%M_%S).000000001
  mkdir "$d/$v"
  for f in "$d"/*; do
    mv "$f" "$d/$v/"
    ln -s "..data/${f##*/}" "$f"
  done
  ln -s "$v" "$d/..data"
  chown -hR 0:10000 "$d"
  chmod 0440 "$d/$v"/*
  chmod 0750 "$d" "$d/$v"
}
mkdir "$s/onchain-kms-signer" "$s/onchain-kms-keystore" "$s/onchain-kms-orchestrator" "$tmp/keystore"
(umask 077 && head -c 24 /dev/urandom | base64 >"$s/onchain-kms-signer/password"
 if [ "$replicas" -eq 1 ]; then printf '%s\n' "$record_dsn" >"$s/onchain-kms-signer/record.dsn"; fi)
kubelet_secret_dir "$s/onchain-kms-signer"
chown 10001:10000 "$tmp/keystore"
chmod 0700 "$tmp/keystore"
log "creating the keystore (signer keys import in the signer image, the key on stdin)"
printf '%s\n' "$STACK_TEST_KEY" | podman run --rm -i --network none \
  -v "$tmp/keystore:/keystore" -v "$s/onchain-kms-signer:/secrets:ro" \
  "$prefix/signer:$tag" keys import --keystore_dir=/keystore --password_file=/secrets/password >"$tmp/run/keys-import.out"
mv "$tmp/keystore"/UTC--* "$s/onchain-kms-keystore/"
kubelet_secret_dir "$s/onchain-kms-keystore"

log "creating a demo CA, the orchestrator's certificate and two client certificates (openssl)"
o=$s/onchain-kms-orchestrator
pki=$tmp/pki
mkdir "$pki"
cert() {  # cert <name> <subject CN> <extension lines>
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 1 \
    -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=onchain-kms demo CA" \
  -days 1 -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
cert server onchain-kms-orchestrator "subjectAltName=DNS:onchain-kms-orchestrator,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
cert deployer deployer.onchain-kms.demo "extendedKeyUsage=clientAuth"
cert probe probe.onchain-kms.demo "extendedKeyUsage=clientAuth"
cp "$pki/ca.crt" "$o/ca.crt"
cp "$pki/server.crt" "$o/tls.crt"
cp "$pki/server.key" "$o/tls.key"
cp "$pki/probe.crt" "$pki/probe.key" "$o/"
cp "$tmp/stack/secrets/phala-api-key" "$o/phala-cloud-api-key"
if [ "$replicas" -eq 1 ]; then (umask 077 && printf '%s\n' "$journal_dsn" >"$o/journal.dsn"); fi
token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'demo-ci %s\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" >"$o/bearer-tokens"
kubelet_secret_dir "$o"
for f in "$s/onchain-kms-signer/password" "$s/onchain-kms-keystore"/UTC--* "$o/phala-cloud-api-key"; do
  [ -L "$f" ] && [ "$(stat -L -c '%u:%g %a' "$f")" = "0:10000 440" ] || die "$f is not laid out as a kubelet Secret"
done
# kmsctl's (uid 10003) client side: the deployer's certificate and the token.
client=$tmp/client
cp "$pki/ca.crt" "$pki/deployer.crt" "$pki/deployer.key" "$pki/probe.crt" "$pki/probe.key" "$client/"
(umask 077 && printf '%s\n' "$token" >"$client/token")
chown -R 10003:10000 "$client"
unset token

# ---------------------------------------------------------------------------------------------
# 3. The environment's ConfigMap (this chain, this simulator) and the manifest as committed, but
#    for what podman 4.3 cannot run (deploy/k8s/README.md): the Secret volumes are served from the
#    directories above (podman writes Secret volumes 0644 whatever defaultMode says, ignores
#    fsGroup and does not base64-decode), the
#    socket's emptyDir from a directory root:10000 0770 (podman hands an emptyDir to the uid of
#    whichever container mounts it first), and the containerPort lines go (podman publishes each
#    one, which the host network refuses).
deploy/k8s/config.sh --chain-id="$CHAIN_ID" --rpc-url="$RPC_URL" --kms-address="$KMS_ADDRESS" \
  --phala-base-url="$STACK_CLOUDSIM_BASE_URL" --signer-key="$DEPLOYER_ADDRESS" \
  --client-name=deployer.onchain-kms.demo --token-name=demo-ci "${config_flags[@]}" >"$tmp/config.yaml"
mkdir -m 0770 "$tmp/socket"
chown 0:10000 "$tmp/socket"
sed -E -e "s#secret: \{secretName: (onchain-kms-[a-z]+), defaultMode: 0440, optional: false\}#hostPath: {path: $s/\1, type: Directory}#" \
  -e "s#\{name: socket, emptyDir: \{medium: Memory, sizeLimit: 1Mi\}\}#{name: socket, hostPath: {path: $tmp/socket, type: Directory}}#" \
  -e '/^ {10}ports:$/d' -e '/containerPort: /d' -e 's#^  replicas: [0-9]+$#  replicas: 1#' \
  -e "s#image: localhost/onchain-kms/([a-z]+):dev#image: $prefix/\1:$tag#" "$manifest" >"$pod_file"
changed=$(diff "$manifest" "$pod_file" | grep -c '^[<>]' || true)
[ "$changed" -le 20 ] || die "the podman copy of $manifest differs in $changed lines, more than the volumes, container ports (and images)"

log "podman kube play $manifest (Secret volumes from $s, the socket volume from $tmp/socket)"
podman kube play --network host --configmap "$tmp/config.yaml" "$pod_file" >"$tmp/run/kube-play.out"

# ---------------------------------------------------------------------------------------------
# 4. The pod: both exec probes (the very commands of the manifest), run inside the containers.
# podman 4.3 keeps a livenessProbe as a healthcheck "CMD-SHELL <command> || exit 1", which needs a
# shell the images do not have: run the manifest's command itself (from that healthcheck) instead.
probe() {  # probe <container> <liveness|readiness>
  local ctr argv
  ctr=$(pod_container "$1")
  mapfile -t argv < <(podman inspect "$ctr" --format '{{json .Config.Healthcheck.Test}}' | node -e '
    const t = JSON.parse(require("fs").readFileSync(0, "utf8"));
    if (t[0] !== "CMD-SHELL" || t.slice(-3).join(" ") !== "|| exit 1") process.exit(1);
    process.stdout.write(t.slice(1, -3).join("\n"));')
  [ "${#argv[@]}" -gt 0 ] || die "no liveness probe on $ctr"
  [ "${argv[-1]}" = --alive ] || die "$1's liveness probe does not end with --alive: a dependency's outage would restart it"
  # podman keeps no readinessProbe: the manifest's is the liveness command without --alive.
  [ "$2" = liveness ] || unset 'argv[-1]'
  podman exec "$ctr" "${argv[@]}" >/dev/null 2>&1
}
for c in signer orchestrator; do
  for kind in liveness readiness; do
    deadline=$((SECONDS + 120))
    until probe "$c" "$kind"; do
      [ "$(podman inspect -f '{{.State.Running}}' "$(pod_container "$c")")" = true ] || die "container $c exited"
      [ "$SECONDS" -lt "$deadline" ] || die "$c's $kind probe still fails after 120 s"
      sleep 1
    done
    log "$c: $kind probe (exec health_probe) passes"
  done
done

orch=$(pod_container orchestrator)
# The signer's socket admits the orchestrator's uid only: the same probe as kmsctl's uid fails.
if podman exec --user 10003:10000 "$orch" /usr/local/bin/health_probe --address=unix:/run/onchain-kms/signer.sock \
  --timeout=2s --quiet 2>/dev/null; then
  die "the signer's socket answered uid 10003"
fi
podman exec "$orch" /usr/local/bin/health_probe --address=unix:/run/onchain-kms/signer.sock --timeout=2s --quiet \
  || die "the signer's socket refused the orchestrator's uid"
log "signer socket: uid 10002 (orchestrator) admitted, uid 10003 refused"

kmsctl_image() {  # kmsctl_image <client cert name> <args...>
  local who=$1
  shift
  podman run --rm -i --network host -v "$client:/client:ro" -v "$root/tools/demo:/work/tools/demo:ro" -w /work \
    "$prefix/kmsctl:$tag" --orchestrator=127.0.0.1:7443 --tls-ca=/client/ca.crt \
    --tls-server-name=onchain-kms-orchestrator --tls-cert="/client/$who.crt" --tls-key="/client/$who.key" \
    --token-file=/client/token "$@"
}
# kmsctl as the demo's flow calls it: the deployer's certificate and token. No retry here: kmsctl
# itself rides through slow or failed connections within --rpc-timeout (orchestrator/kmsctl).
kmsctl() { kmsctl_image deployer "$@"; }
if kmsctl_image probe ops list >/dev/null 2>"$tmp/run/probe-refused.err"; then
  die "the probe's certificate was allowed to call ListOperations"
fi
grep -q 'PERMISSION_DENIED\|not on the client allowlist\|permission' "$tmp/run/probe-refused.err" \
  || die "the probe's certificate was refused for another reason: $(head -c 300 "$tmp/run/probe-refused.err")"
log "probe certificate: health only (ListOperations refused)"

# ---------------------------------------------------------------------------------------------
# 5. The demo's flow with kmsctl from outside the pod, then the metrics of both services.
flow_run "$tmp/run" "$start_ns"

metric() {  # metric <port> <series name>: the series' samples summed
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { print s + 0 }'
}
signed=$(metric 9102 signer_requests_total)
refused=$(metric 9102 signer_refused_connections_total)
succeeded=$(metric 9103 orchestrator_operations_succeeded_total)
[ "${signed%.*}" -ge 3 ] || die "signer_requests_total is $signed on :9102, expected >= 3 (a deploy, two compose hashes)"
[ "${refused%.*}" -ge 1 ] || die "signer_refused_connections_total is $refused on :9102, expected >= 1 (uid 10003)"
[ "${succeeded%.*}" -ge 4 ] || die "orchestrator_operations_succeeded_total is $succeeded on :9103, expected >= 4"
log "metrics: signer :9102 requests $signed, refused connections $refused; orchestrator :9103 operations succeeded $succeeded"

if [ "$replicas" -eq 1 ]; then
  ops=$(psql_admin orchestrator "SELECT count(*) FROM operations")
  sigs=$(psql_admin signer "SELECT count(*) FROM signatures")
  [ "$ops" -ge 4 ] || die "the PostgreSQL journal holds $ops operations, expected >= 4"
  [ "$sigs" -ge 3 ] || die "the signers' PostgreSQL record holds $sigs signatures, expected >= 3"
  log "PostgreSQL: journal $ops operations, signers' record $sigs signatures"
fi

echo
log "passed in $(awk -v ns="$(($(date +%s%N) - start_ns))" 'BEGIN { printf "%.1f", ns / 1e9 }')s: pod $(podman pod ps --filter name=onchain-kms-pod-0 --format '{{.Name}} ({{.NumberOfContainers}} containers)'), images $prefix/{orchestrator,signer,kmsctl}:$tag"
