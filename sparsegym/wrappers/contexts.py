"""Contexts and state keys for exploration studies.

* :class:`SeedPool`: each episode's seed is drawn from a fixed pool of ``k`` seeds, so the env has
  ``k`` contexts (levels, layouts) instead of one per seed. Henaff, Jiang and Raileanu (ICML 2023,
  Section 4) vary this number to move between a singleton MDP (``k = 1``: global bonuses shine) and a
  procedurally generated contextual MDP (every episode new: episodic bonuses shine).
* :class:`StateKeyInfo`: writes a state key (the agent's position, NetHack's message, MiniGrid's full
  state, any ``key(env, obs)``) into ``info["state_key"]`` at every reset and step, so that count-based
  intrinsic modules can count chosen features (see :mod:`sparsegym.intrinsic.counts`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import gymnasium
import numpy as np

from sparsegym.errors import ConfigError


class SeedPool(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Reset every episode with a seed drawn uniformly from ``pool_start + range(k)``.

    Args:
        env: the env.
        k: the number of contexts (seeds in the pool); ``None`` leaves resets as they are.
        pool_start: the first seed of the pool (the pool is the same for every copy of the env).

    A ``reset(seed=s)`` reseeds the draw (with ``s``), so a vector env seeded per copy draws a
    reproducible, per-copy sequence of contexts from the same pool; ``reset()`` draws the next one.
    ``info["context"]`` reports the seed used.

    Examples:
        >>> import sparsegym
        >>> env = SeedPool(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), k=3)
        >>> seeds = [env.reset(seed=0)[1]["context"]] + [env.reset()[1]["context"] for _ in range(19)]
        >>> sorted(set(seeds))
        [0, 1, 2]
    """

    def __init__(self, env: gymnasium.Env, k: int | None, pool_start: int = 0):
        gymnasium.utils.RecordConstructorArgs.__init__(self, k=k, pool_start=pool_start)
        gymnasium.Wrapper.__init__(self, env)
        if k is not None and int(k) < 1:
            raise ConfigError(f"a seed pool needs at least one seed, got k={k}")
        self.k, self.pool_start = (None if k is None else int(k)), int(pool_start)
        self._rng = np.random.default_rng(0)

    @property
    def pool(self) -> list[int]:
        return [] if self.k is None else [self.pool_start + i for i in range(self.k)]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self.k is None:
            return self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        context = self.pool_start + int(self._rng.integers(self.k))
        obs, info = self.env.reset(seed=context, options=options)
        info["context"] = context
        return obs, info


def stable_key(key: Any) -> int:
    """A process-independent 63-bit integer for a hashable key (bytes, ints, tuples of them, text)."""
    data = key if isinstance(key, bytes) else repr(key).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") >> 1


class StateKeyInfo(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Put ``stable_key(key(env, observation))`` into ``info["state_key"]`` after every reset and step.

    Args:
        env: the env.
        key: a state-key name (``"position"``, ``"full"``, ``"grid"``, ``"message"``: the env family's,
            see :mod:`sparsegym.wrappers.counts`; ``"observation"``) or ``key(env, observation)``.

    Examples:
        >>> import sparsegym
        >>> env = StateKeyInfo(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), "position")
        >>> _, info = env.reset(seed=0)
        >>> isinstance(info["state_key"], int)
        True
    """

    def __init__(self, env: gymnasium.Env, key: Any):
        from sparsegym.wrappers.counts import resolve_key

        gymnasium.utils.RecordConstructorArgs.__init__(self, key=key if isinstance(key, str) else repr(key))
        gymnasium.Wrapper.__init__(self, env)
        self.key = resolve_key(key, env)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        info["state_key"] = stable_key(self.key(self.env, obs))
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["state_key"] = stable_key(self.key(self.env, obs))
        return obs, reward, terminated, truncated, info
