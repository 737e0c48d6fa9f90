"""An oracle for ALFWorld ids: replays the game's expert plan.

Every generated game stores the commands with which ALFWorld's handcoded expert won it (the
``walkthrough`` of ``game.tw-pddl``, checked when the game was made); real ALFWorld games without one
get the handcoded expert's play, computed once per game. The agent follows that plan from the start of
the episode; if the env reports an action error (the plan went off track, which a verified game does
not do) it falls back to ``look``. An upper reference for the ``alfworld`` suite.
"""

from __future__ import annotations

from typing import Any

import gymnasium


class ALFWorldExpertAgent:
    """Leaderboard agent protocol: ``reset(seed)``, ``act(observation, info)``.

    Examples:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/ALFWorld-Heat-v0")
        >>> agent = ALFWorldExpertAgent(env)
        >>> obs, info = env.reset(seed=1)
        >>> agent.reset(seed=1)
        >>> done = False
        >>> while not done:
        ...     obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        ...     done = terminated or truncated
        >>> info["success"]
        True
    """

    def __init__(self, env: gymnasium.Env, **_: Any):
        self.env = env
        self._plan: list[str] = []
        self._game: str | None = None
        self._step = 0

    def reset(self, seed: int | None = None) -> None:
        self._plan, self._game, self._step = [], None, 0

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        game = info.get("gamefile")
        if game != self._game or info.get("steps", 0) == 0 and self._step > 0:
            self._plan = self.env.unwrapped.expert_plan()
            self._game, self._step = game, 0
        if self._step < len(self._plan) and not info.get("action_error"):
            action = self._plan[self._step]
            self._step += 1
            return action
        return "look"
