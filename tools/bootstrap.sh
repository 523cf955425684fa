#!/usr/bin/env bash
# Idempotent set-up: installs the Debian packages and the pinned npm test tools that are missing.
# A second run finds everything in place and returns in about a second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

APT_PACKAGES=(
  # tools/images.sh and images_test.sh: podman builds and runs the images; runc because crun
  # refuses these machines' hybrid cgroups; the default bridge network needs the CNI plugins.
  podman runc containernetworking-plugins iptables
  bazel-bootstrap bazel-platforms clang-14 lld-14 clang-format-14 clang-tidy-14 pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev libsecp256k1-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev sqlite3 libpq-dev postgresql-15 libgtest-dev libgmock-dev
  libbenchmark-dev ca-certificates
  # the signer's allocator (signer/README.md: glibc's malloc took ~12 % of its CPU per signature)
  libjemalloc-dev
  # clients/: Python and Go example clients (golang-protobuf 1.5: grpc-go's codec needs the APIv2 shim)
  python3-grpcio python3-protobuf golang-go golang-google-grpc-dev golang-google-protobuf-dev
  golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
  # tools/k8s-demo.sh: podman kube play (catatonit is the pod's pause process, a Recommends of podman)
  catatonit openssl curl iproute2
)
# Node.js and npm: the machine's own if present (it may not come from Debian), else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || APT_PACKAGES+=(nodejs npm)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm test tools, pinned by tools/node/package-lock.json, into a git-ignored folder.
node_dir="$root/tools/node"
stamp="$node_dir/node_modules/.bootstrap-stamp"
want=$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing pinned npm test tools into tools/node/node_modules"
  (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  # The .bin wrappers of anvil/cast always exit 0; we call the platform binaries directly.
  for b in anvil cast; do
    "$node_dir/node_modules/@foundry-rs/$b-linux-amd64/bin/$b" --version >/dev/null
  done
  echo "$want" > "$stamp"
fi
