"""Bookkeeping of ``info["reward_components"]`` shared by every reward wrapper.

The contract (DESIGN.md): ``reward_components`` holds ``extrinsic``, the task's own reward, plus one
entry per wrapper that changed the reward, and the reward an env returns is their sum. Wrappers add
their term under their own name and never touch ``extrinsic``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def components(info: dict[str, Any], reward: float) -> dict[str, float]:
    """The step's component dict, created as ``{"extrinsic": reward}`` for envs that lack one."""
    comps = info.get("reward_components")
    if comps is None:
        comps = info["reward_components"] = {"extrinsic": float(reward)}
    return comps


def add_component(info: dict[str, Any], reward: float, name: str, value: float) -> float:
    """Add ``value`` under ``name`` (summing with an earlier term of that name); return the new reward."""
    comps = components(info, reward)
    comps[name] = comps.get(name, 0.0) + float(value)
    return float(reward) + float(value)


def add_vector_component(infos: dict[str, Any], rewards: np.ndarray, name: str, values: np.ndarray) -> np.ndarray:
    """Vector-env version: ``infos["reward_components"]`` holds one array per component."""
    rewards = np.asarray(rewards, dtype=np.float64)
    comps = infos.get("reward_components")
    if comps is None:
        everyone = np.ones(len(rewards), dtype=bool)
        comps = infos["reward_components"] = {"extrinsic": rewards.copy(), "_extrinsic": everyone}
        infos["_reward_components"] = everyone
    values = np.asarray(values, dtype=np.float64)
    comps[name] = comps[name] + values if name in comps else values
    comps[f"_{name}"] = np.ones(len(rewards), dtype=bool)
    return rewards + values
