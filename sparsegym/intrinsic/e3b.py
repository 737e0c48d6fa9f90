"""Exploration via Elliptical Episodic Bonuses (Henaff, Raileanu, Jiang and Rocktaschel, 2022).

An embedding ``phi`` is trained by inverse dynamics; within an episode the bonus for reaching ``s'`` is
``phi(s')^T C^{-1} phi(s')`` with ``C = lambda * I + sum of phi phi^T`` over the episode's earlier
states, the elliptical generalisation of ``1 / N``. ``C^{-1}`` is kept per env and updated by the
Sherman-Morrison formula, and reset at every episode start.

Settings follow the authors' code (facebookresearch/e3b): ridge ``lambda = 0.1``; a 256-dimensional
embedding ending in a LayerNorm (their Sample Factory version; the first version used 1024 features);
inverse-dynamics learning rate 1e-4; the episode's first state enters ``C`` without paying a bonus
(their actor scores ``s_t`` and zeroes step 0; here, where the bonus is for reaching ``s'``, the first
transition's ``s`` is added to ``C`` before ``s'`` is scored).

Normalisation (``normalise``):

* ``"step_std"`` (default, the authors'): the bonus is divided by a running std of the per-step bonus
  itself (``normalize_intrinsic_rewards`` with a norm-only running mean/std applied to the batch of
  bonuses in ``minihack/sample-factory/sample_factory/algo/learning/learner.py``,
  ``_prepare_batch``); the stream's ``"step"`` normalisation.
* ``"return_std"``: what this module did before: divide by a running std of the discounted intrinsic
  return (RND's recipe, not E3B's).
* ``"none"``: the raw elliptical bonus.

Intrinsic returns end with the episode (``episodic_returns``). The authors train one value head on
``r + intrinsic_reward_coeff * r_int`` (same file: ``buff['rewards'] + coeff * intrinsic_rewards``);
:class:`sparsegym.agents.PPO` follows that recipe for E3B by default (``intrinsic_recipe="auto"``,
see there) and keeps the two-head variant as ``intrinsic_recipe="two_heads"``. An earlier version here
(32 ReLU features, no normalisation, returns across episodes, a first-step bonus of about 10-40 against
a task reward of at most 1) never solved a MiniGrid task in ``benchmarks/exploration.py``.

The embedding is an MLP over flat observations, or starts with ``encoder`` when one is given. The
authors embed MiniHack glyphs with a learned glyph embedding and a CNN (their ``make_custom_encoder``
from ``sf_examples/minihack``, the policy's own encoder architecture); PPO's ``intrinsic_encoder="auto"``
gives E3B the env family's policy encoder (NetHack/MiniHack:
:class:`~sparsegym.envs.nethack.encoder.NetHackEncoder`, glyph embeddings; MiniGrid: its CNN over
object codes) for the same reason. An MLP over
raw glyph ids (``intrinsic_encoder="flat"``) treats glyph ids as magnitudes, which they are not.

Measured (``benchmarks/exploration.py``, MiniGrid MultiRoom-N4-S5 at 0.5M frames, PPO rather than the
authors' IMPALA): the authors' recipe does not solve it (0.02-0.03 success over three seeds), while
PPO with two value heads and ``normalise="return_std"`` solves it on every seed (1.00, 178k-216k frames
to 0.9 success; ``PPOConfig(intrinsic_recipe="two_heads", intrinsic_kwargs={"normalise": "return_std"})``;
see docs/agents.md for the rows).

Not as the authors: the bonus is for reaching ``s'`` (theirs scores ``s_t``, the difference is one
step of indexing); ``C^{-1}`` is updated per transition with Sherman-Morrison, as theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import Encoder, IntrinsicModule, minibatches, torch
from sparsegym.intrinsic.icm import InverseDynamicsEmbedding

#: E3B's ``normalise`` options and the stream normalisation each one asks for.
E3B_NORMALISE = {"step_std": "step", "return_std": "return", "none": "none"}


class E3B(IntrinsicModule):
    """E3B's elliptical episodic bonus (see the module docstring).

    Args:
        normalise: ``"step_std"`` (the authors', default), ``"return_std"`` (this module's earlier
            behaviour) or ``"none"``.
    """

    name = "e3b"
    episodic = True
    normalization = "step"
    episodic_returns = True
    #: the authors' learner: one value head on r + r_int (see :class:`sparsegym.agents.PPO`)
    recipe = "one_head"

    def __init__(self, obs_dim: int, n_actions: int, *, feature_dim: int = 256, hidden: int = 256, ridge: float = 0.1,
                 lr: float = 1e-4, batch_size: int = 256, epochs: int = 1, device: str | None = None, seed: int = 0,
                 encoder: Encoder = None, observation_space: Any = None, normalise: str = "step_std"):
        super().__init__(obs_dim, n_actions, device, seed, encoder=encoder, observation_space=observation_space)
        if normalise not in E3B_NORMALISE:
            raise ConfigError(f"E3B normalise must be one of {', '.join(E3B_NORMALISE)}, got {normalise!r}")
        self.normalise = normalise
        self.normalization = E3B_NORMALISE[normalise]
        self.normalize_returns = normalise == "return_std"
        with self.seeded():
            body = self.obs_mlp([obs_dim, hidden, feature_dim]) if self.has_encoder else None
            self.embedding = InverseDynamicsEmbedding(obs_dim, n_actions, feature_dim, hidden, layer_norm=True,
                                                      body=body).to(self.device)
        self.optimizer = torch.optim.Adam(self.embedding.parameters(), lr=lr)
        self.feature_dim, self.ridge = feature_dim, ridge
        self.batch_size, self.epochs = batch_size, epochs
        self._cinv: dict[int, Any] = {}
        self._rng = np.random.default_rng(seed)

    def _fresh(self) -> Any:
        return torch.eye(self.feature_dim, device=self.device) / self.ridge

    @staticmethod
    def _see(cinv: Any, x: Any) -> float:
        """Add ``x x^T`` to ``C`` (Sherman-Morrison, a rank-1 update of ``C^{-1}`` in place); returns
        ``x^T C^{-1} x`` from before.

        At 256 features this is memory-bound (the 256 KB matrix is read twice and written once per
        transition): one env at a time keeps it in cache, which measured faster than one batched
        product over all envs' matrices (``benchmarks/wrapper_overhead.py``)."""
        u = torch.mv(cinv, x)
        b = float(torch.dot(x, u))
        cinv.addr_(u, u, alpha=-1.0 / (1.0 + b))
        return b

    @torch.no_grad()
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray:
        f = self.embedding.phi(self.tensor(batch["next_obs"]))
        ids = self.env_ids(batch, f.shape[0])
        out = np.empty(f.shape[0], dtype=np.float32)
        starts = None
        for row, env in enumerate(ids):  # in order: two rows of one env see each other
            cinv = self._cinv.get(int(env))
            if cinv is None:
                cinv = self._cinv[int(env)] = self._fresh()
                if "obs" in batch:  # the episode's first state counts as seen, without a bonus
                    if starts is None:
                        starts = self.embedding.phi(self.tensor(batch["obs"]))
                    self._see(cinv, starts[row])
            out[row] = self._see(cinv, f[row])
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
