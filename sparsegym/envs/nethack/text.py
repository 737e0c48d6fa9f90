"""A plain-English view of NetHack observations and names for NetHack actions (as BALROG gives its
language agents): the last message, a status line, what is around the agent with its offset, and the
inventory when the observation carries it; action names such as "north", "far east", "eat", "pickup".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.envs.views import TextView
from sparsegym.errors import InvalidActionError

_COMPASS = {"N": "north", "E": "east", "S": "south", "W": "west", "NE": "northeast", "SE": "southeast",
            "SW": "southwest", "NW": "northwest"}
_ALIASES = {"pick up": "pickup", "go up": "up", "go down": "down", "descend": "down", "climb": "up",
            "rest": "wait", "search": "search", "n": "north", "s": "south", "e": "east", "w": "west"}
_FEATURES = {">": "stairs down", "<": "stairs up", "{": "a fountain", "_": "an altar", "^": "a trap",
             "`": "a boulder", "0": "a boulder", "}": "water", "#": None, ".": None, " ": None, "|": None, "-": None}
_OBJECT_CLASSES = {")": "a weapon", "[": "armour", "%": "food", "?": "a scroll", "/": "a wand", "=": "a ring",
                   "!": "a potion", "(": "a tool", '"': "an amulet", "*": "a gem or rock", "$": "gold",
                   "+": "a spellbook"}
_NON_WORD = re.compile(r"[^a-z0-9 ]+")


def action_name(action: Any) -> str:
    """``CompassDirection.N`` -> "north", ``CompassDirectionLonger.E`` -> "far east", ``Command.EAT`` ->
    "eat", ``MiscDirection.DOWN`` -> "down"."""
    kind, name = type(action).__name__, action.name
    if kind == "CompassDirection":
        return _COMPASS[name]
    if kind == "CompassDirectionLonger":
        return "far " + _COMPASS[name]
    return name.lower().replace("_", " ")


def action_names(actions: Sequence[Any]) -> list[str]:
    return [action_name(a) for a in actions]


def parse_action(text: str, names: Sequence[str]) -> int:
    """The index of the action ``text`` names ("north", "Move north.", "go far east", "eat", "pick up")."""
    if not isinstance(text, str):
        raise InvalidActionError(f"a text action must be a str, got {type(text).__name__}: {text!r}")
    key = _NON_WORD.sub(" ", text.lower().replace("_", " "))
    key = " ".join(key.split())
    for prefix in ("move ", "go ", "walk ", "step "):
        if key.startswith(prefix) and key[len(prefix):] in names:
            key = key[len(prefix):]
    key = _ALIASES.get(key, key)
    if key in names:
        return list(names).index(key)
    raise InvalidActionError(f"unknown action {text!r}. Valid actions: {', '.join(names)}")


def decode(array: np.ndarray) -> str:
    """NLE's NUL-terminated byte arrays (message, inventory strings) as text; called on every step by the
    message-captioning wrappers, so the common cases (a uint8 array, no message) take the short way."""
    raw = array.tobytes() if isinstance(array, np.ndarray) and array.dtype == np.uint8 else bytes(
        np.asarray(array, dtype=np.uint8))
    if not raw or raw[0] == 0:
        return ""
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _thing(char: str, glyph: int) -> str | None:
    from nle import nethack

    if nethack.glyph_is_monster(glyph) or nethack.glyph_is_pet(glyph):
        name = nethack.permonst(nethack.glyph_to_mon(glyph)).mname
        return f"{'your pet ' if nethack.glyph_is_pet(glyph) else 'a '}{name}"
    if nethack.glyph_is_object(glyph):
        return _OBJECT_CLASSES.get(char, "an object")
    if char == "+" and nethack.glyph_is_cmap(glyph):
        return "a door"
    if char in ("|", "-") and nethack.glyph_is_cmap(glyph):
        return None
    if char in _FEATURES:
        return _FEATURES[char]
    return None


def _offset(dx: int, dy: int) -> str:
    parts = []
    if dy:
        parts.append(f"{abs(dy)} step{'s' if abs(dy) != 1 else ''} {'south' if dy > 0 else 'north'}")
    if dx:
        parts.append(f"{abs(dx)} step{'s' if abs(dx) != 1 else ''} {'east' if dx > 0 else 'west'}")
    return " and ".join(parts) if parts else "here"


def describe(obs: dict[str, Any], max_items: int = 25) -> str:
    """Describe a NetHack observation (needs ``chars``, ``glyphs``, ``blstats``; uses ``message`` and
    ``inv_strs``/``inv_letters`` when present)."""
    from nle import nethack

    bl = np.asarray(obs["blstats"])
    x, y = int(bl[nethack.NLE_BL_X]), int(bl[nethack.NLE_BL_Y])
    lines = []
    if "message" in obs:
        message = decode(obs["message"])
        lines.append(f"Message: {message or '(none)'}")
    lines.append(
        f"Status: HP {int(bl[nethack.NLE_BL_HP])}/{int(bl[nethack.NLE_BL_HPMAX])}, dungeon level "
        f"{int(bl[nethack.NLE_BL_DEPTH])}, experience level {int(bl[nethack.NLE_BL_XP])}, gold "
        f"{int(bl[nethack.NLE_BL_GOLD])}, turn {int(bl[nethack.NLE_BL_TIME])}."
    )
    chars, glyphs = np.asarray(obs["chars"]), np.asarray(obs["glyphs"])
    seen = []
    for yy, xx in zip(*np.nonzero(chars != ord(" "))):
        if (xx, yy) == (x, y):
            continue
        thing = _thing(chr(int(chars[yy, xx])), int(glyphs[yy, xx]))
        if thing is not None:
            dx, dy = int(xx) - x, int(yy) - y
            seen.append((abs(dx) + abs(dy), dy, dx, thing))
    if seen:
        lines.append("You see:")
        for _, dy, dx, thing in sorted(seen)[:max_items]:
            lines.append(f"- {thing} {_offset(dx, dy)}")
    else:
        lines.append("You see nothing of note.")
    if "inv_strs" in obs and "inv_letters" in obs:
        items = [f"{chr(int(letter))}: {decode(row)}" for letter, row in zip(obs["inv_letters"], obs["inv_strs"])
                 if int(letter)]
        lines.append("Inventory: " + ("; ".join(items) if items else "empty"))
    return "\n".join(lines)


class NetHackTextView(TextView):
    """The text view of a NetHack/MiniHack env: :func:`describe` (message, status line, what is around
    the agent, the inventory when observed) and action names such as "north", "far east", "eat"; a reply
    that names no action plays "wait" (or "search", else the first action) where the task has it."""

    name = "nethack-text"
    version = "1"

    def __init__(self, env: Any):
        actions = getattr(env.unwrapped, "actions", None)
        if actions is None:
            raise TypeError(f"the NetHack text view needs a sparsegym NetHack/MiniHack env, got {type(env.unwrapped).__name__}")
        names = tuple(action_names(actions))[: int(env.action_space.n)]
        default = next((names.index(n) for n in ("wait", "search") if n in names), 0)
        super().__init__(env, names, default)

    def describe(self, observation: Any, info: dict[str, Any]) -> str:
        return describe(observation)

    def parse(self, text: str) -> int:
        return parse_action(text, self.action_names)

    def rules(self) -> str:
        return ("You are playing NetHack, a roguelike game, on a map of the dungeon. Directions are compass "
                "points (north is up); 'far' moves run until something interesting happens. Messages tell you "
                "what happened.")
