"""PPO with a turn-level critic ("ppo-text"): each turn's advantage is GAE (Schulman et al., 2016) over its
episode's turns, from the values the policy's value head recorded when it acted (``Choice.value``), and the
value head learns the returns ``advantage + value`` through a value loss added to the trainer's clipped
policy loss. It is the critic-based baseline to the group methods (GRPO, RLOO, GiGPO): it needs no groups
(``group_size`` only says how many episodes share a task seed) but a policy with a value head (the default
:class:`~sparsegym.agents.text.scorer.ActionScorer` has one; a language model needs ``value_head=True``).

Per episode with turn rewards ``r_t`` (the training rewards, minus ``TextRLConfig.invalid_penalty`` on each
turn the env refused: for a critic the penalty is a reward like any other, discounted back) and recorded
values ``V_t``::

    delta_t = r_t + gamma * V_{t+1} - V_t        A_t = delta_t + gamma * lambda * A_{t+1}

``gamma`` is ``TextRLConfig.gamma``, ``lambda`` the option ``gae_lambda``. After the last turn ``V = 0``
when the episode terminated. When it was truncated (a step limit) the state it stopped in was never shown
to the policy, so no value of it was recorded: with ``bootstrap_truncated`` (the default) the last
turn's own recorded value stands in for it (a one-step approximation of ``V(s_T)``); without, truncation is
treated as termination. Returns ``A_t + V_t`` are taken before whitening; with ``norm_adv`` (default) the
advantages are then whitened over the iteration's turns, ``(A - mean) / (std + 1e-8)``, as CleanRL does per
minibatch. ``TextRLConfig.norm_by_std`` and ``stats_across_steps`` (group statistics) play no part.

The value loss is ``vf_coef * 0.5 * (V - R)^2`` averaged over the minibatch's turns (``vf_clip``: PPO's
clipped form around the recorded values); ``TextRLConfig.vf_coef`` must stay 0, so that the value head
learns one target. After each update the statistics gain ``explained_variance`` of the recorded values
against the returns, ``value_mean`` and ``return_mean``; ``value_loss`` comes from each minibatch.

Options (``TextRLConfig.algo_kwargs``): ``gae_lambda`` (0.95), ``vf_coef`` (0.5), ``norm_adv`` (True),
``vf_clip`` (None), ``bootstrap_truncated`` (True).

Examples:
    >>> from sparsegym.agents.text.algos.ppo import gae
    >>> adv, ret = gae([0.0, 0.0, 1.0], [0.5, 0.6, 0.8], gamma=0.9, lam=0.8)   # terminated: V after the end 0
    >>> adv.round(5).tolist(), ret.round(5).tolist()
    ([0.23008, 0.264, 0.2], [0.73008, 0.864, 1.0])
    >>> gae([0.0, 1.0], [0.0, 0.0], gamma=0.5, lam=1.0)[0].tolist()           # lambda 1: Monte Carlo returns
    [0.5, 1.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.agents.text.algos.base import Algorithm, Batch, register
from sparsegym.agents.text.losses import value_loss
from sparsegym.errors import ConfigError

__all__ = ["PPOText", "PPOTextOptions", "gae", "turn_gae"]

_NO_VALUE = ("ppo-text needs the value the policy recorded at each turn (Choice.value) and its value head in "
             "evaluate (\"value\"), but {} has none: use a policy with a value head (the default ActionScorer has "
             "one; CausalLMPolicy(value_head=True)) or a critic-free algorithm (grpo, rloo, gigpo)")


@dataclasses.dataclass
class PPOTextOptions:
    gae_lambda: float = 0.95  # GAE's lambda: 1 is Monte Carlo returns minus the value, 0 the one-step TD error
    vf_coef: float = 0.5  # weight of the value loss (CleanRL's default)
    norm_adv: bool = True  # whiten the advantages over the iteration's turns
    vf_clip: float | None = None  # clip the value's change from the recorded one (PPO's clipped value loss); None: off
    bootstrap_truncated: bool = True  # a truncated episode bootstraps from its last turn's value (else from 0)

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.gae_lambda) <= 1.0:
            raise ConfigError(f"ppo-text gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.vf_coef < 0:
            raise ConfigError(f"ppo-text vf_coef must be at least 0, got {self.vf_coef}")
        if self.vf_clip is not None and self.vf_clip <= 0:
            raise ConfigError(f"ppo-text vf_clip must be positive or None, got {self.vf_clip}")


def gae(rewards: Any, values: Any, *, gamma: float, lam: float,
        last_value: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """GAE advantages and returns (``advantage + value``) of one episode; ``last_value`` is the value after
    its last turn (0 for a terminated episode)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if rewards.shape != values.shape or rewards.ndim != 1:
        raise ConfigError(f"rewards and values must be 1-D of one length, got {rewards.shape} and {values.shape}")
    adv = np.zeros_like(rewards)
    running, next_value = 0.0, float(last_value)
    for t in range(len(rewards) - 1, -1, -1):
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


def turn_gae(trajectories: Sequence, *, gamma: float, lam: float, invalid_penalty: float = 0.0,
             bootstrap_truncated: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(advantages, returns, values)`` of every turn, episodes one after another (module docstring),
    before any whitening. Each choice must carry its recorded ``value``."""
    advs, rets, vals = [], [], []
    for traj in trajectories:
        values = [c.value for c in traj.choices]
        if any(v is None for v in values):
            raise ConfigError(_NO_VALUE.format("a choice of this batch"))
        rewards = np.asarray(traj.train_rewards, dtype=np.float64) - invalid_penalty * np.asarray(traj.invalid, float)
        last = values[-1] if (values and not traj.terminated and bootstrap_truncated) else 0.0
        adv, ret = gae(rewards, values, gamma=gamma, lam=lam, last_value=last)
        advs.append(adv)
        rets.append(ret)
        vals.append(np.asarray(values, dtype=np.float64))
    if not advs:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return np.concatenate(advs), np.concatenate(rets), np.concatenate(vals)


@register
class PPOText(Algorithm):
    """PPO with a turn-level critic and GAE (module docstring)."""

    name = "ppo-text"
    Options = PPOTextOptions
    needs_value = True

    def __init__(self, options: PPOTextOptions | None = None):
        super().__init__(options)
        self._returns: Any = None  # torch (N,): this iteration's value targets
        self._values: Any = None  # torch (N,): the values recorded when acting (the clipped loss's reference)
        self._stats: dict[str, float] = {}

    def bind(self, trainer: Any) -> None:
        if trainer.config.vf_coef > 0:
            raise ConfigError("ppo-text trains the value head with its own option vf_coef "
                              "(algo_kwargs={'vf_coef': ...}) on GAE returns: set TextRLConfig.vf_coef to 0")
        if getattr(trainer.policy, "value_head", True) is None:  # a CausalLMPolicy made without a critic
            raise ConfigError(_NO_VALUE.format(type(trainer.policy).__name__))
        super().bind(trainer)

    def advantages(self, trajectories: Sequence) -> np.ndarray:
        from sparsegym.agents.text.policy import torch

        cfg, opt = self.trainer.config, self.options
        if any(c.value is None for t in trajectories for c in t.choices):
            raise ConfigError(_NO_VALUE.format(type(self.trainer.policy).__name__))
        adv, ret, val = turn_gae(trajectories, gamma=cfg.gamma, lam=opt.gae_lambda,
                                 invalid_penalty=cfg.invalid_penalty, bootstrap_truncated=opt.bootstrap_truncated)
        self._returns = torch.as_tensor(ret, dtype=torch.float32)
        self._values = torch.as_tensor(val, dtype=torch.float32)
        var = float(ret.var()) if len(ret) else 0.0
        self._stats = {"explained_variance": float(1 - (ret - val).var() / var) if var > 0 else float("nan"),
                       "value_mean": float(val.mean()) if len(val) else float("nan"),
                       "return_mean": float(ret.mean()) if len(ret) else float("nan")}
        if opt.norm_adv and len(adv) > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        return adv

    def extra_loss(self, batch: Batch) -> tuple[Any, dict[str, float]]:
        from sparsegym.agents.text.policy import torch

        if "value" not in batch.out:
            raise ConfigError(_NO_VALUE.format(type(self.trainer.policy).__name__))
        values = batch.out["value"]
        index = torch.as_tensor(np.asarray(batch.index, dtype=np.int64))
        target = self._returns[index].to(values.device)
        old = self._values[index].to(values.device) if self.options.vf_clip is not None else None
        loss = value_loss(values, target, old, clip=self.options.vf_clip)
        return self.options.vf_coef * loss, {"value_loss": loss.item()}

    def after_update(self, trajectories: Sequence, stats: dict[str, float]) -> None:
        stats.update(self._stats)
