"""Random Distribution Distillation (Fang, Yang, Tao, Lyu, Li, Shen and Li, 2025).

RND with a *stochastic* target: each time the predictor trains on a state, its regression target is a
fresh sample from ``N(f(s), sigma^2 I)`` around a fixed random network ``f``. A predictor trained on a
state ``n`` times sits near the mean of ``n`` samples, at distance about ``sigma * sqrt(d / n)`` from
``f(s)``: a pseudo-count term that decays like ``1 / sqrt(n)``, on top of the approximation error that
plain RND measures (the paper's discrepancy term).

The bonus paid here is that distance, ``||g(s') - f(s')||_2 / sqrt(d)``. The paper bounds the reward by
those two terms; paying the distance to the target *mean* (rather than to one noisy sample, whose
expectation carries a constant ``sigma^2``) is our choice, made so the bonus goes to zero on
well-visited states.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import IntrinsicModule, torch
from sparsegym.intrinsic.rnd import RND


class RDD(RND):
    name = "rdd"

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, sigma: float = 1.0, **kwargs: Any):
        super().__init__(obs_dim, n_actions, **kwargs)
        self.sigma = float(sigma)
        self._noise = torch.Generator(device=self.device).manual_seed(self.seed)  # the targets' noise

    def errors(self, obs: Any) -> Any:
        x = self.normalize(obs)
        return (self.predictor(x) - self.target(x)).pow(2).mean(dim=1).sqrt()

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs = batch["next_obs"]
        obs = obs.detach().cpu().numpy() if isinstance(obs, torch.Tensor) else np.asarray(obs, dtype=np.float32)
        self.obs_rms.update(obs)
        x = self.normalize(obs)
        losses = []
        for _ in range(self.epochs):
            with torch.no_grad():
                mean = self.target(x)
                target = mean + self.sigma * torch.randn(mean.shape, generator=self._noise, device=self.device)
            for start in range(0, len(obs), self.batch_size):
                idx = slice(start, start + self.batch_size)
                loss = (self.predictor(x[idx]) - target[idx]).pow(2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
        return {"rdd_loss": float(np.mean(losses)) if losses else 0.0}


__all__ = ["RDD", "IntrinsicModule"]
