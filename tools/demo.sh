#!/usr/bin/env bash
# The local demo, the README's first command: bootstrap, build, start anvil + the KMS contracts,
# the Phala Cloud simulator, the signer and the orchestrator, then deploy and update a CVM with
# kmsctl and print a summary. See tools/demo/demo.sh (--help) and tools/demo/README.md.
exec "$(dirname "$0")/demo/demo.sh" "$@"
