#!/usr/bin/env bash
# Checks the images tools/images.sh builds, by running them with podman as a cluster would:
# read-only root fs, every capability dropped, the image's non-root user.
#
#   tools/images_test.sh [--tag T] [--no-build]   T defaults to dev; --no-build checks images
#                                                  that are already there
#
# Without --no-build it runs tools/images.sh twice and checks both builds give the same image
# IDs (reproducible). Then, per image: the config (numeric non-root USER, ENTRYPOINT, OCI labels),
# the root fs (the binary, health_probe, CA bundle, users, no shell or other executable), the
# binary starts and all its libraries load (--version / --help exit 0), health_probe answers 2
# ("cannot connect") for a socket nobody serves, an entrypoint override to /bin/sh fails; from the
# orchestrator image a host name resolves through getaddrinfo (host.containers.internal from the
# runtime's /etc/hosts). Last, the signer starts on a read-only root fs with its keystore, record
# and audit log on mounted volumes (the demo's public test key, tools/demo/stack.sh) and answers
# health_probe on its Unix socket in a mounted directory: from its own container, from the
# orchestrator image (uid 10002, group 10000: admitted by the socket's group) and not from a uid
# outside that group. Then the orchestrator as its sidecar partner (journal on a volume, anvil on
# the host as host.containers.internal) becomes SERVING, and kmsctl from its image lists the
# operations over the orchestrator's socket. Prints one line per check; exit 0 only if all pass.
# Containers are named images-test-<pid>-*, removed on exit.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

tag=dev build=1
while (($#)); do
  case $1 in
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "images_test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
readonly REPO=localhost/onchain-kms GROUP_ID=10000
readonly IMAGES=("orchestrator 10002" "signer 10001" "kmsctl 10003")
# anvil's default account #0, the demo's public test key (tools/demo/stack.sh). Never a real key.
readonly TEST_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
readonly TEST_ADDRESS=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
prefix=images-test-$$
passed=0 failed=0 host_ip=""
work=$(mktemp -d /tmp/okimgt.XXXXXX)
cleanup() {
  podman ps -a --format '{{.Names}}' | grep "^$prefix-" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() {  # check <description> <command...>: passes when the command exits 0
  local what=$1; shift
  if "$@" >"$work/out" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/    /' "$work/out" | tail -n 20; return 1; fi
}
# Runs <command...>, expects exit code <code>; prints its output on a mismatch.
check_exit() {  # check_exit <description> <code> <command...>
  local what=$1 want=$2 got; shift 2
  timeout 120 "$@" >"$work/out" 2>&1; got=$?
  cp "$work/out" "$work/last"  # for a check of what it printed
  if [ "$got" -eq "$want" ]; then ok "$what"; return 0; fi
  fail "$what (exit $got, want $want)"; sed 's/^/    /' "$work/out" | tail -n 20; return 1
}
# The way a cluster runs it: read-only root fs, no capabilities.
readonly RUN=(podman run --rm --read-only --cap-drop=ALL)

image_ids() { for spec in "${IMAGES[@]}"; do podman image inspect --format '{{.Id}}' "$REPO/${spec%% *}:$tag"; done; }

build_twice() {
  local first second
  tools/images.sh --tag "$tag" || { fail "tools/images.sh --tag $tag"; return 1; }
  first=$(image_ids)
  tools/images.sh --tag "$tag" >/dev/null || { fail "tools/images.sh --tag $tag (second build)"; return 1; }
  second=$(image_ids)
  if [ "$first" = "$second" ]; then ok "two builds give the same image IDs: $(cut -c1-12 <<<"$first" | tr '\n' ' ')"
  else fail "two builds differ: $(tr '\n' ' ' <<<"$first")vs $(tr '\n' ' ' <<<"$second")"; fi
}

# The image's config and root fs, as stored.
check_image_files() {  # check_image_files <image> <uid>
  local image=$1 uid=$2 ref="$REPO/$1:$tag" mnt f
  check "$image: USER $uid:$GROUP_ID" test "$(podman image inspect --format '{{.Config.User}}' "$ref")" = "$uid:$GROUP_ID"
  check "$image: ENTRYPOINT /usr/local/bin/$image" \
    test "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$ref")" = "[\"/usr/local/bin/$image\"]"
  for f in revision source version; do
    check "$image: label org.opencontainers.image.$f" \
      test -n "$(podman image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$f\"}}" "$ref")"
  done
  mnt=$(podman image mount "$ref") || { fail "$image: podman image mount"; return; }
  check "$image: /usr/local/bin/$image and health_probe" test -x "$mnt/usr/local/bin/$image" -a -x "$mnt/usr/local/bin/health_probe"
  check "$image: CA bundle, OpenSSL's default cert.pem resolves to it" \
    cmp "$mnt/etc/ssl/certs/ca-certificates.crt" "$mnt/$(readlink "$mnt/usr/lib/ssl/cert.pem")"
  check "$image: /etc/passwd names uid $uid" grep -q "^$image:x:$uid:$GROUP_ID:" "$mnt/etc/passwd"
  check "$image: /etc/group names gid $GROUP_ID" grep -q "^onchain-kms:x:$GROUP_ID:" "$mnt/etc/group"
  # Executables: the two binaries and the dynamic loader, nothing else (no shell, no busybox).
  check "$image: no executable but the binary, health_probe and the loader" test \
    "$(cd "$mnt" && find . -type f -perm /111 | sort)" = "$(printf '%s\n' ./usr/local/bin/health_probe \
    "./usr/local/bin/$image" ./usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 | sort)"
  podman image unmount "$ref" >/dev/null
}

check_image_runs() {  # check_image_runs <image> <uid>
  local image=$1 uid=$2 ref="$REPO/$1:$tag" arg=--version
  [ "$image" = kmsctl ] && arg=--help  # kmsctl has commands, not absl flags
  check_exit "$image: '$image $arg' exits 0 as $uid:$GROUP_ID (all libraries load)" 0 \
    "${RUN[@]}" --network=none --user "$uid:$GROUP_ID" "$ref" "$arg"
  check_exit "$image: health_probe to a socket nobody serves exits 2 (cannot connect)" 2 \
    "${RUN[@]}" --network=none --entrypoint /usr/local/bin/health_probe "$ref" --address=unix:/run/none.sock --timeout=2s
  check_exit "$image: no shell: --entrypoint /bin/sh fails (127)" 127 \
    "${RUN[@]}" --network=none --entrypoint /bin/sh "$ref" -c true &&
    check "$image: ... because /bin/sh does not exist" grep -q 'stat /bin/sh: no such file' "$work/last"
}

# getaddrinfo (the orchestrator's HTTP client uses it; GRPC_DNS_RESOLVER=native makes gRPC use it
# too) resolves a name from the runtime's /etc/hosts: the connection is refused by an address,
# not failed by DNS.
check_name_resolution() {
  local ref="$REPO/orchestrator:$tag"
  "${RUN[@]}" -e GRPC_DNS_RESOLVER=native --entrypoint /usr/local/bin/health_probe "$ref" \
    --address=host.containers.internal:1 --timeout=5s >"$work/dns" 2>&1
  if grep -q 'ipv4:[0-9.]*:1' "$work/dns" && ! grep -q 'DNS resolution failed' "$work/dns"; then
    host_ip=$(grep -o 'ipv4:[0-9.]*' "$work/dns" | head -n1 | cut -d: -f2)
    ok "orchestrator: getaddrinfo resolves host.containers.internal ($host_ip)"
  else
    fail "orchestrator: host.containers.internal did not resolve"; sed 's/^/    /' "$work/dns"
  fi
}

# The signer's files, as a Kubernetes pod would mount them: config (read-only), the password
# secret, state (keystore, record, audit log), the socket directory shared with the orchestrator.
write_signer_files() {  # write_signer_files <dir>
  local d=$1
  mkdir -p "$d"/{config,secrets,state/keystore,run}
  (umask 077 && head -c 24 /dev/urandom | base64 >"$d/secrets/signer-password")
  cat >"$d/config/policy.textproto" <<EOF
chains {
  chain_id: 31337
  name: "local"
  kms_contract_addresses: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
  any_app: true
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
  max_gas_limit: 2000000
}
default_key_limits { rate_limit { requests_per_second: 10 burst: 10 } fee_budget_24h_wei: "1000000000000000000" }
keys { address: "$TEST_ADDRESS" }
message_signing { enabled: false }
callers {
  name: "orchestrator"
  identities: "uid:10002"
  keys: "$TEST_ADDRESS"
  intents: [ INTENT_DEPLOY_AND_REGISTER_APP, INTENT_ADD_COMPOSE_HASH ]
}
EOF
  cat >"$d/config/signer.textproto" <<EOF
listen { unix { path: "/run/onchain-kms/signer.sock" mode: "0660" group: "onchain-kms" } }
keystore_dir: "/var/lib/onchain-kms/keystore"
password { file: "/run/secrets/signer-password" }
policy_file: "/etc/onchain-kms/policy.textproto"
anti_equivocation_db_path: "/var/lib/onchain-kms/equivocation.sqlite"
audit_log_path: "/var/lib/onchain-kms/audit.jsonl"
EOF
  chmod 0755 "$d/config" && chmod 0644 "$d"/config/*
  chown -R 10001:"$GROUP_ID" "$d"/{secrets,state,run}
  chmod 0700 "$d"/{secrets,state,state/keystore}
  chmod 0770 "$d/run"  # the sidecars' shared directory (an emptyDir with fsGroup 10000)
}

check_signer_serves() {
  local d=$work/signer ref="$REPO/signer:$tag" name=$prefix-signer probe pid
  write_signer_files "$d"
  local mounts=(-v "$d/config:/etc/onchain-kms:ro" -v "$d/secrets:/run/secrets:ro"
    -v "$d/state:/var/lib/onchain-kms" -v "$d/run:/run/onchain-kms")
  check_exit "signer: 'signer keys import' writes the keystore on its volume" 0 \
    "${RUN[@]}" -i --network=none "${mounts[@]}" "$ref" keys import --keystore_dir=/var/lib/onchain-kms/keystore \
    --password_file=/run/secrets/signer-password --scrypt_n=1024 <<<"$TEST_KEY"
  if ! podman run -d --name "$name" --read-only --cap-drop=ALL --network=none "${mounts[@]}" "$ref" \
    --config=/etc/onchain-kms/signer.textproto >"$work/out" 2>&1; then
    fail "signer: podman run"; sed 's/^/    /' "$work/out"; return
  fi
  probe=(--entrypoint /usr/local/bin/health_probe -v "$d/run:/run/onchain-kms:ro")
  if ! check_exit "signer: SERVING on its socket (health_probe in its container)" 0 \
    podman exec "$name" /usr/local/bin/health_probe --address=unix:/run/onchain-kms/signer.sock --wait=30s; then
    podman logs "$name" 2>&1 | tail -n 20 | sed 's/^/    /'
    return
  fi
  pid=$(podman inspect --format '{{.State.Pid}}' "$name")
  check "signer: runs as the image's default user 10001:$GROUP_ID, no capabilities" test \
    "$(awk '/^Uid:|^Gid:/ { printf "%s ", $2 } /^CapEff:/ { printf "%s", $2 }' "/proc/$pid/status")" = \
    "10001 $GROUP_ID 0000000000000000"
  check_exit "signer: SERVING to the orchestrator image (uid 10002, group $GROUP_ID)" 0 \
    "${RUN[@]}" --network=none "${probe[@]}" "$REPO/orchestrator:$tag" --address=unix:/run/onchain-kms/signer.sock --timeout=5s
  check_exit "signer: refuses uid 10003 outside group $GROUP_ID (directory 0770, socket 0660)" 2 \
    "${RUN[@]}" --network=none --user 10003:10003 "${probe[@]}" "$REPO/kmsctl:$tag" \
    --address=unix:/run/onchain-kms/signer.sock --timeout=5s &&
    check "signer: ... because of the socket's permissions" grep -q 'Permission denied' "$work/last"
  check "signer: record and audit log on the volume, owned by 10001" \
    test "$(stat -c %u "$d/state/equivocation.sqlite" "$d/state/audit.jsonl" | sort -u)" = 10001
  podman logs "$name" >"$work/signer.log" 2>&1
  check "signer: serving with the imported key (its log)" grep -q '"msg":"serving".*"keys":1' "$work/signer.log"
  check_orchestrator_with_signer "$d"
  podman stop -t 15 "$name" >/dev/null 2>&1
  check "signer: stops with exit code 0 on SIGTERM" \
    test "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0
}

# The orchestrator next to that signer, as a sidecar pair: the signer's socket in the shared
# directory, the journal on a volume, a real anvil on the host reached as
# host.containers.internal through the orchestrator's own HTTP client. SERVING means all three
# answer (the signer's socket admits uid 10002 by its group 10000). Then kmsctl
# from its image lists the operations over the orchestrator's socket in the same directory.
check_orchestrator_with_signer() {  # check_orchestrator_with_signer <signer dir>
  local d=$1 o=$work/orchestrator name=$prefix-orchestrator anvil port="" anvil_pid i
  anvil=${IMAGES_TEST_ANVIL:-$root/tools/node/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}
  [ -x "$anvil" ] || { fail "orchestrator: no anvil at $anvil (run tools/bootstrap.sh)"; return; }
  [ -n "$host_ip" ] || { fail "orchestrator: host.containers.internal unknown"; return; }
  # On the podman bridge's address only: the chain is not offered to the machine's network.
  "$anvil" --host "$host_ip" --port 0 --chain-id 31337 >"$work/anvil.log" 2>&1 &
  anvil_pid=$!
  for ((i = 0; i < 100; i++)); do
    port=$(grep -o "Listening on $host_ip:[0-9]*" "$work/anvil.log" | cut -d: -f2)
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    fail "orchestrator: anvil did not start"; sed 's/^/    /' "$work/anvil.log"; kill "$anvil_pid"; return
  fi
  mkdir -p "$o"/{config,secrets,state}
  (umask 077 && echo phak_images_test_key >"$o/secrets/phala-api-key")
  cat >"$o/config/orchestrator.textproto" <<EOF
listen { unix { path: "/run/onchain-kms/orchestrator.sock" mode: "0660" } }
# Not contacted here (health does not call the API); https: plain http is for loopback only.
phala_cloud { base_url: "https://host.containers.internal:1" api_key_file: "/run/secrets/phala-api-key" }
chains {
  chain_id: 31337
  kms_type: KMS_TYPE_BASE
  rpc_endpoints: "http://host.containers.internal:$port"
  max_fee_per_gas_wei: "100000000000"
  max_priority_fee_per_gas_wei: "10000000000"
}
signer { address: "unix:/run/onchain-kms/signer.sock" timeout { seconds: 10 } }
default_signer_key_address: "$TEST_ADDRESS"
journal_path: "/var/lib/onchain-kms/journal.sqlite"
EOF
  chmod 0755 "$o/config" && chmod 0644 "$o"/config/*
  chown -R 10002:"$GROUP_ID" "$o"/{secrets,state} && chmod 0700 "$o"/{secrets,state}
  if podman run -d --name "$name" --read-only --cap-drop=ALL -v "$o/config:/etc/onchain-kms:ro" \
    -v "$o/secrets:/run/secrets:ro" -v "$o/state:/var/lib/onchain-kms" -v "$d/run:/run/onchain-kms" \
    "$REPO/orchestrator:$tag" --config=/etc/onchain-kms/orchestrator.textproto >"$work/out" 2>&1; then
    check_exit "orchestrator: SERVING next to the signer (journal, signer socket, anvil via host.containers.internal)" 0 \
      podman exec "$name" /usr/local/bin/health_probe --address=unix:/run/onchain-kms/orchestrator.sock --wait=30s ||
      podman logs "$name" 2>&1 | tail -n 10 | sed 's/^/    /'
    check_exit "kmsctl: 'kmsctl ops list' from its image over the orchestrator's socket" 0 \
      "${RUN[@]}" --network=none -v "$d/run:/run/onchain-kms" "$REPO/kmsctl:$tag" ops list
    podman stop -t 15 "$name" >/dev/null 2>&1
    check "orchestrator: stops with exit code 0 on SIGTERM" \
      test "$(podman inspect --format '{{.State.ExitCode}}' "$name")" = 0
  else
    fail "orchestrator: podman run"; sed 's/^/    /' "$work/out"
  fi
  kill "$anvil_pid" 2>/dev/null
  wait "$anvil_pid" 2>/dev/null
}

main() {
  local spec image uid
  if [ "$build" = 1 ]; then build_twice || return 1; fi
  for spec in "${IMAGES[@]}"; do
    read -r image uid <<<"$spec"
    if ! podman image exists "$REPO/$image:$tag"; then fail "$REPO/$image:$tag: no such image"; continue; fi
    check_image_files "$image" "$uid"
    check_image_runs "$image" "$uid"
  done
  check_name_resolution
  check_signer_serves
  echo "images_test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

main
