#!/usr/bin/env bash
# Builds the OCI images of the orchestrator, the signer and kmsctl, offline and reproducibly.
#
#   tools/images.sh [--tag T]     T defaults to dev
#
# Produces localhost/onchain-kms/{orchestrator,signer,kmsctl}:T in podman's local storage.
# Each image is a distroless-style root fs FROM scratch: /usr/local/bin/<binary> (the ENTRYPOINT)
# and /usr/local/bin/health_probe (-c opt builds), exactly the shared libraries `ldd` names for
# them plus the dynamic loader (copied from this machine's Debian packages), /etc/passwd and
# /etc/group naming the users, /etc/nsswitch.conf (hosts: files dns, so getaddrinfo sees the
# runtime's /etc/hosts first), the CA bundle at /etc/ssl/certs/ca-certificates.crt (and OpenSSL's
# default /usr/lib/ssl/cert.pem pointing at it). No shell, nothing writable needed: state goes
# to mounted volumes. Default user (numeric, group 10000 "onchain-kms"): signer 10001,
# orchestrator 10002, kmsctl 10003.
#
# Reproducible: the root fs is a tar with sorted names, numeric owners 0:0 and every mtime at
# SOURCE_DATE_EPOCH (default: the last commit's time), built with `podman build --timestamp`, so
# two builds of one commit give the same image ID. Labels: org.opencontainers.image.revision
# (the commit, "-dirty" with uncommitted changes), .source, .version (T), .created.
# Podman runs with CONTAINERS_CONF=deploy/podman/containers.conf (runc, ulimits) unless set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

tag=dev
while (($#)); do
  case $1 in
    --tag) [ $# -ge 2 ] || { echo "images.sh: --tag needs a value" >&2; exit 2; }; tag=$2; shift 2 ;;
    --tag=*) tag=${1#--tag=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "images.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if ! [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  echo "images.sh: --tag '$tag' is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})" >&2
  exit 2
fi

export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
readonly REPO=localhost/onchain-kms GROUP_ID=10000
# image name, Bazel target, binary name in the image, default uid
readonly IMAGES=(
  "orchestrator //orchestrator:orchestrator orchestrator 10002"
  "signer //signer:signer signer 10001"
  "kmsctl //orchestrator/kmsctl:kmsctl kmsctl 10003"
)
readonly PROBE_TARGET=//platform:health_probe

log() { echo "images: $*" >&2; }
bazel_path() { local t=${1#//}; echo "${t/:/\/}"; }  # //a/b:c -> a/b/c

# The files `ldd` resolves for the binaries (the loader included), one path a line, sorted.
shared_libraries() {  # shared_libraries <binary...>
  local out
  out=$(ldd "$@") || { log "ldd failed on $*"; return 1; }
  if grep -q 'not found' <<<"$out"; then
    log "missing shared libraries:"; grep 'not found' <<<"$out" >&2; return 1
  fi
  # "name => /path (0x..)" or "/lib64/ld-linux-x86-64.so.2 (0x..)"; linux-vdso has no file.
  awk '$2 == "=>" && $3 ~ /^\// { print $1 " " $3 } $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 " " $1 }' <<<"$out" | sort -u
}

# Fills DIR with the root fs of one image: its binary, health_probe and what they need.
stage_rootfs() {  # stage_rootfs <dir> <binary name> <binary path> <probe path>
  local dir=$1 name=$2 binary=$3 probe=$4 soname path
  install -d -m 0755 "$dir"/{etc/ssl/certs,usr/local/bin,usr/lib/x86_64-linux-gnu,usr/lib64,usr/lib/ssl}
  install -m 0555 "$binary" "$dir/usr/local/bin/$name"
  install -m 0555 "$probe" "$dir/usr/local/bin/health_probe"
  # Debian's merged /usr: /lib and /lib64 are links, the loader's PT_INTERP is /lib64/ld-linux….
  ln -s usr/lib "$dir/lib"
  ln -s usr/lib64 "$dir/lib64"
  while read -r soname path; do
    if [[ $soname == /* ]]; then  # the loader: the file in the library dir, the ABI path a link
      install -m 0755 "$(readlink -f "$path")" "$dir/usr/lib/x86_64-linux-gnu/$(basename "$path")"
      ln -sf "../lib/x86_64-linux-gnu/$(basename "$path")" "$dir/usr/lib64/$(basename "$path")"
    else
      install -m 0644 "$(readlink -f "$path")" "$dir/usr/lib/x86_64-linux-gnu/$soname"
    fi
  done < <(shared_libraries "$binary" "$probe")
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  ln -s /etc/ssl/certs/ca-certificates.crt "$dir/usr/lib/ssl/cert.pem"
  printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
    "signer:x:10001:$GROUP_ID:onchain-kms signer:/nonexistent:/usr/sbin/nologin" \
    "orchestrator:x:10002:$GROUP_ID:onchain-kms orchestrator:/nonexistent:/usr/sbin/nologin" \
    "kmsctl:x:10003:$GROUP_ID:onchain-kms kmsctl:/nonexistent:/usr/sbin/nologin" >"$dir/etc/passwd"
  printf '%s\n' 'root:x:0:' "onchain-kms:x:$GROUP_ID:" >"$dir/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$dir/etc/nsswitch.conf"
  chmod 0644 "$dir"/etc/{passwd,group,nsswitch.conf}
}

# A tar that depends only on the files' contents, names and modes.
deterministic_tar() {  # deterministic_tar <dir> <out.tar> <epoch>
  tar -C "$1" --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$3" \
    -cf "$2" .
}

# Builds and tags one image from a staged root fs; prints its ID.
build_image() {  # build_image <context dir> <name> <binary name> <uid> <epoch> <revision> <source>
  local ctx=$1 name=$2 binary=$3 uid=$4 epoch=$5 revision=$6 source=$7 ref old_id id
  ref="$REPO/$name:$tag"
  cat >"$ctx/Containerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin
USER $uid:$GROUP_ID
ENTRYPOINT ["/usr/local/bin/$binary"]
LABEL org.opencontainers.image.title="onchain-kms $name" \\
      org.opencontainers.image.revision="$revision" \\
      org.opencontainers.image.source="$source" \\
      org.opencontainers.image.version="$tag" \\
      org.opencontainers.image.created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
EOF
  old_id=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  podman build --quiet --timestamp "$epoch" --layers=false --network=none --format=oci \
    --tag "$ref" --file "$ctx/Containerfile" "$ctx" >/dev/null
  id=$(podman image inspect --format '{{.Id}}' "$ref")
  # The image this tag named before, now untagged: remove it (unless a container still uses it).
  if [ -n "$old_id" ] && [ "$old_id" != "$id" ] &&
    [ -z "$(podman image inspect --format '{{join .RepoTags ","}}' "$old_id" 2>/dev/null)" ]; then
    podman rmi "$old_id" >/dev/null 2>&1 || true
  fi
  echo "$id"
}

main() {
  local targets=("$PROBE_TARGET") spec image target binary uid bin epoch revision source id size
  for spec in "${IMAGES[@]}"; do read -r _ target _ _ <<<"$spec"; targets+=("$target"); done
  log "bazel build -c opt ${targets[*]}"
  bazel build -c opt "${targets[@]}"
  bin=$(bazel info -c opt bazel-bin 2>/dev/null)

  epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
  revision=$(git rev-parse HEAD)
  [ -z "$(git status --porcelain --untracked-files=no)" ] || revision+="-dirty"
  # The clone's origin without any user:password@ part; a fixed name when there is none.
  source=$(git remote get-url origin 2>/dev/null | sed -E 's#^([a-z+]+://)[^/@]*@#\1#' || true)
  source=${IMAGES_SOURCE:-${source:-onchain-kms}}

  work=$(mktemp -d /tmp/okimg.XXXXXX)  # global: the EXIT trap runs after main returns
  trap 'rm -rf "$work"' EXIT
  for spec in "${IMAGES[@]}"; do
    read -r image target binary uid <<<"$spec"
    mkdir -p "$work/$image/ctx"
    stage_rootfs "$work/$image/rootfs" "$binary" "$bin/$(bazel_path "$target")" "$bin/$(bazel_path "$PROBE_TARGET")"
    deterministic_tar "$work/$image/rootfs" "$work/$image/ctx/rootfs.tar" "$epoch"
    id=$(build_image "$work/$image/ctx" "$image" "$binary" "$uid" "$epoch" "$revision" "$source")
    size=$(podman image inspect --format '{{.Size}}' "$id")
    printf '%s:%s %s %s MB\n' "$REPO/$image" "$tag" "${id:0:12}" "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')"
  done
}

main
