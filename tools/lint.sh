#!/usr/bin/env bash
# The lint step: (a) every tracked C++ file is formatted as .clang-format says (clang-format-14);
# (b) no production function is over 80 lines (clang-tidy-14 readability-function-size, through
# tools/function_size.py, which documents what counts as production).
# Usage: tools/lint.sh           check both; exit 1 on any finding
#        tools/lint.sh --list    print every production function over the limit, longest first
#        tools/lint.sh --format  only (a); --functions: only (b)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mode=${1:-all}
jobs=$(nproc)

check_format() {
  local bad
  # One file per call: parallel calls would interleave their diagnostics.
  bad=$(git ls-files '*.cc' '*.h' | xargs -P "$jobs" -I{} sh -c 'clang-format-14 --dry-run --Werror "$1" >/dev/null 2>&1 || echo "$1"' _ {} | sort)
  if [ -n "$bad" ]; then
    echo "lint: $(echo "$bad" | wc -l) files are not clang-formatted (fix: clang-format-14 -i FILE):"
    echo "$bad" | sed 's/^/  /'
    return 1
  fi
  echo "lint: clang-format: all $(git ls-files '*.cc' '*.h' | wc -l) C++ files formatted"
}

compile_db() {
  # clang-tidy parses with Bazel's own flags; the protoc-generated headers must exist.
  bazel build $(bazel query 'kind(genrule, //proto/... + //orchestrator/...)' 2>/dev/null) >/dev/null 2>&1 \
    || { echo "lint: building the generated headers failed"; return 1; }
  tools/compile_commands.py >/dev/null || { echo "lint: compile_commands.json failed"; return 1; }
}

check_functions() {
  compile_db || return 1
  tools/function_size.py --jobs "$jobs" "$@"
}

status=0
case "$mode" in
  --list) check_functions --list; exit $? ;;
  --format) check_format; exit $? ;;
  --functions) check_functions; exit $? ;;
  all) check_format || status=1; check_functions || status=1 ;;
  *) echo "usage: tools/lint.sh [--list|--format|--functions]"; exit 2 ;;
esac
[ "$status" -eq 0 ] && echo "lint: OK" || echo "lint: FAILED"
exit "$status"
