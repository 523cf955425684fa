#!/usr/bin/env bash
# Builds every libFuzzer target (tagged "fuzzer", see tools/fuzz/README.md) with --config=fuzz and
# runs each for a bounded time on its corpus, one after the other. Prints a table: target,
# executions, executions/s, corpus size, and OK or the crashing input.
# Usage: tools/fuzz.sh [--time=SECONDS] [--short] [NAME_SUBSTRING...]
#   --time=S   seconds per target (default 60)
#   --short    3 seconds per target (what tools/test.sh runs)
#   NAME...    only targets whose label contains one of these strings
# New inputs found go to a scratch directory (printed), not into the checked-in corpus; a crash
# leaves its input there as crash-<sha1>: copy it into the target's corpus/ folder with the fix.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=60
filters=()
for arg in "$@"; do
  case "$arg" in
    --time=*) seconds=${arg#--time=} ;;
    --short) seconds=3 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) filters+=("$arg") ;;
  esac
done

mapfile -t targets < <(bazel query 'attr(tags, "\bfuzzer\b", //...)' 2>/dev/null | sort)
if [ "${#filters[@]}" -gt 0 ]; then
  mapfile -t targets < <(printf '%s\n' "${targets[@]}" | grep -F "${filters[@]/#/-e}")
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets"; exit 2; }

echo "== fuzz: bazel build --config=fuzz (${#targets[@]} targets)"
bazel build --config=fuzz "${targets[@]}" 2>&1 | grep -v 'Cannot export local symbol' | tail -3
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: build FAILED"; exit 1; }
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)

work=$(mktemp -d -t fuzz.XXXXXX)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$root/tools/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
table=$(printf '%-52s %12s %9s %7s  %s' target executions exec/s corpus result)
for label in "${targets[@]}"; do
  pkg=${label#//}; pkg=${pkg%%:*}
  binary_name=${label##*:}
  name=${binary_name%_fuzzer}
  dir="$work/$name"
  mkdir -p "$dir/new"
  log="$dir/log.txt"
  # -timeout: an input slower than 10 s is a finding too; -rss_limit_mb: so is one that eats memory.
  "$bin/$pkg/$binary_name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/new" "$pkg/corpus/$name" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  units=$(( $(find "$dir/new" "$pkg/corpus/$name" -type f | wc -l) ))
  result=OK
  if [ "$rc" -ne 0 ]; then
    status=1
    artifact=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1)
    result="FOUND ${artifact:-(exit $rc, see $log)}"
    echo "== $label: finding (log: $log)"
    grep -E 'ERROR|FUZZ_CHECK|SUMMARY|runtime error' "$log" | head -5
  fi
  table+=$'\n'$(printf '%-52s %12s %9s %7s  %s' "$label" "${execs:-?}" "${rate:-?}" "$units" "$result")
done
echo "$table"
echo "fuzz: ${#targets[@]} targets, ${seconds}s each; new inputs and findings in $work"
exit "$status"
