#!/usr/bin/env python3
"""Production functions over the size limit, found by clang-tidy's readability-function-size.

Usage: tools/function_size.py [--list] [--threshold N] [--jobs N] [--no-prefilter] [FILE...]
  default  print each function over N lines (the body, counted as clang-tidy counts: the line of
           its closing brace minus the line of its opening brace) and exit 1 if there is one
  --list   print every such function with its length, longest first, and exit 0

Needs compile_commands.json at the repository root (tools/compile_commands.py). Without FILE,
checks the production sources (see PRODUCTION below). To stay fast on two cores, clang-tidy only
runs on the files a cheap scan cannot clear: a file none of whose brace pairs (outside comments
and string literals, not a namespace or class) spans more than N lines cannot hold a longer function.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Production = what is linked into the shipped libraries and binaries. Not production: unit tests
# (*_test.cc), test doubles and fixtures (testing/ folders, the e2e harness), the integration
# harnesses and the simulator (test/), benchmarks (bench/ folders).
NOT_PRODUCTION = re.compile(r"(_test\.(cc|h)$|^test/|^bench/|/bench/|/testing/|/e2e/)")
NOTE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):\d+: warning: function '(?P<name>[^']+)' exceeds")
# Braces that open a scope, not a body: a long class is fine, its long methods are found inside.
SCOPE = re.compile(r"\s*(template\s*<.*>\s*)?(namespace|extern \"C\"|class|struct|union|enum)\b")
LINES = re.compile(r"note: (?P<lines>\d+) lines including whitespace and comments")


def production_files():
    out = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=ROOT, check=True, capture_output=True, text=True)
    return [f for f in out.stdout.split() if not NOT_PRODUCTION.search(f)]


def brace_spans(text):
    """Yields (open_line, close_line, opener) for every brace pair outside comments and literals."""
    stack, line, i, n = [], 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif text.startswith("//", i):
            i = text.find("\n", i) - 1 if text.find("\n", i) >= 0 else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end - 1
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            delim = text[i + 2:text.find("(", i + 2)]
            end = text.find(")" + delim + '"', i)
            end = n if end < 0 else end + len(delim) + 2
            line += text.count("\n", i, end)
            i = end - 1
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):  # 1'000 is a number
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j
        elif c == "{":
            start = text.rfind("\n", 0, i) + 1
            stack.append((line, text[start:i]))
        elif c == "}" and stack:
            open_line, opener = stack.pop()
            yield open_line, line, opener
        i += 1


def may_hold_long_function(path, threshold):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        text = f.read()
    for open_line, close_line, opener in brace_spans(text):
        if close_line - open_line > threshold and not SCOPE.match(opener):
            return True
    return False


def run_clang_tidy(path, threshold, header_filter):
    config = "{CheckOptions: [{key: readability-function-size.LineThreshold, value: %d}]}" % threshold
    cmd = ["clang-tidy-14", "-p", ROOT, "--quiet", "--checks=-*,readability-function-size", "--config=" + config,
           "--header-filter=" + header_filter, os.path.join(ROOT, path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    found, current = [], None
    for text in proc.stdout.splitlines():
        m = NOTE.match(text)
        if m:
            current = (m["file"], int(m["line"]), m["name"])
        elif current and LINES.search(text):
            found.append((*current, int(LINES.search(text)["lines"])))
            current = None
    if proc.returncode != 0 and not found:
        sys.stderr.write(f"function_size: clang-tidy failed on {path}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}\n")
        return None
    return found


def relative(path):
    """clang-tidy names headers by their path in Bazel's execroot; show paths from the repository."""
    real = os.path.realpath(path)
    return os.path.relpath(real, ROOT) if real.startswith(ROOT + os.sep) else path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--threshold", type=int, default=80)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-prefilter", action="store_true", help="parse every file (to check the scan)")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    files = args.files or production_files()
    candidates = [f for f in files if args.no_prefilter or may_hold_long_function(f, args.threshold)]
    # A long inline function in a header is seen through a .cc that includes it: its sibling.
    sources = sorted({re.sub(r"\.h$", ".cc", f) for f in candidates})
    sources = [f for f in sources if os.path.exists(os.path.join(ROOT, f))]
    # Sources are named by absolute path, so are the headers they include with `-iquote .`.
    header_filter = "^(%s/)?(%s)/.*\\.h$" % (re.escape(ROOT), "|".join(sorted({f.split("/")[0] for f in files})))
    print(f"function_size: {len(files)} files, {len(sources)} to parse (clang-tidy, {args.jobs} jobs)", flush=True)
    findings, failed = set(), []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for path, found in zip(sources, pool.map(lambda p: run_clang_tidy(p, args.threshold, header_filter), sources)):
            if found is None:
                failed.append(path)
            for file, line, name, lines in found or []:
                rel = relative(file)
                if rel in files:
                    findings.add((rel, line, name, lines))
    for file, line, name, lines in sorted(findings, key=lambda f: (-f[3], f[0], f[1])):
        print(f"{file}:{line}: {name}: {lines} lines (limit {args.threshold})")
    print(f"function_size: {len(findings)} production functions over {args.threshold} lines"
          + (f"; clang-tidy failed on {len(failed)} files: {' '.join(failed)}" if failed else ""))
    if args.list:
        return 1 if failed else 0
    return 1 if findings or failed else 0


if __name__ == "__main__":
    sys.exit(main())
