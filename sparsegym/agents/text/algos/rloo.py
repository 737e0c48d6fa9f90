"""RLOO (Ahmadian et al., 2024): every turn of an episode gets the episode's return minus the mean return
of the *other* episodes of its group, ``n / (n - 1) * (R_i - mean)``; a group of one keeps ``R_i``.
``stats_across_steps`` and ``invalid_penalty`` work as for GRPO (:mod:`.grpo`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sparsegym.agents.text.algos.base import Algorithm, register
from sparsegym.agents.text.algos.grpo import episode_advantages

__all__ = ["RLOO"]


@register
class RLOO(Algorithm):
    """REINFORCE leave-one-out over episodes (module docstring)."""

    name = "rloo"

    def advantages(self, trajectories: Sequence) -> np.ndarray:
        cfg = self.trainer.config
        return episode_advantages(trajectories, kind="rloo", norm_by_std=cfg.norm_by_std,
                                  stats_across_steps=cfg.stats_across_steps, invalid_penalty=cfg.invalid_penalty)
