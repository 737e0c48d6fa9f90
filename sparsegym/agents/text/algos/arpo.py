"""ARPO, Agentic Replay Policy Optimization (Lu et al., 2025, arXiv 2505.16282, "ARPO: End-to-End Policy
Optimization for GUI Agents with Experience Replay"): GRPO over episodes plus a replay buffer of successful
episodes per task, so that a group whose episodes all failed still teaches something.

What it does each iteration:

1. :meth:`ARPO.prepare`: for every group with **no success** (``Trajectory.success``), up to
   ``replay_per_group`` successful episodes of the *same task seed* are taken from the buffer and put in
   the place of that many failed episodes of the group (the group's last ones: a group's episodes are
   independent samples of one policy from one start, so which failures make room changes nothing in
   distribution). The group then has a success to compare its failures with, and GRPO's advantage is
   not zero everywhere;
2. advantages: GRPO's (:func:`~sparsegym.agents.text.algos.grpo.episode_advantages`, with the config's
   ``norm_by_std``, ``stats_across_steps`` and ``invalid_penalty``) over the groups as prepared;
3. the trainer's clipped update. The trainer recomputes the "old" log-probabilities under the current
   parameters just before the update, so a replayed episode's turns are **re-scored** by the current
   policy: its first ratio is 1, and no importance weight corrects for the older policy that played it
   (ARPO's verl code does the same: replayed samples go through the ordinary on-policy loss);
4. :meth:`ARPO.after_update`: the iteration's own successes (those collected, never the replayed
   copies) enter the buffer, newest last; each task seed keeps its ``buffer_size`` most recent. They
   enter *after* the update, so an episode is never replayed into the iteration that collected it
   (that can otherwise happen when two groups of one iteration share a task seed).

Options (``TextRLConfig.algo_kwargs``):

* ``buffer_size`` (8): successes kept per task seed, oldest dropped first (ARPO's code keeps a list per
  task id capped at its ``buffer_size``, dropping the oldest; 8 here is our default, one group's worth);
* ``replay_per_group`` (1): how many failures of a success-less group are replaced (the paper: one). It
  must be smaller than ``group_size``: a group made only of replays has no signal;
* ``per_task`` (True): replay only successes of the group's own task seed, as ARPO does. ``False`` draws
  from the successes of every task seed: a **deviation** for envs whose reset seed does not change the
  task (e.g. a TextWorld env with a fixed ``game_seed``), where the episodes are comparable anyway;
* ``pick`` (``"uniform"``): which stored successes to replay: ``"uniform"`` draws them at random without
  replacement (ARPO draws uniformly, with replacement; without replacement keeps one episode from
  appearing twice in a group), from a generator seeded by the config's ``seed`` and the iteration, so a
  resumed run draws what the uninterrupted one would; ``"latest"`` takes the most recent ones.

Deviations from ARPO, besides those above: a group "has no success" when none of its episodes reports
``info["success"]`` (ARPO tests that every rollout's reward is below 0.1, which in OSWorld is the same
thing); ARPO's task selection (training only on tasks a baseline sometimes solves) is not part of this
algorithm; choose the tasks with ``num_tasks`` and ``first_task_seed``.

Per-task replay needs task seeds that come back: with ``num_tasks=None`` every group plays a new seed
and nothing is ever replayed; set ``num_tasks`` (or ``per_task=False``, see above).

The iteration's statistics gain ``arpo_failed_groups`` (groups without success), ``arpo_replayed``
(episodes swapped in), ``arpo_rescued_groups`` (groups that got at least one), ``arpo_buffer`` (successes
stored, all seeds) and ``arpo_buffer_tasks`` (seeds with at least one). The buffer goes into checkpoints,
so a resumed run continues exactly.

Examples:
    >>> from sparsegym.agents.text.algos import make_algorithm
    >>> make_algorithm("arpo", {"buffer_size": 4, "pick": "latest"})
    ARPO(ARPOOptions(buffer_size=4, replay_per_group=1, per_task=True, pick='latest'))
    >>> make_algorithm("arpo", {"pick": "best"})
    Traceback (most recent call last):
    ...
    sparsegym.errors.ConfigError: arpo's pick must be 'uniform' or 'latest', got 'best'
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.agents.text.algos.base import register
from sparsegym.agents.text.algos.grpo import GRPO
from sparsegym.errors import ConfigError

__all__ = ["ARPO", "ARPOOptions"]

PICKS = ("uniform", "latest")


@dataclasses.dataclass
class ARPOOptions:
    buffer_size: int = 8  # successes kept per task seed (the most recent)
    replay_per_group: int = 1  # failures of a success-less group replaced by stored successes
    per_task: bool = True  # replay only the group's own task seed's successes (ARPO); False: any seed's
    pick: str = "uniform"  # uniform (at random, without replacement) | latest (the most recent)

    def __post_init__(self) -> None:
        for name in ("buffer_size", "replay_per_group"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"arpo's {name} must be an integer of at least 1, got {value!r}")
        if not isinstance(self.per_task, bool):
            raise ConfigError(f"arpo's per_task must be true or false, got {self.per_task!r}")
        if self.pick not in PICKS:
            raise ConfigError(f"arpo's pick must be 'uniform' or 'latest', got {self.pick!r}")


@register
class ARPO(GRPO):  # GRPO's advantages
    """GRPO with a replay buffer of successes per task seed (module docstring)."""

    name = "arpo"
    Options = ARPOOptions

    def __init__(self, options: ARPOOptions | None = None):
        super().__init__(options)
        # task seed -> its stored successes as (serial, trajectory), oldest first; the serial numbers
        # every stored success in the order it came, so "latest" is defined across seeds too
        self.buffer: dict[int, deque[tuple[int, Any]]] = {}
        self.serial = 0
        self._fresh: list[Any] = []  # this iteration's successes, stored by after_update
        self._counts: dict[str, float] = {}

    def bind(self, trainer: Any) -> None:
        super().bind(trainer)
        g, k = trainer.config.group_size, self.options.replay_per_group
        if k >= g:
            raise ConfigError(f"arpo's replay_per_group ({k}) must be smaller than group_size ({g}): a group of "
                              "replays only compares successes with successes; lower replay_per_group or raise "
                              "group_size")

    # -- the hooks --------------------------------------------------------------------------------

    def prepare(self, trajectories: list[Any]) -> list[Any]:
        """Swap stored successes into the groups that have none (module docstring, step 1)."""
        self._fresh = [t for t in trajectories if t.success]
        out = list(trajectories)
        positions: dict[int, list[int]] = {}
        for i, t in enumerate(trajectories):
            positions.setdefault(t.group, []).append(i)
        rng = np.random.default_rng([self.trainer.config.seed % 2**32, self.trainer.iterations])
        failed = replayed = rescued = 0
        for group, members in positions.items():
            if any(trajectories[i].success for i in members):
                continue
            failed += 1
            candidates = self.candidates(trajectories[members[0]].task_seed)
            k = min(self.options.replay_per_group, len(candidates), len(members) - 1)
            if k == 0:
                continue
            if self.options.pick == "latest":
                chosen = candidates[::-1][:k]
            else:
                chosen = [candidates[j] for j in rng.choice(len(candidates), size=k, replace=False)]
            for i, success in zip(members[-k:], chosen):
                out[i] = dataclasses.replace(success, group=group)
            replayed += k
            rescued += 1
        self._counts = {"arpo_failed_groups": float(failed), "arpo_replayed": float(replayed),
                        "arpo_rescued_groups": float(rescued)}
        return out

    def candidates(self, task_seed: int) -> list[Any]:
        """The stored successes a group of ``task_seed`` may replay, oldest first."""
        if self.options.per_task:
            return [t for _, t in self.buffer.get(int(task_seed), ())]
        return [t for _, t in sorted((e for entries in self.buffer.values() for e in entries), key=lambda e: e[0])]

    def after_update(self, trajectories: Sequence[Any], stats: dict[str, float]) -> None:
        """Store the iteration's own successes (module docstring, step 4) and log the replay counts."""
        for t in self._fresh:
            self.add(t)
        self._fresh = []
        stats.update(self._counts)
        stats.update(arpo_buffer=float(sum(len(v) for v in self.buffer.values())),
                     arpo_buffer_tasks=float(sum(1 for v in self.buffer.values() if v)))

    def add(self, trajectory: Any) -> None:
        """Store one successful episode under its task seed (the oldest of a full seed is dropped)."""
        entries = self.buffer.setdefault(int(trajectory.task_seed), deque(maxlen=self.options.buffer_size))
        entries.append((self.serial, trajectory))
        self.serial += 1

    # -- checkpoints --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": {seed: list(entries) for seed, entries in self.buffer.items()}, "serial": self.serial}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.buffer = {int(seed): deque(entries, maxlen=self.options.buffer_size)
                       for seed, entries in state.get("buffer", {}).items()}
        self.serial = int(state.get("serial", 0))
