"""RLOO (Ahmadian et al., 2024): every turn of an episode gets the episode's return minus the mean return
of the *other* episodes of its group, ``n / (n - 1) * (R_i - mean)``; a group of one keeps ``R_i``.
``stats_across_steps`` and ``invalid_penalty`` work as for GRPO (:mod:`.grpo`)."""

from __future__ import annotations

from sparsegym.agents.text.algos.base import register
from sparsegym.agents.text.algos.grpo import GRPO

__all__ = ["RLOO"]


@register
class RLOO(GRPO):
    """REINFORCE leave-one-out over episodes (module docstring): GRPO's machinery with the leave-one-out
    baseline in place of the group-normalised return."""

    name = "rloo"
    kind = "rloo"
