"""Steps per second of sparsegym ids against the raw upstream env, measured side by side.

For every selected id, the sparsegym env (``sparsegym.make``) and the raw env it wraps
(``gymnasium.make`` of the upstream id) run the same seeded random action sequence, alternating
between the two for several rounds; the median time per step of each gives the cost ratio
(ours / raw; the target is at most 1.10). Results are printed and written to
``benchmarks/results/env_throughput.csv``.

    python benchmarks/env_throughput.py                       # every MiniGrid id
    python benchmarks/env_throughput.py --steps 5000 --rounds 7 sparsegym/MiniGrid-DoorKey-8x8-v0
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import gymnasium
import numpy as np
from _timing import time_steps

import sparsegym
from sparsegym.envs.registry import entries, get_entry

TARGET = 1.10


def _raw_id(env_id: str) -> str:
    entry = get_entry(env_id)
    if entry.family == "minigrid":
        import minigrid  # noqa: F401  (registers the upstream ids)

        return str(entry.kwargs["task"])
    raise ValueError(f"no raw counterpart known for family {entry.family!r}")


def measure(env_id: str, steps: int, rounds: int, seed: int = 0) -> dict[str, float | str]:
    ours = sparsegym.make(env_id)
    raw = gymnasium.make(_raw_id(env_id))
    n = min(int(ours.action_space.n), int(raw.action_space.n))
    actions = np.random.default_rng(seed).integers(0, n, size=steps)
    time_steps(ours, actions[: steps // 10 + 1], seed)  # warm-up
    time_steps(raw, actions[: steps // 10 + 1], seed)
    t_ours, t_raw = [], []
    for r in range(rounds):
        pair = [(ours, t_ours), (raw, t_raw)]
        for env, sink in pair if r % 2 == 0 else pair[::-1]:
            sink.append(time_steps(env, actions, seed + r))
    ours.close()
    raw.close()
    mo, mr = statistics.median(t_ours), statistics.median(t_raw)
    return {"id": env_id, "raw_id": _raw_id(env_id), "ours_steps_per_s": 1 / mo, "raw_steps_per_s": 1 / mr, "ratio": mo / mr}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="ids to measure (default: every MiniGrid id)")
    parser.add_argument("--steps", type=int, default=3000, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per env (median taken)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "env_throughput.csv")
    args = parser.parse_args()
    ids = args.ids or [e.id for e in entries(family="minigrid")]

    rows = []
    print(f"{'id':<46} {'ours steps/s':>12} {'raw steps/s':>12} {'cost ratio':>10}")
    for env_id in ids:
        row = measure(env_id, args.steps, args.rounds)
        rows.append(row)
        flag = "" if row["ratio"] <= TARGET else "  (over target)"
        print(f"{env_id:<46} {row['ours_steps_per_s']:>12,.0f} {row['raw_steps_per_s']:>12,.0f} {row['ratio']:>9.3f}x{flag}")
    ratios = [r["ratio"] for r in rows]
    print(f"\nmedian cost ratio {statistics.median(ratios):.3f}x, worst {max(ratios):.3f}x (target <= {TARGET:.2f}x)")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
