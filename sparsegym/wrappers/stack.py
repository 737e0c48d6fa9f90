"""Wrapper stacks written as data, so a config file or a command line can ask for them.

A stack is a list, innermost first; each entry is a wrapper's name (one of :mod:`sparsegym.wrappers`,
or ``"package.module:Class"``) or a mapping ``{"wrapper": NAME, **keyword_arguments}``. Arguments that
take Python objects are given as data where the wrapper's family can read it: ``SubgoalReward``'s
``subgoals`` is a spec for the env family's subgoal library (``from_spec``), ``PotentialShaping``'s
``potential`` the name of one of the family's potentials.

Examples:
    >>> from sparsegym.wrappers.stack import apply_wrappers, check_wrappers
    >>> stack = check_wrappers([{"wrapper": "ScoreReward", "scale": 0.1}, "GatedReward"])
    >>> stack
    [{'wrapper': 'ScoreReward', 'scale': 0.1}, {'wrapper': 'GatedReward'}]
    >>> # env = apply_wrappers(gym.make("sparsegym/TextWorld-CoinCollector-L5-v0", reward="sparse"), stack)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium

from sparsegym.errors import ConfigError

__all__ = ["apply_wrappers", "check_wrappers", "resolve_wrapper"]

#: The wrappers a stack may name without a module (``sparsegym.wrappers``' exports).
KNOWN = ("ScoreReward", "SubgoalReward", "GatedReward", "PotentialShaping", "CountBonus", "IntrinsicReward",
         "LLMRewardCode", "TextObservation", "InstructionSearch", "LLMSubgoals",
         "LLMSubgoalCredit")


def resolve_wrapper(name: str) -> type:
    """The wrapper class ``name``: one of :data:`KNOWN` or ``"package.module:Class"``."""
    if ":" in name:
        from sparsegym.envs.family import load_ref

        try:
            return load_ref(name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import the wrapper {name!r}: {exc}; write it as "
                              "'package.module:Class'") from None
    if name not in KNOWN:
        raise ConfigError(f"unknown wrapper {name!r}; use one of {', '.join(KNOWN)} or 'package.module:Class'")
    import sparsegym.wrappers

    return getattr(sparsegym.wrappers, name)


def check_wrappers(stack: Sequence[str | Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The stack as a list of ``{"wrapper": NAME, **kwargs}``, checked without making an env: every entry
    is JSON data (so a run's config can be saved), names a wrapper and passes only arguments it takes."""
    if stack is None:
        return []
    if isinstance(stack, (str, Mapping)) or not isinstance(stack, Sequence):
        raise ConfigError("a wrapper stack is a list, e.g. [{\"wrapper\": \"ScoreReward\", \"scale\": 0.1}, "
                          "\"GatedReward\"]")
    out = []
    for i, entry in enumerate(stack):
        if isinstance(entry, str):
            entry = {"wrapper": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("wrapper"), str):
            raise ConfigError(f"wrapper entry {i}: must be a wrapper name or a mapping with a 'wrapper' name, "
                              f"got {entry!r}")
        entry = dict(entry)
        try:
            json.dumps(entry)
        except TypeError:
            raise ConfigError(f"wrapper entry {i} ({entry['wrapper']}): its arguments must be JSON data (numbers, "
                              "strings, lists, mappings) so the run can be saved; for wrappers that need Python "
                              "objects, wrap the env in a function and give the trainer that function") from None
        cls = resolve_wrapper(entry["wrapper"])
        kwargs = {k: v for k, v in entry.items() if k != "wrapper"}
        try:
            inspect.signature(cls).bind(None, **kwargs)
        except TypeError as exc:
            params = [p for p in inspect.signature(cls).parameters if p != "env"]
            raise ConfigError(f"wrapper entry {i} ({entry['wrapper']}): {exc}; it takes {', '.join(params)}") from None
        out.append(entry)
    return out


def apply_wrappers(env: gymnasium.Env, stack: Sequence[str | Mapping[str, Any]] | None) -> gymnasium.Env:
    """``env`` wrapped in the stack's wrappers, innermost first (module docstring)."""
    for entry in check_wrappers(stack):
        cls = resolve_wrapper(entry["wrapper"])
        kwargs = {k: v for k, v in entry.items() if k != "wrapper"}
        if entry["wrapper"] == "SubgoalReward" and "subgoals" in kwargs:
            from sparsegym.envs.family import require_family

            library = require_family(env, "SubgoalReward from a spec").subgoal_library()
            kwargs["subgoals"] = library.from_spec(kwargs["subgoals"])
        env = cls(env, **kwargs)
    return env
