"""NovelD (Zhang, Xu, Wang, Wu, Keutzer, Gonzalez and Tian, 2021).

The bonus pays the *increase* in novelty along a transition, clipped at zero, and only the first
time ``s'`` is reached in the episode: ``max(N(s') - alpha * N(s), 0) * 1[N_episode(s') = 1]``, with
``N`` the RND prediction error and ``alpha = 0.5`` as in the paper. Crossing from explored into
unexplored territory pays; wandering inside either does not.

Keyword arguments other than ``alpha`` go to the inner :class:`~sparsegym.intrinsic.RND` (``encoder``
and ``observation_space`` included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import IntrinsicModule, torch
from sparsegym.intrinsic.rnd import RND
from sparsegym.utils.hashing import row_digests


class NovelD(IntrinsicModule):
    name = "noveld"
    normalize_returns = True
    episodic = True

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, alpha: float = 0.5, device: str | None = None,
                 seed: int = 0, **rnd_kwargs: Any):
        super().__init__(obs_dim, n_actions, device, seed)
        self.rnd = RND(obs_dim, n_actions, device=device, seed=seed, **rnd_kwargs)
        self.alpha = alpha
        self._seen: dict[int, set[bytes]] = {}

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        novelty_next = self.rnd.errors(batch["next_obs"]).cpu().numpy()
        novelty = self.rnd.errors(batch["obs"]).cpu().numpy()
        keys = row_digests(batch["next_obs"])
        ids = self.env_ids(batch, len(keys))
        first = np.empty(len(keys), dtype=np.float32)
        for row, (env, key) in enumerate(zip(ids, keys)):
            seen = self._seen.setdefault(int(env), set())
            first[row] = key not in seen
            seen.add(key)
        return np.maximum(novelty_next - self.alpha * novelty, 0.0) * first

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return self.rnd.update(batch)

    def reset(self, env_ids: Iterable[int]) -> None:
        for env in env_ids:
            self._seen.pop(int(env), None)
