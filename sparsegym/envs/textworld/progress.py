"""TextWorld's progression (BALROG): the share of the maximum score reached, 1.0 for a won game."""

from __future__ import annotations

from typing import Any


class TextWorldProgress:
    """``max(score / max_score, won)`` over the episode (``info["score"]``, ``info["max_score"]``)."""

    def __init__(self, env: Any = None) -> None:
        self.value = 0.0

    def update(self, observation: Any, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
        score, top = info.get("score"), info.get("max_score")
        if score is not None and top:
            self.value = max(self.value, min(1.0, float(score) / float(top)))
        if info.get("won") or info.get("success"):
            self.value = 1.0
