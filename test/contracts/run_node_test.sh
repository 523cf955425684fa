#!/usr/bin/env bash
# Runs one of this package's Node scripts under `bazel test`: `$1` and any relative paths in the
# other arguments are relative to the workspace's runfiles root, and `--node-modules` (the pinned
# npm tools, found through //tools/node:package.json) is added in front of them.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
pkg=$(readlink -f "$root/tools/node/package.json")
node_modules="$(dirname "$pkg")/node_modules"
if [ ! -d "$node_modules" ]; then
  echo "missing $node_modules: run tools/bootstrap.sh" >&2
  exit 1
fi
cd "$root"
script=$1
shift
exec node "$script" --node-modules "$node_modules" "$@"
