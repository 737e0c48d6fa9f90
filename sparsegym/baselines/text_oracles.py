"""Oracles for the text worlds: they replay the plan the game's generator recorded.

They follow the leaderboard agent protocol (``reset(seed)``, ``act(observation, info)``) and are built
from the env they play (``WalkthroughAgent(env)``), which is how they read the plan: the plan is an
attribute of the env, never part of ``info``, so ordinary agents cannot see it.
"""

from __future__ import annotations

from typing import Any

import gymnasium


class WalkthroughAgent:
    """Plays the current game's walkthrough (``env.unwrapped.walkthrough``), then ``look``.

    Works on every ``sparsegym/TextWorld-*`` id; the ceiling of the ``textworld`` suite.

    Examples:
        >>> import sparsegym                                            # doctest: +SKIP
        >>> env = sparsegym.make("sparsegym/TextWorld-W2-O3-Q4-v0")     # doctest: +SKIP
        >>> agent = WalkthroughAgent(env)                               # doctest: +SKIP
    """

    fallback = "look"

    def __init__(self, env: gymnasium.Env, **_: Any):
        self.env = env
        self._i = 0

    def reset(self, seed: int | None = None) -> None:
        self._i = 0

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        plan = list(getattr(self.env.unwrapped, "walkthrough", None) or [])
        if self._i < len(plan):
            self._i += 1
            return plan[self._i - 1]
        return self.fallback
