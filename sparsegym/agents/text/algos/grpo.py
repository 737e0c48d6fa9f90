"""GRPO (Shao et al., 2024) over whole episodes, as verl-agent trains multi-turn agents: every turn of an
episode gets the episode's group-normalised return, ``(R_i - mean) / (std + 1e-6)`` over the episodes of
its group (the same task seed), or ``R_i - mean`` with ``norm_by_std=False`` (Dr. GRPO).

The common settings live in :class:`~sparsegym.agents.text.trainer.TextRLConfig`: ``norm_by_std``,
``stats_across_steps`` (verl-agent's default: the statistics count each episode once per turn) and
``invalid_penalty`` (subtracted for each action the env refused; before the statistics across steps,
from the turn's advantage otherwise). :func:`episode_advantages` is shared with RLOO and GiGPO.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sparsegym.agents.text.advantages import broadcast, group_statistics
from sparsegym.agents.text.algos.base import Algorithm, register

__all__ = ["GRPO", "episode_advantages"]


def episode_advantages(trajectories: Sequence, *, kind: str, norm_by_std: bool, stats_across_steps: bool,
                       invalid_penalty: float) -> np.ndarray:
    """The outcome advantage of every turn (``kind``: ``"grpo"`` or ``"rloo"``), episodes one after another."""
    lengths = [t.length for t in trajectories]
    groups = np.array([t.group for t in trajectories])
    returns = np.array([t.train_return for t in trajectories], dtype=np.float64)
    invalid = np.concatenate([np.asarray(t.invalid, dtype=np.float64) for t in trajectories])
    scores = broadcast(returns, lengths)
    if stats_across_steps:  # every turn-sample is a member of its group, penalty included
        scores = scores - invalid_penalty * invalid
        mean, std, n = group_statistics(scores, broadcast(groups, lengths))
    else:  # every episode counts once
        mean, std, n = (broadcast(x, lengths) for x in group_statistics(returns, groups))
    if kind == "grpo":
        adv = (scores - mean) / (std + 1e-6) if norm_by_std else scores - mean
    else:  # rloo: n / (n - 1) * (R - mean); a group of one keeps R
        adv = np.where(n > 1, n / np.maximum(n - 1, 1) * (scores - mean), scores)
    if not stats_across_steps:
        adv = adv - invalid_penalty * invalid
    return adv


@register
class GRPO(Algorithm):
    """Group-relative policy optimisation over episodes (module docstring)."""

    name = "grpo"
    kind = "grpo"  # which outcome advantage (episode_advantages); RLOO changes only this

    def advantages(self, trajectories: Sequence) -> np.ndarray:
        cfg = self.trainer.config
        return episode_advantages(trajectories, kind=self.kind, norm_by_std=cfg.norm_by_std,
                                  stats_across_steps=cfg.stats_across_steps, invalid_penalty=cfg.invalid_penalty)
