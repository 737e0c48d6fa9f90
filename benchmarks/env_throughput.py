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
    if entry.family == "nethack":
        import minihack  # noqa: F401
        import nle  # noqa: F401

        return str(entry.kwargs["task"])
    raise ValueError(f"no raw counterpart known for family {entry.family!r}")


def _raw_envs(env_id: str) -> dict[str, gymnasium.Env]:
    """The raw env(s) to compare with: for NetHack ids, with our default keys and with upstream's."""
    raw = _raw_id(env_id)
    if get_entry(env_id).family == "nethack":
        from sparsegym.envs.nethack.env import DEFAULT_KEYS

        return {"raw, same keys": gymnasium.make(raw, observation_keys=DEFAULT_KEYS),
                "raw, upstream default keys": gymnasium.make(raw)}
    return {"raw": gymnasium.make(raw)}


def measure(env_id: str, steps: int, rounds: int, seed: int = 0, min_seconds: float = 0.0) -> dict[str, float | str]:
    envs = {"ours": sparsegym.make(env_id), **_raw_envs(env_id)}
    n = min(int(e.action_space.n) for e in envs.values())
    actions = np.random.default_rng(seed).integers(0, n, size=steps)
    per_step = max(time_steps(env, actions[: steps // 10 + 1], seed) for env in envs.values())  # warm-up
    if min_seconds and steps * per_step < min_seconds:  # fast envs: longer rounds, less timer noise
        actions = np.random.default_rng(seed).integers(0, n, size=int(min_seconds / per_step) + 1)
    times: dict[str, list[float]] = {k: [] for k in envs}
    for r in range(rounds):
        order = list(envs) if r % 2 == 0 else list(envs)[::-1]
        for name in order:
            times[name].append(time_steps(envs[name], actions, seed + r))
    for env in envs.values():
        env.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    raw_name = next(k for k in envs if k != "ours")
    # The ratio is the median over rounds of ours / raw *within* a round (the two ran back to back), so
    # the machine's slower and faster spells cancel instead of landing on one side.
    paired = statistics.median(o / r for o, r in zip(times["ours"], times[raw_name]))
    row = {"id": env_id, "raw_id": _raw_id(env_id), "ours_steps_per_s": 1 / med["ours"],
           "raw_steps_per_s": 1 / med[raw_name], "ratio": paired}
    if "raw, upstream default keys" in med:
        row["upstream_default_keys_steps_per_s"] = 1 / med["raw, upstream default keys"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="ids to measure (default: every MiniGrid id)")
    parser.add_argument("--steps", type=int, default=3000, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per env (medians taken; the ratio is the median of per-round ratios)")
    parser.add_argument("--min-seconds", type=float, default=0.5,
                        help="stretch a round to at least this long for fast envs (0: exactly --steps)")
    parser.add_argument("--family", choices=("minigrid", "nethack"), default=None, help="every id of a family")
    parser.add_argument("--out", type=Path, default=None,
                        help="CSV path (default: benchmarks/results/env_throughput[_FAMILY].csv)")
    args = parser.parse_args()
    ids = args.ids or [e.id for e in entries(family="minigrid")]
    if args.family:
        ids = [e.id for e in entries(family=args.family)]

    rows = []
    print(f"{'id':<46} {'ours steps/s':>12} {'raw steps/s':>12} {'cost ratio':>10}")
    for env_id in ids:
        row = measure(env_id, args.steps, args.rounds, min_seconds=args.min_seconds)
        rows.append(row)
        flag = "" if row["ratio"] <= TARGET else "  (over target)"
        extra = ""
        if "upstream_default_keys_steps_per_s" in row:
            extra = f"  (upstream default keys: {row['upstream_default_keys_steps_per_s']:,.0f} steps/s)"
        print(f"{env_id:<46} {row['ours_steps_per_s']:>12,.0f} {row['raw_steps_per_s']:>12,.0f} {row['ratio']:>9.3f}x{flag}{extra}")
    ratios = [r["ratio"] for r in rows]
    print(f"\nmedian cost ratio {statistics.median(ratios):.3f}x, worst {max(ratios):.3f}x (target <= {TARGET:.2f}x)")

    if args.out is None and args.ids and not args.family:
        print("(explicit ids: results not written; pass --out FILE to keep them)")
        return 0
    if args.out is None:
        suffix = f"_{args.family}" if args.family else ""
        args.out = Path(__file__).parent / "results" / f"env_throughput{suffix}.csv"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
