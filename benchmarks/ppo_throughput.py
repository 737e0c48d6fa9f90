"""Training throughput of sparsegym's PPO against stable-baselines3's PPO, side by side.

Both train on the same MiniGrid id with the same number of envs, rollout length, epochs and
minibatch count, alternating rounds; the table prints env frames per second of training and the
ratio (target: ours >= 2x SB3). Ours is measured with a flat MLP of SB3's width (64; ours is one
64-64 trunk shared by policy and value, SB3's MultiInputPolicy has a 64-64 trunk for each, so ours
does about half the network arithmetic per frame), with its default width (256), and with its
default MiniGrid CNN encoder. Three more rows at width 64 show what each of the trainer's own speed-ups
is worth by turning it off: Gymnasium's SyncVectorEnv instead of the lean vector env
(``vectorization="sync"``), the torch forward instead of the numpy copy of the policy for sampling
rollout actions (``numpy_rollout=False``), and the envs in worker processes (Gymnasium's async mode,
one process per env). One more SB3 row runs the env with MiniGrid's own view code
(``fast_view=False``) to show what sparsegym's view saves any learner.

    python benchmarks/ppo_throughput.py [--env sparsegym/MiniGrid-DoorKey-8x8-v0] [--frames 16384] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium
import torch

import sparsegym
from sparsegym.agents import PPO, PPOConfig


def ours(env_id: str, frames: int, n_envs: int, n_steps: int, **config: object) -> float:
    agent = PPO(env_id, PPOConfig(num_envs=n_envs, num_steps=n_steps, update_epochs=4, num_minibatches=4,
                                  device="cpu", **config))
    start = time.perf_counter()
    agent.learn(frames, progress=False)
    return frames / (time.perf_counter() - start)


def sb3(env_id: str, frames: int, n_envs: int, n_steps: int, **env_kwargs: object) -> float:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(lambda: gymnasium.make(env_id, **env_kwargs), n_envs=n_envs, seed=0)
    model = SB3PPO("MultiInputPolicy", venv, n_steps=n_steps, batch_size=n_envs * n_steps // 4, n_epochs=4,
                   device="cpu", verbose=0, seed=0)
    start = time.perf_counter()
    model.learn(total_timesteps=frames)
    return frames / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="sparsegym/MiniGrid-DoorKey-8x8-v0")
    parser.add_argument("--frames", type=int, default=16384)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    minigrid = sparsegym.get_entry(args.env).family == "minigrid"
    print(f"{args.env}: {args.envs} envs x {args.steps} steps, 4 epochs, 4 minibatches, {args.frames} frames, "
          f"{args.rounds} rounds, torch threads {torch.get_num_threads()}")
    trainers = {
        "sb3 PPO (MultiInputPolicy)": lambda: sb3(args.env, args.frames, args.envs, args.steps),
        "ours, flat MLP 64": lambda: ours(args.env, args.frames, args.envs, args.steps, encoder="flat", hidden=64),
        "ours, flat MLP 256": lambda: ours(args.env, args.frames, args.envs, args.steps, encoder="flat"),
        "ours, MiniGrid CNN 256": lambda: ours(args.env, args.frames, args.envs, args.steps),
        "ours 64, Gymnasium sync envs": lambda: ours(args.env, args.frames, args.envs, args.steps, encoder="flat",
                                                     hidden=64, vectorization="sync"),
        "ours 64, torch rollout": lambda: ours(args.env, args.frames, args.envs, args.steps, encoder="flat",
                                               hidden=64, numpy_rollout=False),
        "ours 64, async envs": lambda: ours(args.env, args.frames, args.envs, args.steps, encoder="flat",
                                            hidden=64, vectorization="async"),
    }
    if minigrid:
        trainers["sb3 PPO, MiniGrid's own view"] = lambda: sb3(args.env, args.frames, args.envs, args.steps,
                                                               fast_view=False)
    runs: dict[str, list[float]] = {name: [] for name in trainers}
    for _ in range(args.rounds):
        for name, train in trainers.items():
            runs[name].append(train())
    base = statistics.median(runs["sb3 PPO (MultiInputPolicy)"])
    print(f"{'trainer':<32} {'frames/s':>9} {'vs SB3':>7}")
    for name, values in runs.items():
        fps = statistics.median(values)
        print(f"{name:<32} {fps:>9,.0f} {fps / base:>6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
