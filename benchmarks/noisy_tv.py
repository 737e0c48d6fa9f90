"""How much intrinsic reward each module pays a noisy TV, against ordinary novel states.

Data come from a random policy on ``sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0``, whose extra action
("watch tv") fills the view with random codes. Each module trains for the same budget of updates on
transitions from training seeds; then we measure its mean bonus on

* **tv**: fresh "watch tv" transitions (new noise) from held-out seeds;
* **novel**: ordinary transitions of a task never trained on (KeyCorridorS3R3: new rooms, doors, balls);
* **held-out**: ordinary transitions from held-out DoorKey seeds (new layouts of the trained task);
* **seen**: ordinary transitions it trained on.

A curiosity that the TV traps pays ``tv`` far above ``novel``; a noise-robust one pays the TV no more
than genuinely new states, while still paying new states more than seen ones (``novel / seen`` above 1:
otherwise the bonus has stopped measuring novelty at all). The table prints ``tv / novel``,
``tv / seen`` and ``novel / seen`` for each module.

``hindsight_code_mmd`` is sparsegym's gated hindsight code with an MMD independence penalty: an idea
taken from "Curiosity in Hindsight" (Jarrett et al., ICML 2023) but not its BYOL-Hindsight (no
BYOL-Explore base, a fixed random target, an MMD penalty in place of the learned critic), so its row
says nothing about the paper's method. ``aleatoric`` is AMA with our defaults (``eta = 2``, clipped at
zero); ``aleatoric_authors`` is the authors' preset (``eta = 1``, unclipped).

    python benchmarks/noisy_tv.py [--updates 400] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sparsegym
from sparsegym.wrappers.vector import flatten_batch

ENV = "sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0"
TV = 7


def collect(seeds: range, steps: int, tv_prob: float, rng: np.random.Generator, env_id: str = ENV):
    env = sparsegym.make(env_id)
    space = env.observation_space
    rows = {"obs": [], "next_obs": [], "action": []}
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        for _ in range(steps):
            a = TV if rng.random() < tv_prob else int(rng.integers(0, 7))
            nxt, _, term, trunc, _ = env.step(a)
            rows["obs"].append(obs)
            rows["next_obs"].append(nxt)
            rows["action"].append(a)
            obs = nxt
            if term or trunc:
                obs, _ = env.reset()
    n = len(rows["action"])
    stack = lambda key: flatten_batch(space, {k: np.stack([o[k] for o in rows[key]]) for k in space.spaces}, n)  # noqa: E731
    return {"obs": stack("obs"), "next_obs": stack("next_obs"), "action": np.asarray(rows["action"])}


def subset(data: dict, mask: np.ndarray) -> dict:
    return {k: v[mask] for k, v in data.items()}


def run(name: str, train: dict, evals: dict[str, dict], updates: int, batch: int, seed: int) -> dict[str, float]:
    from sparsegym.intrinsic import make_intrinsic

    module = make_intrinsic(name, train["obs"].shape[1], 8, device="cpu", seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(updates):
        idx = rng.integers(0, len(train["action"]), size=batch)
        module.update(subset(train, idx))
    return {k: float(np.mean(module.compute(v))) for k, v in evals.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=3, help="repetitions with different module seeds")
    parser.add_argument("--modules", nargs="+", default=["rnd", "rdd", "icm", "hindsight_code_mmd", "disagreement", "aleatoric",
                                                         "aleatoric_authors"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    train = collect(range(0, 40), 400, tv_prob=0.25, rng=rng)
    held = collect(range(1000, 1010), 400, tv_prob=0.25, rng=rng)
    other = collect(range(1000, 1010), 300, tv_prob=0.0, rng=rng, env_id="sparsegym/MiniGrid-KeyCorridorS3R3-NoisyTV-v0")
    ordinary = train["action"] != TV
    evals = {
        "tv": subset(held, held["action"] == TV),
        "novel": other,
        "held-out": subset(held, held["action"] != TV),
        "seen": subset(train, np.flatnonzero(ordinary)[:2000]),
    }
    print(f"training transitions {len(train['action'])} ({(~ordinary).mean():.0%} watching TV); "
          f"{args.updates} updates of {args.batch}; {args.seeds} seeds")
    print("hindsight_code_mmd: a gated code with an MMD penalty, not the paper's BYOL-Hindsight; "
          "aleatoric: eta 2, clipped at 0; aleatoric_authors: eta 1, unclipped")
    print(f"{'module':<18} {'tv':>10} {'novel':>10} {'held-out':>10} {'seen':>10} {'tv/novel':>9} {'tv/seen':>9} {'novel/seen':>10} {'seconds':>8}")
    for name in args.modules:
        results = []
        start = time.perf_counter()
        for s in range(args.seeds):
            results.append(run(name, train, evals, args.updates, args.batch, s))
        m = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
        print(f"{name:<18} {m['tv']:>10.4g} {m['novel']:>10.4g} {m['held-out']:>10.4g} {m['seen']:>10.4g} "
              f"{m['tv'] / m['novel']:>9.2f} {m['tv'] / m['seen']:>9.2f} {m['novel'] / m['seen']:>10.2f} "
              f"{time.perf_counter() - start:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
