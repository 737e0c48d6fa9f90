"""The text views of the bandits: the round, the last choice and its reward, and the record so far.

A language agent plays a bandit as a person would: it cannot see the hidden state, only what it chose
and what it got, so the view keeps that record for it. With discrete arms (:class:`BanditTextView`) the
actions are "pull arm <i>" (also "arm <i>" or just "<i>"), a reply that names no arm pulls arm 0, and
the record is each arm's pulls and mean reward. With actions in the box ``[0, 1]^d``
(:class:`ContinuousBanditTextView`, the ``-Continuous`` ids) the action is "play <x1> ... <xd>", a
reply that gives no such vector plays the middle of the box, and the record is the best vectors played.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sparsegym.envs.views import TextView
from sparsegym.errors import ConfigError, InvalidActionError

_ARM = re.compile(r"(?:pull\s+)?(?:arm\s*)?#?\s*(\d+)\b", re.I)


class BanditTextView(TextView):
    """A bandit with ``Discrete(K)`` actions, in text (module docstring)."""

    name = "bandit-text"
    version = "1"

    def __init__(self, env: Any):
        space = env.action_space
        if not hasattr(space, "n"):
            raise ConfigError(f"BanditTextView needs discrete arms, got {space}: use bandit_view(env)")
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


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:e[-+]?\d+)?", re.I)


class ContinuousBanditTextView(TextView):
    """A bandit whose actions are vectors in the box ``[0, 1]^d`` (the module docstring)."""

    name = "bandit-continuous-text"
    version = "1"
    complete_actions = False

    def __init__(self, env: Any):
        space = env.action_space
        self.low, self.high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
        self.d = int(np.prod(space.shape))
        template = "play " + " ".join(f"<x{i + 1}>" for i in range(self.d))
        super().__init__(env, (template,), 0)
        if np.all(self.low == 0) and np.all(self.high == 1):  # constrained decoding: d numbers in [0, 1]
            # "[.]", not "\.": llama-cpp-python's server (0.3.36) dies on a grammar made from an escaped dot.
            self.action_pattern = rf"^play( (0([.][0-9]{{1,3}})?|1([.]0{{1,3}})?|[.][0-9]{{1,3}})){{{self.d}}}$"
        self.horizon = (env.spec.max_episode_steps if env.spec else None) or getattr(env.unwrapped, "horizon", None)
        self.start()

    def default(self) -> Any:
        return ((self.low + self.high) / 2).astype(np.float32)

    def default_name(self) -> str:
        return "play " + " ".join(f"{v:.2f}" for v in self.default())

    def start(self) -> None:
        self.history: list[tuple[np.ndarray, float]] = []

    def record(self, action: Any, reward: float) -> None:
        self.history.append((np.asarray(action, dtype=np.float64).copy(), float(reward)))

    def index(self, action: Any) -> Any:
        if isinstance(action, str):
            return self.parse(action)
        a = np.asarray(action, dtype=np.float32).reshape(-1)
        if a.shape != (self.d,) or not np.all(np.isfinite(a)):
            raise InvalidActionError(f"invalid action {action!r}: expected {self.d} numbers in [0, 1]")
        return np.clip(a, self.low, self.high).astype(np.float32)

    def parse(self, text: str) -> Any:
        if not isinstance(text, str):
            raise InvalidActionError(f"a text action must be a str, got {type(text).__name__}: {text!r}")
        numbers = [float(x) for x in _NUMBER.findall(text)]
        if len(numbers) != self.d or not all(np.isfinite(numbers)):
            raise InvalidActionError(f"unknown action {text!r}: reply '{self.action_names[0]}' with {self.d} numbers "
                                     "between 0 and 1")
        return np.clip(np.asarray(numbers, dtype=np.float64), self.low, self.high).astype(np.float32)

    def describe(self, observation: Any, info: dict[str, Any]) -> str:
        def vec(a: np.ndarray) -> str:
            return "(" + ", ".join(f"{v:.2f}" for v in a) + ")"

        t = len(self.history)
        lines = [f"Round {t + 1}" + (f" of {self.horizon}." if self.horizon else ".")]
        if self.history:
            a, r = self.history[-1]
            lines.append(f"Last round you played {vec(a)} and got reward {r:.3f}.")
            lines.append(f"Your mean reward so far: {np.mean([r for _, r in self.history]):.3f}.")
            best = sorted(self.history, key=lambda h: -h[1])[:3]
            lines.append("Your best rounds: " + "; ".join(f"{vec(a)} -> {r:.3f}" for a, r in best) + ".")
        return "\n".join(lines)

    def rules(self) -> str:
        return (f"Each round you choose a vector of {self.d} numbers between 0 and 1 and receive a noisy reward; the "
                "reward depends on a hidden state that your earlier choices move, so a choice keeps paying (or "
                "costing) for a while. Your score is the total reward over all rounds.")


def bandit_view(env: Any) -> TextView:
    """The text view that fits ``env``'s actions: discrete arms, or a box of vectors."""
    return BanditTextView(env) if hasattr(env.action_space, "n") else ContinuousBanditTextView(env)
