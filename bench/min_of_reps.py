#!/usr/bin/env python3
"""Best (minimum) CPU time per benchmark from a Google Benchmark JSON file.

The build machine is shared, so a mean over long repetitions mostly measures other people's
load. Many short repetitions and their minimum give the undisturbed speed of each benchmark,
and random interleaving makes both sides of a comparison see the same conditions.

  bazel run -c opt //bench:keccak_bench -- --benchmark_repetitions=100 \
      --benchmark_enable_random_interleaving=true --benchmark_min_time=0.005 \
      --benchmark_format=json --benchmark_out=/tmp/kb.json
  python3 bench/min_of_reps.py /tmp/kb.json
"""
import collections
import json
import sys


def main(path):
    with open(path) as f:
        data = json.load(f)
    best = collections.OrderedDict()
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"]
        if name not in best or b["cpu_time"] < best[name]["cpu_time"]:
            best[name] = b
    for name, b in sorted(best.items()):
        line = f"{name:36s} {b['cpu_time']:12.1f} {b['time_unit']}"
        if "bytes_per_second" in b:
            # Throughput recomputed from the best time (the counter is per repetition).
            size = int(name.rsplit("/", 1)[1])
            scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
            line += f"  {size / (b['cpu_time'] * scale) / 1e6:8.1f} MB/s"
        print(line)


if __name__ == "__main__":
    main(sys.argv[1])
