"""NetHack/MiniHack subgoal events for :class:`~sparsegym.wrappers.SubgoalReward`, in the spirit of
MiniHack's reward manager: each is a predicate over a transition's next observation (and the one before
it), so they need the ``message``, ``chars`` and ``blstats`` keys (all in the default set).

    SubgoalReward(env, [message_seen("You kill"), reached_feature(">"), reached_depth(2)])
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sparsegym.envs.nethack.text import decode
from sparsegym.types import Subgoal, Transition


def _message(obs: dict[str, Any]) -> str:
    return decode(obs["message"]) if "message" in obs else ""


def _position(obs: dict[str, Any]) -> tuple[int, int]:
    from nle import nethack

    bl = obs["blstats"]
    return int(bl[nethack.NLE_BL_X]), int(bl[nethack.NLE_BL_Y])


def message_seen(pattern: str, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The game's message matches the regular expression ``pattern`` (case-insensitive)."""
    regex = re.compile(pattern, re.IGNORECASE)
    return Subgoal(name or f"message /{pattern}/", lambda t: bool(regex.search(_message(t.next_observation))), bonus)


def reached_position(x: int, y: int, name: str | None = None, bonus: float | None = None) -> Subgoal:
    return Subgoal(name or f"reached ({x}, {y})", lambda t: _landing(t) == (x, y), bonus)


_COMPASS_VECTORS = {"N": (0, -1), "E": (1, 0), "S": (0, 1), "W": (-1, 0), "NE": (1, -1), "SE": (1, 1),
                    "SW": (-1, 1), "NW": (-1, -1)}


def _landing(t: Transition) -> tuple[int, int] | None:
    """Where the agent stands after the transition. A finished game returns a blank status line, so
    then the previous position plus the move's direction is used."""
    bl = np.asarray(t.next_observation["blstats"])
    if bl.any():
        return _position(t.next_observation)
    if t.observation is None or t.env is None:
        return None
    move = t.env.actions[int(t.action)]
    if type(move).__name__ != "CompassDirection":
        return None
    x, y = _position(t.observation)
    dx, dy = _COMPASS_VECTORS[move.name]
    return x + dx, y + dy


def standing_on(glyph_char: str, t: Transition) -> bool:
    """Whether the agent stands on a map feature shown as ``glyph_char`` before it stepped there."""
    before = t.observation
    if before is None:
        return False
    spot = _landing(t)
    if spot is None:
        return False
    x, y = spot
    return chr(int(np.asarray(before["chars"])[y, x])) == glyph_char


def reached_feature(char: str, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The agent stepped onto a square shown as ``char`` (``">"`` stairs down, ``"{"`` a fountain, ...)
    in the previous observation."""
    return Subgoal(name or f"reached {char!r}", lambda t: standing_on(char, t), bonus)


def picked_up(pattern: str = r".", name: str | None = None, bonus: float | None = None) -> Subgoal:
    """An item entered the inventory: NetHack's "x - <item>." message, item matching ``pattern``."""
    regex = re.compile(r"^[a-zA-Z$] - .*" + pattern, re.IGNORECASE)
    return Subgoal(name or f"picked up /{pattern}/", lambda t: bool(regex.search(_message(t.next_observation))), bonus)


def ate(name: str | None = None, bonus: float | None = None) -> Subgoal:
    regex = re.compile(r"(this .* is delicious|you finish eating|you eat|core|delicious)", re.IGNORECASE)
    return Subgoal(name or "ate something", lambda t: bool(regex.search(_message(t.next_observation))), bonus)


def killed_monster(pattern: str = r"", name: str | None = None, bonus: float | None = None) -> Subgoal:
    regex = re.compile(r"you (kill|destroy) .*" + pattern, re.IGNORECASE)
    return Subgoal(name or f"killed {pattern or 'a monster'}", lambda t: bool(regex.search(_message(t.next_observation))), bonus)


def reached_depth(depth: int, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The dungeon depth shown in the status line is at least ``depth``."""
    from nle import nethack

    return Subgoal(name or f"reached depth {depth}",
                   lambda t: int(t.next_observation["blstats"][nethack.NLE_BL_DEPTH]) >= depth, bonus)


__all__ = ["message_seen", "reached_position", "reached_feature", "picked_up", "ate", "killed_monster",
           "reached_depth"]
