"""A tiny text env for the text trainers' tests: fast, deterministic, no TextWorld needed."""

from __future__ import annotations

from typing import Any

import pytest

from sparsegym.envs.text_env import TextEnv

ACTIONS = ["go east", "go west", "look", "take coin"]


class Corridor(TextEnv):
    """Rooms 0..n-1 in a row; the coin lies in the last one. "take coin" there wins (reward 1); anywhere
    else it ends the episode as a loss (like TreasureHunter's wrong object). The reset seed picks the
    start room among the first ``starts``."""

    rules = "Find the coin at the east end of the corridor and take it."

    def __init__(self, n: int = 4, starts: int = 2, max_steps: int = 20):
        super().__init__()
        self.n, self.starts, self.max_steps = n, starts, max_steps

    def _obs(self) -> str:
        where = "There is a coin here." if self.room == self.n - 1 else "The corridor goes on to the east."
        return f"Room {self.room}. {where}"

    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        self.room, self.t = int(self.np_random.integers(self.starts)), 0
        return "Your task: take the coin.\n" + self._obs(), {"admissible_actions": list(ACTIONS)}

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.t += 1
        info: dict[str, Any] = {"admissible_actions": list(ACTIONS)}
        if action not in ACTIONS:
            info["action_error"] = f"unknown command {action!r}"
            return info["action_error"], 0.0, False, self.t >= self.max_steps, info
        if action == "take coin":
            won = self.room == self.n - 1
            info["success"] = won
            return ("You take the coin. You win!" if won else "There is no coin here. You lose."), float(won), True, \
                False, info
        if action == "go east":
            self.room = min(self.room + 1, self.n - 1)
        elif action == "go west":
            self.room = max(self.room - 1, 0)
        return self._obs(), 0.0, False, self.t >= self.max_steps, info


@pytest.fixture
def corridor():
    return Corridor
