"""A MiniGrid level as an LLM reads it, and the events that happen in it.

* :func:`describe_level`: the whole level in plain English (rooms, doors with colours and states,
  objects with colours, positions and what boxes hold, the agent, the mission) plus an ASCII map, as
  Words as Beacons gives its LLM "a textual description of the level" once per level. Unlike the
  text view (:mod:`sparsegym.envs.minigrid.text`), which shows what the agent sees, this reads the
  full symbolic state, so it is privileged information: use it for planning subgoals, not as an
  agent's observation.
* :func:`world_state` and :func:`events`: what changed in the world between two steps (the agent's
  pose left out): an object picked up, a door opened or unlocked, the goal square reached. These are
  the ground truth that :func:`sparsegym.wrappers.llm_credit.evaluate_credit` scores an LLM's
  achievement labels against, and the "something changed" test that decides which transitions
  ``LLMSubgoalCredit`` sends to its LLM.

Positions are ``(x, y)`` with x growing east and y growing south, MiniGrid's own convention.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, NamedTuple

from sparsegym.envs.minigrid.predicates import core_of
from sparsegym.envs.minigrid.text import DIR_TO_COMPASS

MOVABLE = ("key", "ball", "box")
_MAP_CHARS = {"wall": "#", "key": "K", "ball": "B", "box": "X", "goal": "G", "lava": "~", "floor": "."}
_AGENT_CHARS = (">", "v", "<", "^")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _door_state(door: Any) -> str:
    return "open" if door.is_open else ("locked" if door.is_locked else "closed")


def _rooms(core: Any) -> tuple[dict[tuple[int, int], int], list[list[tuple[int, int]]]]:
    """Connected regions of cells that are neither wall nor door (4-neighbourhood), numbered from 1 in
    reading order of their first cell; returns (cell -> room number, cells of each room)."""
    grid = core.grid
    room_of: dict[tuple[int, int], int] = {}
    rooms: list[list[tuple[int, int]]] = []
    for y in range(grid.height):
        for x in range(grid.width):
            cell = grid.get(x, y)
            if (x, y) in room_of or (cell is not None and cell.type in ("wall", "door")):
                continue
            number = len(rooms) + 1
            members, queue = [], deque([(x, y)])
            room_of[(x, y)] = number
            while queue:
                cx, cy = queue.popleft()
                members.append((cx, cy))
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    if not (0 <= nx < grid.width and 0 <= ny < grid.height) or (nx, ny) in room_of:
                        continue
                    other = grid.get(nx, ny)
                    if other is None or other.type not in ("wall", "door"):
                        room_of[(nx, ny)] = number
                        queue.append((nx, ny))
            rooms.append(members)
    return room_of, rooms


def describe_level(env: Any) -> str:
    """The whole level in plain English, then an ASCII map (see the module docstring).

    ``env``: a sparsegym MiniGrid env (any wrapping) or a raw minigrid env. The text depends only on
    the level's state (layout, objects, doors, agent, mission), so two resets to the same level give
    the same text, whatever seeded them.

    Examples:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/MiniGrid-KeyCorridorS3R1-v0")
        >>> _ = env.reset(seed=0)
        >>> print(describe_level(env))  # doctest: +NORMALIZE_WHITESPACE
        Mission: pick up the purple ball
        The grid is 7 cells wide (x from 0 in the west to 6 in the east) and 3 cells high (y from 0 in the north to 2 in the south); a position is (x, y).
        Walls divide it into 3 rooms:
        - room 1: x 1 to 1, y 1 to 1 (1 cell)
        - room 2: x 3 to 3, y 1 to 1 (1 cell)
        - room 3: x 5 to 5, y 1 to 1 (1 cell)
        Doors:
        - a closed blue door at (2, 1), between room 1 and room 2
        - a locked yellow door at (4, 1), between room 2 and room 3
        Objects:
        - a yellow key at (1, 1), in room 1
        - a purple ball at (5, 1), in room 3
        The agent is at (3, 1), in room 2, facing south, carrying nothing.
        Map (one row per y, north first; # wall, . floor, the agent as > v < ^ by heading, K key, B ball, X box, D closed or locked door, / open door, G goal, ~ lava):
        #######
        #KDvDB#
        #######
    """
    core = core_of(env)
    grid = core.grid
    room_of, rooms = _rooms(core)
    ax, ay = (int(v) for v in core.agent_pos)
    lines = [f"Mission: {core.mission}",
             f"The grid is {grid.width} cells wide (x from 0 in the west to {grid.width - 1} in the east) and "
             f"{grid.height} cells high (y from 0 in the north to {grid.height - 1} in the south); a position is (x, y)."]
    lines.append(f"Walls divide it into {len(rooms)} room{'s' if len(rooms) != 1 else ''}:" if len(rooms) != 1
                 else "Walls enclose 1 room:")
    for number, cells in enumerate(rooms, 1):
        xs, ys = [c[0] for c in cells], [c[1] for c in cells]
        lines.append(f"- room {number}: x {min(xs)} to {max(xs)}, y {min(ys)} to {max(ys)} "
                     f"({len(cells)} cell{'s' if len(cells) != 1 else ''})")
    doors, objects, lava = [], [], 0
    for i, obj in enumerate(grid.grid):
        if obj is None or obj.type in ("wall", "floor"):
            continue
        x, y = i % grid.width, i // grid.width
        if obj.type == "door":
            around = sorted({room_of[n] for n in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)) if n in room_of})
            between = (f", between room {around[0]} and room {around[1]}" if len(around) == 2 else
                       f", next to room {around[0]}" if len(around) == 1 else "")
            state = _door_state(obj)
            doors.append(f"- {_article(state)} {state} {obj.color} door at ({x}, {y}){between}")
        elif obj.type == "lava":
            lava += 1
        else:
            where = f", in room {room_of[(x, y)]}" if (x, y) in room_of else ""
            if obj.type == "goal":
                objects.append(f"- the goal square at ({x}, {y}){where}")
                continue
            inside = getattr(obj, "contains", None)
            holding = f", holding {_article(inside.color)} {inside.color} {inside.type}" if inside is not None else ""
            objects.append(f"- {_article(obj.color)} {obj.color} {obj.type} at ({x}, {y}){where}{holding}")
    lines += ["Doors:", *doors] if doors else ["There are no doors."]
    lines += ["Objects:", *objects] if objects else ["There are no objects."]
    if lava:
        lines.append(f"Lava covers {lava} cell{'s' if lava != 1 else ''} (~ on the map); stepping on lava ends the episode.")
    carried = core.carrying
    carrying = f"{_article(carried.color)} {carried.color} {carried.type}" if carried is not None else "nothing"
    room = f", in room {room_of[(ax, ay)]}" if (ax, ay) in room_of else ""
    lines.append(f"The agent is at ({ax}, {ay}){room}, facing {DIR_TO_COMPASS[int(core.agent_dir) % 4]}, "
                 f"carrying {carrying}.")
    lines.append("Map (one row per y, north first; # wall, . floor, the agent as > v < ^ by heading, K key, B ball, "
                 "X box, D closed or locked door, / open door, G goal, ~ lava):")
    for y in range(grid.height):
        row = []
        for x in range(grid.width):
            if (x, y) == (ax, ay):
                row.append(_AGENT_CHARS[int(core.agent_dir) % 4])
                continue
            cell = grid.get(x, y)
            if cell is None:
                row.append(".")
            elif cell.type == "door":
                row.append("/" if cell.is_open else "D")
            else:
                row.append(_MAP_CHARS.get(cell.type, "?"))
        lines.append("".join(row))
    return "\n".join(lines)


# -- what changes in the world -------------------------------------------------------------------------


class WorldState(NamedTuple):
    """The parts of a MiniGrid state that subgoal events are made of (the agent's pose left out):
    the carried object, every door's state, every movable object's cell, whether the agent stands on
    the goal square."""

    carrying: tuple[str, str] | None
    doors: tuple[tuple[int, int, str, str], ...]
    movables: tuple[tuple[int, int, str, str], ...]
    on_goal: bool


def world_state(env: Any) -> WorldState:
    """The :class:`WorldState` now (cheap: one pass over the grid's cells)."""
    core = core_of(env)
    grid = core.grid
    width = grid.width
    doors, movables = [], []
    for i, obj in enumerate(grid.grid):
        if obj is None:
            continue
        kind = obj.type
        if kind == "door":
            doors.append((i % width, i // width, obj.color, _door_state(obj)))
        elif kind in MOVABLE:
            movables.append((i % width, i // width, kind, obj.color))
    carried = core.carrying
    under = grid.get(int(core.agent_pos[0]), int(core.agent_pos[1]))
    return WorldState((carried.type, carried.color) if carried is not None else None, tuple(doors),
                      tuple(movables), under is not None and under.type == "goal")


def events(before: WorldState, after: WorldState) -> list[tuple[str, dict[str, Any]]]:
    """The subgoal events between two world states, as ``(kind, spec entry)`` pairs.

    Kinds: ``"picked up key"`` (ball, box), ``"opened door"`` (a closed or locked door that is now open:
    MiniGrid unlocks and opens a door in one toggle), ``"reached goal"``. Each spec entry is valid for
    :func:`sparsegym.envs.minigrid.subgoals.from_spec` (the goal as its position)."""
    out: list[tuple[str, dict[str, Any]]] = []
    if after.carrying is not None and after.carrying != before.carrying:
        obj, color = after.carrying
        out.append((f"picked up {obj}", {"type": "picked_up", "object": obj, "color": color}))
    was = {(x, y): state for x, y, _, state in before.doors}
    for x, y, color, state in after.doors:
        if state == "open" and was.get((x, y), "open") != "open":
            out.append(("opened door", {"type": "opened_door", "color": color, "pos": [x, y]}))
    if after.on_goal and not before.on_goal:
        out.append(("reached goal", {"type": "instruction", "text": "go to the goal"}))
    return out


EVENT_KINDS = ("picked up key", "picked up ball", "picked up box", "opened door", "reached goal")

_KIND_PATTERNS = [
    (re.compile(r"\b(pick|picks|picked|get|gets|got|grab|take|takes|took|collect|fetch|hold|holds|carry)\b.*\b(key|ball|box)"),
     "picked up {1}"),
    (re.compile(r"\b(key|ball|box)\b.*\b(picked|taken|collected|grabbed|held|in hand)\b"), "picked up {0}"),
    (re.compile(r"\b(open|opens|opened|unlock|unlocks|unlocked)\b.*\bdoor"), "opened door"),
    (re.compile(r"\bdoor\b.*\b(open|opened|unlocked)\b"), "opened door"),
    (re.compile(r"\b(goal|green square|exit)\b"), "reached goal"),
]


def subgoal_kind(text: str) -> str | None:
    """The event kind a free-text subgoal names ("pick up the yellow key" -> ``"picked up key"``,
    "unlock the door" -> ``"opened door"``, "reach the goal" -> ``"reached goal"``), or None."""
    norm = re.sub(r"[^a-z ]+", " ", str(text).lower())
    for pattern, template in _KIND_PATTERNS:
        m = pattern.search(norm)
        if m:
            return template.format(*m.groups())
    return None


__all__ = ["describe_level", "WorldState", "world_state", "events", "subgoal_kind", "EVENT_KINDS"]
