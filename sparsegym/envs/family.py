"""Family descriptors: what generic code may know about an env family, asked for, never hard-coded.

Each family package (``sparsegym/envs/<family>/__init__.py``) defines one :class:`Family` named
``FAMILY``; the registry row of every id names its family, so ``family_of(env)`` finds the descriptor
of any env sparsegym made. Wrappers, agents, baselines, leaderboards and the CLI ask the descriptor
for what only the family knows: how to show an env as text and read text actions, which state keys
and Go-Explore cells make sense, its reward potentials and subgoal library, the encoder that embeds
its observations, its oracle agent, the packages whose versions results must record, how a person
plays it. They never name a family, so adding one touches only its own folder and the registry table.

Descriptors hold *references* (``"module:attribute"`` strings) rather than objects, so importing a
family package stays free of its optional dependencies; :meth:`Family.load` imports on first use.

>>> from sparsegym.envs.family import get_family
>>> get_family("minigrid").packages
('minigrid',)
>>> sorted(get_family("minigrid").state_keys)
['full', 'grid', 'position']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

import gymnasium

from sparsegym.errors import SparseGymError


class FamilyFeatureError(SparseGymError, LookupError):
    """A family does not provide what was asked of it; the message names the family and what it has."""


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Family:
    """What an env family tells generic code. Every reference is ``"module:attribute"``.

    Attributes:
        name: the family's name (its package under ``sparsegym.envs`` and the registry's ``family``).
        packages: distributions whose versions every leaderboard result records.
        text_native: observations and actions are already text (TextWorld, ALFWorld, WebShop, SWE).
        text_view: factory ``(env) -> TextView`` for families that are not text-native.
        state_keys: named state keys ``(env, observation) -> Hashable`` for counts and novelty.
        cell: Go-Explore's domain-knowledge cell ``(env, observation) -> Hashable``.
        potentials: named potential factories for ``PotentialShaping`` (each returns ``Phi(env, obs)``).
        encoder: torch encoder class ``(observation_space, out_dim)`` whose ``forward`` takes the
            observation (a dict of tensors), with a classmethod ``accepts(space) -> bool``.
        subgoals: the module of the family's subgoal library (with ``from_spec``).
        oracle: the leaderboard entry point of a scripted agent that solves the family's tasks.
        baselines: the reference agents published on the family's leaderboards (name -> entry point).
        noop_action: an action index that changes nothing (or least), where one exists.
        play_keys: single keys -> action names for ``sparsegym play``.
        play_kwargs: ``make`` keyword arguments for a person playing (e.g. the full screen).
        owns: predicate ``(unwrapped_env) -> bool`` recognising raw upstream envs of the family.
        progress: tracker class ``(env)`` of an episode's progression (:mod:`sparsegym.envs.progress`);
            None: success.
        symbolic_state: the module of its documented symbolic state, for reward code a language model
            writes (:class:`~sparsegym.wrappers.llm_reward_code.LLMRewardCode`): ``SCHEMA`` (text: each
            field, its type and meaning), ``symbolic_state(env, observation) -> dict`` of plain data,
            ``action_names(env) -> list[str]`` and ``describe_task(env) -> str``.
    """

    name: str
    packages: tuple[str, ...] = ()
    text_native: bool = False
    text_view: str | None = None
    state_keys: Mapping[str, str] = field(default_factory=dict)
    cell: str | None = None
    potentials: Mapping[str, str] = field(default_factory=dict)
    encoder: str | None = None
    subgoals: str | None = None
    oracle: str | None = None
    baselines: Mapping[str, str] = field(default_factory=dict)
    noop_action: int | None = None
    play_keys: Mapping[str, str] = field(default_factory=dict)
    play_kwargs: Mapping[str, Any] = field(default_factory=dict)
    owns: str | None = None
    progress: str | None = None
    symbolic_state: str | None = None

    def __post_init__(self) -> None:
        for name in ("state_keys", "potentials", "baselines", "play_keys", "play_kwargs"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    # -- asking --------------------------------------------------------------------------------------
    def _missing(self, what: str, known: Mapping[str, Any] | None = None, given: str | None = None) -> FamilyFeatureError:
        if known is not None and given is not None:
            have = ", ".join(sorted(known)) or "none"
            return FamilyFeatureError(f"the {self.name} family has no {what} {given!r}; it has: {have}")
        return FamilyFeatureError(f"the {self.name} family provides no {what}")

    def make_text_view(self, env: gymnasium.Env) -> Any:
        """The family's text view of ``env`` (see :class:`sparsegym.envs.views.TextView`)."""
        if self.text_view is None:
            raise self._missing("text view" + (" (its envs are text-native already)" if self.text_native else ""))
        return load_ref(self.text_view)(env)

    def state_key(self, name: str) -> Callable[[gymnasium.Env, Any], Hashable]:
        if name not in self.state_keys:
            raise self._missing("state key", self.state_keys, name)
        return load_ref(self.state_keys[name])

    def go_explore_cell(self) -> Callable[[gymnasium.Env, Any], Hashable]:
        if self.cell is None:
            raise self._missing("Go-Explore cell")
        return load_ref(self.cell)

    def potential(self, name: str, **kwargs: Any) -> Callable[[Any, Any], float]:
        if name not in self.potentials:
            raise self._missing("potential", self.potentials, name)
        return load_ref(self.potentials[name])(**kwargs)

    def encoder_class(self) -> Any:
        if self.encoder is None:
            raise self._missing("observation encoder")
        return load_ref(self.encoder)

    def subgoal_library(self) -> Any:
        if self.subgoals is None:
            raise self._missing("subgoal library")
        return load_ref(self.subgoals)

    def symbolic_state_module(self) -> Any:
        if self.symbolic_state is None:
            raise self._missing("documented symbolic state (for LLM-written reward code)")
        return load_ref(self.symbolic_state)

    def load(self, ref: str) -> Any:
        return load_ref(ref)


@cache
def get_family(name: str) -> Family:
    """The descriptor of family ``name`` (``FAMILY`` in ``sparsegym.envs.<name>``)."""
    from sparsegym.envs import registry

    known = registry.families()
    if name not in known:
        raise FamilyFeatureError(f"unknown family {name!r}; known families: {', '.join(known)}")
    module = importlib.import_module(f"sparsegym.envs.{name}")
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, Family) or family.name != name:
        raise TypeError(f"sparsegym.envs.{name} must define FAMILY = Family(name={name!r}, ...)")
    return family


@lru_cache(maxsize=1)
def _registered_ids() -> frozenset[str]:
    from sparsegym.envs import registry

    return frozenset(e.id for e in registry.ENTRIES)


def all_families() -> list[Family]:
    from sparsegym.envs import registry

    return [get_family(name) for name in registry.families()]


def family_of(env: gymnasium.Env | gymnasium.vector.VectorEnv) -> Family | None:
    """The family of ``env`` (any wrapping): from the env class's ``family`` attribute, its registered
    id, or a family that recognises a raw upstream env; None when none does."""
    from sparsegym.envs import registry

    inner = getattr(env, "unwrapped", env)
    name = getattr(inner, "family", None)
    if isinstance(name, str):
        return get_family(name)
    spec = getattr(env, "spec", None) or getattr(inner, "spec", None)
    if spec is not None and spec.id in _registered_ids():
        return get_family(registry.get_entry(spec.id).family)
    for family in all_families():
        if family.owns is not None and load_ref(family.owns)(inner):
            return family
    return None


def require_family(env: gymnasium.Env, what: str) -> Family:
    """:func:`family_of`, raising a clear error when ``env`` belongs to no family."""
    family = family_of(env)
    if family is None:
        raise FamilyFeatureError(
            f"{what} needs to know the env's family, and {type(getattr(env, 'unwrapped', env)).__name__} belongs to "
            "none: make the env with sparsegym.make / gymnasium.make('sparsegym/...')"
        )
    return family
