"""TextWorld's subgoal library, for :class:`~sparsegym.wrappers.SubgoalReward`: events read from the
game's text and score, so a subgoal stack can be written as data (``from_spec``) in a config file or
on the command line.

Spec entries (a list; or a mapping with ``subgoals``; or a JSON file's path):

* ``{"type": "score_reached", "points": 2}``: the game's score reached 2 (``info["score"]``);
* ``{"type": "text_matches", "pattern": "You take the key"}``: the game's answer matches the regular
  expression (case-insensitive);
* each may carry ``name`` and ``bonus``.

>>> [s.name for s in from_spec([{"type": "score_reached", "points": 1}, {"type": "text_matches", "pattern": "key"}])]
['score reached 1', 'text /key/']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.types import Subgoal, Transition

__all__ = ["from_spec", "score_reached", "text_matches", "Subgoal", "Transition"]


def score_reached(points: int | float, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The game's score (``info["score"]``) is at least ``points``."""
    need = float(points)
    return Subgoal(name or f"score reached {points}", lambda t: float(t.info.get("score", 0) or 0) >= need, bonus)


def text_matches(pattern: str, name: str | None = None, bonus: float | None = None) -> Subgoal:
    """The game's answer to the step (the next observation) matches ``pattern`` (a regular expression,
    case-insensitive)."""
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return Subgoal(name or f"text /{pattern}/", lambda t: bool(regex.search(str(t.next_observation))), bonus)


_BUILDERS = {"score_reached": (score_reached, ("points",)), "text_matches": (text_matches, ("pattern",))}


def from_spec(spec: Any) -> list[Subgoal]:
    """Subgoals from a spec (module docstring)."""
    if isinstance(spec, (str, Path)):
        spec = json.loads(Path(spec).read_text())
    if isinstance(spec, dict):
        spec = spec.get("subgoals")
    if not isinstance(spec, list) or not spec:
        raise ConfigError("a subgoal spec is a non-empty list of entries (or a mapping with a 'subgoals' list), e.g. "
                          "[{\"type\": \"score_reached\", \"points\": 1}]")
    out = []
    for i, entry in enumerate(spec):
        if not isinstance(entry, dict) or entry.get("type") not in _BUILDERS:
            raise ConfigError(f"subgoal entry {i}: must be a mapping whose 'type' is one of {', '.join(_BUILDERS)}, "
                              f"got {entry!r}")
        builder, fields = _BUILDERS[entry["type"]]
        unknown = set(entry) - set(fields) - {"type", "name", "bonus"}
        missing = [f for f in fields if f not in entry]
        if unknown or missing:
            raise ConfigError(f"subgoal entry {i} ({entry['type']}): "
                              + (f"unknown field {sorted(unknown)[0]!r}; " if unknown else "")
                              + (f"missing field {missing[0]!r}; " if missing else "")
                              + f"fields: {', '.join(['type', 'name', 'bonus', *fields])}")
        try:
            out.append(builder(*(entry[f] for f in fields), name=entry.get("name"), bonus=entry.get("bonus")))
        except ValueError as exc:
            raise ConfigError(f"subgoal entry {i} ({entry['type']}): {exc}") from None
    return out
