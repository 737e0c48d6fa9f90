"""Potential-based reward shaping (Ng, Harada and Russell, 1999).

``F(s, s') = gamma * Phi(s') - Phi(s)``, with ``Phi`` of a terminal state taken as 0, so the shaped
discounted return of any episode that terminates is the original one minus ``Phi(s0)``: the ranking of
trajectories from the same start, and so the optimal policy, is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from sparsegym.envs.family import require_family
from sparsegym.errors import ConfigError
from sparsegym.wrappers._components import add_component

#: A potential: ``potential(env, observation) -> float``; ``env`` is the *unwrapped* env, so a
#: potential may read the family's symbolic state (e.g. MiniGrid's grid and agent position).
Potential = Callable[[gymnasium.Env, Any], float]


class PotentialShaping(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``gamma * Phi(s') - Phi(s)`` to each reward (as ``reward_components[name]``).

    Args:
        env: the env to shape.
        potential: ``Phi(env.unwrapped, observation) -> float``, or the name of one of the env family's
            potentials (its descriptor's ``potentials``; MiniGrid: ``"distance_to_goal"``,
            ``"doorkey_progress"``), made with default arguments.
        gamma: the discount of the learner that will see the rewards (use the same one).
        name: the reward-component name.

    On truncation the next state is not terminal, so its potential is kept: the learner bootstraps
    from it. ``info["potential"]`` reports ``Phi(s')``.

    Examples:
        >>> import sparsegym
        >>> from sparsegym.wrappers import PotentialShaping
        >>> env = PotentialShaping(sparsegym.make("sparsegym/MiniGrid-FourRooms-v0"), "distance_to_goal", gamma=0.99)
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(2)
        >>> sorted(info["reward_components"])
        ['extrinsic', 'shaping']
    """

    def __init__(self, env: gymnasium.Env, potential: Potential | str, gamma: float = 0.99, name: str = "shaping"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, potential=potential, gamma=gamma, name=name)
        gymnasium.Wrapper.__init__(self, env)
        if isinstance(potential, str):
            potential = require_family(env, f"the potential {potential!r}").potential(potential)
        if not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {gamma}")
        self.potential, self.gamma, self.name = potential, float(gamma), name
        self._phi = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._phi = float(self.potential(self.env.unwrapped, obs))
        info["potential"] = self._phi
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        phi_next = 0.0 if terminated else float(self.potential(self.env.unwrapped, obs))
        bonus = self.gamma * phi_next - self._phi
        self._phi = phi_next
        info["potential"] = phi_next
        return obs, add_component(info, reward, self.name, bonus), terminated, truncated, info


def discounted_return(rewards: list[float] | np.ndarray, gamma: float) -> float:
    """``sum_t gamma^t r_t``."""
    rewards = np.asarray(rewards, dtype=float)
    return float(np.sum(rewards * gamma ** np.arange(len(rewards))))
