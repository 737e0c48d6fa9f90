"""Text agents: success against env turns for every registered text-RL algorithm, at equal episode budgets.

Each algorithm of ``sparsegym.agents.text.algos.available()`` trains the default small policy (the
``ActionScorer``, from scratch, CPU) with ``TextRLTrainer`` for the same number of episodes (groups of 8
episodes, one group per iteration) on each env, once per training seed. The envs are pinned TextWorld
games (``game_seed``) on which the uniform random policy seldom succeeds:

* ``TreasureHunter-L10-g0``: TreasureHunter level 10, game 0 (find and take the named object among
  distractors; taking a wrong one loses; 5-step walkthrough, 100-turn limit). Harder for random than the
  CI's game 2; level 20 (game 1: random about 0.1, 10-step walkthrough) was measured too costly (about 100
  turns per episode) and GRPO stayed at random's level after 300 episodes;
* ``CoinCollector-L10-g0``: CoinCollector level 10, game 0 (a chain of rooms, 10-step walkthrough, 50-turn
  limit; the registered CoinCollector id is level 5, where random already succeeds about half the time).

Not run by default (``--envs``/``--algos``): ``ALFWorld-PnP-8`` (pick-and-place on 8 generated games) and
``WebShop-Train`` (the shipped catalog's training goals, a new goal per group, with ``InstructionSearch``),
where the task changes from group to group; ``Cooking-R1-g0``, the smallest cooking game, for the turn-reward
controls (``grpo:sparse``, ``grpo:direct``, ``grpo:gated``); and the language-model policy, ``grpo@lm`` and
``gigpo@lm`` (``CausalLMPolicy`` scoring the admissible actions with the tests' tiny random Llama, trained
from scratch, ``LM_POLICY``).

Each algorithm runs with the settings its notes found to work on these envs and otherwise the trainer's
defaults (``ALGO_SETTINGS``): SPA with ``beta=0`` (TextWorld never refuses an admissible action, so the
grounding bonus only pays for long episodes), ppo-text with 4 epochs at lr 1e-2, ARPO with
``per_task=false`` (a pinned game: every task seed plays the same game). Success is the training success
rate over the latest 32 episodes (the sampled policy, as ``StopOnSuccess`` sees it); "episodes to 0.8"
is when that rate first reaches 0.8. The uniform random policy and the family's oracle (the game's
walkthrough) are played on the same game for scale, and the table sets GiGPO's final success beside
GRPO's.

    python benchmarks/text_agents.py --seeds 0 1 2 --episodes 320
    python benchmarks/text_agents.py --envs WebShop-Train --seeds 0 1 2
    python benchmarks/text_agents.py --envs Cooking-R1-g0 --algos grpo grpo:sparse grpo:direct grpo:gated --episodes 960
    python benchmarks/text_agents.py --envs TreasureHunter-L10-g0 --algos grpo@lm gigpo@lm
    python benchmarks/text_agents.py --quick          # smoke run, about 2 minutes, written to a temp folder
    python benchmarks/text_agents.py --table          # the table again, from the CSV

Per-iteration curves go to ``benchmarks/results/text_agents.csv`` (written after each run; a run already
there with the same budget is not repeated, so an interrupted benchmark resumes; a process rewrites its
whole CSV, so runs made side by side take separate ``--out`` folders, joined after with ``--merge``), the table to
``text_agents.txt`` and the curves (mean and min-max band over seeds, against env turns) to
``text_agents.png``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _results_csv import read_rows, write_rows

RESULTS = Path(__file__).resolve().parent / "results"
ENVS: dict[str, tuple[str, dict]] = {
    "TreasureHunter-L10-g0": ("sparsegym/TextWorld-TreasureHunter-L10-v0", {"game_seed": 0}),
    "CoinCollector-L10-g0": ("sparsegym/TextWorld-CoinCollector-L5-v0",
                             {"settings": {"level": 10}, "game_seed": 0}),
    # tw-simple pays a point for each step of its quest (max score above 1), so dense and sparse turn rewards
    # differ there: the env of the reward comparisons (REWARD_VARIANTS), not run by default.
    "Simple-g0": ("sparsegym/TextWorld-Simple-v0", {"game_seed": 0}),
    # The smallest First TextWorld Problems game (one ingredient in a one-room-away kitchen, no cutting or
    # cooking): a point for taking the ingredient, preparing the meal and eating it (max score 3; random
    # success about 0.1). Random already scores 1-2, so the turn-reward comparison can see learning here.
    "Cooking-R1-g0": ("sparsegym/TextWorld-Cooking-v0",
                      {"settings": {"recipe": 1, "take": 1, "go": 1, "open": False, "cook": False, "cut": False},
                       "game_seed": 0}),
    # ALFWorld pick-and-place on 8 generated games (the reset seed picks one; 50-turn limit, as ALFWorld
    # evaluates), and WebShop on the shipped catalog's training goals (a new goal for every group, 15-turn
    # limit) with the instruction offered as the search query (InstructionSearch: the scorer cannot write one).
    "ALFWorld-PnP-8": ("sparsegym/ALFWorld-PickAndPlace-v0", {"num_games": 8}),
    "WebShop-Train": ("sparsegym/WebShop-Train-v1", {}),
}
# Wrappers the env needs for this benchmark's policies (applied to the training, random and oracle envs).
ENV_WRAPPERS: dict[str, list] = {"WebShop-Train": ["InstructionSearch"]}
DEFAULT_ENVS = ["TreasureHunter-L10-g0", "CoinCollector-L10-g0"]
NEEDS_LM = ("hiper",)  # algorithms whose policy must be a language model
# Per-algorithm settings (TextRLConfig fields) where the defaults are known not to suit these envs.
ALGO_SETTINGS: dict[str, dict] = {
    "spa": {"algo_kwargs": {"beta": 0.0}},  # DOCS_NOTES_spa.md: beta=0.5 collapses on TextWorld
    "ppo-text": {"update_epochs": 4, "learning_rate": 1e-2},  # DOCS_NOTES_gigpo.md: defaults did not learn
    "arpo": {"algo_kwargs": {"per_task": False}},  # a pinned game: replay across task seeds
}
# Controls, not run by default (--algos NAME): a registered algorithm under other settings. "+e4" is
# ppo-text's update (4 epochs, lr 1e-2), to tell the critic's effect from that of more and larger steps.
VARIANTS: dict[str, tuple[str, dict]] = {
    "grpo+e4": ("grpo", {"update_epochs": 4, "learning_rate": 1e-2}),
    "gigpo+e4": ("gigpo", {"update_epochs": 4, "learning_rate": 1e-2}),
}
# The language-model policy ("@lm"): CausalLMPolicy in score mode on tiny_causal_lm(seed) (a random 0.1 M-parameter
# Llama from scratch, the tests' model), mean token log-probability per action (summed scores all but fix a
# random model on the shortest action: 0/32 successes in a first try), the last 2 turns of history, lr 1e-3.
LM_POLICY = {"mode": "score", "score_norm": "mean", "history_window": 2}
VARIANTS.update({f"{algo}@lm": (algo, {"policy": "tiny-lm", "learning_rate": 1e-3}) for algo in ("grpo", "gigpo")})
# Turn rewards, on Simple-g0 (docs/text_rl.md, "Step rewards"): the env's dense score changes (the plain
# algorithm name), success only, success plus score steps paid at once ("direct", D-RA), and the same score steps
# paid only when the episode succeeds ("gated", G-RA).
_STEPS = {"wrapper": "ScoreReward", "scale": 0.1}
REWARD_VARIANTS: dict[str, tuple[str, dict]] = {
    f"{algo}:{mode}": (algo, settings)
    for algo in ("grpo", "gigpo")
    for mode, settings in (("sparse", {"env_kwargs": {"reward": "sparse"}}),
                           ("direct", {"env_kwargs": {"reward": "sparse"}, "env_wrappers": [_STEPS]}),
                           ("gated", {"env_kwargs": {"reward": "sparse"}, "env_wrappers": [_STEPS, "GatedReward"]}))
}
VARIANTS.update(REWARD_VARIANTS)
GROUP = 8
WINDOW = 32  # episodes the success rate is measured over
THRESHOLD = 0.8
FIELDS = ["env", "algo", "seed", "budget", "iteration", "episodes", "frames", "batch_success", "success_rate",
          "wall_s", "episode_return"]  # episode_return: mean over the latest WINDOW episodes (blank in older rows)
BASELINES = ("random", "oracle")


# ------------------------------------------------------------------------------------------------------
# Running


def _torch_one_thread():
    import torch

    torch.set_num_threads(1)
    return torch


def _make(name: str):
    """The benchmark's env ``name``, in the wrappers it needs (ENV_WRAPPERS)."""
    import gymnasium as gym

    import sparsegym  # noqa: F401
    from sparsegym.wrappers.stack import apply_wrappers

    env_id, kwargs = ENVS[name]
    return apply_wrappers(gym.make(env_id, **kwargs), ENV_WRAPPERS.get(name))


def play_random(name: str, episodes: int) -> dict:
    """The uniform policy over the admissible actions, ``episodes`` episodes from task seeds 0, 1, ..."""
    from sparsegym.agents.text import UniformPolicy, collect

    torch = _torch_one_thread()
    envs = [_make(name) for _ in range(GROUP)]
    start = time.perf_counter()
    try:
        trajs = collect(envs, UniformPolicy(), task_seeds=list(range(math.ceil(episodes / GROUP))),
                        group_size=GROUP, generator=torch.Generator().manual_seed(0))
    finally:
        for env in envs:
            env.close()
    wall = time.perf_counter() - start
    return {"episodes": len(trajs), "frames": sum(t.length for t in trajs),
            "success": float(np.mean([t.success for t in trajs])), "wall_s": wall,
            "return": float(np.mean([t.episode_return for t in trajs]))}


def play_oracle(name: str, episodes: int) -> dict:
    """The family's oracle (``Family.oracle``: TextWorld's walkthrough player) on the same game."""
    from sparsegym.envs.family import get_family, load_ref
    from sparsegym.envs.registry import get_entry

    env_id, _ = ENVS[name]
    env = _make(name)
    oracle = load_ref(get_family(get_entry(env_id).family).oracle)(env)
    frames, wins, total = 0, 0, 0.0
    start = time.perf_counter()
    try:
        for seed in range(episodes):
            oracle.reset(seed)
            obs, info = env.reset(seed=seed)
            done = False
            while not done:
                obs, reward, terminated, truncated, info = env.step(oracle.act(obs, info))
                frames += 1
                total += float(reward)
                done = terminated or truncated
            wins += bool(info.get("success"))
    finally:
        env.close()
    return {"episodes": episodes, "frames": frames, "success": wins / episodes, "return": total / episodes,
            "wall_s": time.perf_counter() - start}


def train(name: str, algo: str, seed: int, episodes: int) -> list[dict]:
    """One training run; its per-iteration rows (FIELDS)."""
    _torch_one_thread()
    from sparsegym.agents.text import TextRLConfig, TextRLTrainer

    env_id, kwargs = ENVS[name]
    base, settings = VARIANTS.get(algo, (algo, ALGO_SETTINGS.get(algo, {})))
    settings = dict(settings)
    env_kwargs = {**kwargs, **settings.pop("env_kwargs", {})}
    wrappers = ENV_WRAPPERS.get(name, []) + settings.pop("env_wrappers", [])
    policy = None
    if settings.pop("policy", None) == "tiny-lm":
        from sparsegym.agents.text.lm_policy import CausalLMPolicy, tiny_causal_lm

        policy = CausalLMPolicy(*tiny_causal_lm(seed=seed), **LM_POLICY)
    config = TextRLConfig(algo=base, group_size=GROUP, seed=seed, env_kwargs=env_kwargs, stats_window=WINDOW,
                          env_wrappers=wrappers, **settings)
    trainer = TextRLTrainer(env_id, policy=policy, config=config)
    rows: list[dict] = []
    start = time.perf_counter()

    def record(stats: dict) -> None:
        rows.append({"env": name, "algo": algo, "seed": seed, "budget": episodes,
                     "iteration": int(stats["iteration"]), "episodes": int(stats["episodes"]),
                     "frames": int(stats["frames"]), "batch_success": round(stats["batch_success"], 4),
                     "success_rate": round(stats["success_rate"], 4),
                     "wall_s": round(time.perf_counter() - start, 2),
                     "episode_return": round(stats["episode_return"], 4)})

    try:
        trainer.learn(episodes, callbacks=record, progress=False)
    finally:
        trainer.close()
    return rows


# ------------------------------------------------------------------------------------------------------
# The CSV (one row per iteration; random and oracle: one row each, iteration 0)


def load(path: Path) -> list[dict]:
    # episode_return is blank (NaN) in runs recorded before the column existed; the others are never blank
    return read_rows(path, ints=("seed", "budget", "iteration", "episodes", "frames"),
                     floats=("batch_success", "success_rate", "wall_s", "episode_return"), blank_is_nan=True)


def save(path: Path, rows: list[dict]) -> None:
    write_rows(path, rows, FIELDS)


def runs(rows: list[dict]) -> dict[tuple[str, str, int], list[dict]]:
    """Rows grouped by (env, algo, seed), in iteration order."""
    out: dict[tuple[str, str, int], list[dict]] = {}
    for r in rows:
        out.setdefault((r["env"], r["algo"], r["seed"]), []).append(r)
    for curve in out.values():
        curve.sort(key=lambda r: r["iteration"])
    return out


# ------------------------------------------------------------------------------------------------------
# Reporting


def _reached(curve: list[dict]) -> int | None:
    for r in curve:
        if r["episodes"] >= WINDOW and r["success_rate"] >= THRESHOLD:
            return r["episodes"]
    return None


def _mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.2f}±{np.std(values):.2f}" if values else "-"


def summary(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (env, algo): final success per seed, episodes to 0.8 per seed, success over the whole run
    (mean of batch_success: the area under the curve), turns and turns/s."""
    out: dict[tuple[str, str], dict] = {}
    for (env, algo, seed), curve in runs(rows).items():
        s = out.setdefault((env, algo), {"seeds": [], "final": [], "reached": [], "auc": [], "frames": [],
                                         "wall": [], "returns": [], "budget": curve[-1]["budget"]})
        s["returns"].append(curve[-1]["episode_return"])
        s["seeds"].append(seed)
        s["final"].append(curve[-1]["success_rate"])
        s["reached"].append(_reached(curve) if algo not in BASELINES else None)
        s["auc"].append(float(np.mean([r["batch_success"] for r in curve])))
        s["frames"].append(curve[-1]["frames"])
        s["wall"].append(curve[-1]["wall_s"])
    return out


def table(rows: list[dict]) -> str:
    stats = summary(rows)
    envs = list(dict.fromkeys(r["env"] for r in rows))
    header = ["env", "algo", "seeds", "episodes", "final success", "final return", "mean success",
              "episodes to 0.8", "turns", "turns/s"]
    lines = [header]
    for env in envs:
        algos = [a for (e, a) in stats if e == env]
        order = [a for a in algos if a not in BASELINES] + [a for a in BASELINES if a in algos]
        for algo in order:
            s = stats[(env, algo)]
            reached = ", ".join("-" if x is None else str(x) for x in s["reached"])
            returns = "-" if any(math.isnan(x) for x in s["returns"]) else _mean_std(s["returns"])
            lines.append([env, algo, str(len(s["seeds"])), str(s["budget"]), _mean_std(s["final"]), returns,
                          _mean_std(s["auc"]), "n/a" if algo in BASELINES else reached,
                          f"{np.mean(s['frames']):.0f}", f"{sum(s['frames']) / max(sum(s['wall']), 1e-9):.0f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [" | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    side = []
    for env in envs:
        rand, orc = stats.get((env, "random")), stats.get((env, "oracle"))
        scale = []
        if rand:
            scale.append(f"random {rand['final'][0]:.2f}")
        if orc:
            scale.append(f"oracle {orc['final'][0]:.2f}")
        for gname, rname in (("gigpo", "grpo"), ("gigpo+e4", "grpo+e4"), ("gigpo@lm", "grpo@lm")):
            g, r = stats.get((env, gname)), stats.get((env, rname))
            if not (g and r):
                continue
            ratio = np.mean(g["final"]) / np.mean(r["final"]) if np.mean(r["final"]) > 0 else math.nan
            side.append(f"{env}: {gname} over {rname}, final success {_mean_std(g['final'])} / "
                        f"{_mean_std(r['final'])} = {ratio:.2f} at {g['budget']} episodes; mean success "
                        f"{_mean_std(g['auc'])} / {_mean_std(r['auc'])}; episodes to 0.8 "
                        f"[{', '.join('-' if x is None else str(x) for x in g['reached'])}] / "
                        f"[{', '.join('-' if x is None else str(x) for x in r['reached'])}]"
                        + (f"; for scale: {', '.join(scale)}" if scale else ""))
    title = "GiGPO beside GRPO, equal budgets (seeds in the same order):"
    out = "\n".join(text) + f"\n\n{title}\n" + "\n".join(f"* {s}" for s in side)
    rewards = []
    for env in envs:
        for algo in ("grpo", "gigpo"):
            modes = [(m, stats.get((env, algo if m == "dense" else f"{algo}:{m}")))
                     for m in ("dense", "sparse", "direct", "gated")]
            if sum(s is not None for _, s in modes) < 2:
                continue
            cells = [f"{m} {_mean_std(s['final'])} (mean {_mean_std(s['auc'])})" for m, s in modes if s is not None]
            rewards.append(f"{env}, {algo}: final success (mean success over the run): " + "; ".join(cells))
    if rewards:
        out += ("\n\nTurn rewards, equal budgets (dense: the env's score changes; sparse: success only; direct: "
                "success plus 0.1 x score steps at once; gated: the same steps paid only on success, G-RA):\n"
                + "\n".join(f"* {r}" for r in rewards))
    return out


def checkpoints(path: Path, at: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)) -> str:
    """Markdown: mean success rate (latest 32 episodes) over seeds at fractions of the episode budget,
    per env and algorithm (benchmarks/README.md renders the CSV with this)."""
    rows = load(path)
    curves = runs(rows)
    header = "| env | algo | " + " | ".join(f"success @{int(f * 100)}%" for f in at) + " |"
    out = [header, "|" + "---|" * (2 + len(at))]
    keys = list(dict.fromkeys((e, a) for (e, a, _) in curves if a not in BASELINES))
    for env, algo in keys:
        seeds = [c for (e, a, _), c in curves.items() if (e, a) == (env, algo)]
        cells = []
        for f in at:
            vals = []
            for c in seeds:
                target = f * c[-1]["budget"]
                vals.append(next((r["success_rate"] for r in c if r["episodes"] >= target), c[-1]["success_rate"]))
            cells.append(f"{np.mean(vals):.2f}")
        out.append(f"| {env} | {algo} | " + " | ".join(cells) + " |")
    budgets = sorted({r["budget"] for r in rows if r["algo"] not in BASELINES})
    return (f"{len(rows)} rows (one per iteration of {GROUP} episodes); mean success rate over the latest "
            f"{WINDOW} episodes, over seeds, at fractions of the budget ({', '.join(map(str, budgets))} episodes):"
            "\n\n" + "\n".join(out))


def plot(rows: list[dict], path: Path) -> None:
    """Success against env turns per env: one line per algorithm (mean over seeds) and a min-max band. A
    run that used fewer turns than the others keeps its last value up to the longest run's turns."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = runs(rows)
    envs = list(dict.fromkeys(r["env"] for r in rows))
    cols = min(3, len(envs))
    nrows = math.ceil(len(envs) / cols)
    fig, grid = plt.subplots(nrows, cols, figsize=(6 * cols, 4.6 * nrows), squeeze=False)
    axes = list(grid.flat)
    for ax in axes[len(envs):]:
        ax.set_visible(False)
    handles: dict[str, object] = {}
    every = list(dict.fromkeys(a for (_, a, _) in curves if a not in BASELINES))  # one colour per algorithm
    for ax, env in zip(axes, envs):
        algos = list(dict.fromkeys(a for (e, a, _) in curves if e == env and a not in BASELINES))
        seen: dict[tuple, str] = {}
        for algo in algos:
            seeds = [c for (e, a, _), c in curves.items() if (e, a) == (env, algo)]
            key = tuple(tuple((r["frames"], r["success_rate"]) for r in c) for c in seeds)
            label = f"{algo} ({len(seeds)} seeds)"
            if key in seen:  # identical curves hide one another; say so
                label += f", same as {seen[key]}"
            seen.setdefault(key, algo)
            grid = np.linspace(0, max(c[-1]["frames"] for c in seeds), 240)[1:]
            ys = np.stack([np.interp(grid, [r["frames"] for r in c], [r["success_rate"] for r in c],
                                     left=np.nan) for c in seeds])
            color = f"C{every.index(algo) % 10}"
            style = "--" if algo in VARIANTS else "-"
            with warnings.catch_warnings():  # before a run's first iteration its curve is NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, low, high = np.nanmean(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)
            (line,) = ax.plot(grid, mean, color=color, linestyle=style, label=label)
            ax.fill_between(grid, low, high, color=color, alpha=0.12, linewidth=0)
            handles.setdefault(label, line)
        for algo, style in (("random", ":"), ("oracle", "--")):
            c = [c for (e, a, _), c in curves.items() if (e, a) == (env, algo)]
            if c:
                level = c[0][-1]["success_rate"]
                handles.setdefault(algo, ax.axhline(level, color="black", linestyle=style, linewidth=1))
        ax.set_title(env)
        ax.set_xlabel("env turns")
        ax.set_ylabel(f"success (latest {WINDOW} episodes)")
        ax.set_ylim(-0.02, 1.05)
        ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="center right", fontsize=8, frameon=False)
    fig.suptitle("Text-RL algorithms, ActionScorer policy (@lm: the tiny causal LM): mean and min-max over "
                 "training seeds (a finished run holds its last value)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def header(args: argparse.Namespace, rows: list[dict], left_out: list[str]) -> str:
    lines = ["Text-RL algorithms on text envs (python benchmarks/text_agents.py): ActionScorer policy from scratch "
             f"(rows '@lm': CausalLMPolicy {LM_POLICY} on tiny_causal_lm(seed), from scratch), CPU, torch threads 1.",
             f"Group size {GROUP}, one group per iteration; success = training success rate over the latest "
             f"{WINDOW} episodes ('final return': their mean return, the rewards the run trained on; '-' for runs "
             "recorded before it was kept); 'mean success' = mean batch success over the whole run (area under the curve);",
             "'episodes to 0.8' per seed ('-': not within the budget). Settings that differ from the trainer's "
             "defaults: " + "; ".join(f"{a} {s}" for a, s in ALGO_SETTINGS.items()
                                      if any(r["algo"] == a for r in rows)) + ".",
             "Envs: " + "; ".join(f"{n} = {i} {k}" for n, (i, k) in ENVS.items()
                                  if any(r["env"] == n for r in rows)) + ".",
             "turns/s is wall time on a shared 2-core machine with other benchmarks running side by side (up to six "
             "processes): it says what a run cost here, not how fast the code is (text_rl_throughput measures that)."]
    shown = [f"{v} = {a} {s}" for v, (a, s) in VARIANTS.items() if any(r["algo"] == v for r in rows)]
    if shown:
        lines.append("Controls: " + "; ".join(shown) + ".")
    if left_out:
        lines.append("Left out of this configuration: " + "; ".join(left_out) + ".")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------


def main() -> int:
    from sparsegym.agents.text.algos import available

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=DEFAULT_ENVS, choices=list(ENVS))
    parser.add_argument("--algos", nargs="+", default=None,
                        help=f"default: every registered one that the ActionScorer can play (not {NEEDS_LM}); "
                             f"controls: {list(VARIANTS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=320, help="training episodes per run (equal for all)")
    parser.add_argument("--baseline-episodes", type=int, default=128, help="episodes of random and oracle")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 16 episodes, 8 baseline episodes, into a temp folder")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--rerun", action="store_true", help="repeat runs already in the CSV")
    parser.add_argument("--table", action="store_true", help="print the table from the CSV and exit")
    parser.add_argument("--merge", nargs="+", type=Path, default=[], metavar="CSV",
                        help="take the runs of these CSVs (other --out folders' text_agents.csv, e.g. of runs made "
                             "side by side) into this one, replacing runs of the same env, algo and seed; then "
                             "write the table and plot and exit")
    parser.add_argument("--left-out", nargs="*", default=[], help="what this configuration leaves out (header)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import sparsegym

    here = Path(__file__).resolve().parent.parent
    if Path(sparsegym.__file__).resolve().parent.parent != here:  # e.g. an editable install of another checkout
        print(f"warning: sparsegym is imported from {Path(sparsegym.__file__).parent}, not from this checkout "
              f"({here}); set PYTHONPATH={here} to measure this checkout's code", file=sys.stderr)
    # HiPER writes its turns (switch, sub-goal, action) with a language model (HiPERPolicy); the ActionScorer
    # cannot play it, and a causal LM that learns the format is beyond this CPU (docs/text_rl.md).
    algos = args.algos or [a for a in available() if a not in NEEDS_LM]
    unknown = sorted(set(algos) - set(available()) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown algorithms {unknown}; registered: {available()}; controls: {list(VARIANTS)}")
    if args.quick:
        args.seeds, args.episodes, args.baseline_episodes = args.seeds[:1], 16, 8
        args.out = args.out or Path(tempfile.gettempdir()) / "text_agents_quick"
    out = args.out or RESULTS
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "text_agents.csv"
    rows = load(csv_path)
    if args.table:
        print(table(rows))
        return 0
    if args.merge:
        for other in args.merge:
            new = load(other)
            if not new:
                parser.error(f"--merge: {other} has no rows")
            keys = {(r["env"], r["algo"], r["seed"]) for r in new}
            rows = [r for r in rows if (r["env"], r["algo"], r["seed"]) not in keys] + new
            print(f"merged {len(keys)} runs from {other}")
        save(csv_path, rows)

    done = {k for k, c in runs(rows).items() if c[-1]["budget"] == args.episodes or k[1] in BASELINES}
    todo = [(env, "random", 0) for env in args.envs] + [(env, "oracle", 0) for env in args.envs]
    # seed-major, so that an interrupted benchmark leaves whole seeds of every algorithm and env
    todo += [(env, algo, seed) for seed in args.seeds for env in args.envs for algo in algos]
    if not args.rerun:
        todo = [k for k in todo if k not in done]
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None
    if args.merge:
        todo = []
    bar = tqdm(todo, desc="text_agents", unit="run", file=sys.stdout) if tqdm else todo
    for env, algo, seed in bar:
        if tqdm:
            bar.set_postfix_str(f"{env} {algo} seed {seed}")
        if algo in BASELINES:
            res = (play_random if algo == "random" else play_oracle)(env, args.baseline_episodes)
            new = [{"env": env, "algo": algo, "seed": seed, "budget": res["episodes"], "iteration": 0,
                    "episodes": res["episodes"], "frames": res["frames"], "batch_success": round(res["success"], 4),
                    "success_rate": round(res["success"], 4), "wall_s": round(res["wall_s"], 2),
                    "episode_return": round(res["return"], 4)}]
        else:
            new = train(env, algo, seed, args.episodes)
        rows = [r for r in rows if (r["env"], r["algo"], r["seed"]) != (env, algo, seed)] + new
        save(csv_path, rows)
    text = header(args, rows, args.left_out) + "\n\n" + table(rows) + "\n"
    (out / "text_agents.txt").write_text(text)
    plot(rows, out / "text_agents.png")
    print(text)
    print(f"wrote {csv_path}, {out / 'text_agents.txt'}, {out / 'text_agents.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
