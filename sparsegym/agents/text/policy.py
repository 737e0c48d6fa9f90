"""The one interface every text-agent policy implements, so that every text trainer (GRPO, RLOO, and the
group methods after them) trains any of them: the admissible-action scorer here
(:mod:`sparsegym.agents.text.scorer`) and a causal language model.

A policy is a :class:`torch.nn.Module` that reads :class:`Turn` s and returns :class:`Choice` s:

* ``act(turns, sample=True, generator=None) -> list[Choice]``: one choice per turn, without gradients.
  ``sample=False`` is the policy's greedy choice. ``generator`` makes sampling reproducible.
* ``evaluate(turns, choices) -> dict``: under the *current* parameters and with gradients, the
  log-probability of each choice (``"logprob"``, shape ``(B,)``), the policy's entropy at each turn
  (``"entropy"``, ``(B,)``) and, when the policy has a value head, ``"value"`` (``(B,)``).
  A policy whose choices are token sequences may add ``"token_logprob"``, ``"token_entropy"`` and
  ``"mask"`` (``(B, L)``; ``logprob`` is then the sum over a turn's tokens): the trainers' losses
  (:mod:`sparsegym.agents.text.losses`) then work per token.
* ``save(path)`` writes a folder; ``TextPolicy.load(path)`` reads any saved policy back (its
  ``policy.json`` names the class, or a format listed in :data:`FORMATS`), ``SomePolicy.load(path)``
  its own kind.

Conventions the trainers read from a choice's ``extra``: ``"format_penalty"`` (a float, 0 or negative)
is added to that turn's reward for training (a language model's malformed reply); ``"state"`` (a dict) is
handed to the next turn of the same episode as ``Turn.state`` by the rollouts and the leaderboard agent, so
that a policy can carry something across turns (HiPER's current sub-goal) and see it again in ``evaluate``.

``config()`` (the keyword arguments that rebuild the policy) is what the default ``save``/``load``
need; a policy that overrides both may leave it out. Further optional methods a policy may add are
looked up with ``getattr`` by the trainers; none yet.

Examples:
    >>> from sparsegym.agents.text.policy import Turn, UniformPolicy
    >>> import torch
    >>> policy = UniformPolicy()
    >>> turn = Turn("You are in a kitchen.", ["go east", "take apple"], history=[])
    >>> choice = policy.act([turn], generator=torch.Generator().manual_seed(0))[0]
    >>> choice.action in turn.actions, round(choice.logprob, 4)
    (True, -0.6931)
    >>> out = policy.evaluate([turn], [choice])
    >>> [round(float(out[k][0]), 4) for k in ("logprob", "entropy")]
    [-0.6931, 0.6931]
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsegym._deps import require
from sparsegym.errors import ConfigError

torch = require("torch", "torch", "sparsegym.agents.text")

__all__ = ["FORMATS", "Choice", "TextPolicy", "Turn", "UniformPolicy"]

_META = "policy.json"
#: Saved formats whose ``policy.json`` has a ``format`` tag instead of a ``class``: tag -> class.
FORMATS = {"sparsegym.CausalLMPolicy": "sparsegym.agents.text.lm_policy:CausalLMPolicy"}


@dataclass
class Turn:
    """What the policy sees at one turn."""

    observation: str
    actions: list[str]  # admissible actions (may be empty for free-text envs)
    history: list[tuple[str, str]]  # past (observation, action) pairs of the episode, oldest first
    instructions: str = ""  # the env's instructions (env.get_wrapper_attr("instructions")() when available)
    state: dict | None = None  # what the policy's previous choice in this episode left in extra["state"] (None first)


@dataclass
class Choice:
    """What the policy did."""

    action: str
    index: int | None  # index into turn.actions when chosen from them
    logprob: float  # log-probability of the choice under the policy that made it
    value: float | None = None  # the value head's estimate, when the policy has one
    extra: dict = field(default_factory=dict)  # policy-specific (e.g. generated token ids)


class TextPolicy(torch.nn.Module):
    """Abstract base of text-agent policies (module docstring). Subclasses implement :meth:`act`,
    :meth:`evaluate` and :meth:`config`; :meth:`save` and :meth:`load` then work as they are (a
    subclass with weights outside its ``state_dict``, or a different file layout, overrides both)."""

    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        raise NotImplementedError

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this policy (untrained): saved beside the weights."""
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Write ``policy.json`` (class and config) and ``policy.pt`` (the state dict) into the folder
        ``path``, each through a temporary file."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        cls = type(self)
        meta = {"class": f"{cls.__module__}:{cls.__qualname__}", "config": self.config()}
        tmp = path / (_META + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(path / _META)
        tmp = path / "policy.pt.tmp"
        torch.save(self.state_dict(), tmp)
        tmp.replace(path / "policy.pt")
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> TextPolicy:
        """The policy saved in the folder ``path`` (by :meth:`save`), of the class it names."""
        path = Path(path)
        if not (path / _META).is_file():
            raise ConfigError(f"{str(path)!r} holds no saved text policy ({_META} is missing)")
        meta = json.loads((path / _META).read_text())
        ref = meta.get("class") or FORMATS.get(str(meta.get("format")))
        if ref is None:
            raise ConfigError(f"{str(path / _META)!r} names no policy class (neither 'class' nor a known 'format')")
        module, _, name = ref.partition(":")
        klass = getattr(importlib.import_module(module), name)
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise ConfigError(f"{str(path)!r} holds a {ref}, which is no {cls.__name__}")
        if klass.load.__func__ is not TextPolicy.load.__func__:  # a subclass with its own layout
            return klass.load(path, device=device)
        policy = klass(**meta["config"])
        state = torch.load(path / "policy.pt", map_location=device or "cpu", weights_only=True)
        policy.load_state_dict(state)
        if device is not None:
            policy.to(device)
        return policy


class UniformPolicy(TextPolicy):
    """Picks uniformly among a turn's admissible actions: the random baseline, in the interface (no
    parameters; ``evaluate`` gives constant log-probabilities, so it cannot be trained)."""

    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        out = []
        for turn in turns:
            n = _need_actions(turn, self)
            i = int(torch.randint(n, (1,), generator=generator).item()) if sample else 0
            out.append(Choice(turn.actions[i], i, -math.log(n)))
        return out

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        n = torch.tensor([float(_need_actions(t, self)) for t in turns])
        return {"logprob": -n.log(), "entropy": n.log()}

    def config(self) -> dict[str, Any]:
        return {}


def _need_actions(turn: Turn, policy: Any) -> int:
    if not turn.actions:
        raise ConfigError(f"{type(policy).__name__} chooses among admissible actions, and this turn lists none "
                          "(a free-text env): use a policy that writes its actions, such as a language model")
    return len(turn.actions)
