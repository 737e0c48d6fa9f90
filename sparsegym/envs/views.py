"""Text views: how an env that is not text-native is seen and played in text.

A family that has one (MiniGrid/BabyAI, NetHack/MiniHack, ...) names a factory ``(env) -> TextView`` in
its descriptor (:mod:`sparsegym.envs.family`); :class:`sparsegym.wrappers.TextObservation` applies it.
A view is made once per env and knows that env's actions:

* ``describe(observation, info) -> str``: the observation in English;
* ``parse(text) -> int``: the action index a reply names; :class:`~sparsegym.errors.InvalidActionError`
  (listing the valid actions) when it names none;
* ``action_names``: the canonical command of each action index (for a continuous action space: one
  template, e.g. ``play <x1> <x2>``); ``default()``: the action played in place of a reply that names
  no action (the forgiving contract of every text surface);
* ``instructions() -> str``: the rules and the actions with a line each, for an agent's first turn;
* ``name`` and ``version``: recorded with leaderboard results (bump the version when the text changes).
"""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym.errors import ConfigError, InvalidActionError


class TextView:
    """Base class of a family's text view of one env (see the module docstring)."""

    name = "text"
    version = "1"
    #: True when ``action_names`` are whole commands to pick from; False when they are templates to fill in.
    complete_actions = True
    #: With templates (``complete_actions = False``): a JSON-schema ``pattern`` of the commands that fill them
    #: in, for constrained decoding (see :attr:`sparsegym.envs.text_env.TextEnv.action_pattern`); None: none.
    action_pattern: str | None = None

    def __init__(self, env: gymnasium.Env, action_names: tuple[str, ...], default_action: int = 0):
        self.env = env
        self.action_names = tuple(action_names)
        if not 0 <= default_action < len(self.action_names):
            raise ConfigError(f"default_action {default_action} is not an action index of {self.action_names}")
        self.default_action = int(default_action)

    def describe(self, observation: Any, info: dict[str, Any]) -> str:
        raise NotImplementedError

    def parse(self, text: str) -> int:
        raise NotImplementedError

    def action_help(self) -> dict[str, str]:
        """One-line descriptions of the actions, by canonical name (the default: none)."""
        return {}

    def rules(self) -> str:
        """The task's rules in a few sentences (the default: none)."""
        return ""

    def instructions(self) -> str:
        """Rules, then the actions with one line each, then how replies are read."""
        helps = self.action_help()
        lines = [self.rules()] if self.rules() else []
        lines.append("Actions (reply with exactly one):")
        lines += [f"- {n}" + (f": {helps[n]}" if helps.get(n) else "") for n in self.action_names]
        lines.append(f"A reply that names no action plays '{self.default_name()}'.")
        return "\n".join(lines)

    def start(self) -> None:
        """A new episode began (views that keep a record of the episode clear it)."""

    def record(self, action: int, reward: float) -> None:
        """The action just played and its reward (views that keep a record of the episode use it)."""

    def extra_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Info keys the view adds (e.g. the mission); the default adds none."""
        return {}

    def default(self) -> Any:
        """The env action played for a reply that names no action (an index; a vector for continuous views)."""
        return self.default_action

    def default_name(self) -> str:
        """How :meth:`default` reads in a feedback line."""
        return self.action_names[self.default_action]

    def index(self, action: Any) -> int:
        """An action given as text or as an index -> its index; :class:`InvalidActionError` otherwise."""
        if isinstance(action, str):
            return self.parse(action)
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

    @property
    def label(self) -> str:
        """``name/version``, as leaderboard results record it."""
        return f"{self.name}/{self.version}"
