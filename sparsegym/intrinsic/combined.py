"""A global bonus combined with an episodic one (Henaff, Jiang and Raileanu, ICML 2023, "A Study of
Global and Episodic Bonuses for Exploration in Contextual MDPs"). The paper finds the *product* of a
global bonus (counts ``1 / sqrt(N(s))``, RND) and an episodic one (the first-visit indicator of a
count, or E3B) the most robust across settings (Sections 3-5); the sum is kept as an option.

What follows the paper and its code (``facebookresearch/e3b``, ``minihack/sample-factory``,
``sample_factory/algo/learning/learner.py``, ``_prepare_batch``):

* the combined bonus is ``b_global * b_episodic``, then **divided by a running std of the per-step
  combined bonus** (their ``normalize_intrinsic_rewards``; ``normalization = "step"`` here, the
  default; ``normalise="return_std"`` keeps this module's earlier division by the std of discounted
  intrinsic returns, ``"none"`` the raw product);
* the learner adds it to the task reward with one value head and episodic returns (their
  ``buff['rewards'] + coeff * intrinsic_rewards``): ``episodic_returns`` is True and ``recipe`` is
  ``"one_head"``, so the E3B part's returns stay episodic inside the combination and
  :class:`sparsegym.agents.PPO` (``intrinsic_recipe="auto"``) trains as they do;
* the count bonuses read the chosen features (position, message) through state keys (see
  :mod:`sparsegym.intrinsic.counts`).

Not as the paper: a global module's own normalisation (RND's return std) is not applied before the
product (neither do the authors); modules are combined as given, so ``rnd_x_counts`` with the
earlier ``1 / sqrt(N_episode)`` is still buildable by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import IntrinsicModule

COMBINED_NORMALISE = {"step_std": "step", "return_std": "return", "none": "none"}


class GlobalEpisodic(IntrinsicModule):
    """``global_module`` x ``episodic_module`` (``rule="product"``) or their sum (``rule="sum"``, the
    episodic part weighted by ``episodic_weight``).

    Args:
        normalise: ``"step_std"`` (the authors', default), ``"return_std"`` (the earlier behaviour, when
            the global module asked for it) or ``"none"``.
        episodic_returns: whether the learner cuts intrinsic returns at episode ends (the authors': True).
    """

    recipe = "one_head"

    def __init__(self, global_module: IntrinsicModule, episodic_module: IntrinsicModule, rule: str = "product",
                 episodic_weight: float = 1.0, *, normalise: str = "step_std", episodic_returns: bool = True):
        if rule not in ("product", "sum"):
            raise ConfigError(f"rule must be 'product' or 'sum', got {rule!r}")
        if normalise not in COMBINED_NORMALISE:
            raise ConfigError(f"normalise must be one of {', '.join(COMBINED_NORMALISE)}, got {normalise!r}")
        self.global_module, self.episodic_module = global_module, episodic_module
        self.rule, self.episodic_weight = rule, episodic_weight
        self.obs_dim, self.n_actions, self.device = global_module.obs_dim, global_module.n_actions, global_module.device
        self.name = f"{global_module.name}_x_{episodic_module.name}" if rule == "product" else \
            f"{global_module.name}_plus_{episodic_module.name}"
        self.normalise = normalise
        self.normalization = COMBINED_NORMALISE[normalise]
        self.normalize_returns = normalise == "return_std"
        self.episodic = True
        self.episodic_returns = bool(episodic_returns)

    def bind_envs(self, num_envs: int) -> None:
        for module in (self.global_module, self.episodic_module):
            if hasattr(module, "bind_envs"):
                module.bind_envs(num_envs)

    @property
    def wants_obs_stats(self) -> bool:
        return any(getattr(m, "wants_obs_stats", False) for m in (self.global_module, self.episodic_module))

    def init_obs_stats(self, obs: Any) -> None:
        for module in (self.global_module, self.episodic_module):
            if hasattr(module, "init_obs_stats"):
                module.init_obs_stats(obs)

    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        g = self.global_module.compute(batch)
        e = self.episodic_module.compute(batch)
        return g * e if self.rule == "product" else g + self.episodic_weight * e

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return {**self.global_module.update(batch), **self.episodic_module.update(batch)}

    def reset(self, env_ids: Iterable[int]) -> None:
        env_ids = list(env_ids)
        self.global_module.reset(env_ids)
        self.episodic_module.reset(env_ids)

    def state_dict(self) -> dict[str, Any]:
        return {"global": self.global_module.state_dict(), "episodic": self.episodic_module.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.global_module.load_state_dict(state["global"])
        self.episodic_module.load_state_dict(state["episodic"])
