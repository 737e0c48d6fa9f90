"""``VectorIntrinsicReward``: an intrinsic module applied to a whole vector env in one batched call."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym.wrappers._components import add_vector_component
from sparsegym.wrappers.intrinsic import ReturnNormalizer, check_module_size


def flatten_batch(space: gymnasium.Space, obs: Any, n: int) -> np.ndarray:
    """Flatten a batch of ``n`` observations of ``space`` (the single-env space) to ``(n, flatdim)``."""
    if isinstance(space, spaces.Box):
        return np.asarray(obs, dtype=np.float32).reshape(n, -1)
    if isinstance(space, spaces.Discrete):
        out = np.zeros((n, space.n), dtype=np.float32)
        out[np.arange(n), np.asarray(obs, dtype=np.int64) - space.start] = 1.0
        return out
    if isinstance(space, spaces.MultiBinary):
        return np.asarray(obs, dtype=np.float32).reshape(n, -1)
    if isinstance(space, spaces.Dict):
        return np.concatenate([flatten_batch(sub, obs[k], n) for k, sub in space.spaces.items()], axis=1)
    if isinstance(space, spaces.Tuple):
        return np.concatenate([flatten_batch(sub, o, n) for sub, o in zip(space.spaces, obs)], axis=1)
    return np.stack([np.asarray(spaces.flatten(space, o), dtype=np.float32) for o in obs])


class VectorIntrinsicReward(gymnasium.vector.VectorWrapper):
    """Add ``coef * bonus`` to every sub-env's reward from one shared module, one batched call a step.

    Args mirror :class:`~sparsegym.wrappers.IntrinsicReward`; the module trains on the last
    ``update_every`` steps of all sub-envs (``update_every * num_envs`` transitions).

    Examples:
        >>> import gymnasium, sparsegym
        >>> from sparsegym.intrinsic import RND
        >>> from sparsegym.wrappers.intrinsic import flat_dim
        >>> envs = gymnasium.make_vec("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=4)
        >>> envs = VectorIntrinsicReward(envs, RND(flat_dim(envs.single_observation_space)), coef=0.01)
        >>> _ = envs.reset(seed=0)
        >>> _, rewards, *_, infos = envs.step(envs.action_space.sample())
        >>> rewards.shape, sorted(k for k in infos["reward_components"] if not k.startswith("_"))
        ((4,), ['extrinsic', 'rnd'])
    """

    def __init__(self, env: gymnasium.vector.VectorEnv, module: Any, coef: float = 0.01, update_every: int = 128,
                 learn: bool = True, normalize: bool | None = None, gamma: float = 0.99, name: str | None = None):
        super().__init__(env)
        mode = env.metadata.get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "NextStep":
            raise ValueError(f"VectorIntrinsicReward supports the NEXT_STEP autoreset mode, got {mode}")
        check_module_size(module, env.single_observation_space)
        self.module, self.coef, self.update_every, self.learn = module, float(coef), int(update_every), bool(learn)
        self.name = name or module.name
        normalize = module.normalize_returns if normalize is None else normalize
        self.normalizer = ReturnNormalizer(self.num_envs, gamma) if normalize else None
        self._obs: np.ndarray | None = None
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self._buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self._obs = flatten_batch(self.single_observation_space, obs, self.num_envs)
        self._ended[:] = False
        self.module.reset(range(self.num_envs))
        if self.normalizer is not None:
            self.normalizer.returns[:] = 0.0
        return obs, infos

    def step(self, actions: Any):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        flat = flatten_batch(self.single_observation_space, obs, self.num_envs)
        live = ~self._ended  # rows that are real transitions, not autoreset steps
        bonus = np.zeros(self.num_envs)
        if live.any():
            ids = np.flatnonzero(live)
            batch = {"obs": self._obs[ids], "next_obs": flat[ids], "action": np.asarray(actions)[ids], "env_ids": ids}
            bonus[ids] = np.asarray(self.module.compute(batch), dtype=np.float64)
            if self.learn and self.update_every > 0:
                self._buffer.append((self._obs[ids], np.asarray(actions)[ids], flat[ids]))
        if self.normalizer is not None:
            self.normalizer.returns[~live] = 0.0
            bonus = self.normalizer(bonus) * live
        restarted = np.flatnonzero(self._ended)
        if len(restarted):
            self.module.reset(restarted)  # these rows just showed a reset observation
        if self.learn and self.update_every > 0 and len(self._buffer) >= self.update_every:
            o, a, n = (np.concatenate(x) for x in zip(*self._buffer))
            infos["intrinsic_losses"] = self.module.update({"obs": o, "action": a, "next_obs": n})
            self._buffer.clear()
        self._obs = flat
        self._ended = np.logical_or(terminated, truncated)
        rewards = add_vector_component(infos, rewards, self.name, self.coef * bonus)
        return obs, rewards, terminated, truncated, infos
