#!/usr/bin/env python3
"""Writes compile_commands.json (for clang-tidy) from Bazel's own compile actions, offline.

Usage: tools/compile_commands.py [OUTPUT]   (default: compile_commands.json at the repository root)

Asks `bazel aquery` for every CppCompile action of //... and keeps, per source file, the exact
command Bazel runs, run from the working tree: its bazel-out/... and external/... paths made
absolute (Bazel's output base holds them; not its execroot's symlink forest of the sources, which
every bazel command rebuilds and a parallel build would pull away from under clang-tidy). Generated headers (protoc) must exist: build them first (tools/lint.sh does).
Dependency-file and output flags are dropped: clang-tidy only parses.
"""
import json
import os
import subprocess
import sys


def bazel(*args):
    return subprocess.run(["bazel", *args], check=True, capture_output=True, text=True).stdout


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    output = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "compile_commands.json")
    execroot = bazel("info", "execution_root").strip()
    output_base = bazel("info", "output_base").strip()
    absolute = {"bazel-out/": os.path.join(execroot, "bazel-out/"), "external/": os.path.join(output_base, "external/")}
    graph = json.loads(bazel("aquery", 'mnemonic("CppCompile", //...)', "--output=jsonproto"))
    entries = {}
    for action in graph.get("actions", []):
        args = action["arguments"]
        source = args[args.index("-c") + 1]
        if source.startswith(("bazel-out/", "external/")):
            continue  # generated or third-party code: not ours to lint
        command, skip = [], False
        for i, arg in enumerate(args):
            if skip:
                skip = False
            elif arg in ("-MF", "-o"):
                skip = True
            elif arg == "-MD" or arg.startswith("-frandom-seed="):
                pass
            elif arg == source and args[i - 1] == "-c":
                command.append(os.path.join(root, source))
            else:
                prefix = next((p for p in absolute if arg.startswith(p)), None)
                command.append(absolute[prefix] + arg[len(prefix):] if prefix else arg)
        entries[source] = {"directory": root, "file": os.path.join(root, source), "arguments": command}
    with open(output, "w") as f:
        json.dump([entries[k] for k in sorted(entries)], f, indent=1)
    print(f"compile_commands: {len(entries)} files -> {os.path.relpath(output, root)}")


if __name__ == "__main__":
    main()
