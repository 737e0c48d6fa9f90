"""The text-env contract shared by every text-native family (TextWorld, ALFWorld, WebShop, SWE).

A text env observes and acts in plain strings, as an LLM agent does:

* ``observation_space`` and ``action_space`` are :class:`gymnasium.spaces.Text` over printable ASCII
  (:data:`TEXT_CHARSET`). Observations are normalised to that charset (accents folded, other
  characters replaced by ``?``) and cut to ``max_observation_length`` with a visible marker, so every
  observation lies in the space and ``check_env`` passes.
* ``info["admissible_actions"]``: the commands the env accepts now (``[]`` where the family cannot
  enumerate them, e.g. free shell commands). ``info["success"]`` is False until the episode ends and
  then says whether the task was solved. ``info["reward_components"]["extrinsic"]`` equals the reward.
* An action the game cannot parse is *not* an exception (forgiving, the default): the episode goes
  on, the observation says what was wrong and how to fix it, ``info["action_error"]`` holds the same
  message (``None`` after a valid action) and ``info["invalid_actions"]`` counts such actions in the
  episode. This is what TextWorld and WebShop do, and an LLM agent's malformed reply must not crash a
  leaderboard run. With ``strict_actions=True`` (any text env's keyword argument) it raises
  :class:`~sparsegym.errors.InvalidActionError` instead, after the game has answered. An action that
  is not a string at all (an int, ``None``) is a programming error and always raises. The text views
  of the other families (:class:`sparsegym.wrappers.TextObservation`) keep the same contract.
* ``render()`` (``render_mode="ansi"``) returns the last observation; ``"human"`` prints it.

A family subclasses :class:`TextEnv` and implements :meth:`TextEnv._reset` and :meth:`TextEnv._step`;
the base class does the normalising, the info keys and the type checks.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym.errors import ConfigError, InvalidActionError

#: Characters a text observation or action may contain: printable ASCII, with tab and newline.
TEXT_CHARSET = string.printable
_CHARSET = frozenset(TEXT_CHARSET)
_TRUNCATION = "\n...[{n} more characters cut]"


def to_charset(text: str) -> str:
    """Fold ``text`` into :data:`TEXT_CHARSET`: accents dropped, other characters become ``?``.

    >>> to_charset("Café — “crème”")
    'Cafe ? ?creme?'
    """
    if all(c in _CHARSET for c in text):
        return text
    folded = unicodedata.normalize("NFKD", text)
    out = []
    for c in folded:
        if c in _CHARSET:
            out.append(c)
        elif unicodedata.combining(c):
            continue
        else:
            out.append("?")
    return "".join(out)


def clip_text(text: str, max_length: int) -> str:
    """Cut ``text`` to ``max_length`` characters, ending with a marker that says how much was cut.

    >>> clip_text("abcdefghij" * 10, 40)
    'abcdefghija\\n...[89 more characters cut]'
    """
    if len(text) <= max_length:
        return text
    for _ in range(3):  # the marker's length depends on the number it prints; settles in <= 2 rounds
        marker_len = len(_TRUNCATION.format(n=len(text) - max(0, max_length - 40)))
        keep = max(0, max_length - marker_len)
        marker = _TRUNCATION.format(n=len(text) - keep)
        if keep + len(marker) <= max_length:
            return text[:keep] + marker
    return text[:max_length]


def as_text_action(action: Any, collapse: bool = True) -> str:
    """The action as a ``str`` (whitespace runs collapsed to one space, or with ``collapse=False`` only
    the ends stripped); raises :class:`InvalidActionError` when it is not text."""
    if isinstance(action, bytes):
        action = action.decode("utf-8", errors="replace")
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "US":
        action = str(action)
    if not isinstance(action, str):
        raise InvalidActionError(
            f"text envs take string actions (commands such as 'go north'), got {type(action).__name__} "
            f"{action!r}. Pass the command as a str; info['admissible_actions'] lists the valid ones."
        )
    return " ".join(action.split()) if collapse else action.strip()


class TextEnv(gymnasium.Env[str, str]):
    """Base class of text-native envs (see the module docstring for the contract).

    Subclasses implement :meth:`_reset` and :meth:`_step`. Both return raw text and an info dict that
    may omit the contract keys; the base class fills ``success`` (False), ``admissible_actions`` ([])
    and ``action_error`` (None) when absent, and always sets ``reward_components``.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}
    #: The task's rules in a few sentences, for an agent's first turn (:meth:`instructions`).
    rules = "You are playing a text-based game. Each turn you read what happens and reply with one command."
    #: True when ``info["admissible_actions"]`` lists the commands an agent may send: whole commands to pick
    #: from, and possibly forms whose ``<...>`` placeholders it fills in (WebShop's ``search[<query>]``);
    #: False when it lists verbs whose syntax is described in words (the software env's actions).
    complete_actions = True
    #: For an env whose actions are verbs with free syntax (``complete_actions = False``): a JSON-schema
    #: ``pattern`` (anchored, one line, no JSON quote or backslash, as llama.cpp's grammar converter needs)
    #: of commands it accepts, which ``LLMAgent(constrained=True)`` has the server enforce; None: such an
    #: agent's replies are not constrained.
    action_pattern: str | None = None
    #: The reply budget (tokens) an LLM agent gets here when its user sets none, where one action can be
    #: long (the software env's edits carry file text); None: the agent's own default (a one-line command).
    reply_tokens: int | None = None
    #: How to reply and what an unusable reply costs, for :meth:`instructions`; None: the sentences
    #: ``complete_actions`` implies.
    reply_rule: str | None = None
    #: Collapse whitespace in actions (one-line commands); envs whose actions carry file contents
    #: (the software-repair env) turn it off.
    collapse_whitespace = True

    def __init__(
        self,
        *,
        max_observation_length: int = 16384,
        max_action_length: int = 1024,
        render_mode: str | None = None,
        strict_actions: bool = False,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if max_observation_length < 64:
            raise ConfigError(f"max_observation_length must be at least 64, got {max_observation_length}")
        self.render_mode = render_mode
        self.max_observation_length = int(max_observation_length)
        self.observation_space = spaces.Text(max_length=self.max_observation_length, charset=TEXT_CHARSET)
        self.action_space = spaces.Text(min_length=1, max_length=int(max_action_length), charset=TEXT_CHARSET)
        self._last_obs = ""
        self.strict_actions = bool(strict_actions)
        self._invalid = 0

    # -- what a family implements ------------------------------------------------------------------
    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """Start an episode from ``self.np_random`` (already seeded); return ``(text, info)``."""
        raise NotImplementedError

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply a stripped text command; return ``(text, reward, terminated, truncated, info)``."""
        raise NotImplementedError

    # -- the Gymnasium API -------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.reset_seed = seed  # families that map seeds to fixed items (tasks) read it
        text, info = self._reset(options)
        self._invalid = 0
        obs = self._observe(text)
        info = self._contract(info, 0.0)
        if self.render_mode == "human":
            print(obs)
        return obs, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        command = as_text_action(action, self.collapse_whitespace)
        text, reward, terminated, truncated, info = self._step(command)
        if info.get("action_error"):
            if self.strict_actions:
                raise InvalidActionError(f"{info['action_error']} (action {command!r})")
            self._invalid += 1
        obs = self._observe(text)
        reward = float(reward)
        info = self._contract(info, reward)
        if self.render_mode == "human":
            print(obs)
        return obs, reward, bool(terminated), bool(truncated), info

    def instructions(self) -> str:
        """The rules, how to reply and where the valid commands are, for an agent's first turn."""
        if self.reply_rule:
            return f"{self.rules}\n{self.reply_rule}"
        commands = ("After each observation, the commands the game accepts there are listed; reply with exactly "
                    "one of them." if self.complete_actions else
                    "Reply with exactly one action in the syntax described; the actions' forms are listed after each "
                    "observation.")
        return f"{self.rules}\n{commands} A reply the game cannot use is answered with an error and costs a turn."

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_obs
        if self.render_mode == "human":
            print(self._last_obs)
        return None

    # -- helpers -----------------------------------------------------------------------------------
    def _observe(self, text: str) -> str:
        self._last_obs = clip_text(to_charset(str(text)), self.max_observation_length)
        return self._last_obs

    def _contract(self, info: dict[str, Any], reward: float) -> dict[str, Any]:
        info = dict(info)
        info["success"] = bool(info.get("success", False))
        info["admissible_actions"] = [to_charset(a) for a in info.get("admissible_actions", [])]
        info.setdefault("action_error", None)
        info["invalid_actions"] = self._invalid
        info["reward_components"] = {"extrinsic": reward}
        return info
