"""Gated reward accumulation (after "Stabilizing Long-term Multi-turn Reinforcement Learning with
Gated Rewards"): step-level rewards count only when the episode's outcome passes a threshold.

Stack it *outside* the wrappers whose terms it gates (shaping, subgoals, LLM feedback): during the
episode their terms are withheld (the reward carries only the extrinsic part and ungated terms); at
the episode's end, if the outcome meets the threshold, everything withheld is paid on the final step,
otherwise it is dropped. So shaping cannot be farmed by an episode that fails the task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium

from sparsegym.errors import ConfigError
from sparsegym.wrappers._components import components

#: ``outcome(info, extrinsic_return) -> float`` at the episode's last step.
Outcome = Callable[[dict[str, Any], float], float]


def success_outcome(info: dict[str, Any], extrinsic_return: float) -> float:
    """1.0 when ``info["success"]``, else 0.0."""
    return float(bool(info.get("success", False)))


def return_outcome(info: dict[str, Any], extrinsic_return: float) -> float:
    """The episode's extrinsic return."""
    return float(extrinsic_return)


class GatedReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Withhold step-level reward terms until the outcome is known; pay them only if it passes.

    Args:
        env: an env whose ``info["reward_components"]`` carries the step-level terms.
        threshold: the outcome must be ``>= threshold`` for the withheld terms to be paid.
        outcome: ``"success"`` (``info["success"]`` as 0/1, the default), ``"return"`` (the extrinsic
            return) or a callable ``outcome(info, extrinsic_return) -> float``; ``info`` may carry an
            outcome ladder such as the software tasks' ``outcome_level``.
        gated: names of the components to gate; default every component except ``extrinsic``.
        name: the reward-component name of the gate's own correction.

    Each step's ``info["gate"]`` holds ``withheld`` (the running total) and, at the last step,
    ``released`` (True/False) and ``outcome``.

    Examples:
        >>> import sparsegym
        >>> from sparsegym.envs.minigrid.subgoals import picked_up
        >>> from sparsegym.wrappers import GatedReward, SubgoalReward
        >>> env = GatedReward(SubgoalReward(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), [picked_up("key")]))
        >>> _ = env.reset(seed=0)
        >>> _ = env.step(1)
        >>> _, reward, _, _, info = env.step(3)  # the subgoal's 0.1 is withheld
        >>> reward, info["gate"]["withheld"]
        (0.0, 0.1)
    """

    def __init__(self, env: gymnasium.Env, threshold: float = 1.0, outcome: str | Outcome = "success",
                 gated: Sequence[str] | None = None, name: str = "gate"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, threshold=threshold, outcome=outcome, gated=gated, name=name)
        gymnasium.Wrapper.__init__(self, env)
        if isinstance(outcome, str):
            if outcome not in ("success", "return"):
                raise ConfigError(f"outcome must be 'success', 'return' or a callable, got {outcome!r}")
            outcome = success_outcome if outcome == "success" else return_outcome
        self.threshold, self.outcome, self.name = float(threshold), outcome, name
        self.gated = None if gated is None else set(gated)
        if self.gated is not None and "extrinsic" in self.gated:
            raise ConfigError("the extrinsic reward is never gated (evaluation scores it)")
        self._withheld = 0.0
        self._extrinsic_return = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._withheld = self._extrinsic_return = 0.0
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        comps = components(info, reward)
        self._extrinsic_return += float(comps.get("extrinsic", 0.0))
        step_terms = sum(v for k, v in comps.items()
                         if k not in ("extrinsic", self.name) and (self.gated is None or k in self.gated))
        self._withheld += step_terms
        correction = -step_terms
        gate: dict[str, Any] = {}
        if terminated or truncated:
            value = float(self.outcome(info, self._extrinsic_return))
            released = value >= self.threshold
            if released:
                correction += self._withheld
            gate.update(released=released, outcome=value)
        gate["withheld"] = round(self._withheld, 12)
        info["gate"] = gate
        if correction != 0.0:
            comps[self.name] = comps.get(self.name, 0.0) + correction
        return obs, float(reward) + correction, terminated, truncated, info
