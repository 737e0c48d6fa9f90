"""Random Network Distillation (Burda, Edwards, Storkey and Klimov, 2018).

The bonus is the error of a trained predictor at matching a fixed, randomly initialised target network
on the (normalised) next observation: high on states unlike those trained on, shrinking as a state is
revisited. As in the paper, observations are whitened with running statistics and clipped to [-5, 5],
only a fraction of each batch trains the predictor, and wrappers divide the bonus by a running standard
deviation of the discounted intrinsic return (``normalize_returns``).

Both networks read flat observations with an MLP, or, given ``encoder`` (the paper's convolutional
nets, or any feature extractor; see :data:`sparsegym.intrinsic.base.Encoder`), start with their own
copy of the encoder; encoded observations are not whitened (the encoder owns its input processing).

Example:
    >>> import numpy as np
    >>> rnd = RND(4, device="cpu", seed=0)
    >>> bonus = rnd.compute({"next_obs": np.ones((2, 4), np.float32)})
    >>> bonus.shape, bool(bonus[0] == bonus[1])
    ((2,), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import (
    Encoder,
    IntrinsicModule,
    RunningMeanStd,
    minibatches,
    normalize_obs,
    torch,
)


class RND(IntrinsicModule):
    name = "rnd"
    normalize_returns = True

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, embed_dim: int = 64, hidden: int = 256,
                 lr: float = 1e-4, update_proportion: float = 0.25, batch_size: int = 256, epochs: int = 1,
                 obs_clip: float = 5.0, device: str | None = None, seed: int = 0, encoder: Encoder = None,
                 observation_space: Any = None):
        super().__init__(obs_dim, n_actions, device, seed, encoder=encoder, observation_space=observation_space)
        with self.seeded():
            self.target = self.obs_mlp([obs_dim, hidden, hidden, embed_dim]).to(self.device)
            self.predictor = self.obs_mlp([obs_dim, hidden, hidden, hidden, embed_dim]).to(self.device)
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=lr)
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.update_proportion, self.batch_size, self.epochs = update_proportion, batch_size, epochs
        self.obs_clip = obs_clip
        self._rng = np.random.default_rng(seed)

    def normalize(self, obs: Any) -> Any:
        return normalize_obs(self, obs, self.obs_rms, self.obs_clip)

    def errors(self, obs: Any) -> Any:
        """Per-row prediction error (a tensor), the novelty of ``obs``."""
        x = self.normalize(obs)
        return (self.predictor(x) - self.target(x)).pow(2).mean(dim=1)

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        return self.errors(batch["next_obs"]).cpu().numpy()

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs = np.asarray(batch["next_obs"], dtype=np.float32) if not isinstance(batch["next_obs"], torch.Tensor) \
            else batch["next_obs"].detach().cpu().numpy()
        self.obs_rms.update(obs)
        x = self.normalize(obs)
        with torch.no_grad():
            target = self.target(x)
        losses = []
        for _ in range(self.epochs):
            for idx in minibatches(len(obs), self.batch_size, self._rng):
                err = (self.predictor(x[idx]) - target[idx]).pow(2).mean(dim=1)
                mask = torch.as_tensor(self._rng.random(len(idx)) < self.update_proportion, device=self.device).float()
                loss = (err * mask).sum() / mask.sum().clamp(min=1.0)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        return {"rnd_loss": float(np.mean(losses)) if losses else 0.0}
