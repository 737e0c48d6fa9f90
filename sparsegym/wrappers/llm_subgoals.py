"""LLM-proposed subgoals with Words as Beacons' time-decayed bonus.

**Words as Beacons** (Ruiz-Gonzalez et al. 2024, arXiv 2410.08632): an LLM reads a textual description of
each procedurally generated level, once, offline, and returns an ordered list of subgoals (target cells or
objects), which are stored; no LLM is used at deployment. The agent is rewarded for the *current* subgoal
only, with ``r_g = alpha * (1 - n_since / T_max)``, where ``n_since`` counts the steps since the previous
subgoal was completed and ``T_max`` is the episode's step limit (``alpha = 0.2`` in the paper's
experiments), added to the task's own reward; PPO trains on the sum.

What :class:`LLMSubgoals` keeps from the paper: one query per level, cached, so a second run makes no
request and a run with a warm cache needs no server; ordered subgoals of which only the current one pays;
the bonus formula and ``alpha = 0.2``; achievement when the target holds (the agent stands on the cell, holds
the object, the door is open: the family's subgoal predicates, which cover the paper's "stands on the cell
or the cell's content changed").

What differs:

* subgoals are whatever the family's subgoal-spec format expresses (for MiniGrid, :mod:`sparsegym.envs.minigrid.subgoals`:
  objects picked up, doors opened, cells reached, rooms entered, short instructions), not only cells;
* the policy is not goal-conditioned here (the paper's ``pi(a | o, g)`` with relative, representation or
  language goals): ``info["llm_subgoal"]`` names the current subgoal for an agent that wants it;
* the level is identified by its description (a digest of the text, which holds everything its seed
  decided), so levels reached by an unseeded reset, as every trainer's auto-reset does, are cached too;
* the prompt is sparsegym's own (the paper's repository does not publish one).

``plan="oracle"`` replaces the LLM with the family's scripted oracle (its descriptor's ``oracle``): the
oracle solves a copy of the level, and the events of its solution (objects picked up, doors opened,
from the family's ``events``), minus the final step that completes the mission, become the subgoals. It is
the reference an LLM's plan can be compared with.

The wrapper asks the env's family (through its descriptor's subgoal library) for ``describe_level``,
``SPEC_FORMAT``, ``from_spec`` and, for the oracle plan, ``world_state`` and ``events``; it never names a
family. MiniGrid provides all of them.
"""

from __future__ import annotations

import copy
import hashlib
import os
from typing import Any

import gymnasium

from sparsegym.envs.family import FamilyFeatureError, require_family
from sparsegym.errors import ConfigError, SparseGymError
from sparsegym.llm.annotations import AnnotationStore
from sparsegym.llm.subgoal_prompts import (
    SUBGOALS_PROMPT_VERSION,
    ReplyParseError,
    parse_subgoal_list,
    subgoal_messages,
)
from sparsegym.types import Subgoal, Transition
from sparsegym.wrappers._components import add_component

__all__ = ["LLMSubgoals", "LLMSubgoalsCacheMiss", "oracle_plan", "level_digest"]


class LLMSubgoalsCacheMiss(SparseGymError, LookupError):
    """A level whose subgoals are not cached, with no LLM to ask; the message names the fix."""


def level_digest(description: str) -> str:
    """The key of a level: a digest of its description (16 hex digits)."""
    return hashlib.sha256(description.encode("utf-8")).hexdigest()[:16]


def _library(env: gymnasium.Env, what: str, needs: tuple[str, ...]) -> Any:
    family = require_family(env, what)
    library = family.subgoal_library()
    missing = [name for name in needs if not hasattr(library, name)]
    if missing:
        raise FamilyFeatureError(f"{what} needs the {family.name} family's subgoal library "
                                 f"({library.__name__}) to provide {', '.join(missing)}")
    return family, library


def oracle_plan(env: gymnasium.Env, observation: Any, info: dict[str, Any], max_steps: int | None = None) -> list[dict[str, Any]]:
    """The subgoal-spec entries of the family oracle's solution of the level ``env`` is in now.

    The oracle (the family descriptor's ``oracle``) plays a deep copy of the unwrapped env, so ``env``
    itself is not touched. Each step's events (the family's ``events`` between ``world_state`` before
    and after) are kept in order, without repeats and without those of the step that completes the
    mission (the task's own reward pays for it). Raises :class:`ConfigError` when the oracle does not
    solve the level within ``max_steps`` (default: the env's own limit)."""
    family, library = _library(env, "plan='oracle'", ("world_state", "events"))
    if family.oracle is None:
        raise FamilyFeatureError(f"plan='oracle' needs a scripted oracle, and the {family.name} family has none")
    sim = copy.deepcopy(env.unwrapped)
    agent = family.load(family.oracle)(sim)
    agent.reset(None)
    limit = int(max_steps or getattr(sim, "max_steps", 0) or 1000)
    before = library.world_state(sim)
    plan: list[dict[str, Any]] = []
    obs, step_info = observation, dict(info)
    for _ in range(limit):
        obs, _, terminated, truncated, step_info = sim.step(agent.act(obs, step_info))
        after = library.world_state(sim)
        if terminated and step_info.get("success"):
            return plan
        for _, entry in library.events(before, after):
            if entry not in plan:
                plan.append(entry)
        before = after
        if terminated or truncated:
            break
    raise ConfigError(f"the {family.name} oracle did not solve this level within {limit} steps, so it has no plan")


class LLMSubgoals(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Ordered subgoals per level from an LLM (or the oracle), paid with Words as Beacons' decaying bonus.

    Args:
        env: an env whose family has a subgoal library with ``describe_level`` (MiniGrid, BabyAI).
        client: an :class:`~sparsegym.llm.LLMClient`; None with ``base_url`` None means "answers come from
            the cache only" (deployment), and a level that is not cached then raises
            :class:`LLMSubgoalsCacheMiss`.
        base_url: make a client for that server.
        model: the model to ask (also part of the cache key; None: the client's model, or with no client, the
            answer the last model stored for the level).
        plan: ``"llm"`` or ``"oracle"`` (the family oracle's solution, no LLM; see the module docstring).
        alpha: the bonus scale (Words as Beacons: 0.2); an entry's own ``bonus`` overrides it.
        max_steps: ``T_max``; None for the env's ``max_steps`` or its spec's ``max_episode_steps``.
        cache: where answers are kept (:class:`~sparsegym.llm.annotations.AnnotationStore`: True for the
            default file under sparsegym's cache folder, a path, or False for memory only).
        max_subgoals: the most subgoals the prompt asks for (longer answers are cut to it).
        max_tokens: the LLM's answer budget.
        name: the reward-component name.

    Each reset looks the level up (memory, then the store, then the LLM) and builds its subgoals with the
    family's ``from_spec``. A reply that does not parse, or names subgoals the format does not have, is kept
    as an error: that level has no subgoals, ``info["llm_subgoals_error"]`` says why (at reset and every
    step of its episodes) and ``stats["invalid_levels"]`` counts it. A failed request (server down after
    the client's retries) is recorded the same way but not stored, so a later reset asks again.

    Info keys: ``llm_subgoals`` (the level's subgoal names, at reset), ``llm_subgoal`` (the current one,
    or None once all are done), ``subgoals_achieved`` and ``subgoals_new`` (as :class:`SubgoalReward`), and
    the bonus under ``reward_components[name]``.

    Examples:
        >>> import sparsegym
        >>> env = LLMSubgoals(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), plan="oracle")
        >>> _, info = env.reset(seed=0)
        >>> info["llm_subgoals"]
        ['picked up yellow key', 'opened yellow door at (2, 1)']
        >>> _, reward, *_ , info = env.step(1)
        >>> _, reward, *_ , info = env.step(3)  # pick up the key: 2 steps since the start, T_max = 250
        >>> round(reward, 4), info["subgoals_new"]
        (0.1984, ['picked up yellow key'])
    """

    def __init__(self, env: gymnasium.Env, client: Any = None, *, base_url: str | None = None, model: str | None = None,
                 plan: str = "llm", alpha: float = 0.2, max_steps: int | None = None,
                 cache: bool | str | os.PathLike[str] | Any = True, max_subgoals: int = 8, max_tokens: int = 512,
                 name: str = "llm_subgoals"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, base_url=base_url, model=model, plan=plan, alpha=alpha,
                                                       max_steps=max_steps, max_subgoals=max_subgoals,
                                                       max_tokens=max_tokens, name=name)
        gymnasium.Wrapper.__init__(self, env)
        if plan not in ("llm", "oracle"):
            raise ConfigError(f"plan must be 'llm' (ask the LLM) or 'oracle' (the family oracle's solution), got {plan!r}")
        if alpha < 0:
            raise ConfigError(f"alpha must be 0 or more, got {alpha}")
        if max_subgoals < 1:
            raise ConfigError(f"max_subgoals must be at least 1, got {max_subgoals}")
        self.family, self.library = _library(env, "LLMSubgoals", ("describe_level", "from_spec", "SPEC_FORMAT"))
        if client is None and base_url is not None and plan == "llm":
            from sparsegym.llm.client import LLMClient

            client = LLMClient(base_url, model, cache=False)  # the store below keeps the answers
        self.client, self.model, self.plan = client, model, plan
        self.alpha, self.max_subgoals, self.max_tokens, self.name = float(alpha), int(max_subgoals), int(max_tokens), name
        self._max_steps = max_steps
        self.store = AnnotationStore(cache if plan == "llm" else False)  # oracle plans are cheap: memory only
        spec = getattr(env.unwrapped, "spec", None)
        self.env_id = spec.id if spec is not None else type(env.unwrapped).__name__
        self._levels: dict[str, tuple[list[Subgoal], str | None, dict[str, Any]]] = {}
        #: levels: distinct levels seen; requests: LLM calls made; cache_hits: levels answered by the store;
        #: invalid_levels: levels whose answer was unusable; failed_requests: calls that raised.
        self.stats = {"levels": 0, "requests": 0, "cache_hits": 0, "invalid_levels": 0, "failed_requests": 0}
        self._subgoals: list[Subgoal] = []
        self._error: str | None = None
        self._record: dict[str, Any] = {}
        self._next = self._t = self._t_last = 0
        self._t_max = 1
        self._achieved: list[str] = []
        self._obs: Any = None

    # -- the level's subgoals ---------------------------------------------------------------------------

    def _model_name(self) -> str | None:
        if self.model is not None:
            return self.model
        if self.client is not None:
            return str(self.client.model)
        return None

    def _ask(self, description: str, seed: int | None) -> tuple[dict[str, Any], bool]:
        """The record of one LLM answer, and whether to store it (failed requests are not stored)."""
        from sparsegym.llm.errors import LLMError

        self.stats["requests"] += 1
        messages = subgoal_messages(description, self.library.SPEC_FORMAT, self.max_subgoals)
        record: dict[str, Any] = {"env": self.env_id, "seed": seed, "prompt": SUBGOALS_PROMPT_VERSION}
        try:
            reply = self.client.chat(messages, temperature=0.0, max_tokens=self.max_tokens)
        except LLMError as exc:
            self.stats["failed_requests"] += 1
            return {**record, "reply": None, "spec": None, "error": f"the LLM request failed: {exc}"}, False
        record.update(reply=reply.text, model=reply.model)
        try:
            spec = parse_subgoal_list(reply.text)[: self.max_subgoals]
            if spec:
                self.library.from_spec(spec)  # validate now, so the stored record says whether it is usable
        except (ReplyParseError, ConfigError) as exc:
            return {**record, "spec": None, "error": f"invalid subgoal reply: {exc}"}, True
        return {**record, "spec": spec, "error": None}, True

    def _build(self, record: dict[str, Any]) -> tuple[list[Subgoal], str | None]:
        if record.get("error"):
            return [], str(record["error"])
        spec = record.get("spec") or []
        try:
            subgoals = self.library.from_spec(spec) if spec else []
        except ConfigError as exc:  # a record stored by another version of the library
            return [], f"invalid subgoal reply: {exc}"
        return _unique(subgoals), None

    def _level(self, seed: int | None, observation: Any, info: dict[str, Any]) -> tuple[list[Subgoal], str | None, dict[str, Any]]:
        description = self.library.describe_level(self.env)
        level = level_digest(description)
        known = self._levels.get(level)
        if known is not None:
            return known
        keep = True  # False for a failed request: asked again at the next reset
        if self.plan == "oracle":
            try:
                record = {"spec": oracle_plan(self.env, observation, info, self._t_max), "error": None}
            except SparseGymError as exc:
                record = {"spec": None, "error": f"no oracle plan: {exc}"}
        else:
            fields = {"kind": "llm_subgoals", "env": self.env_id, "level": level, "prompt": SUBGOALS_PROMPT_VERSION}
            model = self._model_name()
            record = self.store.get(**fields, model=model or "*")
            if record is not None:
                self.stats["cache_hits"] += 1
            elif self.client is None:
                where = self.store.path or "memory (cache=False)"
                raise LLMSubgoalsCacheMiss(
                    f"LLMSubgoals has no subgoals cached for this level of {self.env_id} (level {level}, "
                    f"model {model or 'any'}, prompt {SUBGOALS_PROMPT_VERSION}) and no LLM to ask. Pass "
                    "client=LLMClient(...) or base_url=... (and model=...) to ask one, or warm the cache by running "
                    f"these levels once with a server (answers are kept in {where}); plan='oracle' needs no LLM.")
            else:
                record, keep = self._ask(description, seed)
                if keep:
                    self.store.put(record, **fields, model=model or record.get("model") or "*")
                    self.store.put(record, **fields, model="*")  # what a client-less run reads
        built = (*self._build(record), record)
        if built[1] is not None:
            self.stats["invalid_levels"] += 1
        if keep:
            self._levels[level] = built
            self.stats["levels"] += 1
        return built

    # -- the Gymnasium API ------------------------------------------------------------------------------

    def _resolve_t_max(self) -> int:
        if self._max_steps is not None:
            return int(self._max_steps)
        value = getattr(self.env.unwrapped, "max_steps", None)
        if value is None:
            spec = getattr(self.env.unwrapped, "spec", None)
            value = getattr(spec, "max_episode_steps", None)
        if not value:
            raise ConfigError("LLMSubgoals needs the episode's step limit T_max for its bonus and the env sets none; "
                              "pass max_steps=...")
        return int(value)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._t_max = self._resolve_t_max()
        self._subgoals, self._error, self._record = self._level(seed, obs, info)
        self._next = self._t = self._t_last = 0
        self._achieved, self._obs = [], obs
        info["llm_subgoals"] = [s.name for s in self._subgoals]
        info["llm_subgoal"] = self._subgoals[0].name if self._subgoals else None
        info["subgoals_achieved"], info["subgoals_new"] = [], []
        if self._error is not None:
            info["llm_subgoals_error"] = self._error
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        new: list[str] = []
        if self._next < len(self._subgoals):
            subgoal = self._subgoals[self._next]
            if subgoal.predicate(Transition(self._obs, action, obs, info, self.env.unwrapped)):
                n_since = self._t - self._t_last
                alpha = self.alpha if subgoal.bonus is None else float(subgoal.bonus)
                bonus = alpha * max(0.0, 1.0 - n_since / self._t_max)
                self._next, self._t_last = self._next + 1, self._t
                self._achieved.append(subgoal.name)
                new.append(subgoal.name)
                reward = add_component(info, reward, self.name, bonus)
        self._obs = obs
        info["subgoals_achieved"], info["subgoals_new"] = list(self._achieved), new
        info["llm_subgoal"] = self._subgoals[self._next].name if self._next < len(self._subgoals) else None
        if self._error is not None:
            info["llm_subgoals_error"] = self._error
        return obs, reward, terminated, truncated, info

    @property
    def subgoals(self) -> list[Subgoal]:
        """The current level's subgoals, in order."""
        return list(self._subgoals)

    @property
    def level_record(self) -> dict[str, Any]:
        """What is known of the current level's answer: ``spec`` and ``error``, and for an LLM's answer its
        ``reply`` text, ``model``, ``prompt`` version and the ``seed`` of the reset that asked."""
        return dict(self._record)


def _unique(subgoals: list[Subgoal]) -> list[Subgoal]:
    """Subgoals with names made unique ("open the door", "open the door (2)"), order kept."""
    seen: dict[str, int] = {}
    out = []
    for s in subgoals:
        count = seen.get(s.name, 0) + 1
        seen[s.name] = count
        out.append(s if count == 1 else Subgoal(f"{s.name} ({count})", s.predicate, s.bonus))
    return out
