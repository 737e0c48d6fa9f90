"""The text view of the bandits (discrete arms): the round, the last pull and its reward, each arm's record.

A language agent plays a bandit as a person would: it cannot see the hidden state, only what it pulled
and what it got, so the view keeps that record (pulls and mean reward per arm) for it. Actions are
"pull arm <i>" (also "arm <i>" or just "<i>"); a reply that names no arm pulls arm 0.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sparsegym.envs.views import TextView
from sparsegym.errors import InvalidActionError

_ARM = re.compile(r"(?:pull\s+)?(?:arm\s*)?#?\s*(\d+)\b", re.I)


class BanditTextView(TextView):
    """A bandit with ``Discrete(K)`` actions, in text (module docstring)."""

    name = "bandit-text"
    version = "1"

    def __init__(self, env: Any):
        space = env.action_space
        if not hasattr(space, "n"):
            raise TypeError(f"the bandit text view needs discrete arms, got {space} (continuous=True has none)")
        self.k = int(space.n)
        super().__init__(env, tuple(f"pull arm {i}" for i in range(self.k)), 0)
        self.horizon = (env.spec.max_episode_steps if env.spec else None) or getattr(env.unwrapped, "horizon", None)
        self.start()

    def start(self) -> None:
        self.pulls = np.zeros(self.k, dtype=np.int64)
        self.sums = np.zeros(self.k)
        self.last: tuple[int, float] | None = None

    def record(self, action: int, reward: float) -> None:
        self.pulls[action] += 1
        self.sums[action] += reward
        self.last = (action, reward)

    def describe(self, observation: Any, info: dict[str, Any]) -> str:
        t = int(self.pulls.sum())
        lines = [f"Round {t + 1}" + (f" of {self.horizon}." if self.horizon else ".")]
        if self.last is not None:
            lines.append(f"Last round you pulled arm {self.last[0]} and got reward {self.last[1]:.3f}.")
        for i in range(self.k):
            if self.pulls[i]:
                lines.append(f"Arm {i}: pulled {self.pulls[i]} times, mean reward {self.sums[i] / self.pulls[i]:.3f}.")
            else:
                lines.append(f"Arm {i}: not pulled yet.")
        return "\n".join(lines)

    def parse(self, text: str) -> int:
        if not isinstance(text, str):
            raise InvalidActionError(f"a text action must be a str, got {type(text).__name__}: {text!r}")
        m = _ARM.fullmatch(" ".join(text.lower().replace(".", " ").split()))
        if m and int(m.group(1)) < self.k:
            return int(m.group(1))
        raise InvalidActionError(f"unknown action {text!r}. Valid actions: {', '.join(self.action_names)}")

    def rules(self) -> str:
        return (f"You face {self.k} slot-machine arms. Each round you pull one and receive a noisy reward; an arm's "
                "payoff may depend on what you pulled in earlier rounds, so the best arm now may not be the best to "
                "keep pulling. Your score is the total reward over all rounds.")
