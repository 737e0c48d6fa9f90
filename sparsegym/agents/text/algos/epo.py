"""EPO, entropy-regularised policy optimisation for multi-turn agents (Xu et al., 2025, arXiv 2509.22576):
GRPO over episodes plus an entropy bonus that is held near the policy's own past entropy, turn index by
turn index, so that exploration neither collapses nor blows up late in long episodes.

The loss of a minibatch, as the released code (WujiangXu/EPO, ``verl/workers/actor/dp_actor.py``) forms it:

    L = L_clip - c_H * [H_bar - c_s * w(k) * P_bar]

* ``H_bar``: the minibatch's entropy aggregated as the loss is (``loss_agg``), over every turn;
* ``c_H`` **is the trainer's** ``ent_coef``: the trainer already subtracts ``ent_coef * H_bar``, and EPO
  adds the rest, ``ent_coef * c_s * w(k) * P_bar``, so the sum is EPO's loss with ``c_H = ent_coef``.
  Nothing is counted twice, and, as in the released code (whose whole entropy term sits behind
  ``entropy_coeff != 0``), ``ent_coef=0`` would switch the smoothing off too: EPO refuses it. The paper's
  code uses ``c_H = 0.001`` for 3B-7B language models; the scorer trains well with the trainer's 0.01;
* ``c_s`` (``smooth_coef``, 1.0 as ``entropy_smooth_coeff`` in the code);
* ``P_bar``: the aggregated out-of-band penalty. With ``Hhist_t`` the historical mean entropy at the
  turn's index ``t`` (below), a turn's (or token's) entropy ``H`` is in band when
  ``kappa_low * Hhist_t < H < kappa_high * Hhist_t``. ``penalty="relu"`` (default) uses the distance out
  of the band, ``P = ReLU(kappa_low * Hhist_t - H) + ReLU(H - kappa_high * Hhist_t)``, which has a
  gradient that pushes ``H`` back into the band; ``penalty="mask"`` is the released code's form,
  ``P = out_penalty`` outside the band and 0 inside, a constant with **no gradient** (the term then
  changes the loss's value only; the differentiable form is ours, not the authors');
* the penalty applies only late in episodes (the code: turns with index ``>= max_steps // 2``).
  ``gate="turn"`` (default) penalises exactly those turns; ``gate="minibatch"`` is the code's rule
  (every turn of a minibatch that holds at least one late turn); ``gate="none"`` penalises all turns.
  ``max_steps`` defaults to the env's step limit (``max_episode_steps`` of the config or the env id);
* ``w(k)``, the phase weight of iteration ``k`` (0 first) of ``K = phase_iterations`` (150, hard-coded
  in the code): with ``h = K // 2``, ``w = 1 - 0.2 * (1 - exp(-2 k / h))`` for ``k <= h`` (1 down to
  about 0.83), then ``w = 0.8 * exp(-3 (k - h) / (K - h))`` (0.8 down to about 0.04); ``k`` past ``K``
  counts as ``K``. ``phase_weight=False`` keeps ``w = 1`` (the code's ``enable_smooth_weights=False``).

**The entropy history.** While the update runs, EPO records every turn's entropy the first time a
minibatch holds it (each turn appears once per pass, so the whole first pass: under the parameters that
collected the turns when ``num_minibatches == 1``). :meth:`EPO.after_update` stores the iteration's mean
entropy per turn index (tokens weigh equally within an index, as the code's per-step token mean), and
``Hhist_t`` is the mean of that entry over the **past** iterations that reached index ``t``. A turn whose
index no past iteration reached, and every turn of the first iteration, gets no penalty.

Defaults and their sources: ``kappa_low=0.0``, ``kappa_high=2.0``, ``out_penalty=0.1``, phase weights on:
the README's ALFWorld run of the released code (its yaml has 0.8/1.2, its launch script 0.5/1.5, and
ScienceWorld used ``out_penalty=0.05``). With ``kappa_low=0`` the lower side never binds (entropy is not
negative): EPO then only pulls down entropy spikes above twice the historical level.

Deviations from the released code: the history mean is over past iterations only (the code appends the
current rollout's entropies before its update, so its mean includes them) and over the iterations that
reached each index (the code zero-pads short iterations, which pulls late indices towards 0); entropies
are recorded during the update rather than by an extra pass at rollout; the first iteration has no
penalty (the code's empty history yields a constant); the differentiable penalty and the per-turn gate
are the defaults (both forms of the code are options).

Statistics: ``epo_penalty`` (``P_bar``), ``epo_weight`` (``w(k)``), ``epo_gated`` (share of turns the
penalty applies to) and ``epo_out_of_band`` (share of their tokens outside the band), averaged over
the minibatches, and ``epo_history`` (iterations in the history).

Examples:
    >>> from sparsegym.agents.text.algos.epo import phase_weight
    >>> [round(phase_weight(k, 150), 4) for k in (0, 75, 100, 150, 400)]
    [1.0, 0.8271, 0.2943, 0.0398, 0.0398]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.agents.text.algos.base import Batch, register
from sparsegym.agents.text.algos.grpo import GRPO
from sparsegym.agents.text.losses import aggregate
from sparsegym.agents.text.policy import torch
from sparsegym.errors import ConfigError

__all__ = ["EPO", "EPOOptions", "out_of_band_penalty", "phase_weight"]

PENALTIES = ("relu", "mask")
GATES = ("turn", "minibatch", "none")


@dataclasses.dataclass
class EPOOptions:
    smooth_coef: float = 1.0  # c_s: weight of the penalty inside the entropy term
    kappa_low: float = 0.0  # lower edge of the band, a multiple of the historical entropy
    kappa_high: float = 2.0  # upper edge of the band
    penalty: str = "relu"  # relu (distance out of the band, differentiable) | mask (the code's constant)
    out_penalty: float = 0.1  # the mask form's penalty outside the band (p_out)
    gate: str = "turn"  # turn (turns with index >= max_steps // 2) | minibatch (the code's rule) | none
    max_steps: int | None = None  # the step limit the gate halves; None: the env's
    phase_weight: bool = True  # multiply the penalty by w(k)
    phase_iterations: int = 150  # K of w(k)

    def __post_init__(self) -> None:
        for name in ("smooth_coef", "kappa_low", "kappa_high", "out_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"epo's {name} must be a number of at least 0, got {value!r}")
        if not self.kappa_high > self.kappa_low:
            raise ConfigError(f"epo's kappa_high ({self.kappa_high}) must exceed kappa_low ({self.kappa_low}): "
                              "they are the band's edges, multiples of the historical entropy")
        if self.penalty not in PENALTIES:
            raise ConfigError(f"epo's penalty must be 'relu' or 'mask', got {self.penalty!r}")
        if self.gate not in GATES:
            raise ConfigError(f"epo's gate must be 'turn', 'minibatch' or 'none', got {self.gate!r}")
        for name in ("max_steps", "phase_iterations"):
            value = getattr(self, name)
            if (value is not None or name == "phase_iterations") and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"epo's {name} must be an integer of at least 1, got {value!r}")
        if not isinstance(self.phase_weight, bool):
            raise ConfigError(f"epo's phase_weight must be true or false, got {self.phase_weight!r}")


def phase_weight(k: int, total: int) -> float:
    """EPO's phase weight ``w(k)`` of iteration ``k`` of ``total`` (module docstring)."""
    k = max(0, min(int(k), int(total)))
    half = total // 2
    if k <= half:
        return 1.0 if half == 0 else 1.0 - 0.2 * (1.0 - math.exp(-2.0 * k / half))
    return 0.8 * math.exp(-3.0 * (k - half) / (total - half))


def out_of_band_penalty(entropy: torch.Tensor, history: torch.Tensor, kappa_low: float, kappa_high: float,
                        form: str = "relu", out_penalty: float = 0.1) -> torch.Tensor:
    """The penalty of each entropy value against its historical mean ``history`` (same shape): the distance
    out of ``(kappa_low * history, kappa_high * history)`` (``form="relu"``), or the constant
    ``out_penalty`` outside it (``form="mask"``, no gradient).

    >>> import torch
    >>> h, hist = torch.tensor([0.2, 1.0, 2.0]), torch.ones(3)
    >>> out_of_band_penalty(h, hist, 0.5, 1.5).tolist()
    [0.30000001192092896, 0.0, 0.5]
    >>> out_of_band_penalty(h, hist, 0.5, 1.5, "mask").tolist()
    [0.10000000149011612, 0.0, 0.10000000149011612]
    """
    low, high = kappa_low * history, kappa_high * history
    if form == "relu":
        return torch.relu(low - entropy) + torch.relu(entropy - high)
    inside = (entropy > low) & (entropy < high)
    return torch.where(inside, 0.0, out_penalty).to(entropy.dtype).detach()


@register
class EPO(GRPO):  # GRPO's advantages
    """GRPO with EPO's entropy smoothing (module docstring)."""

    name = "epo"
    Options = EPOOptions

    def __init__(self, options: EPOOptions | None = None):
        super().__init__(options)
        self.history: list[np.ndarray] = []  # per past iteration: its mean entropy at each turn index
        self._hist = np.zeros(0)  # the mean over the history per turn index (nan: no past iteration reached it)
        self._steps = np.zeros(0, dtype=int)  # this iteration's turn indices
        self._sum = np.zeros(0)  # this iteration's entropy per turn (token sums) and token counts
        self._count = np.zeros(0)
        self._threshold: int | None = None

    def bind(self, trainer: Any) -> None:
        super().bind(trainer)
        if not trainer.config.ent_coef > 0:
            raise ConfigError("epo's entropy term is c_H * [H - c_s * w * P] with c_H = the trainer's ent_coef, which "
                              f"is {trainer.config.ent_coef}: set ent_coef > 0 (EPO's code: 0.001 for language "
                              "models), or train grpo")

    # -- the hooks --------------------------------------------------------------------------------

    def prepare(self, trajectories: list[Any]) -> list[Any]:
        """Ready this iteration's entropy record and the history mean; the trajectories stay as they are."""
        self._steps = np.concatenate([np.arange(t.length) for t in trajectories]) if trajectories else np.zeros(0, int)
        self._sum = np.full(len(self._steps), np.nan)
        self._count = np.zeros(len(self._steps))
        self._hist = self.history_mean()
        if self._threshold is None and self.options.gate != "none":
            self._threshold = self.max_steps() // 2
        return trajectories

    def extra_loss(self, batch: Batch) -> tuple[Any, dict[str, float]]:
        """``ent_coef * c_s * w(k) * P_bar`` (module docstring), and the turns' entropies for the history."""
        opts = self.options
        entropy, mask = batch.entropy, batch.mask
        self._record(batch)
        step = np.asarray(batch.step, dtype=int)
        hist = np.full(len(step), np.nan)  # each turn's historical entropy (nan: no past iteration got there)
        known = step < len(self._hist)
        hist[known] = self._hist[step[known]]
        gate = ~np.isnan(hist)
        if opts.gate == "turn":
            gate &= step >= self._threshold
        elif opts.gate == "minibatch" and not (step >= self._threshold).any():
            gate[:] = False
        hist_t = torch.as_tensor(np.nan_to_num(hist), dtype=entropy.dtype, device=entropy.device)
        gate_t = torch.as_tensor(gate, dtype=entropy.dtype, device=entropy.device)
        if entropy.dim() == 2:
            hist_t, gate_t = hist_t[:, None].expand_as(entropy), gate_t[:, None].expand_as(entropy)
        penalty = out_of_band_penalty(entropy, hist_t, opts.kappa_low, opts.kappa_high, opts.penalty,
                                      opts.out_penalty) * gate_t
        p_bar = aggregate(penalty, mask, batch.agg)
        w = phase_weight(self.trainer.iterations, opts.phase_iterations) if opts.phase_weight else 1.0
        term = self.trainer.config.ent_coef * opts.smooth_coef * w * p_bar
        with torch.no_grad():
            weights = gate_t if mask is None else gate_t * mask.to(gate_t.dtype)
            outside = out_of_band_penalty(entropy, hist_t, opts.kappa_low, opts.kappa_high, "mask", 1.0) * weights
            out_share = float(outside.sum() / weights.sum()) if weights.sum() > 0 else 0.0
        return term, {"epo_penalty": p_bar.item(), "epo_weight": w, "epo_gated": float(gate.mean()),
                      "epo_out_of_band": out_share}

    def _record(self, batch: Batch) -> None:
        """Keep each turn's entropy (token sum and count) the first time a minibatch holds it."""
        index = np.asarray(batch.index, dtype=int)
        if len(self._sum) == 0 or len(index) == 0 or index.max() >= len(self._sum):
            return  # not an iteration prepare() readied (a direct call): nothing to record
        with torch.no_grad():
            if batch.mask is None:
                sums, counts = batch.entropy.detach().double(), torch.ones(len(index), dtype=torch.float64)
            else:
                m = batch.mask.detach().double()
                sums, counts = (batch.entropy.detach().double() * m).sum(-1), m.sum(-1)
        new = np.isnan(self._sum[index])
        self._sum[index[new]] = sums.cpu().numpy()[new]
        self._count[index[new]] = counts.cpu().numpy()[new]

    def after_update(self, trajectories: Sequence[Any], stats: dict[str, float]) -> None:
        """Store the iteration's mean entropy per turn index (module docstring)."""
        seen = ~np.isnan(self._sum) & (self._count > 0)
        if seen.any():
            steps = self._steps[seen]
            sums = np.bincount(steps, weights=self._sum[seen])
            counts = np.bincount(steps, weights=self._count[seen])
            self.history.append(np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0))
        self._sum = np.zeros(0)
        stats["epo_history"] = float(len(self.history))

    def history_mean(self) -> np.ndarray:
        """The historical mean entropy per turn index: over the past iterations that reached it."""
        if not self.history:
            return np.zeros(0)
        longest = max(len(h) for h in self.history)
        table = np.full((len(self.history), longest), np.nan)
        for i, h in enumerate(self.history):
            table[i, :len(h)] = h
        counts = (~np.isnan(table)).sum(0)
        sums = np.nansum(table, axis=0)
        return np.divide(sums, counts, out=np.full(longest, np.nan), where=counts > 0)

    def max_steps(self) -> int:
        """The step limit the gate halves: the option, else the config's ``max_episode_steps``, else the env's."""
        if self.options.max_steps is not None:
            return self.options.max_steps
        if self.trainer.config.max_episode_steps:
            return int(self.trainer.config.max_episode_steps)
        for env in self.trainer.envs:
            spec = getattr(env, "spec", None)
            if spec is not None and spec.max_episode_steps:
                return int(spec.max_episode_steps)
        raise ConfigError("epo's gate needs the episodes' step limit and the env does not say it: pass max_steps in "
                          "algo_kwargs (e.g. {\"max_steps\": 50}), set max_episode_steps, or use gate='none'")

    # -- checkpoints --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"history": [h.copy() for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [np.asarray(h, dtype=np.float64) for h in state.get("history", [])]
