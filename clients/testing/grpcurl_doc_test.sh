#!/usr/bin/env bash
# Runs grpcurl_doc_test.py with Debian's python3 (the pyenv one on PATH has no google.protobuf).
set -euo pipefail
r="$TEST_SRCDIR/$TEST_WORKSPACE"
exec /usr/bin/python3 "$r/clients/testing/grpcurl_doc_test.py" "$r/docs/grpcurl.md" "$r/proto/api_descriptor_set.pb"
