"""Count-based exploration bonuses: ``beta / sqrt(N(s))``, global or episodic, with a pluggable key.

* global (``episodic=False``): counts persist across episodes (Strehl and Littman's MBIE-EB form);
* episodic (``episodic=True``): counts restart each episode, as in the episodic bonuses studied by
  Henaff et al. (2023);
* ``first_visit=True``: pay ``beta`` only the first time a key is seen in the episode (as NovelD's
  episodic gate does), whatever the global count.

State keys: ``"observation"`` (a hash of the observation's bytes) and ``"text"`` (the text observation
itself) work on any env; any other name is the env's family's key (its descriptor's ``state_keys``:
MiniGrid has ``"position"`` (cell and heading), ``"grid"`` (every object with its cell and door state,
the agent, the carried object) and ``"full"``; NetHack has ``"position"`` (dungeon level and cell) and
``"message"``); or pass any ``key(env, observation) -> hashable``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

import gymnasium
import numpy as np

from sparsegym.envs.family import family_of, require_family
from sparsegym.errors import ConfigError
from sparsegym.utils.counts import VisitCounts
from sparsegym.utils.hashing import observation_digest
from sparsegym.wrappers._components import add_component

StateKey = Callable[[gymnasium.Env, Any], Hashable]


def observation_key(env: gymnasium.Env, observation: Any) -> Hashable:
    return observation_digest(observation)


def text_key(env: gymnasium.Env, observation: Any) -> Hashable:
    if not isinstance(observation, str):
        raise TypeError("the 'text' state key needs text observations (wrap with TextObservation first)")
    return observation


def family_key(name: str) -> StateKey:
    """The state key ``name`` of the env's family (its descriptor's ``state_keys``), found per env."""

    found: dict[type, StateKey] = {}  # per env class: the lookup costs more than most keys

    def key(env: gymnasium.Env, observation: Any) -> Hashable:
        kind = type(getattr(env, "unwrapped", env))
        fn = found.get(kind)
        if fn is None:
            fn = found[kind] = require_family(env, f"the {name!r} state key").state_key(name)
        return fn(env, observation)

    key.__name__ = f"{name}_key"
    return key


# The families' own keys: MiniGrid's cell and heading, NetHack's dungeon level and cell, ...
position_key = family_key("position")
grid_key = family_key("grid")


STATE_KEYS: dict[str, StateKey] = {"position": position_key, "grid": grid_key, "observation": observation_key,
                                   "text": text_key}


def resolve_key(key: str | StateKey, env: gymnasium.Env | None = None) -> StateKey:
    """A callable key as is; ``"observation"`` and ``"text"`` (any env); any other name is looked up in
    the env's family (``position``, ``grid``, ``message``, ...: see each family's ``state_keys``), and
    checked against ``env``'s family when ``env`` is given."""
    if callable(key):
        return key
    if not isinstance(key, str) or not key:
        raise ConfigError(f"a state key is a name or a callable (env, observation) -> hashable, got {key!r}")
    if key in STATE_KEYS and key not in ("position", "grid"):
        return STATE_KEYS[key]
    if env is not None:
        family = family_of(env)
        if family is None or key not in family.state_keys:
            known = ["observation", "text", *(sorted(family.state_keys) if family is not None else [])]
            raise ConfigError(f"unknown state key {key!r} for this env; use one of {', '.join(known)} or a callable")
    return family_key(key)


class CountBonus(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``beta / sqrt(N(s'))`` for the state reached, after counting it.

    Args:
        env: the env.
        beta: bonus scale.
        key: state key (see the module docstring).
        episodic: restart counts at every reset.
        first_visit: pay ``beta`` on the first visit of a key in the episode and 0 otherwise.
        name: the reward-component name (default ``"count"`` or ``"episodic_count"``).

    ``info["visit_count"]`` reports ``N(s')``.

    Examples:
        >>> import sparsegym
        >>> env = CountBonus(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), beta=0.1, key="position")
        >>> _ = env.reset(seed=0)
        >>> _, r1, *_ = env.step(1)  # a new (position, direction): N = 1
        >>> _, r2, *_ = env.step(0)  # back to the start state, seen once before at reset: N = 2
        >>> round(r1, 4), round(r2, 4)
        (0.1, 0.0707)
    """

    def __init__(self, env: gymnasium.Env, beta: float = 0.1, key: str | StateKey = "observation",
                 episodic: bool = False, first_visit: bool = False, name: str | None = None):
        gymnasium.utils.RecordConstructorArgs.__init__(self, beta=beta, key=key, episodic=episodic,
                                                       first_visit=first_visit, name=name)
        gymnasium.Wrapper.__init__(self, env)
        self.beta, self.key = float(beta), resolve_key(key, env)
        self.episodic, self.first_visit = bool(episodic), bool(first_visit)
        self.name = name or ("episodic_count" if episodic or first_visit else "count")
        self.visits = VisitCounts()  # N(s): cleared at each reset when episodic
        self._episode = VisitCounts()  # this episode's counts, for first_visit

    @property
    def counts(self) -> Counter:
        return self.visits.table()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        if self.episodic:
            self.visits.clear()
        self._episode.clear()
        k = self.key(self.env, obs)
        self.visits.add(k)
        self._episode.add(k)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        k = self.key(self.env, obs)
        n = self.visits.add(k)
        first = self._episode.add(k) == 1
        bonus = (self.beta if first else 0.0) if self.first_visit else self.beta / np.sqrt(n)
        info["visit_count"] = n
        return obs, add_component(info, reward, self.name, bonus), terminated, truncated, info
