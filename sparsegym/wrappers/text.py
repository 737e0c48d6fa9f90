"""``TextObservation``: a plain-English view of any env whose family has a text view, and text actions;
``InstructionSearch``: one concrete search in place of a query template (WebShop), for agents that only choose.

The family supplies the view (:mod:`sparsegym.envs.views`; MiniGrid/BabyAI and NetHack/MiniHack have
one); this wrapper applies it and keeps the text-action contract that every text surface of sparsegym
shares (the text-native envs keep it too, see :mod:`sparsegym.envs.text_env`):

* forgiving by default: a reply that names no action is not an exception. The view's documented
  default action is played instead (MiniGrid: "done", which changes nothing; NetHack: "wait" where the
  task's action set has it, else "search", else its first action), the
  observation starts with a line saying what was wrong, ``info["action_error"]`` holds that message
  (``None`` after a valid action) and ``info["invalid_actions"]`` counts such replies in the episode;
* strict on request (``strict_actions=True``): the same reply raises
  :class:`~sparsegym.errors.InvalidActionError` listing the valid actions, before anything is played.

An action that is not text (an index out of range, ``None``) is a programming error and always raises.
"""

from __future__ import annotations

import re
from typing import Any

import gymnasium
from gymnasium import spaces

from sparsegym.envs.family import require_family
from sparsegym.envs.text_env import TEXT_CHARSET
from sparsegym.errors import ConfigError, InvalidActionError

_ACTION_CHARSET = TEXT_CHARSET


class TextObservation(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Observe an env as English text and act with text commands, through its family's text view.

    The observation is a string made by the view (MiniGrid: the mission, the agent's heading, what it
    carries, what is directly in front of it, every visible object with its offset, the nearest walls;
    NetHack: the message, a status line, what is around the agent, the inventory when observed).
    ``step`` takes an action string (the view's canonical names, e.g. "turn left", "go forward", with
    aliases such as "left", "forward", "pickup"; case and punctuation ignored) or an action index.
    ``info`` gains ``admissible_actions`` (the canonical names), ``action_index`` (what was played),
    ``action_error`` and ``invalid_actions`` (module docstring).

    Args:
        env: an env of a family with a text view (any sparsegym id of MiniGrid, BabyAI, NetHack, MiniHack,
            or a raw minigrid env).
        max_length: observations are cut to this many characters.
        strict_actions: raise on a reply that names no action instead of playing the default action.

    Examples:
        >>> import sparsegym
        >>> from sparsegym.wrappers import TextObservation
        >>> env = TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
        >>> text, info = env.reset(seed=0)
        >>> text.splitlines()[0]
        'Mission: use the key to open the door and then get to the goal'
        >>> text, reward, terminated, truncated, info = env.step("turn left")
        >>> info["action_index"], info["admissible_actions"][:3]
        (0, ['turn left', 'turn right', 'go forward'])
        >>> text, reward, terminated, truncated, info = env.step("fly away")
        >>> info["action_index"], info["invalid_actions"], text.splitlines()[0][:40]
        (6, 1, "Invalid action: unknown action 'fly away")
    """

    #: Version of this wrapper's own contract (the view's name and version are recorded separately).
    VERSION = 2

    def __init__(self, env: gymnasium.Env, max_length: int = 8192, strict_actions: bool = False):
        gymnasium.utils.RecordConstructorArgs.__init__(self, max_length=max_length, strict_actions=strict_actions)
        gymnasium.Wrapper.__init__(self, env)
        self.family = require_family(env, "TextObservation")
        self.view = self.family.make_text_view(env)
        self.action_names: tuple[str, ...] = self.view.action_names
        self.strict_actions = bool(strict_actions)
        self.observation_space = spaces.Text(max_length=max_length, charset=TEXT_CHARSET)
        self.action_space = spaces.Text(min_length=1, max_length=256, charset=_ACTION_CHARSET)
        self._max_length = max_length
        self._invalid = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._invalid = 0
        self.view.start()
        self.raw_observation = obs  # the env's own observation behind the text (progress trackers read it)
        return self._text(obs, info, None), self._info(info, None, None)

    def step(self, action: str | int):
        error = None
        try:
            index = self.view.index(action)
        except InvalidActionError as exc:
            if self.strict_actions or not isinstance(action, str):  # a bad index is a bug, not a reply
                raise
            error, index = str(exc), self.view.default()
            self._invalid += 1
        obs, reward, terminated, truncated, info = self.env.step(index)
        self.raw_observation = obs
        self.view.record(index, float(reward))
        return self._text(obs, info, error), reward, terminated, truncated, self._info(info, index, error)

    def parse(self, action: str | int) -> int:
        """The action index that ``action`` (text or index) names; raises on anything else."""
        return self.view.index(action)

    def instructions(self) -> str:
        """The view's rules and actions, for an agent's first turn."""
        return self.view.instructions()

    def _text(self, obs: Any, info: dict[str, Any], error: str | None) -> str:
        text = self.view.describe(obs, info)
        if error is not None:
            text = f"Invalid action: {error}. Played '{self.view.default_name()}' instead.\n" + text
        return text[: self._max_length]

    def _info(self, info: dict[str, Any], index: int | None, error: str | None) -> dict[str, Any]:
        info = dict(info)
        info["admissible_actions"] = list(self.action_names)
        info.update(self.view.extra_info(info))
        if index is not None:
            info["action_index"] = index
        info["action_error"] = error
        info["invalid_actions"] = self._invalid
        return info


class InstructionSearch(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Offer one concrete search: the env's instruction as the query, in place of a query template.

    Envs whose search takes free text (WebShop) list a *template* among the admissible actions
    (``search[<query>]``); an agent that only chooses among listed actions (an action scorer) cannot fill it
    in. This wrapper replaces each listed template ``VERB[<...>]`` with
    ``VERB[<the instruction>]``, the instruction read from ``info[instruction_key]`` with ``strip`` (a regular
    expression) removed, as the WebShop paper's rule baseline searches (its price clause stripped by
    default, which BM25 search cannot use). Everything else (other actions, what the env accepts, free
    text still works) is unchanged.

    Args:
        env: a text env that reports ``info["admissible_actions"]`` and the instruction.
        instruction_key: the info key of the instruction.
        strip: a regular expression removed from the instruction (``""`` keeps it whole); default WebShop's
            price clause (the same expression as ``sparsegym.envs.webshop.data.PRICE_CLAUSE``, written out:
            a generic wrapper imports no family's module).

    Examples:
        >>> import sparsegym
        >>> from sparsegym.wrappers import InstructionSearch
        >>> env = InstructionSearch(sparsegym.make("sparsegym/WebShop-Train-v1"))
        >>> _, info = env.reset(seed=0)
        >>> info["admissible_actions"][0][:32]
        'search[i am looking for a bar so'
    """

    TEMPLATE = r"^(\w+)\[<[^\]]*>\]$"
    #: Every listed action is now a whole command (a constrained LLM agent chooses among them).
    complete_actions = True

    def __init__(self, env: gymnasium.Env, instruction_key: str = "instruction",
                 strip: str = r",? and price lower than ([0-9.]+) dollars\s*$"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, instruction_key=instruction_key, strip=strip)
        gymnasium.Wrapper.__init__(self, env)
        self.instruction_key = instruction_key
        self._strip = re.compile(strip) if strip else None
        self._template = re.compile(self.TEMPLATE)

    def _offer(self, info: dict[str, Any]) -> dict[str, Any]:
        actions = info.get("admissible_actions")
        if not actions or not any(self._template.match(a) for a in actions):
            return info
        if self.instruction_key not in info:
            raise ConfigError(
                f"InstructionSearch reads info[{self.instruction_key!r}], which this env does not report (its "
                f"info keys: {sorted(info)}); pass instruction_key= the key of the env's instruction")
        query = " ".join(str(info[self.instruction_key]).split())
        if self._strip is not None:
            query = self._strip.sub("", query).strip()
        query = query.replace("[", "(").replace("]", ")")
        info = dict(info)
        info["admissible_actions"] = [self._template.sub(lambda m: f"{m.group(1)}[{query}]", a) for a in actions]
        return info

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return obs, self._offer(info)

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._offer(info)
