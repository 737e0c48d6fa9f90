"""``IntrinsicReward``: apply a learned or counted bonus from :mod:`sparsegym.intrinsic` to one env.

Torch is only needed by the module you pass; this wrapper itself imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from sparsegym.wrappers._components import add_component


def flatten_observation(space: gymnasium.Space, obs: Any) -> np.ndarray:
    """A float32 vector for any Box/Discrete/Dict/Tuple observation (Discrete parts one-hot)."""
    return np.asarray(gymnasium.spaces.flatten(space, obs), dtype=np.float32)


def flat_dim(space: gymnasium.Space) -> int:
    return int(gymnasium.spaces.flatdim(space))


def check_module_size(module: Any, space: gymnasium.Space) -> None:
    """Refuse a module built for another observation size, naming the fix."""
    expected = flat_dim(space)
    if getattr(module, "obs_dim", expected) != expected:
        raise ValueError(f"the module was built for observations of size {module.obs_dim}, but this env's "
                         f"flattened observations have size {expected}: build it with flat_dim(observation_space)")


class ReturnNormalizer:
    """Divide rewards by a running std of their discounted return (RND's intrinsic normalisation)."""

    def __init__(self, num_envs: int = 1, gamma: float = 0.99):
        self.gamma = gamma
        self.returns = np.zeros(num_envs)
        self.count, self.mean, self.m2 = 1e-4, 0.0, 0.0

    def __call__(self, rewards: np.ndarray) -> np.ndarray:
        self.returns = self.returns * self.gamma + rewards
        for x in self.returns:  # Welford, a few envs at a time
            self.count += 1
            delta = x - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (x - self.mean)
        std = np.sqrt(self.m2 / self.count) if self.count > 1 else 1.0
        return rewards / (std + 1e-8)


class IntrinsicReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``coef * bonus`` from an intrinsic module, training the module online as the env runs.

    Args:
        env: the env.
        module: an :class:`~sparsegym.intrinsic.IntrinsicModule` built for this env's flattened
            observation size (``flat_dim(env.observation_space)``) and action count.
        coef: the bonus weight.
        update_every: train the module on the last ``update_every`` transitions this often
            (0 or ``learn=False`` freezes it, e.g. for evaluation).
        normalize: divide by a running std of intrinsic returns; default: the module's own
            ``normalize_returns`` (True for RND and NovelD).
        gamma: discount of the intrinsic returns used for normalisation.

    ``info["intrinsic_losses"]`` carries the module's losses on steps where it trained.

    Examples:
        >>> import sparsegym
        >>> from sparsegym.intrinsic import RND
        >>> from sparsegym.wrappers.intrinsic import IntrinsicReward, flat_dim
        >>> env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
        >>> env = IntrinsicReward(env, RND(flat_dim(env.observation_space)), coef=0.01)
        >>> _ = env.reset(seed=0)
        >>> *_, info = env.step(2)
        >>> sorted(info["reward_components"])
        ['extrinsic', 'rnd']
    """

    def __init__(self, env: gymnasium.Env, module: Any, coef: float = 0.01, update_every: int = 128,
                 learn: bool = True, normalize: bool | None = None, gamma: float = 0.99, name: str | None = None):
        gymnasium.utils.RecordConstructorArgs.__init__(self, module=module, coef=coef, update_every=update_every,
                                                       learn=learn, normalize=normalize, gamma=gamma, name=name)
        gymnasium.Wrapper.__init__(self, env)
        check_module_size(module, env.observation_space)
        self.module, self.coef, self.update_every, self.learn = module, float(coef), int(update_every), bool(learn)
        self.name = name or module.name
        normalize = module.normalize_returns if normalize is None else normalize
        self.normalizer = ReturnNormalizer(1, gamma) if normalize else None
        self._obs: np.ndarray | None = None
        self._buffer: list[tuple[np.ndarray, Any, np.ndarray]] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = flatten_observation(self.env.observation_space, obs)
        self.module.reset([0])
        if self.normalizer is not None:
            self.normalizer.returns[:] = 0.0
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        flat = flatten_observation(self.env.observation_space, obs)
        batch = {"obs": self._obs[None], "next_obs": flat[None], "action": np.asarray([action]),
                 "env_ids": np.zeros(1, dtype=np.int64)}
        bonus = np.asarray(self.module.compute(batch), dtype=np.float64)
        if self.normalizer is not None:
            bonus = self.normalizer(bonus)
        if self.learn and self.update_every > 0:
            self._buffer.append((self._obs, action, flat))
            if len(self._buffer) >= self.update_every:
                o, a, n = zip(*self._buffer)
                info["intrinsic_losses"] = self.module.update({"obs": np.stack(o), "action": np.asarray(a),
                                                               "next_obs": np.stack(n)})
                self._buffer.clear()
        self._obs = flat
        return obs, add_component(info, reward, self.name, self.coef * float(bonus[0])), terminated, truncated, info
