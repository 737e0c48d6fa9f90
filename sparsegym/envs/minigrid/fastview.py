"""The agent-centred MiniGrid view, computed without building intermediate grids.

MiniGrid's ``gen_obs`` cuts a ``Grid`` out of the world (``slice``: a new Grid object and one
``Wall()`` per out-of-bounds cell), rotates it ``agent_dir + 1`` times (a new Grid per turn), runs the
occlusion pass over it and encodes it cell by cell. That is most of the time a MiniGrid step takes,
and every learner pays it once per frame (``benchmarks/env_throughput.py`` measures the difference).

:class:`AgentView` produces the same ``uint8`` image from arrays it keeps in step with the world grid:
each cell's three codes and whether it can be seen through, on a grid padded with MiniGrid's
out-of-bounds walls. The arrays are rebuilt when the env makes a new grid and patched where a cell now
holds another object (a list comparison per step finds those); objects whose code or transparency can
change on their own (doors, and any class that overrides ``encode`` or ``see_behind``) are re-read every
step. A step then gathers the view's 49 cells with one precomputed index per heading and runs
MiniGrid's occlusion sweep column by column through a lookup table (a column's visible cells and the
cells it lights in the next column depend only on the cells lit in it so far and on which of its cells
are transparent: ``2 ** (2 * size)`` entries, built once per view size with the same sweep). View sizes
above 9 (a table of over 4M entries) run the sweep cell by cell instead. Nothing about the result differs:
``tests/envs/test_minigrid_fastview.py`` compares it with ``MiniGridEnv.gen_obs`` on every step of random
and oracle episodes of every MiniGrid/BabyAI id, and with other view sizes and ``see_through_walls``.

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
from minigrid.core.world_object import Wall, WorldObj
from minigrid.minigrid_env import MiniGridEnv

_EMPTY = OBJECT_TO_IDX["empty"]
_WALL = Wall()  # what MiniGrid's slice puts outside the world
_WALL_BYTES = bytes(_WALL.encode())
_VIEW_METHODS = ("gen_obs", "gen_obs_grid", "get_view_exts")
_GRID_METHODS = ("slice", "rotate_left", "process_vis", "encode")
_TABLE_MAX_SIZE = 9  # the occlusion table has 2 ** (2 * size) entries
_TABLES: dict[int, tuple[list[int], list[int]]] = {}


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


def _static(obj: WorldObj) -> bool:
    """Whether ``obj``'s codes and transparency are fixed by its type and colour (stock objects other
    than doors); anything else is re-read every step."""
    cls = type(obj)
    return cls.encode is WorldObj.encode and cls.see_behind in (WorldObj.see_behind, Wall.see_behind)


def _occlusion_table(size: int) -> tuple[list[int], list[int]]:
    """For every (lit, transparent) pair of ``size``-bit column masks (bit ``i`` = view row ``i``), the
    column's visible cells and the cells it lights in the next column (to its left), after MiniGrid's
    ``process_vis`` sweep of that column: down the column, then back up. Indexed by
    ``lit << size | transparent``; computed for all pairs at once."""
    if size in _TABLES:
        return _TABLES[size]
    keys = np.arange(1 << (2 * size), dtype=np.int64)
    lit = ((keys[:, None] >> (size + np.arange(size))) & 1).astype(bool)  # (K, size), row i
    clear = ((keys[:, None] >> np.arange(size)) & 1).astype(bool)
    nxt = np.zeros_like(lit)
    for i in range(size - 1):  # downwards: a lit, transparent cell lights the one below and two to the left
        go = lit[:, i] & clear[:, i]
        lit[:, i + 1] |= go
        nxt[:, i + 1] |= go
        nxt[:, i] |= go
    for i in range(size - 1, 0, -1):  # back up
        go = lit[:, i] & clear[:, i]
        lit[:, i - 1] |= go
        nxt[:, i - 1] |= go
        nxt[:, i] |= go
    weights = 1 << np.arange(size)
    table = ((lit * weights).sum(1).tolist(), (nxt * weights).sum(1).tolist())
    _TABLES[size] = table
    return table



class AgentView:
    """Callable that returns ``core``'s observation dict, as ``MiniGridEnv.gen_obs`` would."""

    def __init__(self, core: MiniGridEnv):
        self.core = core
        self.size = size = core.agent_view_size
        self._offsets = [_offsets(size, d) for d in range(4)]
        self._agent_k = (size // 2) * size + size - 1  # the agent's cell: (size // 2, size - 1)
        self._table = _occlusion_table(size) if size <= _TABLE_MAX_SIZE else None
        if self._table is not None:
            self._pow2 = 1 << np.arange(size, dtype=np.int64)
            # _rows[m] is column mask m as booleans, one per view row i.
            self._rows = ((np.arange(1 << size)[:, None] >> np.arange(size)) & 1).astype(bool)
        self._grid: Grid | None = None

    # -- the world arrays -------------------------------------------------------------------------

    def _rebuild(self, grid: Grid) -> None:
        """Codes and transparency of every cell of a new grid, padded with walls by the view size."""
        pad = self.size
        self._grid, self._pad, self._width = grid, pad, grid.width
        self._stride = stride = grid.width + 2 * pad
        cells = (grid.height + 2 * pad) * stride
        self._codes = np.empty((cells, 3), dtype=np.uint8)
        self._codes[:] = _WALL.encode()
        self._clear = np.zeros(cells, dtype=bool)
        self._live: dict[int, list[Any]] = {}
        self._cells = list(grid.grid)
        # Objects that compare equal by value would hide a swap from the list comparison in image().
        self._tracked = all(o is None or type(o).__eq__ is object.__eq__ for o in self._cells)
        for idx, obj in enumerate(self._cells):
            self._put(idx, obj)
        self._index = [np.asarray([dy * stride + dx for dx, dy in offs], dtype=np.int64) for offs in self._offsets]

    def _put(self, idx: int, obj: Any) -> None:
        q = (idx // self._width + self._pad) * self._stride + idx % self._width + self._pad
        self._live.pop(idx, None)
        if obj is None:
            self._codes[q] = (_EMPTY, 0, 0)
            self._clear[q] = True
            return
        code, clear = obj.encode(), obj.see_behind()
        self._codes[q], self._clear[q] = code, clear
        if not _static(obj):
            self._live[idx] = [q, obj, code, clear]

    def _sync(self, grid: Grid) -> bool:
        """Bring the world arrays up to date with ``grid``; False if this grid cannot be tracked."""
        if grid is not self._grid:
            self._rebuild(grid)
        elif grid.grid != self._cells:  # some cell holds another object now (identity comparison)
            for idx, (now, before) in enumerate(zip(grid.grid, self._cells)):
                if now is not before:
                    self._put(idx, now)
                    if now is not None and type(now).__eq__ is not object.__eq__:
                        self._tracked = False
            self._cells = list(grid.grid)
        if not self._tracked:
            return False
        for entry in self._live.values():  # doors open, unlock and close in place
            q, obj, code, clear = entry
            now_code, now_clear = obj.encode(), obj.see_behind()
            if now_code != code or now_clear != clear:
                self._codes[q], self._clear[q] = now_code, now_clear
                entry[2], entry[3] = now_code, now_clear
        return True

    def image(self) -> np.ndarray:
        core = self.core
        if self._table is None or not self._sync(core.grid):
            return self._image_sweep()
        size = self.size
        ax, ay = core.agent_pos
        index = self._index[core.agent_dir] + ((ay + self._pad) * self._stride + ax + self._pad)
        codes = self._codes[index]  # a new (size * size, 3) array, in the image's (i, j) order
        if not core.see_through_walls:
            # Columns j = size - 1 .. 0, as MiniGrid sweeps them; bit i of a mask is view row i.
            clear_bits = (self._pow2 @ self._clear[index].reshape(size, size)).tolist()
            visible, lights = self._table
            lit, masks = 1 << (size // 2), [0] * size  # the agent's own cell starts lit
            for j in range(size - 1, -1, -1):
                key = (lit << size) | clear_bits[j]
                masks[j], lit = visible[key], lights[key]
            codes *= self._rows[masks].T.reshape(-1, 1)
        # The agent sees what it carries in its own cell (nothing else is drawn there).
        codes[self._agent_k] = core.carrying.encode() if core.carrying else (_EMPTY, 0, 0)
        return codes.reshape(size, size, 3)

    def _image_sweep(self) -> np.ndarray:
        """The same image, cell by cell (view sizes above the table's limit, untrackable grids)."""
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
