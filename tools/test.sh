#!/usr/bin/env bash
# The full test suite: bootstrap, the lint step (tools/lint.sh: clang-format, function size), every
# Bazel test, then the unit tests again under ASan+UBSan, then the concurrent parts under TSan,
# then the container images (tools/images_test.sh), then every libFuzzer target for 3 s, then the
# Kubernetes manifests (tools/k8s-demo.sh). Ends with the seconds per step and the count.
# Usage: tools/test.sh            (what .ci/run calls)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tools/bootstrap.sh || { echo "bootstrap failed"; exit 1; }

log_dir=$(mktemp -d)
status=0
# Seconds per step, printed at the end: CI has 90 minutes, and this says where they go. Every
# step ends with step_done, so step_start is also where the next step began.
times="bootstrap ${SECONDS}s"
step_start=$SECONDS
step_done() { times+=", $1 $((SECONDS - step_start))s"; step_start=$SECONDS; }
run() {  # run <label> <bazel args...>
  local label=$1; shift
  echo "== $label: bazel test $*"
  # --nocache_test_results: the disk cache would otherwise replay earlier results of tests whose
  # real inputs (npm tools, anvil, the machine) Bazel cannot see.
  bazel test --nocache_test_results --test_summary=short "$@" 2>&1 | grep -v '^[0-9]\{10\}\.[0-9]*: src/main/tools/' | grep -v 'ld.gold: warning: Cannot export local symbol' | tee "$log_dir/$label.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  step_done "$label"
}
# A step that is a script, not a Bazel test: its result is one line in the format counted below.
run_script() {  # run_script <label> <script> [args...]
  local label=$1 script=$2 result=PASSED; shift
  echo "== $label: $*"
  "$@" 2>&1 | tee "$log_dir/$label.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { result=FAILED; status=1; }
  echo "//$script $result in $((SECONDS - step_start))s" | tee "$log_dir/$label.log"
  step_done "$label"
}
echo "== lint: tools/lint.sh"
lint_note=""
tools/lint.sh 2>&1 | tee "$log_dir/lint.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; lint_note=", lint FAILED"; echo "lint FAILED (see above)"; }
step_done lint
# Optimized (-c opt), as shipped: the images step, the demo and the benchmarks then reuse this build.
run plain -c opt //...
# Sanitizers on everything but the tests tagged no_asan (those drive external npm tools and
# processes, which gain nothing from an instrumented build and double the CI time). Only what the
# tests need is built (not the benchmarks); the fuzz step below links its binaries from these objects.
run asan --config=asan --test_env=LSAN_OPTIONS="suppressions=$root/tools/lsan.supp" \
  --test_tag_filters=-no_asan --build_tests_only //...
# ThreadSanitizer on the concurrent parts (tools/tsan.sh: 13 tests, ~23 s; cold build ~5.5 min).
mapfile -t tsan_args < <(tools/tsan.sh --print-args)
run tsan "${tsan_args[@]}"

# The container images, built and run with podman (tools/images_test.sh).
run_script images tools/images_test.sh

# Every libFuzzer target a few seconds on its corpus (the corpora also run in the plain step).
echo "== fuzz: tools/fuzz.sh --short"
fuzz_note=""
tools/fuzz.sh --short 2>&1 | tee "$log_dir/fuzz.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; fuzz_note=", fuzz FAILED"; }
step_done fuzz

# The Kubernetes manifests run by podman on the images of the images step: pod, probes, kmsctl
# flow (tools/k8s-demo.sh, ~35 s warm); one test.
run_script k8s tools/k8s-demo.sh --no-images

passed=$(cat "$log_dir"/*.log | grep -cE '^//[^ ]+ +(\(cached\) )?PASSED')
failed=$(cat "$log_dir"/*.log | grep -cE '^//[^ ]+ +(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)')
echo "time: $times; total ${SECONDS}s"
echo "test: $passed passed, $failed failed$lint_note$fuzz_note"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
