"""Per-step cost of each reward wrapper, and of a full stack, against the bare env, in one run;
then each intrinsic module's compute and update time per 1,000 transitions (CPU, and CUDA if present).

    python benchmarks/wrapper_overhead.py [--steps 3000] [--rounds 5] [--env sparsegym/MiniGrid-DoorKey-8x8-v0]

Targets: counting and shaping wrappers under 1.15x the bare env per step; batched RND and E3B compute
under 50 microseconds per transition on CPU at batch 256.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium
import numpy as np
from _timing import time_steps

import sparsegym
from sparsegym.envs.minigrid import subgoals as sg
from sparsegym.envs.minigrid.potentials import minigrid_distance_to_goal
from sparsegym.wrappers import CountBonus, GatedReward, PotentialShaping, SubgoalReward, TextObservation

WRAPPER_TARGET = 1.15
COMPUTE_TARGET_US = 50.0


def _stacks() -> dict[str, Callable[[gymnasium.Env], gymnasium.Env]]:
    subgoals = [sg.picked_up("key"), sg.opened_door(), sg.adjacent_to("goal")]
    return {
        "PotentialShaping(distance)": lambda e: PotentialShaping(e, minigrid_distance_to_goal()),
        "CountBonus(position)": lambda e: CountBonus(e, key="position"),
        "CountBonus(observation)": lambda e: CountBonus(e, key="observation"),
        "CountBonus(grid, episodic)": lambda e: CountBonus(e, key="grid", episodic=True),
        "SubgoalReward(3 subgoals)": lambda e: SubgoalReward(e, subgoals),
        "GatedReward(SubgoalReward)": lambda e: GatedReward(SubgoalReward(e, subgoals)),
        "TextObservation": lambda e: TextObservation(e),
        "stack: subgoals+shaping+counts+gate": lambda e: GatedReward(CountBonus(PotentialShaping(
            SubgoalReward(e, subgoals), minigrid_distance_to_goal()), key="position")),
    }


def wrapper_table(env_id: str, steps: int, rounds: int) -> None:
    actions = np.random.default_rng(0).integers(0, 7, size=steps)
    envs = {"bare env": sparsegym.make(env_id)}
    envs.update({name: build(sparsegym.make(env_id)) for name, build in _stacks().items()})
    times: dict[str, list[float]] = {name: [] for name in envs}
    for env in envs.values():
        time_steps(env, actions[: steps // 10], 0)  # warm-up
    for r in range(rounds):
        order = list(envs) if r % 2 == 0 else list(envs)[::-1]
        for name in order:
            times[name].append(time_steps(envs[name], actions, r))
    base = statistics.median(times["bare env"])
    print(f"\nper-step cost on {env_id} ({steps} steps x {rounds} rounds, median)")
    print(f"{'wrapper':<40} {'us/step':>9} {'ratio':>7}")
    for name, ts in times.items():
        t = statistics.median(ts)
        target = "" if name in ("bare env", "TextObservation") or "stack" in name or t / base <= WRAPPER_TARGET \
            else "  (over the 1.15x target)"
        print(f"{name:<40} {t * 1e6:>9.1f} {t / base:>6.2f}x{target}")


def intrinsic_table(obs_dim: int, n_actions: int, batch: int, device: str) -> None:
    from sparsegym.intrinsic import make_intrinsic

    rng = np.random.default_rng(0)
    data = {"obs": rng.normal(size=(batch, obs_dim)).astype(np.float32),
            "next_obs": rng.normal(size=(batch, obs_dim)).astype(np.float32),
            "action": rng.integers(0, n_actions, size=batch), "env_ids": np.arange(batch)}
    print(f"\nintrinsic modules on {device}: batch {batch}, obs dim {obs_dim} "
          "(microseconds per transition = milliseconds per 1,000)")
    print(f"{'module':<14} {'compute':>9} {'update':>9}")
    for name in ("rnd", "icm", "e3b", "noveld", "rdd", "hindsight_code_mmd", "counts", "rnd_x_counts", "rnd_x_e3b"):
        module = make_intrinsic(name, obs_dim, n_actions, device=device)
        module.compute(data)
        module.update(data)
        reps = 10
        start = time.perf_counter()
        for _ in range(reps):
            module.reset(range(batch))
            module.compute(data)
        compute = (time.perf_counter() - start) / (reps * batch)
        start = time.perf_counter()
        for _ in range(3):
            module.update(data)
        update = (time.perf_counter() - start) / (3 * batch)
        flag = "  (over the 50 us target)" if name in ("rnd", "e3b") and compute * 1e6 > COMPUTE_TARGET_US else ""
        print(f"{name:<14} {compute * 1e6:>9.1f} {update * 1e6:>9.1f}{flag}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="sparsegym/MiniGrid-DoorKey-8x8-v0")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    wrapper_table(args.env, args.steps, args.rounds)
    try:
        import torch
    except ImportError:
        print('\n(intrinsic modules skipped: pip install "sparsegym[torch]")')
        return 0
    space = sparsegym.make(args.env).observation_space
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        intrinsic_table(gymnasium.spaces.flatdim(space), 7, args.batch, device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
