"""The text-policy interface every text-RL algorithm trains: one call samples a turn's action, another
re-scores given actions differentiably under the current parameters.

A *turn* is what the agent reads (the observation, the admissible actions when the env lists them, the
episode's past ``(observation, action)`` pairs, the task's instructions); a *choice* is what it did
(the action text, its index among the admissible actions, the log-probability the policy gave it when
it acted, an optional critic value, and policy-specific extras such as generated token ids).

>>> t = Turn(observation="You see a coin.", actions=["take coin", "go north"], history=[])
>>> Choice(action="take coin", index=0, logprob=-0.3).value is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["Turn", "Choice", "TextPolicy"]


@dataclass
class Turn:
    observation: str
    actions: list[str]             # admissible actions (may be empty for free-text envs)
    history: list[tuple[str, str]] # past (observation, action) pairs of the episode, oldest first
    instructions: str = ""


@dataclass
class Choice:
    action: str
    index: int | None              # index into turn.actions when chosen from them
    logprob: float
    value: float | None = None
    extra: dict = field(default_factory=dict)


class TextPolicy(torch.nn.Module):
    """Base class of text policies (a ``torch.nn.Module``: its parameters are what a trainer optimises)."""

    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        """One choice per turn (sampled, or the most likely when ``sample=False``), without gradients."""
        raise NotImplementedError

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        """``{"logprob": [B], "entropy": [B]}`` (and ``"value": [B]`` with a critic) of ``choices`` under
        the current parameters, differentiable."""
        raise NotImplementedError

    def save(self, path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path) -> TextPolicy:
        raise NotImplementedError
