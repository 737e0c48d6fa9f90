"""What a text-RL algorithm is to :class:`~sparsegym.agents.text.trainer.TextRLTrainer`: a small object
with hooks, one file per algorithm, so that the trainer's loop stays one loop.

The trainer owns everything the algorithms share: envs, group rollouts, the clipped policy loss over
turn-samples (or tokens), the optimizer, callbacks, run folders and resume. An :class:`Algorithm` says
what differs:

* :meth:`Algorithm.prepare`: change the iteration's trajectories before advantages (ARPO mixes replayed
  successes into a group that has none; SPA relabels rewards);
* :meth:`Algorithm.advantages`: one advantage per turn (the one hook every algorithm implements), or, for
  a token policy, a list of one array per turn with an advantage per generated token (HiPER gives the
  sub-goal, switch and action tokens of one turn different advantages);
* :meth:`Algorithm.extra_loss`: a term added to a minibatch's loss (EPO's entropy regulariser, a
  critic's value loss), with statistics to log;
* :meth:`Algorithm.after_update`: learn from the iteration once the policy stepped (EPO's entropy
  history, ARPO's replay buffer);
* :meth:`Algorithm.state_dict` / :meth:`Algorithm.load_state_dict`: what a checkpoint must keep for a
  resumed run to continue exactly (anything ``torch.save`` pickles: it goes into ``trainer.pt``).

An algorithm's own hyper-parameters are an ``Options`` dataclass, filled from
``TextRLConfig.algo_kwargs`` (unknown keys are an error naming the known ones), so that every algorithm
shares :class:`~sparsegym.agents.text.trainer.TextRLConfig` for what is common (group size, learning
rate, clipping, KL, ...). New algorithms register with :func:`register`; ``sparsegym train NAME`` and
``TextRLConfig(algo=NAME)`` then know them.

Examples:
    >>> from sparsegym.agents.text.algos import available, make_algorithm
    >>> {"grpo", "rloo"} <= set(available())
    True
    >>> make_algorithm("rloo")
    RLOO(NoOptions())
    >>> make_algorithm("grpo", {"omega": 1.0})
    Traceback (most recent call last):
    ...
    sparsegym.errors.ConfigError: grpo has no option 'omega'; its options: none
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sparsegym.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from sparsegym.agents.text.rollout import Trajectory
    from sparsegym.agents.text.trainer import TextRLTrainer

__all__ = ["Algorithm", "Batch", "NoOptions", "available", "get_algorithm", "make_algorithm", "register"]


@dataclasses.dataclass
class NoOptions:
    """The options of an algorithm that has none of its own."""


@dataclasses.dataclass
class Batch:
    """What :meth:`Algorithm.extra_loss` sees of one minibatch.

    ``index``: the minibatch's positions among the iteration's turns (episodes one after another);
    ``turns``/``choices``: those turns; ``out``: the policy's ``evaluate`` output on them (with
    gradients); ``logprob``, ``entropy``: per turn ``(B,)`` or per token ``(B, L)`` with ``mask``
    (``None`` for a per-turn policy); ``step``: each turn's index in its episode (0 first) ``(B,)``;
    ``agg``: the loss aggregation of the config (use :func:`~sparsegym.agents.text.losses.aggregate`).
    """

    index: np.ndarray
    turns: list[Any]
    choices: list[Any]
    out: dict[str, Any]
    logprob: Any
    entropy: Any
    mask: Any
    step: np.ndarray
    agg: str


class Algorithm:
    """Base class: subclasses set ``name`` and ``Options`` and implement :meth:`advantages`."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    #: Does the algorithm need the policy's value head (``evaluate`` returning ``"value"``)?
    needs_value: ClassVar[bool] = False

    def __init__(self, options: Any = None):
        self.options = options if options is not None else self.Options()
        self.trainer: TextRLTrainer | None = None

    def bind(self, trainer: TextRLTrainer) -> None:
        """Called once by the trainer that runs this algorithm (its config, policy and counters)."""
        self.trainer = trainer

    # -- the hooks --------------------------------------------------------------------------------

    def prepare(self, trajectories: list[Trajectory]) -> list[Trajectory]:
        """The trajectories to learn from this iteration (default: those collected)."""
        return trajectories

    def advantages(self, trajectories: Sequence[Trajectory]) -> np.ndarray | list[np.ndarray]:
        """One advantage per turn, episodes one after another (an array); or a list of one array per turn,
        each with one advantage per generated token of the turn (the trainer then skips the broadcast)."""
        raise NotImplementedError

    def extra_loss(self, batch: Batch) -> tuple[Any, dict[str, float]]:
        """A term added to the minibatch's loss (``None`` for none) and statistics to log."""
        return None, {}

    def after_update(self, trajectories: Sequence[Trajectory], stats: dict[str, float]) -> None:
        """Called after the iteration's policy update; ``stats`` may be extended in place."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps (stored in ``trainer.pt`` by ``torch.save``: tensors, arrays, trajectories)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"


_REGISTRY: dict[str, type[Algorithm]] = {}


def register(cls: type[Algorithm]) -> type[Algorithm]:
    """Class decorator: make ``cls`` known under ``cls.name``."""
    if not cls.name:
        raise ConfigError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    from sparsegym.agents.text.algos import _builtin  # noqa: F401  (imports register the algorithms)


#: The names the built-in modules register (:mod:`._builtin`), known without importing them: their
#: modules import torch, which would cost every ``sparsegym`` command a second or more just to list them.
#: A test checks this against the registry.
BUILTIN_NAMES = ("arpo", "epo", "gigpo", "grpo", "hiper", "ppo-text", "rloo", "spa")


def available(load: bool = True) -> list[str]:
    """The names of the registered algorithms. ``load=False`` lists the built-in names and those already
    registered without importing the built-in modules (and torch), for command-line help and choices."""
    if not load:
        return sorted(set(BUILTIN_NAMES) | set(_REGISTRY))
    _load_builtin()
    return sorted(_REGISTRY)


def get_algorithm(name: str) -> type[Algorithm]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown text-RL algorithm {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def make_algorithm(name: str, options: dict[str, Any] | None = None) -> Algorithm:
    """The algorithm ``name`` with its options from the dict ``options`` (``TextRLConfig.algo_kwargs``)."""
    cls = get_algorithm(name)
    options = dict(options or {})
    fields = {f.name for f in dataclasses.fields(cls.Options)}
    unknown = sorted(set(options) - fields)
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ConfigError(f"{name} has no option {unknown[0]!r}; its options: {known}")
    return cls(cls.Options(**options))
