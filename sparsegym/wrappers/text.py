"""``TextObservation``: a plain-English view of a grid env, and text actions, for LLM agents."""

from __future__ import annotations

import string
from typing import Any

import gymnasium
from gymnasium import spaces

from sparsegym.envs.minigrid.text import ACTION_NAMES, carried_phrase, describe, parse_action
from sparsegym.envs.text_env import TEXT_CHARSET  # one charset for every text surface
from sparsegym.errors import InvalidActionError

_ACTION_CHARSET = string.ascii_letters + string.digits + " _-.!"


def _is_nethack(env: gymnasium.Env) -> bool:
    return type(env.unwrapped).__name__ == "NetHackTask"


def _minigrid_core(env: gymnasium.Env) -> Any:
    """The MiniGridEnv inside ``env``: sparsegym's ``MiniGridTask.core`` or a raw minigrid env."""
    inner = env.unwrapped
    core = getattr(inner, "core", inner)
    if not all(hasattr(core, attr) for attr in ("grid", "agent_dir", "mission", "carrying")):
        raise TypeError(
            f"TextObservation needs a MiniGrid env (sparsegym/MiniGrid-*, sparsegym/BabyAI-* or a raw "
            f"minigrid env), got {type(inner).__name__}"
        )
    return core


class TextObservation(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Observe a MiniGrid or NetHack env as English text and act with text commands.

    NetHack/MiniHack ids get the view of :mod:`sparsegym.envs.nethack.text` (message, status line, what
    is around the agent, inventory when the observation has ``inv_strs``/``inv_letters``) and action names
    such as "north", "far east", "eat", "pickup". The rest of this docstring is about MiniGrid.

    The observation is a string: the mission, the agent's heading, what it carries, what is directly
    in front of it, every visible object with its offset ("a yellow key 2 steps ahead and 1 step to
    the left"), and the nearest walls. Works on the agent-centred and the fully observable view, on
    sparsegym ids and on raw minigrid envs.

    ``step`` takes an action string ("turn left", "go forward", "pick up", "drop", "toggle", "done";
    aliases such as "left", "forward", "pickup", "open" are accepted, case and punctuation ignored)
    or an action index. A string that names no action raises
    :class:`~sparsegym.errors.InvalidActionError` listing the valid ones. ``info`` gains
    ``admissible_actions`` (the canonical strings) and ``action_index`` (what was executed).

    Example:
        >>> import sparsegym
        >>> from sparsegym.wrappers import TextObservation
        >>> env = TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
        >>> text, info = env.reset(seed=0)
        >>> text.splitlines()[0]
        'Mission: use the key to open the door and then get to the goal'
        >>> text, reward, terminated, truncated, info = env.step("turn left")
        >>> info["action_index"], info["admissible_actions"][:3]
        (0, ['turn left', 'turn right', 'go forward'])
    """

    def __init__(self, env: gymnasium.Env, max_length: int = 8192):
        gymnasium.utils.RecordConstructorArgs.__init__(self, max_length=max_length)
        gymnasium.Wrapper.__init__(self, env)
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"TextObservation needs a Discrete action space, got {env.action_space}")
        self._nethack = _is_nethack(env)
        if self._nethack:
            from sparsegym.envs.nethack.text import action_names

            self._core = None
            names = tuple(action_names(env.unwrapped.actions))
        else:
            self._core = _minigrid_core(env)
            names = tuple(getattr(env.unwrapped, "action_names", ACTION_NAMES))
        self.action_names: tuple[str, ...] = names[: int(env.action_space.n)]
        self.observation_space = spaces.Text(max_length=max_length, charset=TEXT_CHARSET)
        self.action_space = spaces.Text(min_length=1, max_length=64, charset=_ACTION_CHARSET)
        self._max_length = max_length

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._text(obs), self._info(info, None)

    def step(self, action: str | int):
        index = self.parse(action)
        obs, reward, terminated, truncated, info = self.env.step(index)
        return self._text(obs), reward, terminated, truncated, self._info(info, index)

    def parse(self, action: str | int) -> int:
        """The action index that ``action`` (text or index) names; raises on anything else."""
        if isinstance(action, str):
            if self._nethack:
                from sparsegym.envs.nethack.text import parse_action as parse_nethack

                return parse_nethack(action, self.action_names)
            return parse_action(action, self.action_names)
        try:
            index = int(action)
        except (TypeError, ValueError):
            index = -1
        if index != action or not 0 <= index < len(self.action_names):
            raise InvalidActionError(
                f"invalid action {action!r}. Valid actions: {', '.join(self.action_names)} "
                f"(or their indices 0-{len(self.action_names) - 1})"
            )
        return index

    def _text(self, obs: Any) -> str:
        if self._nethack:
            from sparsegym.envs.nethack.text import describe as describe_nethack

            return describe_nethack(obs)[: self._max_length]
        image = obs["image"] if isinstance(obs, dict) else obs
        text = describe(image, int(self._core.agent_dir), self._core.mission, carried_phrase(self._core.carrying))
        return text[: self._max_length]

    def _info(self, info: dict[str, Any], index: int | None) -> dict[str, Any]:
        info = dict(info)
        info["admissible_actions"] = list(self.action_names)
        if self._core is not None:
            info.setdefault("mission", self._core.mission)
        if index is not None:
            info["action_index"] = index
        return info
