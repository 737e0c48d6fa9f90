"""NovelD (Zhang, Xu, Wang, Wu, Keutzer, Gonzalez and Tian, NeurIPS 2021).

The bonus pays the *increase* in novelty along a transition, clipped at zero, and only the first
time ``s'`` is reached in the episode: ``max(N(s') - alpha * N(s), 0) * 1[N_episode(s') = 1]``, with
``alpha = 0.5`` as in the paper (Section 3, Eq. 3). Crossing from explored into unexplored territory
pays; wandering inside either does not.

What follows the paper and the authors' code (``tianjunz/NovelD``, ``src/algos/bebold.py``):

* **novelty** ``N(s)`` is the L2 norm of the RND embedding error, ``||f(s) - f_target(s)||_2``
  (``torch.norm(..., p=2)`` there), not its mean square. With the mean square, ``alpha`` acts on a
  squared scale: ``e' - 0.5 e`` in squared errors is zero where ``sqrt(e') = sqrt(0.5) sqrt(e)``, so
  alpha = 0.5 on squares behaves like about 0.71 on norms. ``novelty="mse"`` keeps the earlier
  behaviour of this module;
* **the first-visit gate** keys the *full* state (their episodic count reads the full grid, ``frame``,
  while the RND nets read the egocentric view, ``partial_obs``; ``src/utils.py``). Give the module full
  state keys through the batch (``batch["keys"]``: one hashable per row, what an
  :class:`~sparsegym.intrinsic.stream.IntrinsicStream` passes on from ``info["state_key"]``, which
  :class:`sparsegym.wrappers.StateKeyInfo` and PPO's ``intrinsic_key`` put there; PPO's default
  ``"auto"`` gives NovelD the family's ``full`` key, e.g. MiniGrid's whole grid and agent); without keys it
  falls back to the observation, which for an egocentric view conflates distinct states (a
  departure, stated);
* the episode's first state counts as visited (their count table takes the reset observation), so
  coming back to it pays nothing;
* **no normalisation**: the authors multiply the bonus by a coefficient and nothing else
  (``normalise="none"``, the default); ``normalise="return_std"`` keeps this module's earlier division
  by a running std of intrinsic returns.

Keyword arguments other than those go to the inner :class:`~sparsegym.intrinsic.RND` (``encoder``
and ``observation_space`` included).

Example:
    >>> import numpy as np
    >>> noveld = NovelD(4, device="cpu", seed=0)
    >>> batch = {"obs": np.zeros((1, 4), np.float32), "next_obs": np.ones((1, 4), np.float32), "keys": [7]}
    >>> first, again = noveld.compute(batch)[0], noveld.compute(batch)[0]  # state 7 twice in one episode
    >>> bool(first >= 0), float(again)
    (True, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import IntrinsicModule, torch
from sparsegym.intrinsic.rnd import RND
from sparsegym.utils.hashing import row_digests

NOVELTIES = ("l2", "mse")
NOVELD_NORMALISE = {"none": "none", "return_std": "return"}


def noveld_bonus(novelty_next: np.ndarray, novelty: np.ndarray, first_visit: np.ndarray, alpha: float) -> np.ndarray:
    """``max(N(s') - alpha * N(s), 0) * 1[first visit of s']`` row by row."""
    return np.maximum(np.asarray(novelty_next) - alpha * np.asarray(novelty), 0.0) * np.asarray(first_visit)


class NovelD(IntrinsicModule):
    """NovelD (see the module docstring).

    Args:
        alpha: the scale of the current state's novelty (0.5 in the paper).
        novelty: ``"l2"`` (the authors', default) or ``"mse"`` (this module's earlier novelty).
        normalise: ``"none"`` (the authors', default) or ``"return_std"`` (this module's earlier one).
    """

    name = "noveld"
    normalization = "none"
    episodic = True

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, alpha: float = 0.5, novelty: str = "l2",
                 normalise: str = "none", device: str | None = None, seed: int = 0, **rnd_kwargs: Any):
        super().__init__(obs_dim, n_actions, device, seed)
        if novelty not in NOVELTIES:
            raise ConfigError(f"NovelD novelty must be one of {', '.join(NOVELTIES)}, got {novelty!r}")
        if normalise not in NOVELD_NORMALISE:
            raise ConfigError(f"NovelD normalise must be one of {', '.join(NOVELD_NORMALISE)}, got {normalise!r}")
        self.rnd = RND(obs_dim, n_actions, device=device, seed=seed, **rnd_kwargs)
        self.alpha, self.novelty, self.normalise = alpha, novelty, normalise
        self.normalization = NOVELD_NORMALISE[normalise]
        self.normalize_returns = normalise == "return_std"
        self._seen: dict[int, set[Any]] = {}

    def bind_envs(self, num_envs: int) -> None:
        self.rnd.bind_envs(num_envs)

    @property
    def wants_obs_stats(self) -> bool:
        return self.rnd.wants_obs_stats

    def init_obs_stats(self, obs: Any) -> None:
        self.rnd.init_obs_stats(obs)

    def novelties(self, obs: Any) -> np.ndarray:
        """``N(obs)`` per row: the L2 norm of the embedding error (or its mean square, ``novelty="mse"``)."""
        x = self.rnd.normalize(obs)
        diff = self.rnd.predictor(x) - self.rnd.target(x)
        n = diff.norm(dim=1) if self.novelty == "l2" else diff.pow(2).mean(dim=1)
        return n.cpu().numpy()

    def first_visits(self, batch: Mapping[str, Any], size: int) -> np.ndarray:
        """1 where the row's state is new in its env's episode (then marked seen), else 0."""
        keyed = batch.get("keys") is not None
        keys = list(batch["keys"]) if keyed else row_digests(batch["next_obs"])
        ids = self.env_ids(batch, size)
        first = np.empty(size, dtype=np.float32)
        starts = None
        for row, (env, key) in enumerate(zip(ids, keys)):
            seen = self._seen.get(int(env))
            if seen is None:  # the episode's first state counts as visited (the authors count the reset state)
                seen = self._seen[int(env)] = set()
                if starts is None:
                    starts = (list(batch["obs_keys"]) if batch.get("obs_keys") is not None else None) if keyed \
                        else (row_digests(batch["obs"]) if "obs" in batch else None)
                if starts is not None:
                    seen.add(starts[row])
            first[row] = key not in seen
            seen.add(key)
        return first

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        novelty_next = self.novelties(batch["next_obs"])
        novelty = self.novelties(batch["obs"])
        return noveld_bonus(novelty_next, novelty, self.first_visits(batch, len(novelty_next)), self.alpha)

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        return self.rnd.update(batch)

    def reset(self, env_ids: Iterable[int]) -> None:
        for env in env_ids:
            self._seen.pop(int(env), None)
