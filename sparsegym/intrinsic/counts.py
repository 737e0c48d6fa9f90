"""Episodic (or global) state counts behind the intrinsic protocol, for combining with learned bonuses."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import IntrinsicModule


def row_keys(x: Any) -> list[bytes]:
    """A hash per row of an observation batch (exact equality of the flattened observation)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in x]


class EpisodicCount(IntrinsicModule):
    """``1 / sqrt(N(s'))`` with counts per env that restart every episode (``episodic=True``), or
    shared and persistent (``episodic=False``)."""

    name = "episodic_count"
    episodic = True

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, episodic: bool = True,
                 device: str | None = None, seed: int = 0):
        super().__init__(obs_dim, n_actions, device, seed)
        self.episodic = episodic
        if not episodic:
            self.name = "count"
        self._counts: dict[int, Counter] = {}

    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        keys = row_keys(batch["next_obs"])
        ids = self.env_ids(batch, len(keys)) if self.episodic else np.zeros(len(keys), dtype=np.int64)
        out = np.empty(len(keys), dtype=np.float32)
        for row, (env, key) in enumerate(zip(ids, keys)):
            counts = self._counts.setdefault(int(env), Counter())
            counts[key] += 1
            out[row] = 1.0 / np.sqrt(counts[key])
        return out

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return {}

    def reset(self, env_ids: Iterable[int]) -> None:
        if self.episodic:
            for env in env_ids:
                self._counts.pop(int(env), None)
