"""Subgoal rewards: named predicates over transitions, each paying a bonus once per episode.

In the spirit of MiniHack's reward manager (events that compose) and of LLM-proposed subgoals
("Words as Beacons", CALM): a :class:`Subgoal` is a name and a predicate over a :class:`Transition`
(observation, action, next observation, info, and the unwrapped env for families that expose a
symbolic state), both defined in :mod:`sparsegym.types` so families can build subgoal libraries
(``Family.subgoals``; MiniGrid's library and spec format: :mod:`sparsegym.envs.minigrid.subgoals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium

from sparsegym.errors import ConfigError
from sparsegym.types import Subgoal, Transition
from sparsegym.wrappers._components import add_component

__all__ = ["Subgoal", "SubgoalReward", "Transition"]


class SubgoalReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Pay each subgoal's bonus the first time in an episode its predicate holds.

    Args:
        env: the env.
        subgoals: the subgoals (names must be unique).
        bonus: default bonus of a subgoal that sets none.
        ordered: when True, a subgoal counts only once every earlier one in the list was achieved.
        name: the reward-component name.

    ``info["subgoals_achieved"]`` lists the names achieved so far this episode (in order) and
    ``info["subgoals_new"]`` those achieved at this step, so an options-style agent can end its option
    when a subgoal completes.

    Examples:
        >>> import sparsegym
        >>> from sparsegym.envs.minigrid.subgoals import picked_up
        >>> env = SubgoalReward(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), [picked_up("key")], bonus=0.1)
        >>> _ = env.reset(seed=0)
        >>> _ = env.step(1)
        >>> _, reward, _, _, info = env.step(3)  # pick up the key in front
        >>> reward, info["subgoals_new"]
        (0.1, ['picked up key'])
    """

    def __init__(self, env: gymnasium.Env, subgoals: Sequence[Subgoal], bonus: float = 0.1, ordered: bool = False,
                 name: str = "subgoals"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, subgoals=subgoals, bonus=bonus, ordered=ordered, name=name)
        gymnasium.Wrapper.__init__(self, env)
        names = [s.name for s in subgoals]
        if not subgoals:
            raise ConfigError("SubgoalReward needs at least one subgoal")
        if len(set(names)) != len(names):
            raise ConfigError(f"subgoal names must be unique, got {names}")
        self.subgoals, self.bonus, self.ordered, self.name = list(subgoals), float(bonus), bool(ordered), name
        self._achieved: list[str] = []
        self._obs: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._achieved, self._obs = [], obs
        info["subgoals_achieved"], info["subgoals_new"] = [], []
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        transition = Transition(self._obs, action, obs, info, self.env.unwrapped)
        new, bonus = [], 0.0
        for subgoal in self.subgoals:
            if subgoal.name in self._achieved:
                continue
            if self.ordered and len(self._achieved) < self.subgoals.index(subgoal):
                break  # an earlier subgoal is still open
            if subgoal.predicate(transition):
                self._achieved.append(subgoal.name)
                new.append(subgoal.name)
                bonus += self.bonus if subgoal.bonus is None else subgoal.bonus
        self._obs = obs
        info["subgoals_achieved"], info["subgoals_new"] = list(self._achieved), new
        if new:
            reward = add_component(info, reward, self.name, bonus)
        return obs, reward, terminated, truncated, info
