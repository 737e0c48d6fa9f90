"""The agent-centred MiniGrid view, computed without building intermediate grids.

MiniGrid's ``gen_obs`` cuts a ``Grid`` out of the world (``slice``: a new Grid object and one
``Wall()`` per out-of-bounds cell), rotates it ``agent_dir + 1`` times (a new Grid per turn), runs the
occlusion pass over it and encodes it cell by cell. That is most of the time a MiniGrid step takes,
and every learner pays it once per frame (``benchmarks/env_throughput.py`` measures the difference).

:class:`AgentView` produces the same ``uint8`` image from the world grid directly: for each heading it
precomputes, once, which world offset lands in each view cell after the slice and the rotations, then
per step it gathers the view's objects into a flat list, runs MiniGrid's own occlusion propagation on
it (the same sweep order, so the same cells come out visible) and writes the codes into one buffer.
Nothing about the result differs: ``tests/envs/test_minigrid_fastview.py`` compares it with
``MiniGridEnv.gen_obs`` on every step of random and oracle episodes of every MiniGrid/BabyAI id, and
with other view sizes and ``see_through_walls``.

It is used only where it provably means the same thing: when neither the env class nor its grid class
overrides anything the upstream view is built from (``gen_obs``, ``gen_obs_grid``, ``get_view_exts``,
and the grid's ``slice``/``rotate_left``/``process_vis``/``encode``); objects are encoded by their own
``encode`` and ``see_behind`` methods, so custom objects keep their meaning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.grid import Grid
from minigrid.core.world_object import Wall
from minigrid.minigrid_env import MiniGridEnv

_EMPTY = OBJECT_TO_IDX["empty"]
_WALL = Wall()  # what MiniGrid's slice puts outside the world
_WALL_BYTES = bytes(_WALL.encode())
_VIEW_METHODS = ("gen_obs", "gen_obs_grid", "get_view_exts")
_GRID_METHODS = ("slice", "rotate_left", "process_vis", "encode")


def supports(core: MiniGridEnv) -> bool:
    """Whether ``core``'s view is the stock MiniGrid view (so :class:`AgentView` reproduces it).

    A grid of a ``Grid`` subclass that overrides the view's methods is checked per call (the grid is
    made at reset): :class:`AgentView` then hands that step to MiniGrid's own ``gen_obs``.
    """
    cls = type(core)
    return all(getattr(cls, name) is getattr(MiniGridEnv, name) for name in _VIEW_METHODS)


def _stock_grid(grid_cls: type) -> bool:
    return all(getattr(grid_cls, name) is getattr(Grid, name) for name in _GRID_METHODS)


def _offsets(size: int, direction: int) -> list[tuple[int, int]]:
    """World offsets (from the agent) of each view cell, flattened in the image's (i, j) order."""
    # get_view_exts: the top-left corner of the square the agent sees, relative to the agent.
    half = size // 2
    top = {0: (0, -half), 1: (-half, 0), 2: (-size + 1, -half), 3: (-half, -size + 1)}[direction]
    # slice: view cell (i, j) holds world (top + i, top + j).
    view = [[(top[0] + i, top[1] + j) for j in range(size)] for i in range(size)]
    # rotate_left, direction + 1 times: new[j][size - 1 - i] = old[i][j].
    for _ in range(direction + 1):
        turned = [[(0, 0)] * size for _ in range(size)]
        for i in range(size):
            for j in range(size):
                turned[j][size - 1 - i] = view[i][j]
        view = turned
    return [view[i][j] for i in range(size) for j in range(size)]


class AgentView:
    """Callable that returns ``core``'s observation dict, as ``MiniGridEnv.gen_obs`` would."""

    def __init__(self, core: MiniGridEnv):
        self.core = core
        self.size = size = core.agent_view_size
        self._offsets = [_offsets(size, d) for d in range(4)]
        self._agent_k = (size // 2) * size + size - 1  # the agent's cell: (size // 2, size - 1)

    def image(self) -> np.ndarray:
        core = self.core
        size = self.size
        grid = core.grid
        width, height, cells = grid.width, grid.height, grid.grid
        ax, ay = core.agent_pos
        wall = _WALL
        view = []
        append = view.append
        for dx, dy in self._offsets[core.agent_dir]:
            x = ax + dx
            y = ay + dy
            append(cells[y * width + x] if 0 <= x < width and 0 <= y < height else wall)

        n = size * size
        if core.see_through_walls:
            mask = [True] * n
        else:
            # MiniGrid's process_vis, on the flat list (cell (i, j) at i * size + j), same sweep order.
            mask = [False] * n
            mask[self._agent_k] = True
            for j in range(size - 1, -1, -1):
                for k in range(j, j + (size - 1) * size, size):  # i = 0 .. size - 2
                    if not mask[k]:
                        continue
                    c = view[k]
                    if c is not None and not c.see_behind():
                        continue
                    mask[k + size] = True
                    if j > 0:
                        mask[k + size - 1] = True
                        mask[k - 1] = True
                for k in range(j + (size - 1) * size, j, -size):  # i = size - 1 .. 1
                    if not mask[k]:
                        continue
                    c = view[k]
                    if c is not None and not c.see_behind():
                        continue
                    mask[k - size] = True
                    if j > 0:
                        mask[k - size - 1] = True
                        mask[k - 1] = True
        # The agent sees what it carries in its own cell (nothing else is drawn there).
        view[self._agent_k] = core.carrying if core.carrying else None

        out = bytearray(3 * n)
        for k in range(n):
            if mask[k]:
                c = view[k]
                if c is None:
                    out[3 * k] = _EMPTY
                elif c is wall:
                    out[3 * k:3 * k + 3] = _WALL_BYTES
                else:
                    out[3 * k:3 * k + 3] = bytes(c.encode())
        return np.frombuffer(out, dtype=np.uint8).reshape(size, size, 3)

    def __call__(self) -> dict[str, Any]:
        core = self.core
        if type(core.grid) is not Grid and not _stock_grid(type(core.grid)):
            return MiniGridEnv.gen_obs(core)
        return {"image": self.image(), "direction": core.agent_dir, "mission": core.mission}
