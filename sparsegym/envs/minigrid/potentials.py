"""Potentials for :class:`~sparsegym.wrappers.PotentialShaping` over MiniGrid states (the family descriptor
names them: ``distance_to_goal``, ``subgoal_progress``, ``doorkey_progress``).

A potential is ``Phi(env, observation) -> float`` over the unwrapped env, so it can read the symbolic
state. Each factory here returns one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sparsegym.envs.minigrid import predicates as P
from sparsegym.errors import ConfigError


def minigrid_distance_to_goal(scale: float | None = None) -> Callable[[Any, Any], float]:
    """``Phi(s) = -(shortest path from the agent to the goal square) / scale``.

    Walls and lava block the path; doors and movable objects do not (they can be opened or moved).
    ``scale`` defaults to the grid's ``width * height``, which keeps ``Phi`` in ``[-1, 0]``. The
    distance map is computed once per episode (the goal does not move). Raises ``ValueError`` on a
    task without a goal square.
    """
    cache: dict[str, Any] = {"grid": None, "dist": None}

    def potential(env: Any, observation: Any) -> float:
        core = P.core_of(env)
        if cache["grid"] is not core.grid:
            goals = [(x, y) for x, y, _ in P.objects(core, "goal")]
            if not goals:
                raise ConfigError("minigrid_distance_to_goal needs a task with a goal square; "
                                 "use minigrid_subgoal_progress for tasks without one")
            cache["grid"], cache["dist"] = core.grid, P.distance_map(core, goals)
        d = int(cache["dist"][int(core.agent_pos[0]), int(core.agent_pos[1])])
        norm = scale or float(core.grid.width * core.grid.height)
        return -(d if d >= 0 else norm) / norm

    return potential


def minigrid_subgoal_progress(conditions: Sequence[Callable[[Any], bool]], scale: float = 1.0) -> Callable[[Any, Any], float]:
    """``Phi(s) = scale * (number of state conditions that hold) / len(conditions)``.

    Conditions are predicates over the MiniGrid core, e.g. ``lambda c: P.carrying(c, "key")`` (see
    :mod:`sparsegym.envs.minigrid.predicates`); :func:`doorkey_progress` is a ready-made one.
    """
    if not conditions:
        raise ConfigError("minigrid_subgoal_progress needs at least one condition")
    conditions = list(conditions)

    def potential(env: Any, observation: Any) -> float:
        core = P.core_of(env)
        return scale * sum(bool(c(core)) for c in conditions) / len(conditions)

    return potential


def doorkey_progress(scale: float = 1.0) -> Callable[[Any, Any], float]:
    """Progress through DoorKey-like tasks: holding a key (or having used it), then an open door."""
    return minigrid_subgoal_progress(
        [lambda c: P.carrying(c, "key") or P.door_open(c), lambda c: P.door_open(c)], scale
    )
