"""Score rewards: the changes of a running score the env reports in ``info`` become a step-level term.

Text games keep a score (TextWorld's ``info["score"]``, out of ``info["max_score"]``) that rises as
the player makes progress. Played with the env's sparse reward (TextWorld: ``reward="sparse"``, the
final score on a win), this wrapper adds the score's changes as their own reward component, so they
can be paid at once (direct accumulation) or withheld by :class:`~sparsegym.wrappers.GatedReward`
until the outcome is known (gated accumulation). With the env's dense reward the score changes are
already the extrinsic reward, which no wrapper may gate.
"""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym.errors import ConfigError
from sparsegym.wrappers._components import add_component

__all__ = ["ScoreReward"]


class ScoreReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``scale * (score' - score)`` (divided by the maximum score when ``normalize``) to each reward.

    Args:
        env: an env whose ``info[key]`` holds a running score, on reset and after every step.
        key: the info key of the score.
        scale: multiplies each change.
        normalize: divide each change by ``info[max_key]`` (when it is positive), so the terms of an
            episode that reaches the maximum score sum to ``scale``.
        max_key: the info key of the maximum score.
        name: the reward-component name.

    Examples:
        >>> import gymnasium as gym, sparsegym
        >>> from sparsegym.wrappers import ScoreReward
        >>> tw = gym.make("sparsegym/TextWorld-CoinCollector-L5-v0", reward="sparse")  # doctest: +SKIP
        >>> env = ScoreReward(tw, scale=0.1)                                           # doctest: +SKIP
        >>> _ = env.reset(seed=0)                                                        # doctest: +SKIP
        >>> sorted(env.step(env.unwrapped.walkthrough[0])[4]["reward_components"])       # doctest: +SKIP
        ['extrinsic', 'score']
    """

    def __init__(self, env: gymnasium.Env, key: str = "score", scale: float = 1.0, normalize: bool = False,
                 max_key: str = "max_score", name: str = "score"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, key=key, scale=scale, normalize=normalize,
                                                       max_key=max_key, name=name)
        gymnasium.Wrapper.__init__(self, env)
        if name == "extrinsic":
            raise ConfigError("ScoreReward's component cannot be named 'extrinsic' (the env's own reward); "
                              "keep the default name='score' or choose another")
        self.key, self.scale, self.normalize = key, float(scale), bool(normalize)
        self.max_key, self.name = max_key, name
        self._score = 0.0

    def _read(self, info: dict[str, Any]) -> float:
        if self.key not in info:
            raise ConfigError(f"ScoreReward reads info[{self.key!r}], which this env does not report (its info keys: "
                              f"{sorted(info)}); pass key= the name of the env's running score")
        return float(info[self.key])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._score = self._read(info)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        score = self._read(info)
        change, self._score = score - self._score, score
        if change != 0.0:
            top = float(info.get(self.max_key) or 0.0)
            value = self.scale * change / (top if self.normalize and top > 0 else 1.0)
            reward = add_component(info, reward, self.name, value)
        return obs, reward, terminated, truncated, info
