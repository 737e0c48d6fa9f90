"""``VectorIntrinsicReward``: an intrinsic module applied to a whole vector env in one batched call."""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym.intrinsic.stream import IntrinsicStream, autoreset_mode_name, check_module_size
from sparsegym.utils.spaces import flatten_batch
from sparsegym.wrappers._components import add_vector_component

__all__ = ["VectorIntrinsicReward", "flatten_batch"]


class VectorIntrinsicReward(gymnasium.vector.VectorWrapper):
    """Add ``coef * bonus`` to every sub-env's reward from one shared module, one batched call a step.

    Args mirror :class:`~sparsegym.wrappers.IntrinsicReward`; the module trains on the last
    ``update_every`` steps of all sub-envs (``update_every * num_envs`` transitions).

    Both of Gymnasium's autoreset modes work (read from ``env.metadata["autoreset_mode"]``): with
    ``NEXT_STEP`` (the default) the step after an episode ends shows the reset observation and earns
    no bonus; with ``SAME_STEP`` the ending transition is scored on ``infos["final_obs"]``. Either way
    the bonuses, their normalisation and the module's episodic resets are the same
    (:class:`~sparsegym.intrinsic.stream.IntrinsicStream`).

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
        mode = autoreset_mode_name(env.metadata.get("autoreset_mode"))
        check_module_size(module, env.single_observation_space)
        self.module, self.coef, self.update_every, self.learn = module, float(coef), int(update_every), bool(learn)
        self.name = name or module.name
        self.stream = IntrinsicStream(module, self.num_envs, self.single_observation_space, autoreset_mode=mode,
                                      normalize=normalize, gamma=gamma, update_every=int(update_every), learn=learn)

    @property
    def normalizer(self) -> Any:
        return self.stream.normalizer

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        self.stream.reset(obs)
        return obs, infos

    def step(self, actions: Any):
        obs, rewards, terminated, truncated, infos = self.env.step(actions)
        bonus = self.stream.step(actions, obs, terminated, truncated, infos)
        if self.stream.losses is not None:
            infos["intrinsic_losses"] = self.stream.losses
        rewards = add_vector_component(infos, rewards, self.name, self.coef * bonus)
        return obs, rewards, terminated, truncated, infos
