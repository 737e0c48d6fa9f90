"""Observations as flat float rows: what the intrinsic modules and flat encoders read."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces


def flat_dim(space: gymnasium.Space) -> int:
    """The length of a flattened observation of ``space`` (Discrete parts one-hot)."""
    return int(spaces.flatdim(space))


def flatten_observation(space: gymnasium.Space, obs: Any) -> np.ndarray:
    """A float32 vector for any Box/Discrete/Dict/Tuple observation (Discrete parts one-hot)."""
    return np.asarray(spaces.flatten(space, obs), dtype=np.float32)


def flatten_batch(space: gymnasium.Space, obs: Any, n: int) -> np.ndarray:
    """Flatten a batch of ``n`` observations of ``space`` (the single-env space) to ``(n, flatdim)``
    float32 rows, as :func:`flatten_observation` would each one."""
    if isinstance(space, spaces.Box):
        return np.asarray(obs, dtype=np.float32).reshape(n, -1)
    if isinstance(space, spaces.Discrete):
        out = np.zeros((n, space.n), dtype=np.float32)
        out[np.arange(n), np.asarray(obs, dtype=np.int64) - space.start] = 1.0
        return out
    if isinstance(space, spaces.MultiBinary):
        return np.asarray(obs, dtype=np.float32).reshape(n, -1)
    if isinstance(space, spaces.Dict):
        return np.concatenate([flatten_batch(sub, obs[k], n) for k, sub in space.spaces.items()], axis=1)
    if isinstance(space, spaces.Tuple):
        return np.concatenate([flatten_batch(sub, o, n) for sub, o in zip(space.spaces, obs)], axis=1)
    return np.stack([flatten_observation(space, o) for o in obs])


def unflatten_batch(space: gymnasium.Space, flat: np.ndarray) -> Any:
    """Inverse of :func:`flatten_batch` for Box, Discrete and Dict spaces."""
    if isinstance(space, spaces.Box):
        return flat.reshape(len(flat), *space.shape).astype(space.dtype)
    if isinstance(space, spaces.Discrete):
        return flat.argmax(axis=1) + space.start
    if isinstance(space, spaces.Dict):
        out, start = {}, 0
        for key, sub in space.spaces.items():
            width = flat_dim(sub)
            out[key] = unflatten_batch(sub, flat[:, start:start + width])
            start += width
        return out
    raise TypeError(f"cannot unflatten observations of {space}")
