"""Prompts and reply parsers of the LLM subgoal wrappers (Words as Beacons, CALM).

The prompt texts are sparsegym's own; the papers' structure is kept where they publish one:

* **Words as Beacons** (Ruiz-Gonzalez et al. 2024, arXiv 2410.08632) gives its LLM a textual description
  of a level and asks for an ordered list of subgoals; its repository does not include the prompt, so
  :func:`subgoal_messages` asks in sparsegym's subgoal-spec format (the family's ``SPEC_FORMAT``).
* **CALM** (Pignatelli et al. 2024, arXiv 2409.12798) has modular prompts: a role (an honest analyst of the
  play), the task, a decomposition into subgoals, the play inside ``<gameplay>`` tags, and a required
  python-dict answer, ``{subgoal: time}`` for a trajectory or ``{subgoal: bool}`` for one transition.
  :func:`decomposition_messages`, :func:`transition_messages` and :func:`trajectory_messages` follow that
  structure (asking for JSON, and accepting a python dict too).

Parsers are lenient about form and strict about content: :func:`extract_json` finds the JSON (or python
literal) in a reply that wraps it in a code fence, prose, ``<think>`` blocks, single quotes or trailing
commas; the typed parsers then check what it holds and raise :class:`ReplyParseError`, naming what was
expected, when it is not there.

Changing a prompt's text changes what the model answers: bump its ``*_PROMPT_VERSION``, which is part of
every cache key, so answers to an old prompt are never served for a new one.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from sparsegym.errors import SparseGymError

SUBGOALS_PROMPT_VERSION = "wab-1"
CALM_PROMPT_VERSION = "calm-1"

#: Markers that tell the prompts apart (the scripted annotator dispatches on them).
LEVEL_TAG = "<level>"
GAMEPLAY_TAG = "<gameplay>"
DECOMPOSE_MARKER = "Break the task into its key subgoals"
TRANSITION_MARKER = "Does the action realise any of the subgoals?"
TRAJECTORY_MARKER = "Which subgoals does the agent achieve"


class ReplyParseError(SparseGymError, ValueError):
    """An LLM reply that does not hold what the prompt asked for; the message says what was expected."""


# -- prompts --------------------------------------------------------------------------------------------

_PLANNER_ROLE = ("You plan the route of an agent in a grid world. You read a description of a level and list, "
                 "in order, the subgoals that lead the agent to its mission.")
_ANALYST_ROLE = ("You are an honest analyst of an agent playing a grid-world game. You judge only what the text "
                 "shows, and you answer in the exact format asked for.")


def subgoal_messages(description: str, spec_format: str, max_subgoals: int = 8) -> list[dict[str, str]]:
    """Words as Beacons' query: the level's description, the subgoal format, an ordered list asked for."""
    user = (f"Here is the level:\n{LEVEL_TAG}\n{description}\n</level>\n\n{spec_format}\n\n"
            f"List the subgoals the agent should achieve, in the order it should achieve them, to accomplish its "
            f"mission (at most {max_subgoals}). Leave out the mission's own last step: it is rewarded already. "
            "Answer with a JSON list of subgoal objects and nothing else, for example:\n"
            '[{"type": "picked_up", "object": "key", "color": "yellow"}, {"type": "opened_door", "color": "yellow"}]')
    return [{"role": "system", "content": _PLANNER_ROLE}, {"role": "user", "content": user}]


def decomposition_messages(mission: str) -> list[dict[str, str]]:
    """CALM's first step: break the task into subgoals, short instructions, once per mission."""
    user = (f"The agent's task: {mission}\n\n{DECOMPOSE_MARKER}: the milestones an agent must reach, in order, to "
            'complete it. Write each as a short instruction, such as "pick up the key" or "open the door". Answer '
            "with a JSON list of strings and nothing else.")
    return [{"role": "system", "content": _ANALYST_ROLE}, {"role": "user", "content": user}]


def _subgoal_lines(subgoals: Sequence[str]) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(subgoals, 1))


def transition_messages(mission: str, subgoals: Sequence[str], before: str, action: str, after: str,
                        message: str = "") -> list[dict[str, str]]:
    """CALM's transition prompt: does this one action realise any subgoal? Answer ``{subgoal: bool}``."""
    user = (f"The agent's task: {mission}\nIts subgoals:\n{_subgoal_lines(subgoals)}\n\n"
            "Below is one step of its play, inside <gameplay> tags: what the agent observed before the action, the "
            "action, and what it observed after it, with the game's message if there is one.\n"
            f"{GAMEPLAY_TAG}\nBefore:\n{before}\nAction: {action}\nAfter:\n{after}\n"
            + (f"Message: {message}\n" if message else "") + "</gameplay>\n\n"
            f"{TRANSITION_MARKER} Attend to what changed after the action, and to the message. Answer with a JSON "
            "object that maps each subgoal, written exactly as listed, to true or false, and nothing else.")
    return [{"role": "system", "content": _ANALYST_ROLE}, {"role": "user", "content": user}]


def trajectory_messages(mission: str, subgoals: Sequence[str],
                        steps: Sequence[tuple[int, str | None, str, str]]) -> list[dict[str, str]]:
    """CALM's trajectory prompt: which subgoals are achieved, and when? Answer ``{subgoal: time}``.

    ``steps``: ``(time, last action or None, observation text, message)`` in time order."""
    parts = []
    for time, action, text, message in steps:
        block = [f"Time {time}:"]
        if action is not None:
            block.append(f"Last action: {action}")
        block.append(f"Observation:\n{text}")
        if message:
            block.append(f"Message: {message}")
        parts.append("\n".join(block))
    user = (f"The agent's task: {mission}\nIts subgoals:\n{_subgoal_lines(subgoals)}\n\n"
            "Below is part of its play, inside <gameplay> tags: at each time, the last action and what the agent "
            "observed after it, with the game's message if there is one.\n"
            f"{GAMEPLAY_TAG}\n" + "\n".join(parts) + "\n</gameplay>\n\n"
            f"{TRAJECTORY_MARKER} in this part of its play, and at what time? A subgoal is achieved at the first "
            "time whose observation or message shows it done. Answer with a JSON object that maps each achieved "
            "subgoal, written exactly as listed, to its time (an integer); leave out the subgoals not achieved. "
            "Answer with the JSON object and nothing else.")
    return [{"role": "system", "content": _ANALYST_ROLE}, {"role": "user", "content": user}]


# -- finding the JSON in a reply --------------------------------------------------------------------------

_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_+-]*[ \t]*\r?\n?(.*?)```", re.S)
_TRAILING_COMMA = re.compile(r",\s*([\]}])")
_JSON_WORDS = re.compile(r"\b(true|false|null)\b")


def _closing(text: str, start: int) -> int | None:
    """Index of the bracket that closes the one at ``start`` (quotes and escapes respected), or None."""
    stack, quote, escaped = [], None, False
    pairs = {"[": "]", "{": "}"}
    for i in range(start, len(text)):
        ch = text[i]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in pairs:
            stack.append(pairs[ch])
        elif ch in "]}":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i
    return None


def _loads(text: str) -> Any:
    """JSON, then JSON without trailing commas, then a python literal (single quotes, True/None)."""
    text = text.strip()
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(attempt)
        except ValueError:
            pass
    python = _JSON_WORDS.sub(lambda m: {"true": "True", "false": "False", "null": "None"}[m.group(1)],
                             _TRAILING_COMMA.sub(r"\1", text))
    for attempt in (text, python):
        try:
            return ast.literal_eval(attempt)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    raise ValueError("not JSON")


def extract_json(text: str, kinds: tuple[type, ...] = (list, dict), accept: Callable[[Any], bool] | None = None) -> Any:
    """The first JSON value (or python literal) of a type in ``kinds`` (and, if given, that ``accept``
    approves) found in an LLM reply.

    Looks in code fences first, then at the whole reply, then at each bracketed span in order (so prose
    before and after, ``<think>`` blocks and stray brackets such as "[1]" are skipped). Raises
    :class:`ReplyParseError` when none parses.

    >>> extract_json('Sure! ```json\\n[{"type": "picked_up", "object": "key",}]\\n``` Good luck.')
    [{'type': 'picked_up', 'object': 'key'}]
    >>> extract_json("{'pick up the key': True, 'open the door': False}")
    {'pick up the key': True, 'open the door': False}
    """
    if not isinstance(text, str):
        raise ReplyParseError(f"expected the reply's text, got {type(text).__name__}")
    body = _THINK.sub("", text)
    if "<think>" in body.lower():  # an unfinished thought: whatever follows it is not an answer
        body = body[: body.lower().index("<think>")]
    candidates = [m.group(1) for m in _FENCE.finditer(body)] + [body]
    for candidate in candidates:
        try:
            value = _loads(candidate)
        except ValueError:
            value = None
        if isinstance(value, kinds) and (accept is None or accept(value)):
            return value
    i = 0
    while i < len(body):
        if body[i] in "[{":
            end = _closing(body, i)
            if end is not None:
                try:
                    value = _loads(body[i:end + 1])
                except ValueError:
                    value = None
                if isinstance(value, kinds) and (accept is None or accept(value)):
                    return value
        i += 1
    names = " or ".join({list: "JSON list", dict: "JSON object"}.get(k, k.__name__) for k in kinds)
    raise ReplyParseError(f"no {names} found in the reply {_preview(text)}")


def _preview(text: str, limit: int = 120) -> str:
    flat = " ".join(str(text).split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


# -- typed parsers ----------------------------------------------------------------------------------------


def _looks_like_subgoals(value: Any) -> bool:
    if isinstance(value, dict):
        value = value.get("subgoals", [value] if "type" in value else None)
    return isinstance(value, list) and all(isinstance(e, dict) and "type" in e for e in value)


def parse_subgoal_list(text: str) -> list[dict[str, Any]]:
    """Words as Beacons' answer: a list of subgoal-spec entries (a bare list, or ``{"subgoals": [...]}``).

    Checks the shape only (a list of objects, each with a ``"type"``); the family's ``from_spec`` checks the
    types and fields. An empty list is a valid answer (no subgoals)."""
    try:
        value = extract_json(text, (list, dict), accept=_looks_like_subgoals)
    except ReplyParseError:
        value = extract_json(text, (list, dict))  # something else parsed: say what is wrong with it below
    if isinstance(value, dict):
        if isinstance(value.get("subgoals"), list):
            value = value["subgoals"]
        elif "type" in value:
            value = [value]
        else:
            raise ReplyParseError(f"expected a JSON list of subgoal objects, got an object with keys {sorted(value)[:6]}")
    bad = [i for i, entry in enumerate(value) if not isinstance(entry, dict) or "type" not in entry]
    if bad:
        raise ReplyParseError(f"expected a list of subgoal objects with a \"type\"; entry {bad[0]} is "
                              f"{value[bad[0]]!r}")
    return value


_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$")


def parse_string_list(text: str) -> list[str]:
    """CALM's decomposition: a list of short instructions (a JSON list of strings, of objects with a
    ``text``/``subgoal``/``name``, an object holding one such list, or failing JSON, a numbered or bulleted
    list)."""
    try:
        value = extract_json(text, (list, dict))
    except ReplyParseError:
        lines = [m.group(1) for m in map(_NUMBERED.match, _THINK.sub("", text).splitlines()) if m]
        if lines:
            return [line.strip().strip('"').rstrip(".") for line in lines]
        raise ReplyParseError(f"expected a JSON list of subgoals (strings), got {_preview(text)}") from None
    if isinstance(value, dict):  # {"subgoals": [...]}, or any one list it holds; never its keys
        lists = [v for k, v in value.items() if isinstance(v, list)]
        value = value["subgoals"] if isinstance(value.get("subgoals"), list) else lists[0] if len(lists) == 1 else None
    out = []
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict):
            entry = entry.get("text") or entry.get("subgoal") or entry.get("name") or entry.get("instruction")
        if isinstance(entry, str) and entry.strip():
            out.append(entry.strip())
    if not out:
        raise ReplyParseError(f"expected a non-empty JSON list of subgoals (strings), got {_preview(text)}")
    return out


def normalise_name(text: str) -> str:
    """Lower case, numbering and punctuation dropped, spaces collapsed: how subgoal names are compared."""
    text = re.sub(r"^\s*(?:subgoal\s*)?\d+\s*[.):-]\s*", "", str(text).lower())
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text).split())


def match_subgoal(name: Any, subgoals: Sequence[str]) -> str | None:
    """The subgoal of ``subgoals`` that ``name`` (an LLM's rendering of it) stands for, or None: the same
    text up to case and punctuation, its number in the list ("2", "subgoal 2"), or the only subgoal that
    contains it or is contained in it."""
    norm = normalise_name(name)
    if not norm:
        return None
    table = {normalise_name(s): s for s in subgoals}
    if norm in table:
        return table[norm]
    m = re.fullmatch(r"(?:subgoal )?(\d+)", str(name).strip().lower())
    if m and 1 <= int(m.group(1)) <= len(subgoals):
        return subgoals[int(m.group(1)) - 1]
    near = [s for k, s in table.items() if norm in k or k in norm]
    return near[0] if len(near) == 1 else None


def _names_any(value: Any, subgoals: Sequence[str]) -> bool:
    keys = value if isinstance(value, list) else list(value)
    return any(match_subgoal(k, subgoals) is not None for k in keys if isinstance(k, (str, int)))


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "yes": True, "y": True, "1": True, "false": False, "no": False, "n": False,
                "0": False}.get(value.strip().lower())
    return None


def parse_flags(text: str, subgoals: Sequence[str]) -> dict[str, bool]:
    """CALM's transition answer, ``{subgoal: bool}``, keyed by the listed subgoal names.

    Also takes a list of the realised subgoals' names. Names that match no listed subgoal are ignored, but
    an answer in which nothing matches, or a value that is not a yes/no, is a :class:`ReplyParseError`."""
    try:
        value = extract_json(text, (dict, list), accept=lambda v: _names_any(v, subgoals))
    except ReplyParseError:
        value = extract_json(text, (dict, list))
    if isinstance(value, list):
        value = {str(v): True for v in value}
    out: dict[str, bool] = {}
    for key, flag in value.items():
        name = match_subgoal(key, subgoals)
        if name is None:
            continue
        answer = _as_bool(flag)
        if answer is None:
            raise ReplyParseError(f"expected true or false for subgoal {key!r}, got {flag!r}")
        out[name] = out.get(name, False) or answer
    if value and not out:
        raise ReplyParseError(f"none of the reply's keys {list(value)[:4]} names a listed subgoal "
                              f"({'; '.join(subgoals)})")
    return out


def parse_times(text: str, subgoals: Sequence[str]) -> dict[str, list[int]]:
    """CALM's trajectory answer, ``{subgoal: time}``, keyed by the listed subgoal names; a time may also be a
    list of times, a digit string, or null/false (not achieved)."""
    try:
        value = extract_json(text, (dict,), accept=lambda v: _names_any(v, subgoals) or not v)
    except ReplyParseError:
        value = extract_json(text, (dict,))
    out: dict[str, list[int]] = {}
    for key, when in value.items():
        name = match_subgoal(key, subgoals)
        if name is None or when is None or when is False:
            continue
        times = when if isinstance(when, list) else [when]
        for t in times:
            if isinstance(t, bool) or not isinstance(t, (int, float, str)) or not str(t).strip().lstrip("-").isdigit():
                raise ReplyParseError(f"expected an integer time for subgoal {key!r}, got {when!r}")
            out.setdefault(name, []).append(int(str(t).strip()) if isinstance(t, str) else int(t))
    if value and not out and any(v not in (None, False) for v in value.values()):
        raise ReplyParseError(f"none of the reply's keys {list(value)[:4]} names a listed subgoal "
                              f"({'; '.join(subgoals)})")
    return out


__all__ = ["ReplyParseError", "SUBGOALS_PROMPT_VERSION", "CALM_PROMPT_VERSION", "subgoal_messages",
           "decomposition_messages", "transition_messages", "trajectory_messages", "extract_json",
           "parse_subgoal_list", "parse_string_list", "parse_flags", "parse_times", "match_subgoal", "normalise_name"]
