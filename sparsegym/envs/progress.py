"""Progression: how far an episode got, in [0, 1], beside its success (BALROG's measure).

Success is all or nothing; progression credits partial progress the way BALROG reports it per family:
success for tasks that are won or not (MiniGrid/BabyAI, MiniHack, the bandits' nothing), the share of
the score for TextWorld (``max(score / max_score, won)``), and for open-ended NetHack the chance that a
human who got as deep (dungeon level) or as experienced (experience level) went on to win, from human
play data. A family names its tracker in its descriptor (``Family.progress``); the default is success.

A tracker is made per episode: ``update(observation, reward, terminated, truncated, info)`` after every
step (``observation`` native: the leaderboard passes the env's own observation under a text view) and
``value`` at the end.

>>> p = SuccessProgress()
>>> p.update(None, 0.0, False, False, {"success": False}); p.value
0.0
>>> p.update(None, 1.0, True, False, {"success": True}); p.value
1.0
"""

from __future__ import annotations

from typing import Any


class SuccessProgress:
    """Progression = success: 1.0 once an episode ends with ``info["success"]``, else 0.0."""

    def __init__(self) -> None:
        self.value = 0.0

    def update(self, observation: Any, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
        if info.get("success"):
            self.value = 1.0


def progress_for(env: Any) -> Any:
    """A fresh tracker for an episode of ``env``: its family's (``Family.progress``), else success."""
    from sparsegym.envs.family import family_of, load_ref

    family = family_of(env)
    if family is not None and family.progress is not None:
        return load_ref(family.progress)(env)
    return SuccessProgress()
