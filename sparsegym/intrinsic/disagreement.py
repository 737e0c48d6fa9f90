"""Curiosity by ensemble disagreement (Pathak, Gandhi and Gupta, 2019, "Self-Supervised Exploration via
Disagreement"), a noise-robust bonus.

An ensemble of ``n_models`` forward models each predicts the embedding ``psi(s')`` of the next
observation from ``(s, a)``; the bonus is the variance of their predictions (mean over embedding
dimensions). The models start from different random weights and train on the same batches, so they
agree only where the data pins the answer down (the paper also allows bootstrapped batches; on
``benchmarks/noisy_tv.py`` they did slightly worse: TV / novel 1.39 against 1.30). Where the next state is noise (a noisy TV), every model learns the same
conditional mean of ``psi(s')`` and the variance between them goes to zero however unpredictable the
frame is; where the agent has not been, the models have not been fitted and disagree. The error of
any one model would stay high on the TV (that is what traps RND and ICM-style bonuses); their spread
does not.

Choices here: ``psi`` is a fixed random network of the normalised observation (RND's target; the paper
uses a fixed random or learned feature space and reports both work), observations are normalised
with running statistics as in RND, and the models see the normalised ``s`` and a one-hot action.
Given ``encoder`` (see :data:`sparsegym.intrinsic.base.Encoder`), ``psi`` starts with it instead of an
MLP layer, and the models read ``s`` through the same fixed encoder (the paper's forward models work
in the embedding space), with the one-hot action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import Encoder, IntrinsicModule, RunningMeanStd, mlp, normalize_obs, torch


class Disagreement(IntrinsicModule):
    name = "disagreement"

    def __init__(self, obs_dim: int, n_actions: int, *, n_models: int = 5, embed_dim: int = 64, hidden: int = 256,
                 lr: float = 1e-3, batch_size: int = 256, epochs: int = 1, obs_clip: float = 5.0, polyak: float = 0.98,
                 device: str | None = None, seed: int = 0, encoder: Encoder = None, observation_space: Any = None):
        super().__init__(obs_dim, n_actions, device, seed, encoder=encoder, observation_space=observation_space)
        if n_models < 2:
            raise ConfigError(f"disagreement needs at least 2 models, got {n_models}")
        with self.seeded():
            self.target = self.obs_mlp([obs_dim, hidden, embed_dim]).to(self.device)
            for p in self.target.parameters():
                p.requires_grad_(False)
            width = hidden if self.has_encoder else obs_dim
            self.models = torch.nn.ModuleList(
                [mlp([width + n_actions, hidden, hidden, embed_dim]) for _ in range(n_models)]).to(self.device)
        self.optimizer = torch.optim.Adam(self.models.parameters(), lr=lr)
        # Slow (Polyak-averaged) copies score the bonus: SGD on noisy targets keeps the fast models
        # jittering around the conditional mean, which would read as disagreement on the TV.
        import copy

        self.slow = copy.deepcopy(self.models)
        for p in self.slow.parameters():
            p.requires_grad_(False)
        self.polyak = polyak
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.batch_size, self.epochs, self.obs_clip = batch_size, epochs, obs_clip
        self._rng = np.random.default_rng(seed)

    def normalize(self, obs: Any) -> Any:
        return normalize_obs(self, obs, self.obs_rms, self.obs_clip)

    def inputs(self, obs: Any) -> Any:
        """What the models read of ``s``: the normalised observation, or its fixed encoding."""
        if self.has_encoder:
            with torch.no_grad():
                return self.target.features(self.tensor(obs))
        return self.normalize(obs)

    def predictions(self, obs: Any, actions: Any) -> Any:
        """``(n_models, batch, embed_dim)`` predictions of ``psi(s')``."""
        x = torch.cat([self.inputs(obs), self.one_hot(actions)], dim=1)
        return torch.stack([m(x) for m in self.slow])

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        return self.predictions(batch["obs"], batch["action"]).var(dim=0).mean(dim=1).cpu().numpy()

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs = np.asarray(batch["obs"], dtype=np.float32) if not isinstance(batch["obs"], torch.Tensor) \
            else batch["obs"].detach().cpu().numpy()
        self.obs_rms.update(obs)
        n = len(obs)
        with torch.no_grad():
            target = self.target(self.normalize(batch["next_obs"]))
        x = torch.cat([self.inputs(obs), self.one_hot(batch["action"])], dim=1)
        losses = []
        for _ in range(self.epochs):
            for _start in range(0, n, self.batch_size):
                loss = 0.0
                idx = torch.as_tensor(self._rng.integers(0, n, size=min(self.batch_size, n)), device=self.device)
                for m in self.models:  # the same data for all: they differ only where it does not constrain them
                    loss = loss + (m(x[idx]) - target[idx]).pow(2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                with torch.no_grad():
                    for ps, pf in zip(self.slow.parameters(), self.models.parameters()):
                        ps.mul_(self.polyak).add_(pf, alpha=1 - self.polyak)
                losses.append(float(loss.item()) / len(self.models))
        return {"disagreement_loss": float(np.mean(losses)) if losses else 0.0}
