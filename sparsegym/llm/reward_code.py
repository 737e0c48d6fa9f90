"""Reward code written by a language model: prompts, reading code out of replies, a critic, feedback rounds.

The idea comes from three papers. **Text2Reward** (Xie et al. 2023, arXiv 2309.11489) has a model
write a dense reward function as code over a compact, documented description of the environment's
state, and improves it from feedback. **Eureka** (Ma et al. 2023, arXiv 2310.12931) closes the loop
automatically: each round's reward is used for training, and statistics of the run (success, and
each reward component's values over training) are fed back as "reward reflection" for the next
version. **Auto MC-Reward** (Li et al. 2023, arXiv 2312.09238) adds a reviewer model that checks a
reward function against the task before it is used, and a trajectory analyser that summarises
failures for the designer. Here:

* :class:`RewardTask` is what a prompt describes: the task, the family's documented symbolic state
  (``Family.symbolic_state``, e.g. :mod:`sparsegym.envs.minigrid.symbolic`), the actions, the limits.
* :class:`RewardCodeWriter` asks for ``def reward(prev_state, action, state)``, reads the code out of
  the reply (:func:`extract_code`), checks it (:func:`~sparsegym.llm.reward_sandbox.check_code`) and
  asks again once with the checker's complaints, optionally has a critic review it (a second call
  answering ``VERDICT: OK`` or ``VERDICT: REVISE``; a REVISE triggers one rewrite), and for later rounds
  writes a revision from the previous version's :class:`RoundStats`.
* :class:`RefinementHistory` keeps every version and what was measured of it in a JSON file, written
  atomically, so an interrupted refinement resumes where it stopped
  (:func:`sparsegym.wrappers.reward_refinement.refine_reward_code` runs the loop).

Requests use temperature 0 and a fixed seed by default, so :class:`~sparsegym.llm.LLMClient`'s cache
answers a repeated run without the server. Running the code safely is
:mod:`sparsegym.llm.reward_evaluator`'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.llm.reward_sandbox import (
    FUNCTION_NAME,
    MATH_NAMES,
    MAX_PARTS,
    SAFE_BUILTIN_NAMES,
    check_code,
)

__all__ = ["CodeDraft", "RefinementHistory", "RewardCodeWriter", "RewardTask", "RoundStats", "best_round",
           "client_for", "code_version", "extract_code", "parse_verdict", "symbolic_module"]


def code_version(code: str) -> str:
    """A short content hash naming a version of reward code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class RewardTask:
    """What the prompt tells the model: the task, the state's schema, the actions and the limits."""

    name: str
    description: str
    schema: str
    actions: tuple[str, ...]
    function: str = FUNCTION_NAME
    clip: tuple[float, float] = (-1.0, 1.0)
    timeout: float = 1.0

    @classmethod
    def from_env(cls, env: Any, task: str | None = None, **kwargs: Any) -> RewardTask:
        """The task of ``env`` from its family's documented symbolic state (``Family.symbolic_state``);
        ``task`` replaces the family's description of it."""
        module = symbolic_module(env)
        spec = getattr(env, "spec", None) or getattr(env.unwrapped, "spec", None)
        name = spec.id if spec is not None else type(env.unwrapped).__name__
        return cls(name=name, description=task or module.describe_task(env), schema=module.SCHEMA,
                   actions=tuple(module.action_names(env)), **kwargs)


def client_for(client: Any = None, base_url: str | None = None, model: str | None = None) -> Any:
    """``client``, or an :class:`~sparsegym.llm.LLMClient` for ``base_url``/``model`` (with the response
    cache; extra ``llm``)."""
    if client is not None:
        return client
    from sparsegym.llm.client import LLMClient

    return LLMClient(base_url, model)


def symbolic_module(env: Any) -> Any:
    """The module of ``env``'s family that documents its symbolic state (a clear error when none does)."""
    from sparsegym.envs.family import require_family

    return require_family(env, "LLM-written reward code").symbolic_state_module()


# -- what was measured of a version -------------------------------------------------------------------

@dataclass
class RoundStats:
    """What running one version of the reward code measured (Eureka's "reward reflection" material).

    ``parts`` maps each component the code returned (when it returns a dict) to ``fired`` (fraction of
    steps where it was non-zero) and ``mean_per_episode`` (its sum per episode, averaged); ``errors``
    counts failed calls by kind, ``error_examples`` holds the most frequent messages with their counts.
    """

    episodes: int = 0
    steps: int = 0
    success_rate: float = 0.0
    mean_length: float = 0.0
    mean_return: float = 0.0
    mean_bonus: float = 0.0
    nonzero_fraction: float = 0.0
    parts: dict[str, dict[str, float]] = field(default_factory=dict)
    calls: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: list[tuple[str, int]] = field(default_factory=list)
    max_steps: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundStats:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["error_examples"] = [tuple(e) for e in known.get("error_examples", [])]
        return cls(**known)

    def describe(self) -> str:
        """The statistics as the lines a revision prompt shows."""
        limit = f" (the limit is {self.max_steps})" if self.max_steps else ""
        lines = [
            f"- success rate: {self.success_rate:.2f} over {self.episodes} episodes (the task's own measure: this "
            "is what must go up)",
            f"- mean episode length: {self.mean_length:.1f} steps{limit}",
            f"- mean task return: {self.mean_return:.3f}",
            f"- mean bonus per episode: {self.mean_bonus:.3f}; the bonus was non-zero on "
            f"{100 * self.nonzero_fraction:.1f}% of steps",
        ]
        for name, part in sorted(self.parts.items()):
            lines.append(f'- component "{name}": non-zero on {100 * part.get("fired", 0.0):.1f}% of steps, '
                         f'{part.get("mean_per_episode", 0.0):.3f} per episode on average')
        failed = sum(v for k, v in self.errors.items())
        if failed:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.errors.items()))
            lines.append(f"- errors: {failed} of {self.calls} calls failed and paid 0 ({kinds})")
            lines += [f'  - "{message}" ({count} times)' for message, count in self.error_examples[:3]]
        else:
            lines.append(f"- errors: none in {self.calls} calls")
        return "\n".join(lines)


def best_round(rounds: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The round with the highest success rate (then mean task return; the earliest on ties)."""
    scored = [r for r in rounds if r.get("stats") is not None]
    if not scored:
        return None
    return max(scored, key=lambda r: (r["stats"]["success_rate"], r["stats"]["mean_return"], -r["round"]))


# -- prompts ----------------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You design reward functions for reinforcement-learning agents in games whose own reward is sparse: "
    "it comes only when the task is solved. You write a small Python function that pays a dense bonus for "
    "real progress toward the goal, so that an agent learns faster without being led astray. You answer "
    "with code in one ```python block."
)


def _rules(task: RewardTask) -> str:
    low, high = task.clip
    return (
        "Rules:\n"
        f"- Return a number, or a dict of up to {MAX_PARTS} named numbers (its components; the bonus is their "
        "sum, and we report how often each component fires). The bonus is clipped to "
        f"[{low:g}, {high:g}]. Keep it small next to the task's own reward (about 1 on success): e.g. 0.05-0.2 "
        "for a step of real progress and 0 on most steps.\n"
        "- Pay for progress (a subgoal reached, a distance shrinking, a new state of the world), not for "
        "actions as such, and avoid bonuses an agent can collect over and over by undoing and redoing "
        "something: compare prev_state with state.\n"
        "- Plain Python only: no import statements (a `math` object is already there, with "
        f"{', '.join(MATH_NAMES)}), no classes, no global or nonlocal, no print, no files, no names or "
        "attributes starting with two underscores, none of open, eval, exec, getattr, setattr, type. "
        f"Builtins available: {', '.join(n for n in SAFE_BUILTIN_NAMES if n[0].islower())}. Attributes "
        "available: the usual methods of dicts, lists, strings and sets (e.g. .get, .items, .append, "
        ".startswith, .lower, .split).\n"
        f"- The function runs after every step with a limit of {task.timeout:g} s and a little memory; it must "
        "not keep state between calls. Helper functions and constant tables at the top level are fine.\n"
        "- Handle None values (e.g. when nothing is carried or no goal exists) instead of failing."
    )


def write_prompt(task: RewardTask) -> str:
    """The first round's request: the task, the state's schema, the signature and the rules."""
    actions = ", ".join(f"{i} = {name}" for i, name in enumerate(task.actions))
    return (
        f"Task: {task.description}\n\n"
        "Write a Python function that the environment calls after every step:\n\n"
        f"    def {task.function}(prev_state, action, state):\n"
        "        ...\n"
        "        return bonus\n\n"
        "prev_state is the state before the step, state the state after it, action the index of the action "
        f"taken ({actions}).\nBoth states are plain Python dicts (tuples stay tuples) with these fields:\n"
        f"{task.schema}\n\n{_rules(task)}\n\n"
        "Answer with the complete code in one ```python block."
    )


def revise_prompt(task: RewardTask, previous: Sequence[dict[str, Any]]) -> str:
    """A later round's request: the first prompt, the last version with what was measured of it, and a
    line for each earlier version (Eureka's reward reflection)."""
    last = previous[-1]
    stats = RoundStats.from_dict(last["stats"])
    earlier = [f"- round {r['round']} (version {r['version']}): success rate "
               f"{r['stats']['success_rate']:.2f}, mean bonus per episode {r['stats']['mean_bonus']:.3f}"
               for r in previous[:-1] if r.get("stats") is not None]
    history = ("Earlier versions:\n" + "\n".join(earlier) + "\n\n") if earlier else ""
    best = best_round(previous)
    if best is not None and best is not last and best["stats"]["success_rate"] > stats.success_rate:
        history += (f"The best version so far is round {best['round']}'s; its code:\n```python\n{best['code']}\n```\n\n")
    return (
        f"{write_prompt(task)}\n\n"
        f"This is round {len(previous) + 1}. The reward function of round {last['round']} (version "
        f"{last['version']}) was used to train an agent:\n```python\n{last['code']}\n```\n"
        f"Measured with the trained agent:\n{stats.describe()}\n\n{history}"
        "Write an improved reward function. First reflect in at most six short lines: which components help, "
        "which never fire (fix them or drop them), which are so large that they crowd out the task's reward or "
        "can be farmed, and which errors to avoid. Then give the complete new code in one ```python block."
    )


def critic_prompt(task: RewardTask, code: str) -> str:
    """The reviewer's request (Auto MC-Reward's critic): check the code against the task and the schema."""
    return (
        f"Review a reward function written for this task.\n\nTask: {task.description}\n\n"
        f"The function is called as {task.function}(prev_state, action, state) after every step; the states are "
        f"dicts with these fields:\n{task.schema}\n\nThe code:\n```python\n{code}\n```\n\n"
        "Check that it reads only fields that exist, with their types and None values handled; that it pays for "
        "progress toward the task rather than for something an agent can repeat forever; that its values are "
        f"small (clipped to [{task.clip[0]:g}, {task.clip[1]:g}]) next to the task's reward of about 1; and that "
        "it cannot raise an error. Answer with a first line `VERDICT: OK` when it can be used as it is, or "
        "`VERDICT: REVISE` followed by the problems, one per line."
    )


def _repair_prompt(problems: Sequence[str], function: str) -> str:
    listed = "\n".join(f"- {p}" for p in problems)
    return (f"The code was refused by the checker:\n{listed}\nWrite the complete corrected code, with "
            f"`def {function}(prev_state, action, state):`, in one ```python block.")


def _rewrite_prompt(notes: str) -> str:
    return (f"A reviewer found these problems:\n{notes}\nFix them and write the complete code in one "
            "```python block.")


# -- reading replies --------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_CODE_START = re.compile(r"^(def |@|#|[A-Za-z_][A-Za-z0-9_, ]*\s*(=[^=]|\[)|[)\]}]|import |from \S+ import |\"\"\"|''')")
_IMPORT_MATH = re.compile(r"^[ \t]*import math[ \t]*(#.*)?$", re.M)


def _parses(code: str) -> bool:
    try:
        compile(code, "<reply>", "exec", dont_inherit=True, flags=0x400)  # ast.PyCF_ONLY_AST: no code object
        return True
    except (SyntaxError, ValueError):
        return False


def _bare_code(text: str, function: str) -> str:
    """Code written without fences: from the top-level statements before ``def function(`` to the last code
    line after it, prose on either side left out (the longest stretch around the function that parses)."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if re.match(rf"def\s+{re.escape(function)}\s*\(", line)), None)
    if start is None:
        return text.strip()

    def code_like(line: str) -> bool:
        return not line.strip() or line[0] in " \t" or bool(_CODE_START.match(line))

    first = start
    while first > 0 and code_like(lines[first - 1]):
        first -= 1
    end = start + 1
    while end < len(lines) and code_like(lines[end]):
        end += 1
    for lead in range(first, start + 1):
        chunk = lines[lead:end]
        while len(chunk) > 1 and not _parses("\n".join(chunk)):
            chunk.pop()
        if _parses("\n".join(chunk)):
            return "\n".join(chunk).strip("\n")
    return "\n".join(lines[start:end]).strip("\n")


def _defines(code: str, function: str) -> bool:
    return re.search(rf"^[ \t]*def\s+{re.escape(function)}\s*\(", code, re.M) is not None


def extract_code(reply: str, function: str = FUNCTION_NAME) -> str:
    """The code in a model's reply: the last fenced block that defines ``function`` (a block the reply's
    length limit cut open counts), else the code around a bare ``def function(``; prose lines at the end
    are dropped until it parses. A lone ``import math`` is removed (``math`` is provided); the result
    still has to pass :func:`~sparsegym.llm.reward_sandbox.check_code`."""
    text = (reply or "").replace("\r\n", "\n")
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    with_function = [b for b in blocks if _defines(b, function)]
    code = with_function[-1] if with_function else _bare_code(text, function)
    code = _IMPORT_MATH.sub("", code).strip("\n")
    lines = code.split("\n")
    while len(lines) > 1 and not _parses("\n".join(lines)):
        lines.pop()
    fixed = "\n".join(lines)
    return (fixed if _parses(fixed) else code).rstrip() + "\n"


_VERDICT = re.compile(r"verdict\W{0,6}(ok|revise)\b", re.I)
_LEADING = re.compile(r"^\W*(ok|revise)\b", re.I)


def parse_verdict(reply: str) -> tuple[str, str]:
    """``("OK" | "REVISE" | "UNCLEAR", notes)`` from a critic's reply; notes are the text after the verdict."""
    text = (reply or "").strip()
    match = _VERDICT.search(text) or _LEADING.search(text)
    if match is None:
        return "UNCLEAR", text[:2000]
    same_line, _, below = text[match.end():].partition("\n")
    notes = "\n".join(part for part in (same_line.strip(" \t*:.,-"), below.strip()) if part)
    return match.group(1).upper(), notes[:2000]


# -- the writer -------------------------------------------------------------------------------------

@dataclass
class CodeDraft:
    """A version of reward code and how it was obtained.

    ``problems`` is empty when the code passed the checker (a draft that never did keeps its last
    candidate: running it pays 0 with the refusal recorded); ``critic`` holds the reviewer's
    ``verdict``, ``notes`` and whether the code was ``revised``; ``messages`` is the final conversation
    (the last reply included).
    """

    code: str
    problems: list[str]
    messages: list[dict[str, str]]
    replies: list[str]
    critic: dict[str, Any] | None = None

    @property
    def version(self) -> str:
        return code_version(self.code)

    @property
    def valid(self) -> bool:
        return not self.problems


class RewardCodeWriter:
    """Ask a model for reward code (module docstring): first versions, revisions, an optional critic.

    Args:
        client: an :class:`~sparsegym.llm.LLMClient` (or anything with its ``chat``).
        temperature: sampling temperature of every request (0 with a seed: cacheable).
        seed: the requests' seed.
        max_tokens: the longest reply.
        critic: have a second request review each version; a ``VERDICT: REVISE`` triggers one rewrite,
            kept when it passes the checker.
        repair_attempts: how many times code the checker refuses is sent back with its complaints.
    """

    def __init__(self, client: Any, *, temperature: float = 0.0, seed: int | None = 0, max_tokens: int = 1500,
                 critic: bool = False, repair_attempts: int = 1):
        if repair_attempts < 0:
            raise ConfigError(f"repair_attempts must be 0 or more, got {repair_attempts}")
        self.client, self.temperature, self.seed, self.max_tokens = client, float(temperature), seed, int(max_tokens)
        self.critic, self.repair_attempts = bool(critic), int(repair_attempts)

    def _ask(self, messages: list[dict[str, str]]) -> str:
        result = self.client.chat(messages, temperature=self.temperature, max_tokens=self.max_tokens, seed=self.seed)
        return result.text or ""

    def write(self, task: RewardTask, previous: Sequence[dict[str, Any]] | None = None) -> CodeDraft:
        """A new version: the first (no ``previous``), or a revision of ``previous[-1]`` given its
        ``stats`` (``previous``: round records as :class:`RefinementHistory` keeps them)."""
        prompt = revise_prompt(task, previous) if previous else write_prompt(task)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
        replies: list[str] = []
        for attempt in range(self.repair_attempts + 1):
            reply = self._ask(messages)
            replies.append(reply)
            code = extract_code(reply, task.function)
            problems = check_code(code, task.function) if _defines(code, task.function) else [
                f"the reply holds no code defining {task.function}(prev_state, action, state); answer with the "
                "complete code in one ```python block"]
            if not problems or attempt == self.repair_attempts:
                break
            messages += [{"role": "assistant", "content": reply},
                         {"role": "user", "content": _repair_prompt(problems, task.function)}]
        messages = [*messages, {"role": "assistant", "content": reply}]
        draft = CodeDraft(code, problems, messages, replies)
        if self.critic and draft.valid:
            self._review(task, draft)
        return draft

    def _review(self, task: RewardTask, draft: CodeDraft) -> None:
        review = self._ask([{"role": "system", "content": "You review reward functions for reinforcement learning."},
                            {"role": "user", "content": critic_prompt(task, draft.code)}])
        verdict, notes = parse_verdict(review)
        draft.replies.append(review)
        draft.critic = {"verdict": verdict, "notes": notes, "revised": False}
        if verdict != "REVISE":
            return
        messages = [*draft.messages, {"role": "user", "content": _rewrite_prompt(notes or review)}]
        reply = self._ask(messages)
        draft.replies.append(reply)
        code = extract_code(reply, task.function)
        problems = check_code(code, task.function)
        if problems:  # keep the reviewed version, which passed the checker
            draft.critic["rewrite_problems"] = problems
            return
        draft.code, draft.messages = code, [*messages, {"role": "assistant", "content": reply}]
        draft.critic["revised"] = True


# -- the record of a refinement -----------------------------------------------------------------------

class RefinementHistory:
    """Every round of a refinement (code, version, how it was obtained, what was measured) in one JSON
    file, rewritten atomically after each round; an existing file of the same ``key`` is resumed.

    The file: ``{"format": 1, "key": {...}, "rounds": [{"round", "version", "code", "problems", "critic",
    "prompt", "replies", "stats", "seconds"}, ...]}``.
    """

    FORMAT = 1

    def __init__(self, path: str | os.PathLike[str] | None, key: dict[str, Any]):
        self.path = Path(path) if path is not None else None
        self.key = json.loads(json.dumps(key))
        self.rounds: list[dict[str, Any]] = []
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except ValueError as exc:
                raise ConfigError(f"{self.path} is not a refinement history (bad JSON: {exc}); move it away or "
                                  "pass another path") from exc
            if data.get("key") != self.key:
                raise ConfigError(f"{self.path} holds the refinement of {data.get('key')}, not of {self.key}; pass "
                                  "another path, or delete the file to start over")
            self.rounds = list(data.get("rounds", []))

    def append(self, record: dict[str, Any]) -> None:
        self.rounds.append(json.loads(json.dumps(record)))  # as a resumed run will read it
        self.save()

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as f:
            json.dump({"format": self.FORMAT, "key": self.key, "rounds": self.rounds}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def best(self) -> dict[str, Any] | None:
        return best_round(self.rounds)

