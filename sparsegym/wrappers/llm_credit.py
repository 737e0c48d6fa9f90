"""CALM: an LLM decomposes the task into subgoals and says which transitions achieve one.

**CALM** (Pignatelli et al. 2024, arXiv 2409.12798) asks an LLM, playing "an honest analyst" of the game,
to break the task into subgoals and then to judge the agent's play, either a trajectory ("which subgoals
occur, and at what time?", answered ``{subgoal: time}``) or one transition ("does the action realise any
subgoal?", ``{subgoal: bool}``). Each achievement marks the (observation, action) pair that led to it as
rewarding; the auxiliary reward is ``r' = r + beta * n~(s, a)``, where ``n~`` is the min-max normalised
count of the LLM's annotations of that pair (``beta = 0.1``). The paper evaluates the labels offline,
against human annotations, on MiniHack's KeyRoom.

What :class:`LLMSubgoalCredit` keeps: the decomposition step (once per mission, cached; or a preset list as
the paper's preset variant), both prompt kinds with the play inside ``<gameplay>`` tags, the answer
formats, the (observation, action) key one step before the achievement, the count bonus with
``beta = 0.1``, and :func:`evaluate_credit`, the offline precision and recall of the labels, here against
the env's true subgoal events (the family's ``events``: for MiniGrid, objects picked up, doors opened or
unlocked, the goal reached) instead of human labels.

What differs, and why:

* **Normalisation.** ``n~(s, a) = n(s, a) / max n``: min-max with the minimum taken over every pair, most of
  which were never annotated (count 0), so ``n~`` is in [0, 1] and an unannotated pair gets 0.
* **Which transitions are sent** (``send``). The paper's MiniHack filter sends the transitions whose game
  message changed; MiniGrid has no messages and its egocentric view changes with every turn, so
  ``send="changed"`` (the default) sends a transition when the family's ``world_state`` (what is carried,
  the doors' states, where the movable objects are, whether the agent stands on the goal: the agent's pose
  left out) changed, or the episode ended; ``send="all"`` sends every transition. Unsent transitions count
  as "no subgoal". The filter tells the LLM nothing about *which* subgoal happened, and every true event is
  a change, so recall does not depend on it; it bounds the requests to a few per episode.
* **When the reward arrives.** Labels come back later than the step they judge, and the env does not wait
  for them unless ``blocking=True``: requests run on a thread pool (``max_workers``; the client's own limit
  on requests in flight applies too), answers are folded in at the next steps, and the bonus a transition
  pays is its key's count *so far*. Repeated transitions (the same prompt) are answered from memory and count
  at once. In trajectory mode the episode is sent when it ends (in windows of ``window`` steps), so its
  labels pay on later visits of the same pairs, as CALM's counts over a dataset do; the labels of the episode
  itself are not relabelled into a trainer's buffer.
* **Observations** are the family's text view (MiniGrid: the agent's view in English), not an ASCII map;
  the "message" is the env's ``info["message"]`` if any, plus a line when the episode ends.

The wrapper asks the env's family for its text view and, through its subgoal library, ``world_state``,
``events`` and ``subgoal_kind`` (the last two for ``record=True``); it never names a family.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from sparsegym.envs.family import require_family
from sparsegym.errors import ConfigError
from sparsegym.llm.annotations import AnnotationStore
from sparsegym.llm.subgoal_prompts import (
    CALM_PROMPT_VERSION,
    ReplyParseError,
    decomposition_messages,
    parse_flags,
    parse_string_list,
    parse_times,
    trajectory_messages,
    transition_messages,
)
from sparsegym.utils.hashing import observation_digest
from sparsegym.wrappers._components import add_component
from sparsegym.wrappers.llm_subgoals import LLMSubgoalsCacheMiss

__all__ = ["LLMSubgoalCredit", "evaluate_credit"]


@dataclass
class _Job:
    """Requests in flight: one transition prompt (maybe awaited by several identical transitions) or one
    window of a trajectory."""

    future: Future
    kind: str  # "transition" or "trajectory"
    memo: str | None = None  # the transition prompt's digest
    targets: list[tuple[Any, tuple[int, int] | None]] = field(default_factory=list)  # transition: (key, record id)
    window: dict[int, tuple[Any, tuple[int, int] | None]] = field(default_factory=dict)  # trajectory: t -> (key, id)
    first: int = 0  # trajectory: the window's first time (its start observation)
    subgoals: list[str] = field(default_factory=list)  # the subgoals the prompt listed


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


class LLMSubgoalCredit(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """CALM's LLM achievement labels as a count bonus ``beta * n~(s, a)`` (see the module docstring).

    Args:
        env: an env whose family has a text view (and for ``send="changed"``/``record=True``, a subgoal
            library with ``world_state``, ``events``, ``subgoal_kind``).
        client: an :class:`~sparsegym.llm.LLMClient`; or ``base_url`` (and ``model``) to make one.
        mode: ``"transition"`` (judge each sent transition) or ``"trajectory"`` (judge each episode when it
            ends, in windows of ``window`` steps).
        beta: the bonus scale (CALM: 0.1).
        subgoals: a preset list of subgoals (CALM's preset variant: no decomposition request).
        send: ``"changed"`` or ``"all"`` (transition mode; see the module docstring).
        blocking: wait for each label before returning the step (transition mode: the bonus then includes it).
        max_workers: threads sending requests.
        window: transitions per trajectory prompt.
        cache: where decompositions are kept (:class:`~sparsegym.llm.annotations.AnnotationStore`). Labels are
            memoised in memory per prompt; to keep them across runs, pass a client with a response cache.
        record: keep, for every transition, the true events and the LLM's labels (:meth:`credit_records`,
            for :func:`evaluate_credit`).
        max_tokens: the LLM's answer budget per request.
        name: the reward-component name.

    ``stats``: ``requests`` (LLM calls made), ``memo_hits`` (transitions answered from memory),
    ``cache_hits`` (decompositions from the store), ``label_errors`` (replies that did not parse),
    ``failed_requests``, ``positives`` (transitions labelled as achieving a subgoal), ``pending``.
    Info keys: ``llm_credit_count`` (the count of this step's key), ``llm_credit_error`` (when the
    decomposition failed: no subgoals, no labels), the bonus under ``reward_components[name]``.
    """

    def __init__(self, env: gymnasium.Env, client: Any = None, *, base_url: str | None = None, model: str | None = None,
                 mode: str = "transition", beta: float = 0.1, subgoals: Sequence[str] | None = None,
                 send: str = "changed", blocking: bool = False, max_workers: int = 4, window: int = 32,
                 cache: bool | str | os.PathLike[str] | Any = True, record: bool = False, max_tokens: int = 256,
                 name: str = "llm_credit"):
        gymnasium.utils.RecordConstructorArgs.__init__(self, base_url=base_url, model=model, mode=mode, beta=beta,
                                                       subgoals=subgoals, send=send, blocking=blocking,
                                                       max_workers=max_workers, window=window, record=record,
                                                       max_tokens=max_tokens, name=name)
        gymnasium.Wrapper.__init__(self, env)
        if mode not in ("transition", "trajectory"):
            raise ConfigError(f"mode must be 'transition' or 'trajectory' (CALM's two prompts), got {mode!r}")
        if send not in ("changed", "all"):
            raise ConfigError(f"send must be 'changed' (transitions that change the world) or 'all', got {send!r}")
        if beta < 0 or max_workers < 1 or window < 1:
            raise ConfigError(f"need beta >= 0, max_workers >= 1 and window >= 1; got {beta}, {max_workers}, {window}")
        if subgoals is not None and (not subgoals or not all(isinstance(s, str) and s.strip() for s in subgoals)):
            raise ConfigError("subgoals must be a non-empty list of non-empty strings")
        family = require_family(env, "LLMSubgoalCredit")
        self.view = family.make_text_view(env)
        self.library = family.subgoal_library() if family.subgoals is not None else None
        needs = (["world_state"] if send == "changed" else []) + (["events", "subgoal_kind", "world_state"] if record else [])
        missing = sorted({n for n in needs if not hasattr(self.library, n)})
        if missing:
            raise ConfigError(f"LLMSubgoalCredit(send={send!r}, record={record}) needs the {family.name} family's subgoal "
                              f"library to provide {', '.join(missing)}; use send='all' and record=False")
        if client is None and base_url is not None:
            from sparsegym.llm.client import LLMClient

            client = LLMClient(base_url, model, cache=False)  # labels are memoised in memory; pass a client to cache them
        self.client, self.model, self.mode, self.beta, self.send = client, model, mode, float(beta), send
        self.blocking, self.max_workers, self.window, self.record = bool(blocking), int(max_workers), int(window), bool(record)
        self.max_tokens, self.name = int(max_tokens), name
        self.preset = list(subgoals) if subgoals is not None else None
        self.store = AnnotationStore(cache)
        spec = getattr(env.unwrapped, "spec", None)
        self.env_id = spec.id if spec is not None else type(env.unwrapped).__name__
        self.stats = {"requests": 0, "memo_hits": 0, "cache_hits": 0, "label_errors": 0, "failed_requests": 0,
                      "positives": 0, "pending": 0}
        self.counts: Counter[Any] = Counter()
        self._max_count = 0
        self._memo: dict[str, dict[str, bool]] = {}
        self._inflight: dict[str, _Job] = {}
        self._jobs: list[_Job] = []
        self._pool: ThreadPoolExecutor | None = None
        self._decompositions: dict[str, tuple[list[str], str | None]] = {}
        self._records: dict[tuple[int, int], dict[str, Any]] = {}
        self._episode = -1
        self._subgoals: list[str] = []
        self._error: str | None = None
        self._mission = ""
        self._steps: list[tuple[int, str | None, str, str, Any, tuple[int, int] | None]] = []
        self._t = 0
        self._prev: tuple[str, Any, Any] = ("", None, None)  # text, observation digest, world state

    # -- the decomposition ----------------------------------------------------------------------------

    def _model_name(self) -> str | None:
        if self.model is not None:
            return self.model
        return str(self.client.model) if self.client is not None else None

    def _decompose(self, mission: str) -> tuple[list[str], str | None]:
        if self.preset is not None:
            return self.preset, None
        known = self._decompositions.get(mission)
        if known is not None:
            return known
        fields = {"kind": "calm_decomposition", "env": self.env_id, "mission": mission, "prompt": CALM_PROMPT_VERSION}
        model = self._model_name()
        record = self.store.get(**fields, model=model or "*")
        if record is not None:
            self.stats["cache_hits"] += 1
        elif self.client is None:
            raise LLMSubgoalsCacheMiss(
                f"LLMSubgoalCredit has no decomposition cached for the mission {mission!r} of {self.env_id} (model "
                f"{model or 'any'}, prompt {CALM_PROMPT_VERSION}) and no LLM to ask: pass client=LLMClient(...) or "
                "base_url=..., or subgoals=[...] to give the subgoals yourself.")
        else:
            from sparsegym.llm.errors import LLMError

            self.stats["requests"] += 1
            try:
                reply = self.client.chat(decomposition_messages(mission), temperature=0.0, max_tokens=self.max_tokens)
            except LLMError as exc:  # not stored: asked again at the next reset
                self.stats["failed_requests"] += 1
                return [], f"the decomposition request failed: {exc}"
            try:
                record = {"subgoals": parse_string_list(reply.text), "error": None, "reply": reply.text}
            except ReplyParseError as exc:
                record = {"subgoals": [], "error": f"invalid decomposition reply: {exc}", "reply": reply.text}
            self.store.put(record, **fields, model=model or reply.model)
            self.store.put(record, **fields, model="*")
        result = (list(record.get("subgoals") or []), record.get("error"))
        self._decompositions[mission] = result
        return result

    # -- requests ---------------------------------------------------------------------------------------

    def _submit(self, messages: list[dict[str, str]]) -> Future:
        if self.client is None:
            raise LLMSubgoalsCacheMiss("LLMSubgoalCredit needs an LLM to label transitions: pass client=LLMClient(...) "
                                       "or base_url=...")
        self.stats["requests"] += 1

        def call() -> str:
            return self.client.chat(messages, temperature=0.0, max_tokens=self.max_tokens).text

        if self.blocking:
            try:
                return _done(call())
            except Exception as exc:  # noqa: BLE001 (handed to _harvest, which records it)
                future: Future = Future()
                future.set_exception(exc)
                return future
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="llm-credit")
        return self._pool.submit(call)

    def _label(self, key: Any, record_id: tuple[int, int] | None, names: list[str], error: str | None = None) -> None:
        if names:
            self.counts[key] += 1
            self._max_count = max(self._max_count, self.counts[key])
            self.stats["positives"] += 1
        rec = self._records.get(record_id) if record_id is not None else None
        if rec is not None:
            rec["predicted_subgoals"] = sorted(set(rec["predicted_subgoals"]) | set(names))
            rec["predicted"] = sorted({self._kind(n) for n in rec["predicted_subgoals"]})
            if error:
                rec["error"] = error

    def _kind(self, name: str) -> str:
        return self.library.subgoal_kind(name) or "other"

    def _harvest(self, wait: bool = False) -> None:
        """Fold finished requests into the counts (all of them, waiting, when ``wait``)."""
        from sparsegym.llm.errors import LLMError

        still = []
        for job in self._jobs:
            if not job.future.done() and not wait:
                still.append(job)
                continue
            error, text = None, None
            try:
                text = job.future.result()
            except LLMError as exc:
                self.stats["failed_requests"] += 1
                error = f"request failed: {exc}"
            except Exception as exc:  # noqa: BLE001 (a bug in a client must not kill the env)
                self.stats["failed_requests"] += 1
                error = f"request failed: {type(exc).__name__}: {exc}"
            if job.kind == "transition":
                self._inflight.pop(job.memo, None)
                flags: dict[str, bool] = {}
                if text is not None:
                    try:
                        flags = parse_flags(text, job.subgoals)
                        self._memo[job.memo] = flags
                    except ReplyParseError as exc:
                        self.stats["label_errors"] += 1
                        error = f"invalid label reply: {exc}"
                names = [n for n, v in flags.items() if v]
                for key, record_id in job.targets:
                    self._label(key, record_id, names, error)
            else:
                times: dict[str, list[int]] = {}
                if text is not None:
                    try:
                        times = parse_times(text, job.subgoals)
                    except ReplyParseError as exc:
                        self.stats["label_errors"] += 1
                        error = f"invalid label reply: {exc}"
                by_time: dict[int, list[str]] = {}
                for name, ts in times.items():
                    for t in ts:
                        if t in job.window:
                            by_time.setdefault(t, []).append(name)
                for t, (key, record_id) in job.window.items():
                    self._label(key, record_id, by_time.get(t, []), error)
        self._jobs = still
        self.stats["pending"] = len(still)

    def _send_transition(self, before: str, action: str, after: str, message: str, key: Any,
                         record_id: tuple[int, int] | None) -> None:
        messages = transition_messages(self._mission, self._subgoals, before, action, after, message)
        memo = hashlib.sha256(json.dumps(messages).encode()).hexdigest()
        if memo in self._memo:
            self.stats["memo_hits"] += 1
            self._label(key, record_id, [n for n, v in self._memo[memo].items() if v])
            return
        job = self._inflight.get(memo)
        if job is None:
            job = _Job(self._submit(messages), "transition", memo, subgoals=list(self._subgoals))
            self._inflight[memo] = job
            self._jobs.append(job)
        else:
            self.stats["memo_hits"] += 1
        job.targets.append((key, record_id))

    def _send_episode(self) -> None:
        """Trajectory mode: the episode so far, in windows of ``window`` transitions."""
        steps, self._steps = self._steps, []
        if len(steps) < 2 or not self._subgoals:
            return
        for start in range(0, len(steps) - 1, self.window):
            part = steps[start:start + self.window + 1]  # the window's start observation, then its transitions
            messages = trajectory_messages(self._mission, self._subgoals, [(t, a, text, m) for t, a, text, m, _, _ in part])
            job = _Job(self._submit(messages), "trajectory", first=part[0][0], subgoals=list(self._subgoals))
            job.window = {t: (key, rid) for t, _, _, _, key, rid in part[1:]}
            self._jobs.append(job)

    # -- the Gymnasium API ------------------------------------------------------------------------------

    def _mission_of(self, info: dict[str, Any]) -> str:
        mission = info.get("mission") or getattr(self.env.unwrapped, "mission", None)
        if not isinstance(mission, str) or not mission:
            raise ConfigError("LLMSubgoalCredit needs the task's mission (info['mission'] or env.mission) for its "
                              "prompts, and this env gives none")
        return mission

    @staticmethod
    def _message(terminated: bool, truncated: bool, info: dict[str, Any]) -> str:
        message = info.get("message") if isinstance(info.get("message"), str) else ""
        if terminated:
            end = ("The episode ended: the mission is accomplished." if info.get("success")
                   else "The episode ended: the mission failed.")
            message = f"{message} {end}".strip()
        elif truncated:
            message = f"{message} The episode ended: out of time.".strip()
        return message

    def _world(self) -> Any:
        return self.library.world_state(self.env) if self.library is not None and hasattr(self.library, "world_state") else None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self.mode == "trajectory" and self._steps:
            self._send_episode()  # an episode cut short is judged as it stands
        obs, info = self.env.reset(seed=seed, options=options)
        self._mission = self._mission_of(info)
        self._subgoals, self._error = self._decompose(self._mission)
        self._episode += 1
        self._t = 0
        text = self.view.describe(obs, info)
        self._prev = (text, observation_digest(obs), self._world())
        self._steps = [(0, None, text, "", None, None)]
        info["llm_credit_subgoals"] = list(self._subgoals)
        if self._error is not None:
            info["llm_credit_error"] = self._error
        self._harvest()
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        before_text, before_digest, before_world = self._prev
        text = self.view.describe(obs, info)
        world = self._world()
        message = self._message(terminated, truncated, info)
        key = (before_digest, int(action))
        record_id = None
        if self.record:
            record_id = (self._episode, self._t)
            true = sorted({kind for kind, _ in self.library.events(before_world, world)})
            self._records[record_id] = {"episode": self._episode, "t": self._t, "action": int(action), "sent": False,
                                        "true": true, "predicted": [], "predicted_subgoals": [], "error": None}
        name = self.view.action_names[int(action)] if 0 <= int(action) < len(self.view.action_names) else str(action)
        if self._subgoals:
            if self.mode == "transition":
                changed = self.send == "all" or world != before_world or terminated
                if changed:
                    if record_id is not None:
                        self._records[record_id]["sent"] = True
                    self._send_transition(before_text, name, text, message, key, record_id)
            else:
                if record_id is not None:
                    self._records[record_id]["sent"] = True
                self._steps.append((self._t, name, text, message, key, record_id))
                if terminated or truncated:
                    self._send_episode()
        self._harvest(wait=self.blocking)
        self._prev = (text, observation_digest(obs), world)
        count = self.counts.get(key, 0)
        info["llm_credit_count"] = count
        if self._error is not None:
            info["llm_credit_error"] = self._error
        bonus = self.bonus(key)
        if bonus:
            reward = add_component(info, reward, self.name, bonus)
        return obs, reward, terminated, truncated, info

    # -- the bonus and the records ----------------------------------------------------------------------

    def bonus(self, key: Any) -> float:
        """``beta * n(key) / max n``: CALM's min-max normalised annotation count (0 before any annotation)."""
        if self._max_count <= 0:
            return 0.0
        return self.beta * (self.counts.get(key, 0) / self._max_count)  # the ratio first: never above beta

    def flush(self, send_partial: bool = False) -> None:
        """Wait for every request in flight and fold its labels in (trajectory mode, ``send_partial``: send
        the episode in progress first)."""
        if send_partial and self.mode == "trajectory" and len(self._steps) > 1:
            last = self._steps[-1]
            self._send_episode()
            self._steps = [(last[0], None, last[2], last[3], None, None)]
        self._harvest(wait=True)

    def credit_records(self) -> list[dict[str, Any]]:
        """Every recorded transition (``record=True``): ``episode``, ``t``, ``action``, ``sent``, ``true``
        (event kinds), ``predicted`` (kinds of the labelled subgoals; "other" for a subgoal of no known
        kind), ``predicted_subgoals``, ``error``. Call :meth:`flush` first to include labels in flight."""
        return [dict(self._records[k]) for k in sorted(self._records)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        super().close()


def _ratio(a: int, b: int) -> float:
    return a / b if b else math.nan


def evaluate_credit(records: Iterable[Mapping[str, Any]],
                    kind_of: Callable[[str], str | None] | None = None) -> dict[str, Any]:
    """Precision, recall and F1 of achievement labels against the true events, per kind and over all.

    ``records``: one per transition, with ``predicted`` and ``true`` lists of event kinds (as
    :meth:`LLMSubgoalCredit.credit_records` gives them); with ``kind_of``, ``predicted`` may hold subgoal
    names, mapped to kinds by it (None: ``"other"``). A kind is a true positive of a transition when it is in
    both lists, a false positive when only predicted, a false negative when only true. Precision is nan when
    nothing was predicted, recall when nothing happened.

    Returns ``{"kinds": {kind: {"tp", "fp", "fn", "precision", "recall", "f1"}}, "all": {...},
    "transitions": n}``; ``all`` sums the counts over kinds (micro average).

    Examples:
        >>> result = evaluate_credit([{"predicted": ["picked up key"], "true": ["picked up key"]},
        ...                           {"predicted": ["opened door"], "true": []},
        ...                           {"predicted": [], "true": ["opened door"]}])
        >>> result["all"]["precision"], result["all"]["recall"], result["kinds"]["opened door"]["tp"]
        (0.5, 0.5, 0)
    """
    table: dict[str, dict[str, int]] = {}
    n = 0
    for rec in records:
        n += 1
        predicted = {(kind_of(p) or "other") if kind_of is not None else p for p in rec.get("predicted", [])}
        true = set(rec.get("true", []))
        for kind in predicted | true:
            row = table.setdefault(kind, {"tp": 0, "fp": 0, "fn": 0})
            row["tp" if kind in predicted and kind in true else "fp" if kind in predicted else "fn"] += 1

    def scores(row: Mapping[str, int]) -> dict[str, Any]:
        p, r = _ratio(row["tp"], row["tp"] + row["fp"]), _ratio(row["tp"], row["tp"] + row["fn"])
        f1 = 2 * p * r / (p + r) if not (math.isnan(p) or math.isnan(r)) and p + r > 0 else (
            0.0 if not (math.isnan(p) or math.isnan(r)) else math.nan)
        return {**row, "precision": p, "recall": r, "f1": f1}

    total = {k: sum(row[k] for row in table.values()) for k in ("tp", "fp", "fn")}
    return {"kinds": {k: scores(table[k]) for k in sorted(table)}, "all": scores(total), "transitions": n}

