"""Exploration via Elliptical Episodic Bonuses (Henaff, Raileanu, Jiang and Rocktaschel, 2022).

An embedding ``phi`` is trained by inverse dynamics; within an episode the bonus for reaching ``s'`` is
``phi(s')^T C^{-1} phi(s')`` with ``C = lambda * I + sum of phi phi^T`` over the episode's earlier
states, the elliptical generalisation of ``1 / N``. ``C^{-1}`` is kept per env and updated by the
Sherman-Morrison formula, and reset at every episode start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import IntrinsicModule, minibatches, torch
from sparsegym.intrinsic.icm import InverseDynamicsEmbedding


class E3B(IntrinsicModule):
    name = "e3b"
    episodic = True

    def __init__(self, obs_dim: int, n_actions: int, *, feature_dim: int = 32, hidden: int = 256, ridge: float = 0.1,
                 lr: float = 3e-4, batch_size: int = 256, epochs: int = 1, device: str | None = None, seed: int = 0):
        super().__init__(obs_dim, n_actions, device, seed)
        self.embedding = InverseDynamicsEmbedding(obs_dim, n_actions, feature_dim, hidden).to(self.device)
        self.optimizer = torch.optim.Adam(self.embedding.parameters(), lr=lr)
        self.feature_dim, self.ridge = feature_dim, ridge
        self.batch_size, self.epochs = batch_size, epochs
        self._cinv: dict[int, Any] = {}
        self._rng = np.random.default_rng(seed)

    def _fresh(self) -> Any:
        return torch.eye(self.feature_dim, device=self.device) / self.ridge

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        f = self.embedding.phi(self.tensor(batch["next_obs"]))
        ids = self.env_ids(batch, f.shape[0])
        out = np.empty(f.shape[0], dtype=np.float32)
        for row, env in enumerate(ids):  # in order: two rows of one env see each other
            cinv = self._cinv.get(int(env))
            if cinv is None:
                cinv = self._cinv[int(env)] = self._fresh()
            u = cinv @ f[row]
            b = torch.dot(f[row], u)
            out[row] = float(b)
            self._cinv[int(env)] = cinv - torch.outer(u, u) / (1.0 + b)
        return out

    def reset(self, env_ids: Iterable[int]) -> None:
        for env in env_ids:
            self._cinv.pop(int(env), None)

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs, next_obs = self.tensor(batch["obs"]), self.tensor(batch["next_obs"])
        actions = self.tensor(batch["action"], torch.int64).reshape(-1)
        losses = []
        for _ in range(self.epochs):
            for idx in minibatches(len(actions), self.batch_size, self._rng):
                loss = self.embedding.inverse_loss(self.embedding.phi(obs[idx]), self.embedding.phi(next_obs[idx]),
                                                   actions[idx])
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        return {"e3b_inverse_loss": float(np.mean(losses))}
