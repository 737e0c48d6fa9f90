"""GiGPO (Feng et al., 2025, arXiv 2505.10978): group-in-group policy optimisation. GRPO's episode-level
advantage plus a step-level one that compares the turns, across the episodes of a group, that started
from the same state, so that credit reaches single turns without a critic or extra rollouts.

For the episodes of one group (one task seed):

1. **episode advantage** ``A^E``: GRPO's over the group's training returns (:func:`.grpo.episode_advantages`),
   ``(R_i - mean) / F``;
2. **step returns**: ``R_t = sum_{k >= t} gamma^(k - t) r_k`` of each episode's training rewards (``gamma``:
   ``TextRLConfig.gamma``, 0.95 as in verl-agent), minus ``invalid_penalty`` on the turns the env refused,
   after discounting (:func:`~sparsegym.agents.text.advantages.discounted_step_returns`);
3. **anchor-state groups**: the group's turns bucketed by the raw observation they answered
   (``Turn.observation``: no history, no instructions). Exactly equal strings share a step group; with
   ``enable_similarity`` a turn joins the first step group whose first member's observation has a
   ``difflib.SequenceMatcher`` ratio of at least ``similarity_thresh`` with its own (greedy, in turn order),
   else it starts a new one;
4. **step advantage** ``A^S = (R_t - mean) / F`` over the turn's step group (a step group of one turn
   has ``A^S = 0``);
5. ``A = A^E + step_advantage_w * A^S``.

``F`` is set by ``mode``: ``"mean_std_norm"`` (the default, as the released ALFWorld script of verl-agent)
divides by the unbiased std ``+ 1e-6`` of the group (of the step group for ``A^S``); ``"mean_norm"`` (verl-agent's
config default) divides by 1. The mode replaces ``TextRLConfig.norm_by_std`` (setting that to False with
``mode="mean_std_norm"`` is an error rather than silently ignored).

``TextRLConfig.stats_across_steps`` and ``invalid_penalty`` act on ``A^E`` exactly as for GRPO (verl-agent's
GiGPO always takes the episode statistics across steps: set ``stats_across_steps=True`` to match it). The
step statistics are over turns by nature. The penalty lowers both parts: ``A^E`` as in GRPO and ``A^S``
through the step returns, as verl-agent applies it to both its episode scores and its step rewards.

Options (``TextRLConfig.algo_kwargs``): ``mode``, ``step_advantage_w`` (the paper's omega, verl-agent's
name), ``enable_similarity``, ``similarity_thresh``. After each update the statistics gain
``gigpo_step_groups`` (step groups in the iteration), ``gigpo_step_group_size`` (their mean size),
``gigpo_grouped_frac`` (the fraction of turns in a step group of more than one) and
``gigpo_step_adv_std``.

Examples:
    >>> from sparsegym.agents.text.algos.gigpo import anchor_step_groups, step_advantages
    >>> obs = ["Room 0.", "Room 1.", "Room 0.", "Room 2."]
    >>> anchor_step_groups(obs, groups=[0, 0, 0, 0]).tolist()      # turns 0 and 2 saw the same state
    [0, 1, 0, 2]
    >>> anchor_step_groups(obs, groups=[0, 0, 1, 1]).tolist()      # ... but in different task groups
    [0, 1, 2, 3]
    >>> step_advantages([0.9, 1.0, 0.5, 0.0], [0, 1, 0, 2], norm_by_std=False).round(4).tolist()
    [0.2, 0.0, -0.2, 0.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from sparsegym.agents.text.advantages import EPS, discounted_step_returns, group_statistics
from sparsegym.agents.text.algos.base import Algorithm, register
from sparsegym.agents.text.algos.grpo import episode_advantages
from sparsegym.errors import ConfigError

__all__ = ["GiGPO", "GiGPOAdvantages", "GiGPOOptions", "anchor_step_groups", "gigpo_advantages",
           "step_advantages"]

MODES = ("mean_std_norm", "mean_norm")


@dataclasses.dataclass
class GiGPOOptions:
    mode: str = "mean_std_norm"  # mean_std_norm: divide by the (step) group's std + 1e-6; mean_norm: only centre
    step_advantage_w: float = 1.0  # omega: the weight of the step-level advantage in A = A^E + omega * A^S
    enable_similarity: bool = False  # group anchor states by text similarity instead of exact equality
    similarity_thresh: float = 0.95  # SequenceMatcher ratio at which two observations count as one state

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"gigpo mode must be one of {list(MODES)}, got {self.mode!r}")
        if not 0.0 < float(self.similarity_thresh) <= 1.0:
            raise ConfigError(f"gigpo similarity_thresh must be in (0, 1], got {self.similarity_thresh}")


@dataclasses.dataclass
class GiGPOAdvantages:
    """The parts of GiGPO's advantage, one entry per turn, episodes one after another."""

    advantages: np.ndarray  # A = A^E + step_advantage_w * A^S
    episode: np.ndarray  # A^E
    step: np.ndarray  # A^S
    step_returns: np.ndarray  # the discounted step returns (invalid penalty included)
    step_groups: np.ndarray  # the id of each turn's anchor-state group (unique across task groups)

    def stats(self) -> dict[str, float]:
        """Step-group statistics: their number, mean size, the fraction of turns in one of more than one."""
        if len(self.step_groups) == 0:
            return {}
        _, inverse, sizes = np.unique(self.step_groups, return_inverse=True, return_counts=True)
        return {"gigpo_step_groups": float(len(sizes)), "gigpo_step_group_size": float(sizes.mean()),
                "gigpo_grouped_frac": float((sizes[inverse] > 1).mean()),
                "gigpo_step_adv_std": float(self.step.std())}


def anchor_step_groups(observations: Sequence[Any], groups: Sequence[Any], *, enable_similarity: bool = False,
                       similarity_thresh: float = 0.95) -> np.ndarray:
    """The step group of every turn: turns of one task group whose observations are equal (or, with
    ``enable_similarity``, similar) share an id; ids are numbered task group by task group (in order of
    each task group's first turn), in order of first appearance inside each.

    Similarity mode is greedy, as verl-agent's: each observation joins the first existing cluster (in
    order of creation) whose first observation scores ``SequenceMatcher(None, obs, first).ratio() >=
    similarity_thresh``. An observation equal to one already placed joins that one's cluster (the
    ratios are the same), and the cheap upper bounds of the ratio are tried first; neither changes
    the result.

    >>> anchor_step_groups(["Room 0. A coin.", "Room 0. A coin!", "Room 1."], [0, 0, 0],
    ...                    enable_similarity=True, similarity_thresh=0.9).tolist()
    [0, 0, 1]
    """
    groups = np.asarray(groups)
    if len(observations) != len(groups):
        raise ConfigError(f"observations and groups must have one length, got {len(observations)} and {len(groups)}")
    out = np.full(len(groups), -1, dtype=np.int64)
    next_id = 0
    for g in dict.fromkeys(groups.tolist()):  # task groups in order of first appearance
        members = np.flatnonzero(groups == g)
        seen: dict[Any, int] = {}  # observation -> its step group id
        clusters: list[tuple[SequenceMatcher, int]] = []  # (matcher holding the first member, id)
        for i in members:
            obs = observations[i]
            key = _hashable(obs)
            if key in seen:
                out[i] = seen[key]
                continue
            sid = None
            if enable_similarity:
                if not isinstance(obs, str):
                    raise ConfigError(f"similarity grouping needs text observations, got {type(obs).__name__}")
                for matcher, cid in clusters:
                    matcher.set_seq1(obs)
                    if (matcher.real_quick_ratio() >= similarity_thresh and matcher.quick_ratio() >= similarity_thresh
                            and matcher.ratio() >= similarity_thresh):
                        sid = cid
                        break
            if sid is None:
                sid, next_id = next_id, next_id + 1
                if enable_similarity:
                    matcher = SequenceMatcher(None)
                    matcher.set_seq2(obs)  # seq2 is the one SequenceMatcher indexes once and keeps
                    clusters.append((matcher, sid))
            seen[key] = sid
            out[i] = sid
    return out


def step_advantages(step_returns: Any, step_groups: Any, *, norm_by_std: bool = True, eps: float = EPS) -> np.ndarray:
    """``(R_t - mean) / F`` over each turn's step group; ``F`` is its unbiased std ``+ eps`` with
    ``norm_by_std``, else 1. A step group of one turn gets 0 (its own return is its baseline).

    >>> step_advantages([1.0, 0.0, 0.5], [0, 0, 1]).round(4).tolist()   # std of (1, 0) is 0.7071
    [0.7071, -0.7071, 0.0]
    """
    returns = np.asarray(step_returns, dtype=np.float64)
    step_groups = np.asarray(step_groups)
    mean, std, n = group_statistics(returns, step_groups)
    mean = np.where(n > 1, mean, returns)  # group_statistics gives a singleton mean 0 (verl's GRPO convention)
    centred = returns - mean
    return centred / (std + eps) if norm_by_std else centred


def gigpo_advantages(trajectories: Sequence, *, gamma: float = 0.95, mode: str = "mean_std_norm",
                     step_advantage_w: float = 1.0, enable_similarity: bool = False, similarity_thresh: float = 0.95,
                     stats_across_steps: bool = False, invalid_penalty: float = 0.0) -> GiGPOAdvantages:
    """GiGPO's advantage of every turn and its parts (module docstring), from trajectories alone (each
    needs ``group``, ``turns`` with ``observation``, ``train_rewards``, ``train_return``, ``invalid``)."""
    if mode not in MODES:
        raise ConfigError(f"gigpo mode must be one of {list(MODES)}, got {mode!r}")
    norm = mode == "mean_std_norm"
    if not trajectories:
        empty = np.zeros(0)
        return GiGPOAdvantages(empty, empty, empty, empty, np.zeros(0, dtype=np.int64))
    episode = episode_advantages(trajectories, kind="grpo", norm_by_std=norm, stats_across_steps=stats_across_steps,
                                 invalid_penalty=invalid_penalty)
    returns = np.concatenate([discounted_step_returns(t.train_rewards, gamma, t.invalid, invalid_penalty)
                              for t in trajectories])
    observations = [turn.observation for t in trajectories for turn in t.turns]
    groups = np.repeat(np.array([t.group for t in trajectories]), [t.length for t in trajectories])
    ids = anchor_step_groups(observations, groups, enable_similarity=enable_similarity,
                             similarity_thresh=similarity_thresh)
    step = step_advantages(returns, ids, norm_by_std=norm)
    return GiGPOAdvantages(episode + step_advantage_w * step, episode, step, returns, ids)


def _hashable(x: Any) -> Any:
    """A dict key for an observation: itself when hashable, else a tuple of its parts (arrays, lists, dicts)."""
    if isinstance(x, np.ndarray):
        return ("ndarray", x.shape, tuple(x.flatten().tolist()))
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_hashable(v) for v in x)
    return x


@register
class GiGPO(Algorithm):
    """Group-in-group policy optimisation (module docstring)."""

    name = "gigpo"
    Options = GiGPOOptions

    def __init__(self, options: GiGPOOptions | None = None):
        super().__init__(options)
        self._stats: dict[str, float] = {}

    def bind(self, trainer: Any) -> None:
        if not trainer.config.norm_by_std and self.options.mode == "mean_std_norm":
            raise ConfigError("gigpo normalises by its mode option, not TextRLConfig.norm_by_std: for no std "
                              "division pass algo_kwargs={'mode': 'mean_norm'} (and leave norm_by_std True)")
        super().bind(trainer)

    def advantages(self, trajectories: Sequence) -> np.ndarray:
        cfg, opt = self.trainer.config, self.options
        parts = gigpo_advantages(trajectories, gamma=cfg.gamma, mode=opt.mode, step_advantage_w=opt.step_advantage_w,
                                 enable_similarity=opt.enable_similarity, similarity_thresh=opt.similarity_thresh,
                                 stats_across_steps=cfg.stats_across_steps, invalid_penalty=cfg.invalid_penalty)
        self._stats = parts.stats()
        return parts.advantages

    def after_update(self, trajectories: Sequence, stats: dict[str, float]) -> None:
        stats.update(self._stats)
