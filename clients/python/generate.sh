#!/usr/bin/env bash
# Generates the Python modules of the API (messages + gRPC stubs) from proto/ with Debian's
# protoc and grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc), into OUT_DIR
# (default clients/python/gen, git-ignored). Run with /usr/bin/python3 and PYTHONPATH=OUT_DIR.
#
#   clients/python/generate.sh [OUT_DIR] [PROTO_DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/gen}
proto=${2:-$here/../../proto}
mkdir -p "$out"
cd "$proto"
/usr/bin/protoc -I. --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  onchainkms/orchestrator/v1/orchestrator.proto onchainkms/signer/v1/signer.proto
