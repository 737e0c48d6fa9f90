"""Global versus episodic count bonuses as the number of contexts grows (Henaff, Jiang and Raileanu,
ICML 2023, "A Study of Global and Episodic Bonuses for Exploration in Contextual MDPs", Section 4).

The claim: a global bonus (``1 / sqrt(N(s))`` over all training) works when episodes share structure
(few contexts; ``k = 1`` is a singleton MDP), an episodic one (the first-visit indicator, restarted each
episode) when every episode is new, and their product is robust across both. Here on MiniGrid
(MultiRoom-N4-S5 by default) with PPO, counting the agent's position (cell and heading,
``intrinsic_key="position"``), and each episode's layout seed drawn from a fixed pool of ``k`` seeds
(``num_contexts``; ``unlimited``: every episode a fresh seed).

Methods (``sparsegym.intrinsic`` names): ``episodic_counts``, ``global_counts``,
``global_x_episodic_counts``. ``--recipe paper`` (default) is the paper's learner for every method: the
bonus divided by a running std of the per-step bonus, and one value head on ``r + int_coef * r_int``
with episodic returns (``intrinsic_recipe="one_head"``). ``--recipe two_heads`` is the learner that
solved MultiRoom-N4-S5 with E3B in this project's exploration benchmark (two value heads, the bonus
divided by the std of its discounted return); it is not the paper's, and rows say which recipe made them
(the ``recipe`` column; rows written before it existed are ``paper``). ``int_coef`` is not tuned here
(``--int-coef``).

    python benchmarks/contexts.py --recipe two_heads --budget 500000 --seeds 0 1 2

Results accumulate in ``benchmarks/results/contexts.csv`` (one row per env, method, k, seed and budget,
written atomically after each run); a run already in the file is not repeated (``--rerun`` repeats it),
so an interrupted benchmark resumes. ``contexts.png`` plots success at budget and frames to 0.9 against
``k`` per method for the chosen budget (the paper's recipe; ``contexts_two_heads.png`` for the other); ``--table`` prints
the file as the README's table. Metric: PPO's success rate over its last 100 training episodes (episodes
of the training contexts, as in the paper), and the frames until it first reached 0.9.

What was run (the kept file). A smoke run (1,024 frames, one seed). The paper's recipe at 500,000 frames
in one context (``k = 1``, seed 0; 14 and 18 minutes on a shared machine): episodic counts 0.01, global
counts 0.00, so with its one value head and this ``int_coef`` neither bonus solves MultiRoom-N4-S5 even
when every episode is the same layout. The two-head recipe solves it in about 100,000 to 200,000 frames,
so the learner, not the budget, held the paper's recipe back, and the sweep was made with the two-head
recipe at 500,000 frames (5 to 7 minutes a run on 2 cores): ``k`` in 1, 3, 10 and unlimited with seeds
0, 1 and 2 (36 runs). Mean success over the seeds (median frames to 0.9; a run that never reached it
counts as the budget):

| k | episodic counts | global counts | product |
|---|---|---|---|
| 1 | 1.00 (97k) | 1.00 (179k) | 1.00 (92k) |
| 3 | 1.00 (98k) | 1.00 (153k) | 1.00 (105k) |
| 10 | 1.00 (122k) | 1.00 (264k) | 1.00 (116k) |
| unlimited | 1.00 (136k) | 0.00 (never) | 0.31 (never) |

Verdict on the paper's claim, on this task and learner. (1) The episodic bonus works when contexts never
repeat: confirmed (1.00 on every seed; global counts 0.00 on every seed). (2) The global bonus works when
contexts repeat: confirmed that it works (1.00 at ``k`` = 1, 3 and 10), refuted that it wins: the episodic
bonus was as good or faster at every ``k`` (median 97k against 179k frames at ``k = 1``, 122k against
264k at ``k = 10``). The global bonus does get slower as contexts grow past 3, the direction the paper
describes. (3) Their product is robust across ``k``: refuted here. It matches the episodic bonus while
contexts repeat (at ``k = 10`` it is the fastest of the three, 116k to 117k frames on every seed), and with
unlimited contexts it reached 0.88 on one seed of three (0.00 and 0.04 on the others). Why the product
fails where the episodic factor alone succeeds was not examined. ``int_coef`` was not tuned, the count
key is the agent's position (cell and heading), and MultiRoom-N4-S5 is one task.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

from _results_csv import read_rows, write_rows

ENV = "sparsegym/MiniGrid-MultiRoom-N4-S5-v0"
METHODS = ["episodic_counts", "global_counts", "global_x_episodic_counts"]
POOLS = ["1", "3", "10", "unlimited"]
RECIPES = {"paper": ("one_head", "step"), "two_heads": ("two_heads", "return")}  # (intrinsic_recipe, normalization)
FIELDS = ["env", "method", "k", "seed", "budget", "int_coef", "recipe", "frames_to_0.9", "success_at_budget",
          "episodes", "minutes"]


def run(env_id: str, method: str, k: str, budget: int, seed: int, int_coef: float, key: str,
        recipe: str = "paper") -> dict[str, float]:
    from sparsegym.agents import PPO, PPOConfig

    heads, normalization = RECIPES[recipe]
    config = PPOConfig(seed=seed, intrinsic=method, intrinsic_key=key, intrinsic_recipe=heads,
                       int_coef=int_coef, num_contexts=None if k == "unlimited" else int(k))
    agent = PPO(env_id, config)
    agent.intrinsic.normalization = normalization
    reached = math.nan

    def watch(stats: dict[str, float]) -> None:
        nonlocal reached
        if math.isnan(reached) and stats["episodes"] >= 20 and stats["success_rate"] >= 0.9:
            reached = stats["frames"]

    history = agent.learn(budget, callback=watch, progress=False)
    last = history[-1] if history else {}
    return {"frames_to_0.9": reached, "success_at_budget": float(last.get("success_rate", math.nan)),
            "episodes": float(last.get("episodes", 0))}


def _load(path: Path) -> list[dict]:
    rows = read_rows(path, floats=("frames_to_0.9", "success_at_budget", "episodes", "minutes", "int_coef"),
                     ints=("seed", "budget"))
    for r in rows:  # rows from before the recipe column were all made with the paper's learner
        r["recipe"] = r.get("recipe") or "paper"
    return rows


def _save(path: Path, rows: list[dict]) -> None:
    write_rows(path, rows, FIELDS, key=lambda r: (r["env"], r["recipe"], r["budget"], r["method"], POOLS.index(r["k"])
                                                  if r["k"] in POOLS else 99, r["k"], r["seed"]))


def _plot(rows: list[dict], budget: int, path: Path, recipe: str = "paper") -> None:
    """Two panels per env for the runs of one recipe at ``budget``, one line per method against the pool
    size: mean success at the budget, and median frames until success first reached 0.9 (a run that never
    did counts as the budget, drawn as a hollow dot). Each seed is a dot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = [r for r in rows if r["budget"] == budget and r["recipe"] == recipe]
    if not rows:
        return
    envs = sorted({r["env"] for r in rows})
    fig, axes = plt.subplots(2, len(envs), figsize=(7 * len(envs), 8), squeeze=False)
    for col, env_id in enumerate(envs):
        pools = [k for k in POOLS if any(r["k"] == k and r["env"] == env_id for r in rows)]
        success_ax, frames_ax = axes[0][col], axes[1][col]
        for i, method in enumerate(METHODS):
            xs, means, medians = [], [], []
            for x, k in enumerate(pools):
                runs = [r for r in rows if r["env"] == env_id and r["method"] == method and r["k"] == k
                        and not math.isnan(r["success_at_budget"])]
                if not runs:
                    continue
                at = x + 0.05 * (i - 1)  # the seeds' dots sit beside their mean, one column per method
                xs.append(x)
                vals = [r["success_at_budget"] for r in runs]
                means.append(sum(vals) / len(vals))
                success_ax.scatter([at] * len(vals), vals, s=10, alpha=0.5, color=f"C{i}")
                reached = [r["frames_to_0.9"] for r in runs]
                medians.append(statistics.median(budget if math.isnan(f) else f for f in reached))
                hit = [f for f in reached if not math.isnan(f)]
                frames_ax.scatter([at] * len(hit), hit, s=10, alpha=0.5, color=f"C{i}")
                missed = len(reached) - len(hit)
                frames_ax.scatter([at] * missed, [budget] * missed, s=14, facecolors="none", color=f"C{i}")
            success_ax.plot(xs, means, marker="o", color=f"C{i}", label=method)
            frames_ax.plot(xs, medians, marker="o", color=f"C{i}", label=method)
        seeds = len({r["seed"] for r in rows if r["env"] == env_id})
        for ax in (success_ax, frames_ax):
            ax.set_xticks(range(len(pools)), pools)
            ax.set_xlim(-0.5, len(pools) - 0.5)
            ax.set_xlabel("contexts (seed pool size k)")
            ax.legend(fontsize=7)
        success_ax.set_ylabel("success, last 100 training episodes (mean)")
        success_ax.set_ylim(-0.05, 1.05)
        success_ax.set_title(f"{env_id.split('/')[-1]}: {budget:,} frames, up to {seeds} seed(s) per point, {recipe} recipe",
                             fontsize=9)
        frames_ax.set_ylabel("frames to success 0.9 (median; never = budget)")
        frames_ax.set_ylim(0, budget * 1.05)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table(rows: list[dict]) -> str:
    """The results as a markdown table: one line per env, recipe, budget, method and pool size, seeds in
    order (the README renders the kept file with it)."""
    def frames(x: float) -> str:
        return "-" if math.isnan(x) else f"{x / 1000:.0f}k"

    lines = ["| env | recipe | budget | method | k | seeds | success at budget (per seed) | mean "
             "| frames to 0.9 (per seed) |", "|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["env"], r["recipe"], r["budget"], r["method"], r["k"]), []).append(r)

    def order(key: tuple) -> tuple:
        env_id, recipe, budget, method, k = key
        return (env_id, recipe, budget, METHODS.index(method) if method in METHODS else 99, method,
                POOLS.index(k) if k in POOLS else 99, k)

    for key in sorted(groups, key=order):
        env_id, recipe, budget, method, k = key
        runs = sorted(groups[key], key=lambda r: r["seed"])
        success = [r["success_at_budget"] for r in runs]
        mean = sum(success) / len(success)
        lines.append(f"| {env_id.split('/')[-1].removeprefix('MiniGrid-').removesuffix('-v0')} | {recipe} "
                     f"| {budget:,} | {method} | {k} | {', '.join(str(r['seed']) for r in runs)} "
                     f"| {' / '.join(f'{s:.2f}' for s in success)} | {mean:.2f} "
                     f"| {' / '.join(frames(r['frames_to_0.9']) for r in runs)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=[ENV])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--pools", nargs="+", default=POOLS, help="seed pool sizes k (integers or 'unlimited')")
    parser.add_argument("--budget", type=int, default=2_000_000, help="training frames per run")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--int-coef", type=float, default=0.1, help="weight of the normalised bonus (not tuned)")
    parser.add_argument("--key", default="position", help="state key the counts read (a family key name)")
    parser.add_argument("--recipe", default="paper", choices=sorted(RECIPES),
                        help="the learner: the paper's (one head, per-step std) or two heads with return std")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--rerun", action="store_true", help="repeat runs already in the results file")
    parser.add_argument("--table", action="store_true", help="only print the results file as a markdown table")
    args = parser.parse_args()
    for k in args.pools:
        if k != "unlimited" and not (k.isdigit() and int(k) > 0):
            parser.error(f"a pool size is a positive integer or 'unlimited', got {k!r}")
    path = args.out / "contexts.csv"
    if args.table:
        print(table(_load(path)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    rows = _load(path)
    ident = lambda r: (r["env"], r["method"], str(r["k"]), int(r["seed"]), int(r["budget"]), float(r["int_coef"]),  # noqa: E731
                       r["recipe"])
    jobs = [(e, m, k, s) for e in args.envs for k in args.pools for m in args.methods for s in args.seeds]
    try:
        from tqdm import tqdm
    except ImportError:  # the benchmark runs without tqdm, printing each run
        tqdm = None
    bar = tqdm(jobs, desc="contexts", unit="run") if tqdm is not None else jobs
    for env_id, method, k, seed in bar:
        this = (env_id, method, k, seed, args.budget, args.int_coef, args.recipe)
        if any(ident(r) == this for r in rows) and not args.rerun:
            continue
        rows = [r for r in rows if ident(r) != this]
        start = time.perf_counter()
        result = run(env_id, method, k, args.budget, seed, args.int_coef, args.key, args.recipe)
        row = {"env": env_id, "method": method, "k": k, "seed": seed, "budget": args.budget,
               "int_coef": args.int_coef, "recipe": args.recipe, **result,
               "minutes": (time.perf_counter() - start) / 60}
        rows.append(row)
        _save(path, rows)
        line = (f"{env_id.split('/')[-1]:<28} {args.recipe:<9} {method:<26} k={k:<9} seed={seed} success={row['success_at_budget']:.2f} "
                f"frames_to_0.9={row['frames_to_0.9']:,.0f} ({row['minutes']:.1f} min)")
        (bar.write if tqdm is not None else print)(line)
    figure = args.out / ("contexts.png" if args.recipe == "paper" else f"contexts_{args.recipe}.png")
    _plot(rows, args.budget, figure, args.recipe)
    print(f"wrote {path} and {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
