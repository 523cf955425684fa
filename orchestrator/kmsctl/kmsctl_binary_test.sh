#!/usr/bin/env bash
# The kmsctl binary: --help for every command (exit 0, stdout), usage errors (exit 2, stderr),
# an unreachable orchestrator (exit 6), an unreadable env file (exit 3), and that env values
# given on stdin never show up in any output.
set -uo pipefail
kmsctl="${TEST_SRCDIR}/${TEST_WORKSPACE}/orchestrator/kmsctl/kmsctl"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

expect() {  # expect <exit code> <text that stdout+stderr must contain> -- <args...>
  local want=$1 text=$2; shift 3
  local got
  "$kmsctl" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" -eq "$want" ] || fail "kmsctl $* exited $got, want $want: $(cat "$tmp/err")"
  grep -qF -- "$text" "$tmp/out" "$tmp/err" || fail "kmsctl $*: output lacks '$text': $(cat "$tmp/out" "$tmp/err")"
}

expect 0 "Exit codes:" -- --help
expect 0 "Exit codes:" -- help
for cmd in "kms list" "deploy" "envs update" "compose update" "compose-file update" "compose-hash add" \
           "ops list" "ops get" "ops watch" "ops cancel" "ops supply-envs"; do
  # shellcheck disable=SC2086
  expect 0 "Usage: kmsctl $cmd" -- $cmd --help
  [ -s "$tmp/err" ] && fail "kmsctl $cmd --help wrote to stderr"
done
expect 0 "ops supply-envs" -- ops --help
expect 2 "missing command" --
expect 2 "unknown command 'deploi'" -- deploi
expect 2 "needs a subcommand" -- ops
expect 2 "--name is required" -- deploy --compose=x --kms=base

sock="unix:$tmp/nobody.sock"
expect 6 "cannot reach the orchestrator" -- --orchestrator="$sock" --rpc-timeout=2s ops get op_1
expect 3 "cannot read" -- --orchestrator="$sock" envs update cvm --env-file="$tmp/missing.env"

# A mutating call prints its request id (and the retry hint), never the env values.
printf 'TOKEN=very-secret-value\n' | "$kmsctl" --orchestrator="$sock" --rpc-timeout=2s envs update my-cvm \
  --env-file=- >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 6 ] || fail "envs update against nobody exited $code, want 6"
grep -qE 'request id [0-9a-f-]{36} ' "$tmp/err" || fail "no generated request id: $(cat "$tmp/err")"
grep -q 'retry with --request-id=' "$tmp/err" || fail "no retry hint"
grep -q 'very-secret-value' "$tmp/out" "$tmp/err" && fail "an env value was printed"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS"
