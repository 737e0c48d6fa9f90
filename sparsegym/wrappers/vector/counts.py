"""``VectorCountBonus``: count bonuses over a vector env, with counts shared by all sub-envs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from typing import Any

import gymnasium
import numpy as np

from sparsegym.wrappers._components import add_vector_component
from sparsegym.wrappers.vector.intrinsic import flatten_batch


class VectorCountBonus(gymnasium.vector.VectorWrapper):
    """``beta / sqrt(N(s'))`` per sub-env. Global counts are shared across sub-envs (one visitation
    table for the whole batch); episodic ones are per sub-env and restart at each of its episodes.
    States are keyed by their flattened observation (exact equality), as the single-env
    ``CountBonus(key="observation")``.

    Examples:
        >>> import gymnasium, sparsegym
        >>> envs = VectorCountBonus(gymnasium.make_vec("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=2), beta=0.1)
        >>> _ = envs.reset(seed=[0, 0])  # two copies of one start state: N = 2 already
        >>> _, rewards, *_ = envs.step([1, 1])  # both reach the same new state: N = 1 then 2
        >>> [round(float(r), 4) for r in rewards]
        [0.1, 0.0707]
    """

    def __init__(self, env: gymnasium.vector.VectorEnv, beta: float = 0.1, episodic: bool = False,
                 name: str | None = None):
        super().__init__(env)
        self.beta, self.episodic = float(beta), bool(episodic)
        self.name = name or ("episodic_count" if episodic else "count")
        self.counts: list[Counter] = [Counter() for _ in range(self.num_envs if episodic else 1)]
        self._ended = np.zeros(self.num_envs, dtype=bool)

    def _keys(self, obs: Any) -> list[Hashable]:
        flat = flatten_batch(self.single_observation_space, obs, self.num_envs)
        return [row.tobytes() for row in flat]

    def _table(self, i: int) -> Counter:
        return self.counts[i if self.episodic else 0]

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        if self.episodic:
            for c in self.counts:
                c.clear()
        for i, k in enumerate(self._keys(obs)):
            self._table(i)[k] += 1
        self._ended[:] = False
        return obs, infos

    def step(self, actions: Any):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        bonus = np.zeros(self.num_envs)
        for i, k in enumerate(self._keys(obs)):
            if self._ended[i]:  # an autoreset step: a new episode starts here
                if self.episodic:
                    self.counts[i].clear()
                self._table(i)[k] += 1
                continue
            table = self._table(i)
            table[k] += 1
            bonus[i] = self.beta / np.sqrt(table[k])
        self._ended = np.logical_or(terminated, truncated)
        rewards = add_vector_component(infos, rewards, self.name, bonus)
        return obs, rewards, terminated, truncated, infos
