"""State counts behind the intrinsic protocol: ``1 / sqrt(N(s'))`` or the first-visit indicator
``1[N(s') = 1]``, episodic or global.

Keys: by default the flattened observation (exact equality); when the batch carries ``keys`` (one
hashable per row for ``next_obs``, and ``obs_keys`` for ``obs``: what an
:class:`~sparsegym.intrinsic.stream.IntrinsicStream` passes on from ``info["state_key"]``, e.g. the
agent's position or NetHack's message, put there by :class:`sparsegym.wrappers.StateKeyInfo` or PPO's
``intrinsic_key``), those are counted instead. Henaff, Jiang and Raileanu (ICML 2023, Section 3) count
chosen features (position, message) this way.

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


def count_bonus(n: Any, bonus: str = "inverse_sqrt") -> np.ndarray:
    """The bonus of count(s) ``n``: ``1 / sqrt(n)`` (``"inverse_sqrt"``) or ``1[n == 1]`` (``"first_visit"``)."""
    n = np.asarray(n, dtype=np.float64)
    if bonus == "first_visit":
        return (n == 1).astype(np.float32)
    return (1.0 / np.sqrt(n)).astype(np.float32)


BONUSES = ("inverse_sqrt", "first_visit")


class EpisodicCount:
    """``1 / sqrt(N(s'))`` (``bonus="inverse_sqrt"``) or ``1[N(s') = 1]`` (``bonus="first_visit"``),
    with counts per env that restart every episode (``episodic=True``), or shared by all envs and
    persistent (``episodic=False``).

    The global x episodic study (Henaff, Jiang and Raileanu, ICML 2023) uses the first-visit indicator
    as its episodic count bonus and ``1 / sqrt(N)`` as its global one; ``make_intrinsic`` names them
    ``episodic_counts`` and ``global_counts`` (``counts`` is the earlier episodic ``1 / sqrt(N)``).

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
                 bonus: str = "inverse_sqrt", device: str | None = None, seed: int = 0):
        from sparsegym.errors import ConfigError

        if bonus not in BONUSES:
            raise ConfigError(f"count bonus must be one of {', '.join(BONUSES)}, got {bonus!r}")
        self.obs_dim, self.n_actions, self.device, self.seed = int(obs_dim), n_actions, device, seed
        self.episodic, self.bonus = bool(episodic), bonus
        if not self.episodic:
            self.name = "count"
        if bonus == "first_visit":
            self.name = "first_visit" if self.episodic else "global_first_visit"
        self.visits = VisitCounts(per_env=self.episodic)
        self._started: set[int] = set()  # envs whose episode's first observation was counted

    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        keyed = batch.get("keys") is not None  # state keys: the start is counted only by its key, if given
        keys = list(batch["keys"]) if keyed else row_digests(batch["next_obs"])
        ids = np.arange(len(keys)) if batch.get("env_ids") is None else np.asarray(batch["env_ids"], dtype=np.int64)
        if (batch.get("obs_keys") is not None) if keyed else ("obs" in batch):
            fresh = [row for row, env in enumerate(ids) if int(env) not in self._started]
            if fresh:
                if batch.get("obs_keys") is not None:
                    starts = [batch["obs_keys"][row] for row in fresh]
                else:
                    starts = row_digests(np.asarray(batch["obs"])[fresh] if not hasattr(batch["obs"], "detach")
                                         else batch["obs"][fresh])
                for row, key in zip(fresh, starts):
                    self._started.add(int(ids[row]))
                    self.visits.add(key, ids[row])
        n = np.empty(len(keys), dtype=np.int64)
        for row, (env, key) in enumerate(zip(ids, keys)):
            n[row] = self.visits.add(key, env)
        return count_bonus(n, self.bonus)

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
