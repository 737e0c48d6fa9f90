"""``IntrinsicReward``: apply a learned or counted bonus from :mod:`sparsegym.intrinsic` to one env.

Torch is only needed by the module you pass; this wrapper itself imports nothing heavy. The bonus
plumbing (normalisation, episodic resets, training schedule) is
:class:`~sparsegym.intrinsic.stream.IntrinsicStream`'s, shared with the vector wrapper and the trainers.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from sparsegym.intrinsic.stream import NEXT_STEP, IntrinsicStream, ReturnNormalizer, check_module_size
from sparsegym.utils.spaces import flat_dim, flatten_observation
from sparsegym.wrappers._components import add_component

__all__ = ["IntrinsicReward", "ReturnNormalizer", "check_module_size", "flat_dim", "flatten_observation"]


class IntrinsicReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``coef * bonus`` from an intrinsic module, training the module online as the env runs.

    Args:
        env: the env.
        module: an :class:`~sparsegym.intrinsic.IntrinsicModule` built for this env's flattened
            observation size (``flat_dim(env.observation_space)``) and action count.
        coef: the bonus weight.
        update_every: train the module on the last ``update_every`` transitions this often
            (0 or ``learn=False`` freezes it, e.g. for evaluation).
        normalize: divide by a running std of intrinsic returns (True), or not (False); default:
            what the module asks for (its ``normalization``: the return std for RND, the per-step std
            for E3B and the global x episodic combinations, none for NovelD, as their authors do). The
            running return runs on across episodes, as in RND (see :mod:`sparsegym.intrinsic.stream`).
        gamma: discount of the intrinsic returns used for normalisation.

    The episode's transitions are scored on their real observations (the last one included), and the
    module's episodic state is cleared when the episode ends and at every ``reset``.
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
        # One env is a batch of one, reset by hand: NEXT_STEP bookkeeping, with reset() starting episodes.
        self.stream = IntrinsicStream(module, 1, autoreset_mode=NEXT_STEP, normalize=normalize, gamma=gamma,
                                      update_every=int(update_every), learn=learn)

    @property
    def normalizer(self) -> ReturnNormalizer | None:
        return self.stream.normalizer

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.stream.reset(flatten_observation(self.env.observation_space, obs)[None])
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        flat = flatten_observation(self.env.observation_space, obs)[None]
        bonus = self.stream.step(np.asarray([action]), flat, np.array([terminated]), np.array([truncated]))
        if self.stream.losses is not None:
            info["intrinsic_losses"] = self.stream.losses
        return obs, add_component(info, reward, self.name, self.coef * float(bonus[0])), terminated, truncated, info
