"""The uniform random agent: the floor every leaderboard is read against."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np


class RandomAgent:
    """Acts uniformly at random, reproducibly from the episode seed.

    For text envs (a ``Text`` action space) it picks among ``info["admissible_actions"]``; elsewhere it
    samples the action space. Built by the leaderboard as ``RandomAgent(env)``.

    Examples:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
        >>> agent = RandomAgent(env)
        >>> agent.reset(seed=0)
        >>> obs, info = env.reset(seed=0)
        >>> 0 <= agent.act(obs, info) < 7
        True
    """

    def __init__(self, env: gymnasium.Env, **_: Any):
        self.action_space = env.action_space
        self._rng = np.random.default_rng()

    def reset(self, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(seed)
        self.action_space.seed(None if seed is None else int(self._rng.integers(2**31)))

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        choices = info.get("admissible_actions") if isinstance(info, dict) else None
        if choices:
            return choices[int(self._rng.integers(len(choices)))]
        if isinstance(self.action_space, gymnasium.spaces.Discrete):
            return int(self.action_space.start + self._rng.integers(self.action_space.n))
        return self.action_space.sample()
