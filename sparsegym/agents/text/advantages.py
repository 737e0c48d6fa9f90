"""Group-relative advantages of the text trainers, as verl-agent computes them (pure numpy).

A *group* holds the episodes played from one task seed. Every turn of episode ``i`` gets the same
outcome advantage, computed from the episode returns ``R`` of its group:

* **GRPO** (:func:`grpo_advantages`): ``A_i = (R_i - mean) / (std + eps)``, with the unbiased (Bessel)
  std and ``eps = 1e-6``; a group of one sample gets mean 0 and std 1 (so ``A = R``).
  ``norm_by_std=False`` is Dr. GRPO: ``A_i = R_i - mean``.
* **RLOO** (:func:`rloo_advantages`): ``A_i = R_i - mean_{j != i} R_j = n / (n - 1) * (R_i - mean)``; a
  group of one sample keeps ``A = R``.

**Across steps.** verl-agent trains on turn-samples and, by default (``compute_mean_std_cross_steps``),
takes the group's statistics over all of them: ``R_i`` counts once per turn of episode ``i``, so long
episodes weigh more, and ``n`` is the number of turn-samples. Here the statistics are over episodes
(each counts once) unless ``lengths`` is given, which repeats each ``R_i`` ``lengths[i]`` times.

:func:`discounted_step_returns` gives the per-turn returns GiGPO's step-level advantages compare.

Examples:
    >>> import numpy as np
    >>> from sparsegym.agents.text.advantages import grpo_advantages, rloo_advantages
    >>> R, groups = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0, 0, 0, 0])
    >>> grpo_advantages(R, groups).round(4)   # mean 0.25, unbiased std 0.5
    array([ 1.5, -0.5, -0.5, -0.5])
    >>> rloo_advantages(R, groups).round(4)   # 4/3 * (R - 0.25)
    array([ 1.    , -0.3333, -0.3333, -0.3333])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError

__all__ = ["broadcast", "discounted_step_returns", "grpo_advantages", "group_statistics", "rloo_advantages"]

EPS = 1e-6


def group_statistics(returns: Any, groups: Any, lengths: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per episode: its group's mean, unbiased std and sample count ``n``. A group with one sample has
    mean 0 and std 1 (verl's convention). ``lengths``: count episode ``i`` that many times (across steps)."""
    returns = np.asarray(returns, dtype=np.float64)
    groups = np.asarray(groups)
    if returns.shape != groups.shape or returns.ndim != 1:
        raise ConfigError(f"returns and groups must be 1-D of one length, got {returns.shape} and {groups.shape}")
    weights = np.ones_like(returns) if lengths is None else np.asarray(lengths, dtype=np.float64)
    if weights.shape != returns.shape or (weights < 1).any():
        raise ConfigError("lengths must give every episode a count of at least 1")
    mean, std, count = np.zeros_like(returns), np.ones_like(returns), np.ones_like(returns)
    for g in np.unique(groups):
        member = groups == g
        r, w = returns[member], weights[member]
        n = w.sum()
        count[member] = n
        if n > 1:
            m = float((w * r).sum() / n)
            mean[member] = m
            std[member] = np.sqrt((w * (r - m) ** 2).sum() / (n - 1))
    return mean, std, count


def grpo_advantages(returns: Any, groups: Any, *, norm_by_std: bool = True, lengths: Any = None,
                    eps: float = EPS) -> np.ndarray:
    """GRPO's outcome advantage of each episode (module docstring); ``norm_by_std=False``: Dr. GRPO."""
    returns = np.asarray(returns, dtype=np.float64)
    mean, std, _ = group_statistics(returns, groups, lengths)
    centred = returns - mean
    return centred / (std + eps) if norm_by_std else centred


def rloo_advantages(returns: Any, groups: Any, *, lengths: Any = None) -> np.ndarray:
    """RLOO's leave-one-out advantage of each episode (module docstring)."""
    returns = np.asarray(returns, dtype=np.float64)
    mean, _, n = group_statistics(returns, groups, lengths)
    scale = np.where(n > 1, n / np.maximum(n - 1, 1), 1.0)
    return np.where(n > 1, scale * (returns - mean), returns)


def broadcast(per_episode: Any, lengths: Sequence[int]) -> np.ndarray:
    """Each episode's scalar repeated over its turns, episodes one after another.

    >>> broadcast([1.0, -2.0], [2, 3]).tolist()
    [1.0, 1.0, -2.0, -2.0, -2.0]
    """
    return np.repeat(np.asarray(per_episode, dtype=np.float64), np.asarray(lengths, dtype=np.int64))


def discounted_step_returns(rewards: Any, gamma: float, invalid: Any = None, penalty: float = 0.0) -> np.ndarray:
    """GiGPO's step returns of one episode: ``R_t = sum_{k >= t} gamma^(k - t) r_k``; then ``penalty``
    is subtracted from the turns whose action was invalid (after discounting: it is not carried back).

    >>> discounted_step_returns([0.0, 0.0, 1.0], 0.5).tolist()
    [0.25, 0.5, 1.0]
    >>> discounted_step_returns([0.0, 0.0, 1.0], 0.5, invalid=[True, False, False], penalty=0.1).tolist()
    [0.15, 0.5, 1.0]
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    if invalid is not None and penalty:
        out = out - penalty * np.asarray(invalid, dtype=np.float64)
    return out
