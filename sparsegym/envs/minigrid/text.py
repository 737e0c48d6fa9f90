"""Plain-English view of a MiniGrid observation, and the text-action vocabulary.

The encoding tables below are MiniGrid's own (``minigrid.core.constants``); a test checks that they
still match the installed package. Keeping them here lets the text view run without importing
minigrid, e.g. on observations loaded from a file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.envs.views import TextView
from sparsegym.errors import InvalidActionError

IDX_TO_OBJECT = ("unseen", "empty", "wall", "floor", "door", "key", "ball", "box", "goal", "lava", "agent")
IDX_TO_COLOR = ("red", "green", "blue", "purple", "yellow", "grey")
IDX_TO_STATE = ("open", "closed", "locked")
# Direction d points along DIR_TO_VEC[d] in grid coordinates (x to the right, y downwards).
DIR_TO_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))
DIR_TO_COMPASS = ("east", "south", "west", "north")
AGENT_IDX = IDX_TO_OBJECT.index("agent")
WALL_IDX = IDX_TO_OBJECT.index("wall")

# Canonical text of each MiniGrid action, by action index, then accepted aliases.
ACTION_NAMES: tuple[str, ...] = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle", "done")
NOISY_TV_ACTION_NAME = "watch tv"
_ALIASES: dict[str, str] = {
    "left": "turn left",
    "rotate left": "turn left",
    "right": "turn right",
    "rotate right": "turn right",
    "forward": "go forward",
    "move forward": "go forward",
    "go ahead": "go forward",
    "move ahead": "go forward",
    "pickup": "pick up",
    "pick": "pick up",
    "take": "pick up",
    "put down": "drop",
    "open": "toggle",
    "close": "toggle",
    "unlock": "toggle",
    "use": "toggle",
    "watch the tv": "watch tv",
    "change channel": "watch tv",
}
_NON_WORD = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")


def normalise_action_text(text: str) -> str:
    """Lower-case, underscores and punctuation to spaces, whitespace collapsed."""
    text = _NON_WORD.sub(" ", text.lower().replace("_", " "))
    return _SPACES.sub(" ", text).strip()


def parse_action(text: str, action_names: Sequence[str] = ACTION_NAMES) -> int:
    """Map an action string (``"turn left"``, ``"Go forward."``, ``"pickup"`` ...) to its index.

    Raises :class:`InvalidActionError` listing the valid actions when the text names none of them.
    """
    if not isinstance(text, str):
        raise InvalidActionError(f"a text action must be a str, got {type(text).__name__}: {text!r}")
    key = normalise_action_text(text)
    key = _ALIASES.get(key, key)
    for index, name in enumerate(action_names):
        if key == name:
            return index
    raise InvalidActionError(
        f"unknown action {text!r}. Valid actions: {', '.join(action_names)}"
    )


def _object_phrase(obj: int, color: int, state: int) -> str | None:
    name = IDX_TO_OBJECT[obj] if 0 <= obj < len(IDX_TO_OBJECT) else "unknown object"
    colour = IDX_TO_COLOR[color] if 0 <= color < len(IDX_TO_COLOR) else "strange"
    if name in ("unseen", "empty", "floor", "agent"):
        return None
    if name == "door":
        door_state = IDX_TO_STATE[state] if 0 <= state < len(IDX_TO_STATE) else "odd"
        return f"{'an' if door_state == 'open' else 'a'} {door_state} {colour} door"
    if name == "lava":
        return "lava"
    if name == "goal":
        return f"the {colour} goal"
    if name == "wall":
        return "a wall"
    return f"a {colour} {name}"


def _steps(n: int) -> str:
    return f"{n} step{'s' if n != 1 else ''}"


def _offset_phrase(ahead: int, right: int) -> str:
    parts = []
    if ahead > 0:
        parts.append(f"{_steps(ahead)} ahead")
    elif ahead < 0:
        parts.append(f"{_steps(-ahead)} behind")
    if right > 0:
        parts.append(f"{_steps(right)} to the right")
    elif right < 0:
        parts.append(f"{_steps(-right)} to the left")
    return " and ".join(parts) if parts else "where you stand"


def _agent_frame(image: np.ndarray, direction: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Agent position, forward and right unit vectors in the image's own coordinates.

    An agent-centred view (MiniGrid's default) has the agent at the bottom middle looking "up" the
    image; a fully observable view has an agent cell whose state channel is its direction.
    """
    agent_cells = np.argwhere(image[:, :, 0] == AGENT_IDX)
    if len(agent_cells):
        ax, ay = (int(v) for v in agent_cells[0])
        fx, fy = DIR_TO_VEC[int(image[ax, ay, 2]) % 4]
    else:
        ax, ay = image.shape[0] // 2, image.shape[1] - 1
        fx, fy = 0, -1
    return (ax, ay), (fx, fy), (-fy, fx)


def describe(
    image: np.ndarray,
    direction: int,
    mission: str | None = None,
    carrying: str | None = None,
) -> str:
    """Describe a MiniGrid image observation in plain English.

    Args:
        image: ``(width, height, 3)`` uint8 array of (object, colour, state) codes; either the
            agent-centred view or a fully observable grid containing the agent cell.
        direction: the agent's direction (0 east, 1 south, 2 west, 3 north).
        mission: the mission string, shown first when given.
        carrying: phrase for what the agent carries (e.g. ``"a yellow key"``), or None for nothing.

    Objects are listed nearest first with their offset from the agent ("2 steps ahead and 1 step to
    the left"). Walls are summarised as the nearest wall straight ahead, left and right.
    """
    image = np.asarray(image)
    (ax, ay), (fx, fy), (rx, ry) = _agent_frame(image, direction)
    lines = []
    if mission:
        lines.append(f"Mission: {mission}")
    lines.append(f"You are facing {DIR_TO_COMPASS[int(direction) % 4]}.")
    lines.append(f"You are carrying {carrying}." if carrying else "You are carrying nothing.")

    front = (ax + fx, ay + fy)
    w, h = image.shape[0], image.shape[1]
    seen: list[tuple[int, int, int, str]] = []
    nearest_wall: dict[str, int] = {}
    for x in range(w):
        for y in range(h):
            obj, color, state = (int(v) for v in image[x, y])
            if (x, y) == (ax, ay):
                continue
            dx, dy = x - ax, y - ay
            ahead, right = dx * fx + dy * fy, dx * rx + dy * ry
            if obj == WALL_IDX:
                for name, along, across in (("ahead", ahead, right), ("to the right", right, ahead),
                                            ("to the left", -right, ahead)):
                    if across == 0 and along > 0:
                        nearest_wall[name] = min(nearest_wall.get(name, along), along)
                continue
            phrase = _object_phrase(obj, color, state)
            if phrase is not None:
                seen.append((abs(ahead) + abs(right), -ahead, right, phrase))

    front_phrase = None
    if 0 <= front[0] < w and 0 <= front[1] < h:
        front_phrase = _object_phrase(*(int(v) for v in image[front]))
    lines.append(f"Directly in front of you: {front_phrase or 'nothing'}.")
    if seen:
        lines.append("You see:")
        for _, neg_ahead, right, phrase in sorted(seen):
            lines.append(f"- {phrase} {_offset_phrase(-neg_ahead, right)}")
    else:
        lines.append("You see no objects.")
    if nearest_wall:
        order = ("ahead", "to the left", "to the right")
        walls = [f"{_steps(nearest_wall[k])} {k}" for k in order if k in nearest_wall]
        lines.append("Nearest walls: " + ", ".join(walls) + ".")
    return "\n".join(lines)


def carried_phrase(obj: object | None) -> str | None:
    """Phrase for a minigrid ``WorldObj`` the agent carries (``None`` -> None)."""
    if obj is None:
        return None
    return f"a {obj.color} {obj.type}"


#: One line per action, for an agent's instructions.
ACTION_HELP = {
    "turn left": "turn 90 degrees to the left",
    "turn right": "turn 90 degrees to the right",
    "go forward": "move one step in the direction you face",
    "pick up": "pick up the object directly in front of you",
    "drop": "drop what you carry in front of you",
    "toggle": "open, close or unlock the door (or open the box) directly in front of you",
    "done": "do nothing",
    NOISY_TV_ACTION_NAME: "change the noisy TV's channel (it pays nothing)",
}


class MiniGridTextView(TextView):
    """The text view of a MiniGrid/BabyAI env (sparsegym's or a raw minigrid env): :func:`describe` of
    the agent's view, the actions' names with aliases (:func:`parse_action`); a reply that names no
    action plays "done", which changes nothing."""

    name = "minigrid-text"
    version = "1"

    def __init__(self, env: Any):
        from sparsegym.envs.minigrid.predicates import core_of

        try:
            self.core = core_of(env)
        except TypeError:
            raise TypeError(
                "the MiniGrid text view needs a MiniGrid env (sparsegym/MiniGrid-*, sparsegym/BabyAI-* or a raw "
                f"minigrid env), got {type(env.unwrapped).__name__}"
            ) from None
        names = tuple(getattr(env.unwrapped, "action_names", ACTION_NAMES))[: int(env.action_space.n)]
        super().__init__(env, names, names.index("done") if "done" in names else 0)

    def describe(self, observation: Any, info: dict[str, Any]) -> str:
        image = observation["image"] if isinstance(observation, dict) else observation
        return describe(image, int(self.core.agent_dir), self.core.mission, carried_phrase(self.core.carrying))

    def parse(self, text: str) -> int:
        return parse_action(text, self.action_names)

    def rules(self) -> str:
        return (f"You are an agent in a grid world. Your mission: {self.core.mission}. You see the cells in "
                "front of you and to your sides; walls and closed doors block your view. The episode ends with "
                "a reward when the mission is accomplished, sooner being better.")

    def action_help(self) -> dict[str, str]:
        return ACTION_HELP

    def extra_info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {} if "mission" in info else {"mission": self.core.mission}
