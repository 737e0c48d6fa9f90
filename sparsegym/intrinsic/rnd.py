"""Random Network Distillation (Burda, Edwards, Storkey and Klimov, 2018).

The bonus is the error of a trained predictor at matching a fixed, randomly initialised target network
on the (normalised) next observation: high on states unlike those trained on, shrinking as a state is
revisited. As in the paper, observations are whitened with running statistics and clipped to [-5, 5],
only a fraction of each batch trains the predictor, and wrappers divide the bonus by a running standard
deviation of the discounted intrinsic return (``normalize_returns``).

Following the authors' code (``openai/random-network-distillation``):

* **the predictor's share of each batch** (``update_proportion``): the paper's 0.25 is for 128 envs
  (Burda et al. 2018, Table 5); the code trains the predictor on the experience of 32 envs whatever the
  number of envs (``proportion_of_exp_used_for_predictor_update``, 1.0 at the default 32 envs of
  ``run_atari.py``, 0.25 at 128). ``update_proportion=None`` (the default) is ``min(1, 32 / num_envs)``
  with ``num_envs`` as told by :meth:`bind_envs` (an
  :class:`~sparsegym.intrinsic.stream.IntrinsicStream` tells it); a number fixes it (0.25 is the
  earlier default here);
* **observation statistics** start from a random agent's steps (``ppo_agent.py``,
  ``collect_random_statistics``, 50 rollouts of 128 steps): :meth:`init_obs_stats` takes such
  observations; :class:`sparsegym.agents.PPO` collects them before training
  (``intrinsic_obs_init_steps``). Without it the first batches are whitened with statistics of a
  handful of observations;
* the bonus is the mean over features of the squared error (their ``int_rew``), as here.

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
    """Random Network Distillation (see the module docstring).

    Args:
        update_proportion: the share of each batch that trains the predictor; None: scaled with the
            number of envs as the authors' code does, ``min(1, 32 / num_envs)``.
        num_envs: the number of envs that feed the module (default: told later by :meth:`bind_envs`;
            1 until then).
    """

    name = "rnd"
    normalize_returns = True
    #: envs whose experience the predictor trains on per batch in the authors' code
    REFERENCE_ENVS = 32

    def __init__(self, obs_dim: int, n_actions: int | None = None, *, embed_dim: int = 64, hidden: int = 256,
                 lr: float = 1e-4, update_proportion: float | None = None, batch_size: int = 256, epochs: int = 1,
                 obs_clip: float = 5.0, device: str | None = None, seed: int = 0, encoder: Encoder = None,
                 observation_space: Any = None, num_envs: int | None = None):
        super().__init__(obs_dim, n_actions, device, seed, encoder=encoder, observation_space=observation_space)
        with self.seeded():
            self.target = self.obs_mlp([obs_dim, hidden, hidden, embed_dim]).to(self.device)
            self.predictor = self.obs_mlp([obs_dim, hidden, hidden, hidden, embed_dim]).to(self.device)
        for p in self.target.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=lr)
        self.obs_rms = RunningMeanStd((obs_dim,))
        self.fixed_update_proportion = update_proportion
        self.batch_size, self.epochs = batch_size, epochs
        self.num_envs = 1
        self.bind_envs(num_envs or 1)
        self.obs_clip = obs_clip
        self._rng = np.random.default_rng(seed)

    @staticmethod
    def scaled_update_proportion(num_envs: int) -> float:
        """The authors' share of a batch for the predictor: the experience of 32 envs, ``min(1, 32 / n)``."""
        return min(1.0, RND.REFERENCE_ENVS / max(1, int(num_envs)))

    def bind_envs(self, num_envs: int) -> None:
        """Learn how many envs feed the module (the predictor's share of each batch follows it unless
        ``update_proportion`` was given)."""
        self.num_envs = int(num_envs)
        self.update_proportion = (self.scaled_update_proportion(self.num_envs)
                                  if self.fixed_update_proportion is None else float(self.fixed_update_proportion))

    @property
    def wants_obs_stats(self) -> bool:
        """Whether :meth:`init_obs_stats` matters: observations are whitened (no encoder)."""
        return not self.has_encoder

    def init_obs_stats(self, obs: Any) -> None:
        """Start the observation statistics from ``obs`` (flat rows, e.g. a random agent's), as the
        authors do before training."""
        obs = obs.detach().cpu().numpy() if isinstance(obs, torch.Tensor) else np.asarray(obs, dtype=np.float32)
        self.obs_rms.update(obs.reshape(len(obs), -1))

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
