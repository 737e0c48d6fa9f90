"""Neutral data types that every layer may import (envs, wrappers, agents, leaderboards).

:class:`Transition` and :class:`Subgoal` are what subgoal predicates see and are; families define
subgoal libraries with them (``sparsegym.envs.<family>.subgoals``) and
:class:`~sparsegym.wrappers.SubgoalReward` pays them. The errors every layer raises are in
:mod:`sparsegym.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium


@dataclass(frozen=True)
class Transition:
    """What a subgoal predicate sees: one step ``(s, a, s')`` plus its info and the unwrapped env."""

    observation: Any
    action: Any
    next_observation: Any
    info: dict[str, Any]
    env: gymnasium.Env


@dataclass(frozen=True)
class Subgoal:
    """A named predicate over transitions; ``bonus`` overrides the wrapper's default when set."""

    name: str
    predicate: Callable[[Transition], bool]
    bonus: float | None = None


__all__ = ["Subgoal", "Transition"]
