#!/usr/bin/env bash
# Regenerates the Go code of the API (messages: protoc-gen-go; gRPC stubs: protoc-gen-go-grpc,
# both Debian's) from proto/ into this module, or into OUT_DIR. The code is committed, as Go
# modules are used (`go get`) without running protoc; //clients:go_generated_code_test fails
# when it differs from what this script writes from the current proto/.
#
#   clients/go/generate.sh [OUT_DIR] [PROTO_DIR]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here}
proto=${2:-$here/../../proto}
module=$(sed -n 's/^module //p' "$here/go.mod")
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$proto"
/usr/bin/protoc -I. --plugin=protoc-gen-go=/usr/bin/protoc-gen-go \
  --plugin=protoc-gen-go-grpc=/usr/bin/protoc-gen-go-grpc \
  --go_out="$out" --go_opt=module="$module" --go-grpc_out="$out" --go-grpc_opt=module="$module" \
  onchainkms/orchestrator/v1/*.proto onchainkms/signer/v1/*.proto
