"""Intrinsic Curiosity Module (Pathak, Agrawal, Efros and Darrell, 2017).

Features ``phi`` are learned by an inverse-dynamics model (predict the action from ``phi(s)`` and
``phi(s')``), so they keep what the agent can affect and drop what it cannot; a forward model predicts
``phi(s')`` from ``phi(s)`` and the action. The bonus is ``eta / 2 * ||phi_hat(s') - phi(s')||^2``.
The loss is ``(1 - beta) * L_inverse + beta * L_forward`` with ``beta = 0.2`` as in the paper; the
forward loss does not move the features (their target is detached), which keeps them from collapsing.
``phi`` is an MLP over flat observations, or starts with ``encoder`` when one is given (the paper's
convolutional feature net; see :data:`sparsegym.intrinsic.base.Encoder`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import Encoder, IntrinsicModule, minibatches, mlp, torch

F = torch.nn.functional


class InverseDynamicsEmbedding(torch.nn.Module):
    """``phi`` plus an inverse head: shared by ICM, E3B and the hindsight module."""

    def __init__(self, obs_dim: int, n_actions: int, feature_dim: int, hidden: int, layer_norm: bool = False,
                 body: Any = None):
        """``body``: the network from observations to ``feature_dim`` features (before the final
        activation or LayerNorm); default ``mlp([obs_dim, hidden, feature_dim])``."""
        super().__init__()
        if layer_norm:  # E3B's embedding ends in a LayerNorm (no ReLU), so no feature is ever switched off
            body = mlp([obs_dim, hidden, feature_dim]) if body is None else body
            self.phi = torch.nn.Sequential(body, torch.nn.LayerNorm(feature_dim))
        else:
            self.phi = mlp([obs_dim, hidden, feature_dim], last_activation=True) if body is None else \
                torch.nn.Sequential(body, torch.nn.ReLU())
        self.inverse = mlp([2 * feature_dim, hidden, n_actions])

    def inverse_loss(self, f: Any, f_next: Any, actions: Any) -> Any:
        return F.cross_entropy(self.inverse(torch.cat([f, f_next], dim=1)), actions)


class ICM(IntrinsicModule):
    name = "icm"

    def __init__(self, obs_dim: int, n_actions: int, *, feature_dim: int = 64, hidden: int = 256, eta: float = 1.0,
                 beta: float = 0.2, lr: float = 1e-3, batch_size: int = 256, epochs: int = 1,
                 device: str | None = None, seed: int = 0, encoder: Encoder = None, observation_space: Any = None):
        super().__init__(obs_dim, n_actions, device, seed, encoder=encoder, observation_space=observation_space)
        with self.seeded():
            body = self.obs_mlp([obs_dim, hidden, feature_dim]) if self.has_encoder else None
            self.embedding = InverseDynamicsEmbedding(obs_dim, n_actions, feature_dim, hidden, body=body).to(self.device)
            self.forward_model = mlp([feature_dim + n_actions, hidden, feature_dim]).to(self.device)
        self.optimizer = torch.optim.Adam(list(self.embedding.parameters()) + list(self.forward_model.parameters()), lr=lr)
        self.eta, self.beta, self.batch_size, self.epochs = eta, beta, batch_size, epochs
        self._rng = np.random.default_rng(seed)

    def _forward_error(self, obs: Any, next_obs: Any, actions: Any) -> tuple[Any, Any, Any]:
        f, f_next = self.embedding.phi(obs), self.embedding.phi(next_obs)
        pred = self.forward_model(torch.cat([f, self.one_hot(actions)], dim=1))
        return 0.5 * (pred - f_next.detach()).pow(2).sum(dim=1), f, f_next

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        err, _, _ = self._forward_error(self.tensor(batch["obs"]), self.tensor(batch["next_obs"]), batch["action"])
        return (self.eta * err).cpu().numpy()

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs, next_obs = self.tensor(batch["obs"]), self.tensor(batch["next_obs"])
        actions = self.tensor(batch["action"], torch.int64).reshape(-1)
        inv_losses, fwd_losses = [], []
        for _ in range(self.epochs):
            for idx in minibatches(len(actions), self.batch_size, self._rng):
                fwd, f, f_next = self._forward_error(obs[idx], next_obs[idx], actions[idx])
                inv = self.embedding.inverse_loss(f, f_next, actions[idx])
                loss = (1 - self.beta) * inv + self.beta * fwd.mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                inv_losses.append(inv.item())
                fwd_losses.append(fwd.mean().item())
        return {"icm_inverse_loss": float(np.mean(inv_losses)), "icm_forward_loss": float(np.mean(fwd_losses))}
