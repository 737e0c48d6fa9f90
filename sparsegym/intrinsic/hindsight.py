"""Curiosity with a hindsight code, for stochastic environments (in the spirit of Jarrett, Tallec,
Altche, Mesnard, Munos and Valko, 2023, "Curiosity in Hindsight: Intrinsic Exploration in Stochastic
Environments").

Forward-prediction curiosity is drawn to noise: a noisy TV's next frame can never be predicted from
the present, so its error, and its bonus, never fades. The paper's remedy is to give the predictor a
*hindsight code* ``z``, computed from the realised transition ``(s, a, s')``, and to constrain ``z`` to
be independent of ``(s, a)``. Where the future is a deterministic function of ``(s, a)``, any code that
describes it is predictable from ``(s, a)`` and so forbidden; what ``z`` may carry is the part of the
outcome that ``(s, a)`` does not determine, the aleatoric noise. The predictor explains the noise away
with it, and the bonus, its remaining error, measures what is still unknown (epistemic).

How this module follows it:

* the prediction targets are features ``phi(s')`` learned by inverse dynamics (as ICM and E3B learn
  theirs; the paper builds on BYOL-Explore's learned latents; a fixed random target would make the
  bonus a measure of how *unfamiliar* the next observation is, which fresh noise always is);
* a forward model predicts ``phi(s')`` as ``g(phi(s), a) + W z``, with the hindsight code
  ``z = tanh(h(phi(s), a, phi(s')))`` of ``code_dim`` dimensions entering additively, so it can carry
  exactly the residual that ``(s, a)`` leaves; the bonus is ``||g(phi(s), a) + W z - phi(s')||^2 / d``;
* independence is enforced adversarially: a critic learns to tell real ``((phi(s), a), z)`` pairs from
  pairs whose ``z`` was shuffled across the batch, and the hindsight encoder is trained, with weight
  ``independence_weight``, to leave the critic at chance. The paper states the constraint as an
  invariance of the code's distribution to ``(s, a)``; the adversarial critic is our estimator of it.

``benchmarks/noisy_tv.py`` measures the bonus this module pays a noisy TV against RND and ICM.

Known limitation (measured on that benchmark, one seed, 400 updates): the module is *not* noise-robust
in the sense that matters. The code leaks what ``(s, a)`` determines: zeroing ``z`` raises the error on
seen ordinary transitions from 1.74 to 4.52 and on a never-trained task from 0.89 to 2.83, so the code
explains novelty away (the critic does not hold the code independent of ``(s, a)``; and a
deterministic code must be constant on deterministic transitions to be independent there, so its
distribution then differs between the TV and the rest, which the critic also penalises). The inverse-dynamics targets also shrink on unfamiliar states (their
variance is 3.9 on the new task against 5.9 on seen states), so novel / seen is 0.50. Replacing them by
a fixed random target with a Gaussian information-bottleneck code (KL to N(0, I), weight 1e-4 to 1e-2)
raised novel / seen to 1.1-1.8 but left TV / novel at 4.0-6.8: a bottleneck caps every residual alike
and cannot tell noise from novelty. For a bonus that is both noise-robust and novelty-seeking use
:mod:`.aleatoric`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sparsegym.intrinsic.base import IntrinsicModule, minibatches, mlp, torch
from sparsegym.intrinsic.icm import InverseDynamicsEmbedding

F = torch.nn.functional


class HindsightCuriosity(IntrinsicModule):
    name = "hindsight"

    def __init__(self, obs_dim: int, n_actions: int, *, feature_dim: int = 64, code_dim: int = 16, hidden: int = 256,
                 independence_weight: float = 1.0, lr: float = 1e-3, batch_size: int = 256, epochs: int = 1,
                 device: str | None = None, seed: int = 0):
        super().__init__(obs_dim, n_actions, device, seed)
        self.embedding = InverseDynamicsEmbedding(obs_dim, n_actions, feature_dim, hidden).to(self.device)
        self.forward_model = mlp([feature_dim + n_actions, hidden, feature_dim]).to(self.device)
        self.hindsight = mlp([2 * feature_dim + n_actions, hidden, code_dim]).to(self.device)
        self.code_readout = torch.nn.Linear(code_dim, feature_dim).to(self.device)
        self.critic = mlp([feature_dim + n_actions + code_dim, hidden, 1]).to(self.device)
        self.optimizer = torch.optim.Adam(
            [*self.embedding.parameters(), *self.forward_model.parameters(), *self.hindsight.parameters(),
             *self.code_readout.parameters()], lr=lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr)
        self.independence_weight, self.batch_size, self.epochs = independence_weight, batch_size, epochs
        self._rng = np.random.default_rng(seed)

    def _parts(self, obs: Any, actions: Any, next_obs: Any) -> dict[str, Any]:
        f, f_next, a = self.embedding.phi(obs), self.embedding.phi(next_obs), self.one_hot(actions)
        target = f_next.detach()
        context = torch.cat([f.detach(), a], dim=1)
        z = torch.tanh(self.hindsight(torch.cat([f.detach(), a, target], dim=1)))
        prediction = self.forward_model(torch.cat([f.detach(), a], dim=1)) + self.code_readout(z)
        return {"f": f, "f_next": f_next, "target": target, "context": context, "z": z, "prediction": prediction}

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        p = self._parts(self.tensor(batch["obs"]), batch["action"], self.tensor(batch["next_obs"]))
        return (p["prediction"] - p["target"]).pow(2).mean(dim=1).cpu().numpy()

    def update(self, batch: Mapping[str, Any]) -> dict[str, float]:
        obs, next_obs = self.tensor(batch["obs"]), self.tensor(batch["next_obs"])
        actions = self.tensor(batch["action"], torch.int64).reshape(-1)
        logs: dict[str, list[float]] = {"prediction": [], "inverse": [], "critic": [], "independence": []}
        for _ in range(self.epochs):
            for idx in minibatches(len(actions), self.batch_size, self._rng):
                if len(idx) < 2:
                    continue
                p = self._parts(obs[idx], actions[idx], next_obs[idx])
                shuffled = p["z"][torch.as_tensor(self._rng.permutation(len(idx)), device=self.device)]
                # The critic: real (context, z) pairs against pairs with z shuffled across the batch.
                real = self.critic(torch.cat([p["context"], p["z"].detach()], dim=1))
                fake = self.critic(torch.cat([p["context"], shuffled.detach()], dim=1))
                critic_loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + \
                    F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
                self.critic_optimizer.zero_grad()
                critic_loss.backward()
                self.critic_optimizer.step()
                # The model: inverse dynamics shapes the features; the forward model and the code
                # predict them; the code must leave the critic at chance.
                inverse = self.embedding.inverse_loss(p["f"], p["f_next"], actions[idx])
                prediction = (p["prediction"] - p["target"]).pow(2).mean()
                logits = self.critic(torch.cat([p["context"], p["z"]], dim=1))
                independence = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 0.5))
                loss = inverse + prediction + self.independence_weight * independence
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                for k, v in (("prediction", prediction), ("inverse", inverse), ("critic", critic_loss),
                             ("independence", independence)):
                    logs[k].append(v.item())
        return {f"hindsight_{k}_loss": float(np.mean(v)) if v else 0.0 for k, v in logs.items()}
