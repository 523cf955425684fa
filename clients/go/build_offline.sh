#!/usr/bin/env bash
# Builds the example client (cmd/deploy_cvm) offline with Debian's Go toolchain and Debian's Go
# sources under /usr/share/gocode (golang-google-grpc-dev, golang-google-protobuf-dev and their
# dependencies): GOPATH mode, no module proxy, nothing downloaded. See ../README.md for why not
# module mode.
#
#   clients/go/build_offline.sh OUT_BINARY
#
# GOCACHE: $GOCACHE if set, else .cache/onchain-kms/go-build in the user's home from the password
# database (not $HOME, which Bazel points into each test's sandbox). Go's build cache is keyed by
# the content of every input and the toolchain, and safe for concurrent go commands, so sharing
# it across runs, tests and checkouts changes no result, only the time: ~60 s of CPU cold, ~1 s
# warm.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build_offline.sh OUT_BINARY}
module=$(sed -n 's/^module //p' "$here/go.mod")
home=$(getent passwd "$(id -u)" | cut -d: -f6)
gopath=$(mktemp -d "${TMPDIR:-/tmp}/okgo.XXXXXX")
trap 'rm -rf "$gopath"' EXIT
# GOPATH mode finds a package at $GOPATH/src/<import path>; a copy, as go skips symlinked dirs
# in patterns and Bazel's runfiles are symlinks.
mkdir -p "$gopath/src/$(dirname "$module")"
cp -rL "$here" "$gopath/src/$module"
# CGO_ENABLED=0: a static binary whose build does not depend on the C compiler (Bazel sets CC,
# which would otherwise change every cache key).
export GO111MODULE=off GOPROXY=off GOFLAGS="" CGO_ENABLED=0 GOPATH="$gopath:/usr/share/gocode"
export GOCACHE=${GOCACHE:-$home/.cache/onchain-kms/go-build}
mkdir -p "$GOCACHE"
cd "$gopath/src/$module"
/usr/bin/go build -trimpath -o "$out" "$module/cmd/deploy_cvm"
