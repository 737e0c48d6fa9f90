"""A global bonus combined with an episodic one (Henaff, Jiang and Raileanu, 2023, "A Study of Global
and Episodic Bonuses for Exploration in Contextual MDPs"). The paper finds the *product* of a global
bonus (e.g. RND) and an episodic one (e.g. episodic counts or E3B) the most robust across settings;
the sum is kept as an option."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import IntrinsicModule


class GlobalEpisodic(IntrinsicModule):
    def __init__(self, global_module: IntrinsicModule, episodic_module: IntrinsicModule, rule: str = "product",
                 episodic_weight: float = 1.0):
        if rule not in ("product", "sum"):
            raise ConfigError(f"rule must be 'product' or 'sum', got {rule!r}")
        self.global_module, self.episodic_module = global_module, episodic_module
        self.rule, self.episodic_weight = rule, episodic_weight
        self.obs_dim, self.n_actions, self.device = global_module.obs_dim, global_module.n_actions, global_module.device
        self.name = f"{global_module.name}_x_{episodic_module.name}" if rule == "product" else \
            f"{global_module.name}_plus_{episodic_module.name}"
        self.normalize_returns = global_module.normalize_returns
        self.episodic = True

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
