"""Predicates over a MiniGrid state, shared by shaping potentials and subgoals.

Each takes the MiniGrid core env (``MiniGridEnv``: sparsegym's ``MiniGridTask.core`` or a raw minigrid
env) and reads its symbolic state: the grid, the agent's position and direction, what it carries.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from sparsegym.envs.minigrid.text import IDX_TO_COLOR, IDX_TO_OBJECT
from sparsegym.errors import ConfigError

OBJECT_TYPES = ("key", "ball", "box", "door", "goal", "lava", "wall")


def core_of(env: Any) -> Any:
    """The MiniGridEnv behind ``env`` (a sparsegym env, a raw minigrid env, or a wrapper of either)."""
    inner = getattr(env, "unwrapped", env)
    core = getattr(inner, "core", inner)
    if not hasattr(core, "grid") or not hasattr(core, "agent_pos"):
        raise TypeError(f"expected a MiniGrid env, got {type(inner).__name__}")
    return core


def _check(obj_type: str | None, color: str | None) -> None:
    if obj_type is not None and obj_type not in OBJECT_TYPES:
        raise ConfigError(f"unknown object type {obj_type!r}; use one of {', '.join(OBJECT_TYPES)}")
    if color is not None and color not in IDX_TO_COLOR:
        raise ConfigError(f"unknown colour {color!r}; use one of {', '.join(IDX_TO_COLOR)}")


def _matches(obj: Any, obj_type: str | None, color: str | None) -> bool:
    return obj is not None and (obj_type is None or obj.type == obj_type) and (color is None or obj.color == color)


def carrying(core: Any, obj_type: str | None = None, color: str | None = None) -> bool:
    return _matches(core.carrying, obj_type, color)


def objects(core: Any, obj_type: str | None = None, color: str | None = None) -> list[tuple[int, int, Any]]:
    """Every (x, y, object) on the grid matching type and colour."""
    out = []
    for i, obj in enumerate(core.grid.grid):
        if _matches(obj, obj_type, color):
            out.append((i % core.grid.width, i // core.grid.width, obj))
    return out


def doors(core: Any) -> list[Any]:
    """The grid's doors, found once per grid (doors never move; a reset builds a new grid)."""
    grid = core.grid
    cached = getattr(grid, "_sparsegym_doors", None)
    if cached is None:
        cached = [obj for _, _, obj in objects(core, "door")]
        grid._sparsegym_doors = cached
    return cached


def door_open(core: Any, color: str | None = None) -> bool:
    return any(d.is_open for d in doors(core) if color is None or d.color == color)


def adjacent_to(core: Any, obj_type: str, color: str | None = None) -> bool:
    ax, ay = (int(v) for v in core.agent_pos)
    grid = core.grid
    for x, y in ((ax + 1, ay), (ax - 1, ay), (ax, ay + 1), (ax, ay - 1)):
        if 0 <= x < grid.width and 0 <= y < grid.height and _matches(grid.get(x, y), obj_type, color):
            return True
    return False


def facing(core: Any, obj_type: str, color: str | None = None) -> bool:
    fx, fy = (int(v) for v in core.front_pos)
    if not (0 <= fx < core.grid.width and 0 <= fy < core.grid.height):
        return False
    return _matches(core.grid.get(fx, fy), obj_type, color)


def at_position(core: Any, pos: tuple[int, int]) -> bool:
    return tuple(int(v) for v in core.agent_pos) == tuple(pos)


def in_region(core: Any, top_left: tuple[int, int], size: tuple[int, int]) -> bool:
    ax, ay = (int(v) for v in core.agent_pos)
    return top_left[0] <= ax < top_left[0] + size[0] and top_left[1] <= ay < top_left[1] + size[1]


def distance_map(core: Any, targets: list[tuple[int, int]]) -> np.ndarray:
    """Shortest-path steps (moves only) from every cell to the nearest target; walls and lava block,
    doors and movable objects do not. Unreachable cells get -1."""
    w, h = core.grid.width, core.grid.height
    dist = np.full((w, h), -1, dtype=np.int64)
    queue = deque()
    for x, y in targets:
        dist[x, y] = 0
        queue.append((x, y))
    while queue:
        x, y = queue.popleft()
        for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if 0 <= nx < w and 0 <= ny < h and dist[nx, ny] < 0:
                cell = core.grid.get(nx, ny)
                if cell is None or cell.type not in ("wall", "lava"):
                    dist[nx, ny] = dist[x, y] + 1
                    queue.append((nx, ny))
    return dist


__all__ = ["core_of", "carrying", "objects", "door_open", "adjacent_to", "facing", "at_position", "in_region",
           "distance_map", "OBJECT_TYPES", "IDX_TO_OBJECT"]
