"""State counts behind the intrinsic protocol: ``1 / sqrt(N(s'))``, episodic or global.

This module needs no torch (it implements the protocol without inheriting from
:class:`~sparsegym.intrinsic.base.IntrinsicModule`, and is registered as one), so torch-free wrappers
such as :class:`~sparsegym.wrappers.vector.VectorCountBonus` are built on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.utils.counts import VisitCounts
from sparsegym.utils.hashing import row_digests


def row_keys(x: Any) -> list[bytes]:
    """A key per row of an observation batch (exact equality of the flattened observation)."""
    return row_digests(x)


class EpisodicCount:
    """``1 / sqrt(N(s'))`` with counts per env that restart every episode (``episodic=True``), or
    shared by all envs and persistent (``episodic=False``).

    ``N`` counts every observation the env showed, the episode's first one included: on an env's first
    transition after :meth:`reset` (or ever), its ``obs`` is counted before ``next_obs`` when the batch
    carries ``obs``, as :class:`~sparsegym.wrappers.CountBonus` counts the reset observation and E3B
    puts the first state into its covariance.

    Examples:
        >>> import numpy as np
        >>> counts = EpisodicCount(2)
        >>> s0, s1 = np.zeros((1, 2)), np.ones((1, 2))
        >>> [float(counts.compute({"obs": s0, "next_obs": s1})[0]), float(counts.compute({"obs": s1, "next_obs": s0})[0])]
        [1.0, 0.7071067690849304]
    """

    name = "episodic_count"
    normalization = None
    normalize_returns = False
    episodic = True
    episodic_returns = False

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, episodic: bool = True,
                 device: str | None = None, seed: int = 0):
        self.obs_dim, self.n_actions, self.device, self.seed = int(obs_dim), n_actions, device, seed
        self.episodic = bool(episodic)
        if not self.episodic:
            self.name = "count"
        self.visits = VisitCounts(per_env=self.episodic)
        self._started: set[int] = set()  # envs whose episode's first observation was counted

    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        keys = row_digests(batch["next_obs"])
        ids = np.arange(len(keys)) if batch.get("env_ids") is None else np.asarray(batch["env_ids"], dtype=np.int64)
        if "obs" in batch:
            fresh = [row for row, env in enumerate(ids) if int(env) not in self._started]
            if fresh:
                starts = row_digests(np.asarray(batch["obs"])[fresh] if not hasattr(batch["obs"], "detach")
                                     else batch["obs"][fresh])
                for row, key in zip(fresh, starts):
                    self._started.add(int(ids[row]))
                    self.visits.add(key, ids[row])
        out = np.empty(len(keys), dtype=np.float32)
        for row, (env, key) in enumerate(zip(ids, keys)):
            out[row] = 1.0 / np.sqrt(self.visits.add(key, env))
        return out

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return {}

    def reset(self, env_ids: Iterable[int]) -> None:
        env_ids = [int(e) for e in env_ids]
        self.visits.clear(env_ids)
        self._started.difference_update(env_ids)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        return None
