"""MiniGrid's documented symbolic state: what reward code written by a language model may read.

:func:`symbolic_state` turns the MiniGrid env behind any sparsegym MiniGrid/BabyAI env into a dict of
plain Python data (ints, strs, tuples, lists, dicts), the same whatever the observation mode; :data:`SCHEMA`
documents each field for the prompt. It is the *whole* grid, not the agent's partial view: like the
environment code Text2Reward and Eureka show their models, reward code is a designer's tool and may use
privileged state (the agent's policy still sees only its observation).

>>> import sparsegym
>>> env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
>>> obs, _ = env.reset(seed=0)
>>> state = symbolic_state(env, obs)
>>> state["agent_pos"], state["carrying"], [o["type"] for o in state["objects"]]
((1, 3), None, ['door', 'key', 'goal'])
"""

from __future__ import annotations

from typing import Any

from sparsegym.envs.minigrid.predicates import core_of
from sparsegym.envs.minigrid.text import ACTION_NAMES

SCHEMA = """\
- agent_pos: tuple (x, y) of ints, the agent's cell. x grows to the east (right), y to the south (down); (0, 0) is the top-left corner, which is a wall.
- agent_dir: int, the direction the agent faces: 0 east, 1 south, 2 west, 3 north.
- front_pos: tuple (x, y), the cell directly in front of the agent.
- front_object: dict (as in objects, walls included) of what is in the front cell, or None when it is empty.
- carrying: tuple (type, color) of strs of the object the agent holds, e.g. ("key", "yellow"), or None.
- objects: list of dicts, one per object on the grid (walls and empty floor left out), each with
  "type" (str: "key", "ball", "box", "door", "goal", "lava"), "color" (str: "red", "green", "blue", "purple", "yellow", "grey"),
  "pos" (tuple (x, y)), "state" (str for doors: "open", "closed" or "locked"; None for every other type),
  "contains" (tuple (type, color) of what a box holds, or None).
  A carried object is not in the list (it is in "carrying").
- goal_pos: tuple (x, y) of the goal square, or None when the task has none.
- mission: str, the instruction of this episode, e.g. "use the key to open the door and then get to the goal".
- step_count: int, steps taken so far in this episode (0 after reset).
- max_steps: int, the step at which the episode is cut off.
- width, height: ints, the grid's size in cells, outer walls included."""


def _object(obj: Any, x: int, y: int) -> dict[str, Any]:
    state = None
    if obj.type == "door":
        state = "locked" if obj.is_locked else "open" if obj.is_open else "closed"
    inside = getattr(obj, "contains", None)
    return {"type": str(obj.type), "color": str(obj.color), "pos": (x, y), "state": state,
            "contains": (str(inside.type), str(inside.color)) if inside is not None else None}


def symbolic_state(env: Any, observation: Any = None) -> dict[str, Any]:
    """The state of :data:`SCHEMA` for ``env`` (any wrapping of a MiniGrid env); ``observation`` is unused."""
    core = core_of(env)
    grid = core.grid
    width = grid.width
    objects, goal = [], None
    for i, obj in enumerate(grid.grid):
        if obj is None or obj.type in ("wall", "floor"):
            continue
        entry = _object(obj, i % width, i // width)
        if goal is None and obj.type == "goal":
            goal = entry["pos"]
        objects.append(entry)
    ax, ay = (int(v) for v in core.agent_pos)
    fx, fy = (int(v) for v in core.front_pos)
    front = grid.get(fx, fy) if 0 <= fx < width and 0 <= fy < grid.height else None
    carried = core.carrying
    return {
        "agent_pos": (ax, ay),
        "agent_dir": int(core.agent_dir),
        "front_pos": (fx, fy),
        "front_object": _object(front, fx, fy) if front is not None else None,
        "carrying": (str(carried.type), str(carried.color)) if carried is not None else None,
        "objects": objects,
        "goal_pos": goal,
        "mission": str(core.mission),
        "step_count": int(core.step_count),
        "max_steps": int(core.max_steps),
        "width": int(width),
        "height": int(grid.height),
    }


def action_names(env: Any) -> list[str]:
    """The env's actions by index (``"turn left"``, ``"turn right"``, ``"go forward"``, ...)."""
    return list(getattr(env.unwrapped, "action_names", ACTION_NAMES))


def describe_task(env: Any) -> str:
    """The task in a few sentences: its id, the current mission, and how it pays."""
    core = core_of(env)
    spec = getattr(env, "spec", None) or getattr(env.unwrapped, "spec", None)
    name = spec.id if spec is not None else type(core).__name__
    mission = getattr(core, "mission", None)
    return (f"The MiniGrid task {name}: a grid world seen from above. Mission: "
            f'"{mission}". The task pays 1 - 0.9 * step_count / max_steps when the mission is achieved '
            f"and 0 otherwise; episodes are cut off after max_steps = {int(core.max_steps)} steps. Missions "
            "may change from episode to episode: read state[\"mission\"].")
