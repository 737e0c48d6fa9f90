"""Time ``import sparsegym`` against ``import gymnasium`` alone, each in fresh interpreters.

    python benchmarks/import_time.py [--repeats 7]

Prints the median wall time of each and sparsegym's extra cost; the target is under 0.5 s in all.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

_SNIPPET = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def _median_import(module: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _SNIPPET.format(mod=module)], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    gym_t = _median_import("gymnasium", args.repeats)
    ours_t = _median_import("sparsegym", args.repeats)
    print(f"import gymnasium: {gym_t * 1000:.0f} ms")
    print(f"import sparsegym: {ours_t * 1000:.0f} ms  ({ours_t / gym_t:.2f}x gymnasium alone, "
          f"+{(ours_t - gym_t) * 1000:.0f} ms; target < 500 ms)")
    return 0 if ours_t < 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
