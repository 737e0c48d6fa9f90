"""Return and advantage estimators (numpy and torch, same formulas)."""

from __future__ import annotations

from typing import Any

import numpy as np


def gae(rewards: Any, values: Any, dones: Any, last_value: Any, last_done: Any, gamma: float, lam: float) -> tuple[Any, Any]:
    """Generalised advantage estimation (Schulman et al., 2016) over a ``(T, N)`` rollout.

    ``dones[t]`` marks that the observation at step ``t`` *starts* a new episode (CleanRL's convention:
    ``dones[t]`` is the done flag returned by the step that produced ``obs[t]``), so the value of
    ``obs[t + 1]`` is not bootstrapped into step ``t`` when ``dones[t + 1]`` is set.

    ``delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_{t+1}) - V(s_t)``;
    ``A_t = delta_t + gamma * lam * (1 - done_{t+1}) * A_{t+1}``; returns ``(advantages, A + V)``.
    Works on numpy arrays or torch tensors.
    """
    lib = np if isinstance(rewards, np.ndarray) else __import__("torch")
    T = rewards.shape[0]
    adv = lib.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(T)):
        if t == T - 1:
            not_done, next_value = 1.0 - last_done, last_value
        else:
            not_done, next_value = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + gamma * next_value * not_done - values[t]
        last = delta + gamma * lam * not_done * last
        adv[t] = last
    return adv, adv + values


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``G_t = r_t + gamma * G_{t+1}`` for one episode."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out
