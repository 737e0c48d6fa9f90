"""Text-trainer rollouts: env steps per second of ``collect`` with the envs in this process (the local
backend) against the same envs in Ray actors (``RayEnvPool``, the trainer's ``backend="ray"``).

Both sides play the same episodes with the same seeded policy (the uniform one by default, so env
stepping is what is timed; ``--policy scorer`` uses the untrained ActionScorer), so they take the same
steps; the script checks that their trajectories are identical. Rounds alternate between the sides and
the median steps/s of each is reported, after a warm-up round that makes and loads the games (each
round plays the same task seeds with a new sampling seed); making the envs and starting Ray and its
actors are timed apart.

    python benchmarks/text_rollout_workers.py                                   # ALFWorld and TreasureHunter
    python benchmarks/text_rollout_workers.py --workers 4 --envs 8 sparsegym/ALFWorld-v0
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_IDS = ["sparsegym/ALFWorld-PickAndPlace-v0", "sparsegym/TextWorld-TreasureHunter-L10-v0"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="*", default=DEFAULT_IDS)
    p.add_argument("--envs", type=int, default=4, help="envs in flight (the trainer's num_envs)")
    p.add_argument("--workers", type=int, default=2, help="Ray actors (the trainer's num_workers)")
    p.add_argument("--group-size", type=int, default=4)
    p.add_argument("--groups", type=int, default=2, help="task seeds per round")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds, after one warm-up round")
    p.add_argument("--max-turns", type=int, default=20, help="truncate episodes after this many turns")
    p.add_argument("--policy", choices=("uniform", "scorer"), default="uniform")
    args = p.parse_args()

    import ray
    import torch

    import sparsegym  # noqa: F401
    from sparsegym.agents.text.policy import UniformPolicy
    from sparsegym.agents.text.rollout import collect
    from sparsegym.agents.text.scorer import ActionScorer
    from sparsegym.agents.text.workers import EnvFactory, RayEnvPool

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - t0
    policy = UniformPolicy() if args.policy == "uniform" else ActionScorer(seed=0)
    print(f"# {os.cpu_count()} CPUs visible; Ray started in {ray_start:.1f} s; policy {args.policy}; "
          f"{args.envs} envs, {args.workers} workers, {args.groups} x {args.group_size} episodes a round, "
          f"at most {args.max_turns} turns each; median of {args.rounds} rounds after a warm-up")
    print(f"{'env id':42s} {'make s':>7s} {'local steps/s':>13s} {'pool s':>7s} {'ray steps/s':>11s} {'ray/local':>9s}"
          f" {'steps/round':>11s}")
    for env_id in args.ids:
        factory = EnvFactory(env_id)
        t0 = time.perf_counter()
        envs = [factory() for _ in range(args.envs)]
        make_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pool = RayEnvPool(factory, args.envs, args.workers)
        pool_s = time.perf_counter() - t0
        rates: dict[str, list[float]] = {"local": [], "ray": []}
        steps = []
        seeds = list(range(args.groups))  # the same tasks every round (their games made and loaded in round 0)
        for r in range(args.rounds + 1):  # round 0 warms up (game files, engines, imports) and is not counted
            played = {}
            sides = [("local", envs), ("ray", pool)]
            for side, target in sides if r % 2 else sides[::-1]:
                gen = torch.Generator().manual_seed(r)
                t0 = time.perf_counter()
                trajs = collect(target, policy, seeds, args.group_size, generator=gen, max_turns=args.max_turns)
                elapsed = time.perf_counter() - t0
                n = sum(t.length for t in trajs)
                if r:
                    rates[side].append(n / elapsed)
                played[side] = [[c.action for c in t.choices] for t in trajs]
            if played["local"] != played["ray"]:
                raise SystemExit(f"{env_id}: the backends played different trajectories in round {r}")
            if r:
                steps.append(n)
        pool.close()
        for env in envs:
            env.close()
        local, remote = statistics.median(rates["local"]), statistics.median(rates["ray"])
        print(f"{env_id:42s} {make_s:7.1f} {local:13.1f} {pool_s:7.1f} {remote:11.1f} {remote / local:9.2f} "
              f"{statistics.median(steps):11.0f}", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
