"""MiniGrid subgoal library and spec format for :class:`~sparsegym.wrappers.SubgoalReward`.

Library: :func:`picked_up`, :func:`opened_door`, :func:`entered_room`, :func:`adjacent_to`,
:func:`reached_position`, and :func:`from_instruction` for short language instructions.

Spec format (JSON or YAML; a list, or a mapping with a ``subgoals`` list), written by a person or
proposed by an LLM::

    [{"type": "picked_up", "object": "key", "color": "yellow", "bonus": 0.2},
     {"type": "opened_door", "color": "yellow"},
     {"type": "opened_door", "pos": [4, 2]},
     {"type": "entered_room", "top_left": [5, 1], "size": [3, 3], "name": "east room"},
     {"type": "adjacent_to", "object": "ball", "color": "purple"},
     {"type": "reached_position", "pos": [3, 4]},
     {"type": "instruction", "text": "pick up the yellow key"}]

Every entry may set ``name`` and ``bonus``. :data:`SPEC_FORMAT` explains the format to a language model.

Hooks for the LLM subgoal wrappers (:mod:`sparsegym.wrappers.llm_subgoals`, :mod:`sparsegym.wrappers.llm_credit`),
which reach them through the family descriptor (``Family.subgoals``) and never name MiniGrid:
:func:`describe_level`, :func:`world_state`, :func:`events`, :func:`subgoal_kind`
(from :mod:`sparsegym.envs.minigrid.level`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparsegym.envs.minigrid import predicates as P
from sparsegym.envs.minigrid.level import EVENT_KINDS, describe_level, events, subgoal_kind, world_state
from sparsegym.envs.minigrid.text import IDX_TO_COLOR
from sparsegym.errors import ConfigError
from sparsegym.types import Subgoal, Transition


def _describe(obj_type: str | None, color: str | None) -> str:
    return " ".join(p for p in (color, obj_type or "object") if p)


def _state(fn) -> Any:
    return lambda t: fn(P.core_of(t.env))


def picked_up(obj_type: str | None = None, color: str | None = None, name: str | None = None,
              bonus: float | None = None) -> Subgoal:
    """The agent holds an object of that type and colour."""
    P._check(obj_type, color)
    return Subgoal(name or f"picked up {_describe(obj_type, color)}",
                   _state(lambda c: P.carrying(c, obj_type, color)), bonus)


def opened_door(color: str | None = None, name: str | None = None, bonus: float | None = None,
                pos: Sequence[int] | None = None) -> Subgoal:
    """A door of that colour is open (with ``pos``: the door at that (x, y) position, of that colour if
    given)."""
    P._check("door", color)
    if pos is None:
        return Subgoal(name or f"opened {_describe('door', color)}", _state(lambda c: P.door_open(c, color)), bonus)
    p = (int(pos[0]), int(pos[1]))

    def door_at_open(c: Any) -> bool:
        if not (0 <= p[0] < c.grid.width and 0 <= p[1] < c.grid.height):
            return False
        cell = c.grid.get(*p)
        return cell is not None and cell.type == "door" and cell.is_open and (color is None or cell.color == color)

    return Subgoal(name or f"opened {_describe('door', color)} at {p}", _state(door_at_open), bonus)


def entered_room(top_left: Sequence[int], size: Sequence[int], name: str | None = None,
                 bonus: float | None = None) -> Subgoal:
    """The agent stands inside the rectangle ``top_left`` (x, y) of ``size`` (width, height)."""
    tl, sz = (int(top_left[0]), int(top_left[1])), (int(size[0]), int(size[1]))
    return Subgoal(name or f"entered room at {tl}", _state(lambda c: P.in_region(c, tl, sz)), bonus)


def adjacent_to(obj_type: str, color: str | None = None, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The agent stands next to (4-neighbourhood) an object of that type and colour."""
    P._check(obj_type, color)
    return Subgoal(name or f"next to {_describe(obj_type, color)}", _state(lambda c: P.adjacent_to(c, obj_type, color)), bonus)


def reached_position(pos: Sequence[int], name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The agent stands at grid position ``pos`` (x, y)."""
    p = (int(pos[0]), int(pos[1]))
    return Subgoal(name or f"reached {p}", _state(lambda c: P.at_position(c, p)), bonus)


_COLOR = "(?:(?P<color>" + "|".join(IDX_TO_COLOR) + ") )?"
_OBJ = "(?P<obj>key|ball|box|door|goal)"
_INSTRUCTIONS = [
    (re.compile(rf"^(?:pick up|pickup|get|grab|take) (?:the |a |an )?{_COLOR}{_OBJ}$"), "picked_up"),
    (re.compile(rf"^(?:open|unlock) (?:the |a |an )?{_COLOR}door$"), "opened_door"),
    (re.compile(rf"^(?:go to|go next to|reach|approach) (?:the |a |an )?{_COLOR}{_OBJ}$"), "adjacent_to"),
    (re.compile(r"^(?:go to|reach|move to) (?:position |cell )?\(?(?P<x>\d+), ?(?P<y>\d+)\)?$"), "reached_position"),
]


def from_instruction(text: str, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """A subgoal from a short instruction: "pick up the yellow key", "open the red door",
    "go to the purple ball", "go to (3, 4)". Raises ``ValueError`` listing the forms otherwise."""
    norm = re.sub(r"\s+", " ", text.strip().lower().rstrip(".!"))
    for pattern, kind in _INSTRUCTIONS:
        m = pattern.match(norm)
        if not m:
            continue
        g = m.groupdict()
        label = name or text.strip()
        if kind == "picked_up":
            return picked_up(g["obj"], g["color"], label, bonus)
        if kind == "opened_door":
            return opened_door(g["color"], label, bonus)
        if kind == "adjacent_to":
            return adjacent_to(g["obj"], g["color"], label, bonus)
        return reached_position((int(g["x"]), int(g["y"])), label, bonus)
    raise ConfigError(
        f"cannot read instruction {text!r}; use one of: 'pick up the [colour] key|ball|box', "
        "'open the [colour] door', 'go to the [colour] key|ball|box|door|goal', 'go to (x, y)'"
    )


_BUILDERS = {
    "picked_up": (picked_up, {"object": "obj_type", "color": "color"}),
    "opened_door": (opened_door, {"color": "color", "pos": "pos"}),
    "entered_room": (entered_room, {"top_left": "top_left", "size": "size"}),
    "adjacent_to": (adjacent_to, {"object": "obj_type", "color": "color"}),
    "reached_position": (reached_position, {"pos": "pos"}),
    "instruction": (from_instruction, {"text": "text"}),
}


def from_spec(spec: Any) -> list[Subgoal]:
    """Subgoals from a spec: a list of entries, a mapping with ``subgoals``, or a JSON/YAML file path."""
    if isinstance(spec, (str, Path)):
        path = Path(spec)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            from sparsegym._deps import require

            spec = require("yaml", "leaderboard", "Reading YAML subgoal specs").safe_load(text)
        else:
            spec = json.loads(text)
    if isinstance(spec, dict):
        spec = spec.get("subgoals")
    if not isinstance(spec, list) or not spec:
        raise ConfigError("a subgoal spec is a non-empty list of entries (or a mapping with a 'subgoals' list)")
    out = []
    for i, entry in enumerate(spec):
        if not isinstance(entry, dict) or "type" not in entry:
            raise ConfigError(f"subgoal entry {i}: must be a mapping with a 'type' ({', '.join(_BUILDERS)})")
        kind = entry["type"]
        if kind not in _BUILDERS:
            raise ConfigError(f"subgoal entry {i}: unknown type {kind!r}; use one of {', '.join(_BUILDERS)}")
        builder, fields = _BUILDERS[kind]
        unknown = set(entry) - set(fields) - {"type", "name", "bonus"}
        if unknown:
            raise ConfigError(f"subgoal entry {i} ({kind}): unknown field {sorted(unknown)[0]!r}; "
                             f"allowed: {', '.join(['type', 'name', 'bonus', *fields])}")
        kwargs = {arg: entry[key] for key, arg in fields.items() if key in entry}
        try:
            out.append(builder(**kwargs, name=entry.get("name"), bonus=entry.get("bonus")))
        except ConfigError as exc:
            raise ConfigError(f"subgoal entry {i} ({kind}): {exc}") from None
        except (TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:  # e.g. "pos": [3], "text": 5
            raise ConfigError(f"subgoal entry {i} ({kind}): bad value ({type(exc).__name__}: {exc}) in {entry}") from None
    return out


#: The spec format explained for a language model's prompt (what ``from_spec`` accepts).
SPEC_FORMAT = """Each subgoal is a JSON object with a "type" and that type's fields:
- {"type": "picked_up", "object": "key" | "ball" | "box", "color": C}: the agent holds that object.
- {"type": "opened_door", "color": C} or {"type": "opened_door", "pos": [x, y]}: that door is open (toggling a locked door with the key of its colour unlocks and opens it).
- {"type": "adjacent_to", "object": "key" | "ball" | "box" | "door" | "goal", "color": C}: the agent stands next to that object.
- {"type": "reached_position", "pos": [x, y]}: the agent stands on that cell.
- {"type": "entered_room", "top_left": [x, y], "size": [width, height]}: the agent stands inside that rectangle.
- {"type": "instruction", "text": T}: a short instruction, one of "pick up the C key|ball|box", "open the C door", "go to the C key|ball|box|door|goal", "go to (x, y)".
C is a colour: red, green, blue, purple, yellow or grey; leave "color" out to mean any colour."""

__all__ = ["picked_up", "opened_door", "entered_room", "adjacent_to", "reached_position", "from_instruction",
           "from_spec", "Subgoal", "Transition", "SPEC_FORMAT", "describe_level", "world_state", "events",
           "subgoal_kind", "EVENT_KINDS"]
