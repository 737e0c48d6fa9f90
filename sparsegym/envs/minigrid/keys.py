"""MiniGrid state keys (for counts and novelty) and Go-Explore's cell, read from the symbolic state."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from sparsegym.envs.minigrid.predicates import core_of, doors


def is_minigrid_env(env: Any) -> bool:
    """Whether ``env`` (unwrapped) is a MiniGrid env: sparsegym's task or a raw minigrid ``MiniGridEnv``."""
    core = getattr(env, "core", env)
    return all(hasattr(core, a) for a in ("grid", "agent_pos", "agent_dir", "mission", "carrying"))


def position_key(env: Any, observation: Any) -> Hashable:
    """The agent's cell and heading."""
    core = core_of(env)
    return (int(core.agent_pos[0]), int(core.agent_pos[1]), int(core.agent_dir))


def grid_key(env: Any, observation: Any) -> Hashable:
    """Every non-wall object with its cell and door state, the agent's cell and heading, what it carries
    (walls never change within an episode)."""
    core = core_of(env)
    carried = (core.carrying.type, core.carrying.color) if core.carrying else None
    cells = tuple((i, o.type, o.color, getattr(o, "is_open", None), getattr(o, "is_locked", None))
                  for i, o in enumerate(core.grid.grid) if o is not None and o.type != "wall")
    return hash((cells, int(core.agent_pos[0]), int(core.agent_pos[1]), int(core.agent_dir), carried))


def full_key(env: Any, observation: Any) -> Hashable:
    """The whole state as bytes: the encoded grid, the agent's cell and heading, what it carries (exact
    recurrence, e.g. for cutting loops out of a trajectory)."""
    core = core_of(env)
    carried = (core.carrying.type, core.carrying.color) if core.carrying else None
    return core.grid.encode().tobytes() + repr((tuple(int(v) for v in core.agent_pos), int(core.agent_dir), carried)).encode()


def go_explore_cell(env: Any, observation: Any) -> Hashable:
    """Go-Explore's domain-knowledge cell: the agent's cell, what it carries, which doors are open."""
    core = core_of(env)
    carried = (core.carrying.type, core.carrying.color) if core.carrying else None
    open_doors = tuple(d.is_open for d in doors(core))
    return (int(core.agent_pos[0]), int(core.agent_pos[1]), carried, open_doors)
