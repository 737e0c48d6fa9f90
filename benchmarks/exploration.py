"""Exploration benchmark: frames to 0.9 success, and success at a fixed budget, per method and env.

Methods: PPO, PPO+RND, PPO+E3B, PPO+NovelD (sparsegym.agents.PPO with an intrinsic reward),
Go-Explore (exploration phase, on one layout per seed), PPO with concurrent imitation of two oracle
demonstrations (``ppo+bc2``), and the same with the two demonstrations found by Go-Explore instead of
the oracle (``go-explore+bc2``: Go-Explore's robustification by imitation; its exploration frames count
against the budget and towards frames-to-0.9). Success is PPO's success rate over its last 100 training episodes; for
Go-Explore, whether its archive reached the goal.

    python benchmarks/exploration.py --envs sparsegym/MiniGrid-DoorKey-8x8-v0 --budget 3000000 --seeds 0 1 2

Results accumulate in ``benchmarks/results/exploration.csv`` (one row per env, method, seed and budget,
written atomically after each run); a run already in the file is not repeated, so an interrupted or
partial benchmark resumes where it stopped and the table fills up across invocations (``--rerun``
repeats them); runs made in parallel with different ``--out`` folders are combined with ``--merge DIR ...``,
and ``--table`` prints the file as a markdown table (as in benchmarks/README.md). ``exploration.png`` plots every row of the chosen budget. The full configuration (four envs,
3M frames, three seeds, seven methods) is days of CPU on a 2-core machine; pass smaller ``--budget`` and
``--envs`` to get a partial table, and say so when you report it. Reference: the RL-Zoo PPO result is a
mean reward of 0.0 on MultiRoom-N4-S5 after 10M steps.

``--config FIELD=VALUE ...`` sets PPOConfig fields for a variant of the PPO methods (``int_coef=0.1``,
``intrinsic_recipe=two_heads``); its rows are stored under ``METHOD [FIELD=VALUE ...]``.

RND, E3B, NovelD and Go-Explore were changed on 2026-12-02 to follow their papers and authors' code
(see each module's docstring). Rows measured before that are kept under ``METHOD:old`` labels (``OLD``
says what differed), shown after the current method and in grey in the plot; the current methods are
rerun where the CPU allowed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import tempfile
import time
from pathlib import Path

from _results_csv import read_rows, write_rows

import sparsegym

ENVS = ["sparsegym/MiniGrid-DoorKey-8x8-v0", "sparsegym/MiniGrid-KeyCorridorS3R3-v0",
        "sparsegym/MiniGrid-MultiRoom-N4-S5-v0", "sparsegym/MiniGrid-ObstructedMaze-1Dlh-v0"]
METHODS = ["ppo", "ppo+rnd", "ppo+e3b", "ppo+noveld", "go-explore", "ppo+bc2", "go-explore+bc2"]
# Rows measured before the methods were made to follow their papers and authors' code (2026-12-02) keep
# their numbers under these labels, for comparison; they cannot be rerun (the old behaviour is an option
# of each module, not a method of this script). Each label follows its method in tables and plots.
OLD = {
    "ppo+rnd:old": "PPO+RND, old (update proportion 0.25 at 8 envs, no random-agent observation statistics)",
    "ppo+e3b:old": "PPO+E3B, old (two value heads, return-std normalisation, features of the flat observation)",
    "ppo+noveld:old": "PPO+NovelD, old (MSE novelty, normalised, first visit of the agent's view)",
    "go-explore:old": "Go-Explore (archive), old (cells chosen by times chosen, no count reset)",
    "go-explore+bc2:old": "PPO+2 Go-Explore demos, old (demos from the old Go-Explore)",
}
ORDER = [label for m in METHODS for label in (m, m + ":old") if label in METHODS or label in OLD]


def go_explore_demos(env_id: str, seeds: list[int], budget: int, path: Path) -> int:
    """Go-Explore's best trajectory on each layout seed, written as a demonstration file; returns the
    frames the exploration took (0 demos found: raises)."""
    import numpy as np

    from sparsegym.agents import GoExplore

    parts, frames = [], 0
    for layout in seeds:
        ge = GoExplore(sparsegym.make(env_id), seed=layout)
        result = ge.learn(budget - frames)
        frames += result["frames"]
        if result["success"]:
            parts.append(ge.demonstrations(shorten=True))
    if not parts:
        raise RuntimeError(f"Go-Explore found no successful trajectory on {env_id} within {budget} frames")
    np.savez(path, **{k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    return frames


def run_ppo(env_id: str, method: str, budget: int, seed: int, overrides: dict | None = None) -> dict[str, float]:
    from sparsegym.agents import PPO, PPOConfig
    from sparsegym.baselines import write_demonstrations

    config = PPOConfig(seed=seed, device=None, **(overrides or {}))
    offset = 0  # frames spent before PPO starts (Go-Explore finding its own demonstrations)
    if method.startswith("ppo+") and method != "ppo+bc2":
        config.intrinsic = method.split("+", 1)[1]
    if method in ("ppo+bc2", "go-explore+bc2"):
        demos = Path(tempfile.mkdtemp()) / "demos.npz"
        layouts = [10_000 + seed, 20_000 + seed]
        if method == "ppo+bc2":
            write_demonstrations(env_id, layouts, demos)
        else:
            try:
                offset = go_explore_demos(env_id, layouts, budget, demos)
            except RuntimeError:
                return {"frames_to_0.9": math.nan, "success_at_budget": 0.0}
        config.demos, config.bc_coef = str(demos), 1.0
    reached = math.nan
    agent = PPO(env_id, config)

    def watch(stats: dict[str, float]) -> None:
        nonlocal reached
        if math.isnan(reached) and stats["episodes"] >= 20 and stats["success_rate"] >= 0.9:
            reached = stats["frames"] + offset

    history = agent.learn(budget - offset, callback=watch, progress=False)
    final = history[-1]["success_rate"] if history else math.nan
    return {"frames_to_0.9": reached, "success_at_budget": final}


def run_go_explore(env_id: str, budget: int, seed: int) -> dict[str, float]:
    from sparsegym.agents import GoExplore

    ge = GoExplore(sparsegym.make(env_id), seed=seed)
    result = ge.learn(budget)
    return {"frames_to_0.9": float(result["frames"]) if result["success"] else math.nan,
            "success_at_budget": float(result["success"])}


def demo_lengths(env_ids: list[str], seeds: list[int], budget: int) -> None:
    """Print, per env and demonstration layout, the length of Go-Explore's best trajectory as found,
    with its loops cut out (what ``go-explore+bc2`` imitates), and the oracle's solution."""
    from sparsegym.agents import GoExplore
    from sparsegym.baselines import MiniGridOracle

    print(f"{'env':<42} {'layout':>6} {'found':>6} {'loops cut':>9} {'oracle':>6}")
    for env_id in env_ids:
        for layout in [base + s for s in seeds for base in (10_000, 20_000)]:
            env = sparsegym.make(env_id)
            ge = GoExplore(env, seed=layout)
            if not ge.learn(budget)["success"]:
                print(f"{env_id:<42} {layout:>6} {'not found':>6}")
                continue
            short = len(ge.shortened_actions())
            oracle = MiniGridOracle(env)
            obs, info = env.reset(seed=layout)
            oracle.reset(layout)
            steps, done = 0, False
            while not done:
                obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))
                steps, done = steps + 1, terminated or truncated
            print(f"{env_id:<42} {layout:>6} {len(ge.best_actions):>6} {short:>9} {steps:>6}", flush=True)


FIELDS = ["env", "method", "seed", "budget", "frames_to_0.9", "success_at_budget", "minutes"]


def _load(path: Path) -> list[dict]:
    return read_rows(path, floats=("frames_to_0.9", "success_at_budget", "minutes"), ints=("seed", "budget"))


def _save(path: Path, rows: list[dict]) -> None:
    write_rows(path, rows, FIELDS, key=lambda r: (r["env"], r["budget"], r["method"], r["seed"]))


def _plot(rows: list[dict], path: Path) -> None:
    """One panel per env in the file: each method's mean success at the largest budget it was run at,
    labelled with that budget and the number of seeds."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    envs = sorted({r["env"] for r in rows})
    if not envs:
        return
    fig, axes = plt.subplots(1, len(envs), figsize=(4.5 * len(envs), 4.2), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        methods = [m for m in ORDER if any(r["env"] == env_id and r["method"] == m for r in rows)]
        means, labels = [], []
        for m in methods:
            budget = max(r["budget"] for r in rows if r["env"] == env_id and r["method"] == m)
            vals = [r["success_at_budget"] for r in rows if r["env"] == env_id and r["method"] == m and r["budget"] == budget]
            means.append(sum(vals) / len(vals))
            labels.append(f"{m}\n{budget / 1e6:g}M, {len(vals)} seed{'s' if len(vals) > 1 else ''}")
        ax.bar(range(len(methods)), means, color=["0.7" if m in OLD else "C0" for m in methods])  # old rows grey
        ax.set_xticks(range(len(methods)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(env_id.split("/")[-1], fontsize=9)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("success at budget")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


NAMES = {"ppo": "PPO", "ppo+rnd": "PPO+RND", "ppo+e3b": "PPO+E3B", "ppo+noveld": "PPO+NovelD",
         "go-explore": "Go-Explore (archive)", "ppo+bc2": "PPO+2 oracle demos",
         "go-explore+bc2": "PPO+2 Go-Explore demos", **OLD}


def _split(method: str) -> tuple[str, str]:
    """``"ppo+e3b [int_coef=0.1]"`` -> ``("ppo+e3b", " [int_coef=0.1]")`` (a ``--config`` variant)."""
    base, sep, rest = method.partition(" [")
    return base, sep + rest


def _rank(method: str, order: dict[str, int]) -> float:
    base, variant = _split(method)
    return order.get(base, 99) + (0.5 if variant else 0.0)  # a variant follows its method


def _name(method: str) -> str:
    base, variant = _split(method)
    return NAMES.get(base, base) + variant


def table(rows: list[dict]) -> str:
    """The results as a markdown table: one line per env, method and budget, seeds in order."""
    def frames(x: float) -> str:
        return "-" if math.isnan(x) else f"{x / 1000:.0f}k"

    lines = ["| env | method | budget | seeds | frames to 0.9 success (per seed) | success at budget |",
             "|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["env"], r["method"], r["budget"]), []).append(r)
    order = {m: i for i, m in enumerate(ORDER)}
    envs = {e: i for i, e in enumerate(ENVS)}
    for (env_id, method, budget), runs in sorted(groups.items(), key=lambda kv: (
            envs.get(kv[0][0], 99), kv[0][0], _rank(kv[0][1], order), kv[0][1], kv[0][2])):
        runs = sorted(runs, key=lambda r: r["seed"])
        seeds = ", ".join(str(r["seed"]) for r in runs)
        if method.removesuffix(":old") == "go-explore":
            reach = "goal found after " + " / ".join(frames(r["frames_to_0.9"]) for r in runs)
            success = ""
        else:
            reach = " / ".join(frames(r["frames_to_0.9"]) for r in runs)
            success = " / ".join(f"{r['success_at_budget']:.2f}" for r in runs)
        lines.append(f"| {env_id.split('/')[-1].removeprefix('MiniGrid-').removesuffix('-v0')} | {_name(method)} "
                     f"| {budget / 1e6:g}M | {seeds} | {reach} | {success} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=ENVS)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--budget", type=int, default=3_000_000)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--rerun", action="store_true", help="repeat runs already in the results file")
    parser.add_argument("--demo-lengths", action="store_true",
                        help="only print the lengths of Go-Explore's demonstrations (as found, loops cut) and the oracle's")
    parser.add_argument("--merge", nargs="+", type=Path, default=[], metavar="DIR",
                        help="copy the rows of DIR/exploration.csv (runs made with another --out, e.g. in parallel) "
                             "into --out, replacing rows of the same env, method, seed and budget, then stop")
    parser.add_argument("--table", action="store_true", help="only print the results file as a markdown table")
    parser.add_argument("--config", nargs="+", default=[], metavar="FIELD=VALUE",
                        help="PPOConfig fields for the PPO methods (VALUE read as JSON, else as a string), e.g. "
                             "int_coef=0.1 intrinsic_recipe=two_heads; the rows' method reads METHOD [FIELD=VALUE ...]")
    args = parser.parse_args()
    overrides = {}
    if args.config:  # PPOConfig only then: --table and --merge need no torch
        from sparsegym.agents import PPOConfig

        fields = {f.name for f in dataclasses.fields(PPOConfig)} - {"seed", "device"}
    for item in args.config:
        name, sep, value = item.partition("=")
        if not sep or name not in fields:
            parser.error(f"--config takes FIELD=VALUE with a PPOConfig field, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    suffix = f" [{' '.join(args.config)}]" if args.config else ""
    if args.config and "go-explore" in args.methods:
        parser.error("--config applies to PPO methods; run go-explore without it")
    if args.merge or args.table:
        path = args.out / "exploration.csv"
        rows = _load(path)
        if args.merge:
            key = lambda r: (r["env"], r["method"], int(r["seed"]), int(r["budget"]))  # noqa: E731
            merged = {key(r): r for r in rows}
            for folder in args.merge:
                found = _load(folder / "exploration.csv")
                if not found:
                    parser.error(f"no results in {folder / 'exploration.csv'}")
                merged.update((key(r), r) for r in found)
            rows = list(merged.values())
            _save(path, rows)
            _plot(rows, args.out / "exploration.png")
            print(f"merged {len(args.merge)} folder(s) into {path}: {len(rows)} runs")
        if args.table:
            print(table(rows))
        return 0
    if args.demo_lengths:
        demo_lengths(args.envs, args.seeds, min(args.budget, 500_000))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "exploration.csv"
    rows = _load(path)
    key = lambda r: (r["env"], r["method"], int(r["seed"]), int(r["budget"]))  # noqa: E731
    print(f"{'env':<40} {'method':<12} {'seed':>4} {'frames to 0.9':>14} {'success at budget':>18} {'minutes':>8}")
    for env_id in args.envs:
        for base in args.methods:
            method = base + suffix
            for seed in args.seeds:
                done = [r for r in rows if key(r) == (env_id, method, seed, args.budget)]
                if done and not args.rerun:
                    r = done[-1]
                    print(f"{env_id:<40} {method:<12} {seed:>4} {r['frames_to_0.9']:>14,.0f} "
                          f"{r['success_at_budget']:>18.2f} {'(kept)':>8}", flush=True)
                    continue
                rows = [r for r in rows if key(r) != (env_id, method, seed, args.budget)]
                start = time.perf_counter()
                result = run_go_explore(env_id, args.budget, seed) if base == "go-explore" else \
                    run_ppo(env_id, base, args.budget, seed, overrides)
                row = {"env": env_id, "method": method, "seed": seed, "budget": args.budget, **result,
                       "minutes": (time.perf_counter() - start) / 60}
                rows.append(row)
                print(f"{env_id:<40} {method:<12} {seed:>4} {row['frames_to_0.9']:>14,.0f} "
                      f"{row['success_at_budget']:>18.2f} {row['minutes']:>8.1f}", flush=True)
                _save(path, rows)
    _plot(rows, args.out / "exploration.png")
    print(f"wrote {args.out / 'exploration.csv'} and {args.out / 'exploration.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
