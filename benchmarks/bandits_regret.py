"""Regret curves of every bandit agent on every registered bandit instance, over several seeds.

    python benchmarks/bandits_regret.py [--horizon 5000] [--seeds 3]

Writes ``benchmarks/results/bandits_regret.csv`` (cumulative regret every ``--every`` rounds) and
``bandits_regret.png``, and prints, measured in the run: the log-log slope of DynLin-UCB's regret
(fitted over the second half of the horizon; the paper's bound is of order sqrt(T), slope 0.5),
DynLin-UCB's final regret over LinUCB's on the rho = 0.9 instance, and the LSD online learner's slope.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

import sparsegym
from sparsegym.agents.bandits import (
    UCB1,
    DynLinOracle,
    DynLinUCB,
    GaussianThompson,
    LinUCB,
    LSDOptimistic,
    LSDPlanner,
)
from sparsegym.baselines import RandomAgent

DYNLIN_AGENTS = {"random": RandomAgent, "ucb1": UCB1, "thompson": GaussianThompson, "linucb": LinUCB,
                 "dynlin-ucb": DynLinUCB, "oracle": DynLinOracle}
LSD_AGENTS = {"random": RandomAgent, "greedy (known model)": lambda e: LSDPlanner(e, "greedy"),
              "cyclic (known model)": lambda e: LSDPlanner(e, "cyclic"), "dp (known model)": LSDPlanner,
              "optimistic (online)": LSDOptimistic}


def curve(env_id: str, make_agent, horizon: int, seed: int, every: int) -> np.ndarray:
    env = sparsegym.make(env_id, horizon=horizon)
    agent = make_agent(env)
    agent.reset(seed)
    obs, info = env.reset(seed=seed)
    points = []
    for t in range(1, horizon + 1):
        obs, _, _, _, info = env.step(agent.act(obs, info))
        if t % every == 0:
            points.append(info.get("cumulative_pseudo_regret", info.get("regret")))
    return np.asarray(points)


def slope(ts: np.ndarray, regret: np.ndarray) -> float:
    half = len(ts) // 2
    r = np.maximum(regret[half:], 1e-9)
    return float(np.polyfit(np.log(ts[half:]), np.log(r), 1)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--horizon", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ts = np.arange(args.every, args.horizon + 1, args.every)
    results: dict[tuple[str, str], np.ndarray] = {}
    for env_id in sparsegym.list_envs(family="bandits"):
        agents = DYNLIN_AGENTS if "DynLin" in env_id else LSD_AGENTS
        for name, make in agents.items():
            curves = [curve(env_id, make, args.horizon, s, args.every) for s in range(args.seeds)]
            results[env_id, name] = np.mean(curves, axis=0)
        finals = ", ".join(f"{n} {results[env_id, n][-1]:.0f}" for n in agents)
        print(f"{env_id}: final regret ({args.seeds} seeds, T={args.horizon}): {finals}", flush=True)

    with open(args.out / "bandits_regret.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "agent", *[f"t{t}" for t in ts]])
        for (env_id, name), values in results.items():
            writer.writerow([env_id, name, *[f"{v:.4f}" for v in values]])

    dyn_ids = [i for i in sparsegym.list_envs(family="bandits") if "DynLin" in i]
    print()
    for env_id in dyn_ids:
        print(f"DynLin-UCB regret slope on {env_id}: {slope(ts, results[env_id, 'dynlin-ucb']):.2f}")
    rho9 = "sparsegym/DynLinBandit-Rho09-v0"
    ratio = results[rho9, "dynlin-ucb"][-1] / results[rho9, "linucb"][-1]
    print(f"DynLin-UCB / LinUCB final regret on {rho9}: {ratio:.3f}")
    for env_id in (i for i in sparsegym.list_envs(family="bandits") if "LSD" in i):
        print(f"LSD online learner regret slope on {env_id}: {slope(ts, results[env_id, 'optimistic (online)']):.2f}")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 0
    ids = sparsegym.list_envs(family="bandits")
    cols = 4
    rows = (len(ids) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.6 * rows), squeeze=False)
    for ax, env_id in zip(axes.ravel(), ids):
        for (e, name), values in results.items():
            if e == env_id:
                ax.plot(ts, values, label=name)
        ax.set_title(env_id.split("/")[-1], fontsize=9)
        ax.set_xlabel("round")
        ax.set_ylabel("cumulative regret")
        ax.legend(fontsize=6)
    for ax in axes.ravel()[len(ids):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out / "bandits_regret.png", dpi=90)
    print(f"wrote {args.out / 'bandits_regret.csv'} and {args.out / 'bandits_regret.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
