"""A scripted stand-in for the LLM of the subgoal wrappers on MiniGrid: rules, ground truth, chosen noise.

No language model runs here. :class:`ScriptedAnnotator` is the ``reply`` of a
:class:`~sparsegym.llm.testing.ScriptedLLMServer`, so the wrappers talk to it over the same HTTP path as to a
real model, and it answers every prompt of :mod:`sparsegym.llm.subgoal_prompts` from the prompt's own text,
which is what a perfect reader of that text could know:

* **level subgoals** (Words as Beacons): it reads :func:`~sparsegym.envs.minigrid.level.describe_level`'s
  lists and plans by rule: for each locked door, its key (going to the box that holds it first), then the
  door; then the mission's target object. It does not look at the map, so it does not plan around closed
  doors or balls in the way (the oracle's plan does: the two differ on purpose);
* **decomposition** (CALM): from the mission alone, "pick up the key", "open the door", then the mission's
  own target;
* **transition and trajectory labels** (CALM): it compares consecutive observations of the text view
  (what is carried, the door in front and its state, the episode's message) and labels the subgoals whose
  events happened: the ground truth, read from the text.

``noise`` corrupts the answers at that rate: in subgoal lists each entry is, with probability ``noise``,
dropped, swapped with the next, or replaced by a distractor (another object, a random cell); in labels
each true label is dropped or swapped for another subgoal (transitions) or moved 1-2 steps off (trajectories),
and a false positive is added with probability ``noise`` per transition sent (per trajectory chunk).
``malformed`` is the rate of replies with no usable JSON. Replies vary in form (bare JSON, a fenced block
with prose, single-quoted python) as models' replies do. Everything is drawn from a generator seeded by the
prompt and ``seed``, so the same prompt always gets the same answer (as at temperature 0).

Every output that uses it should say so. Serve it under its :attr:`ScriptedAnnotator.model_name`
(:data:`MODEL_NAME` plus its settings): caches key answers by model, so annotators with different noise
must not share a name.

>>> from sparsegym.llm.testing import ScriptedLLMServer
>>> annotator = ScriptedAnnotator(noise=0.2)
>>> annotator.model_name
'scripted-annotator-noise0.2'
>>> with ScriptedLLMServer(reply=annotator, models=[annotator.model_name]) as server:
...     pass  # point LLMSubgoals / LLMSubgoalCredit at server.base_url, model=annotator.model_name
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import Any

from sparsegym.envs.minigrid.level import subgoal_kind
from sparsegym.llm.subgoal_prompts import (
    DECOMPOSE_MARKER,
    GAMEPLAY_TAG,
    LEVEL_TAG,
    TRAJECTORY_MARKER,
    TRANSITION_MARKER,
)

MODEL_NAME = "scripted-annotator"

_MISSION = re.compile(r"^Mission: (.+)$", re.M)
_DOOR = re.compile(r"^- an? (open|closed|locked) (\w+) door at \((\d+), (\d+)\)", re.M)
_OBJECT = re.compile(r"^- an? (\w+) (key|ball|box) at \((\d+), (\d+)\)(?:, in room \d+)?(?:, holding an? (\w+) (\w+))?",
                     re.M)
_ROOM = re.compile(r"^- room \d+: x (\d+) to (\d+), y (\d+) to (\d+)", re.M)
_TASK = re.compile(r"^The agent's task: (.+)$", re.M)
_PICK = re.compile(r"pick up (?:the |a |an )?(?:(red|green|blue|purple|yellow|grey) )?(key|ball|box)")
_CARRYING = re.compile(r"You are carrying (.+?)\.$", re.M)
_FRONT = re.compile(r"Directly in front of you: (.+?)\.$", re.M)
_DOOR_PHRASE = re.compile(r"\b(open|closed|locked) (\w+) door")


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else " ".join(
                str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
    return str(request.get("prompt", ""))


class ScriptedAnnotator:
    """Answers the subgoal wrappers' prompts by rule from the prompt's text, with ``noise`` (see the module).

    Args:
        noise: rate of corrupted subgoals and labels, in [0, 1].
        malformed: rate of replies with no usable JSON (an unusable answer the wrappers must record).
        seed: varies the draws (the same prompt and seed always give the same reply).
        varied_format: reply in several forms (fenced, with prose, python literals); False: bare JSON.
    """

    def __init__(self, noise: float = 0.0, malformed: float = 0.0, seed: int = 0, varied_format: bool = True):
        for label, value in (("noise", noise), ("malformed", malformed)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{label} must be in [0, 1], got {value}")
        self.noise, self.malformed, self.seed, self.varied_format = float(noise), float(malformed), int(seed), varied_format

    @property
    def model_name(self) -> str:
        """:data:`MODEL_NAME` with the settings that change answers (none at their defaults)."""
        parts = [MODEL_NAME]
        if self.noise:
            parts.append(f"noise{self.noise:g}")
        if self.malformed:
            parts.append(f"malformed{self.malformed:g}")
        if self.seed:
            parts.append(f"seed{self.seed}")
        if not self.varied_format:
            parts.append("plain")
        return "-".join(parts)

    def __call__(self, request: dict[str, Any]) -> str:
        text = _last_user_text(request)
        rng = random.Random(hashlib.sha256(f"{self.seed}\n{self.noise}\n{text}".encode()).digest())
        if rng.random() < self.malformed:
            return rng.choice(["I think the agent should look around first and then decide.",
                               "Sure! The subgoals are: find things, then finish the task.",
                               '[{"type": "teleport", "to": "the goal"}]'])
        if LEVEL_TAG in text:
            return self._format(self.level_subgoals(text, rng), rng)
        if GAMEPLAY_TAG in text and TRANSITION_MARKER in text:
            return self._format(self.transition_labels(text, rng), rng)
        if GAMEPLAY_TAG in text and TRAJECTORY_MARKER in text:
            return self._format(self.trajectory_labels(text, rng), rng)
        if DECOMPOSE_MARKER in text:
            return self._format(self.decompose(text), rng)
        return "I do not know what is asked."

    # -- forms of a reply -----------------------------------------------------------------------------

    def _format(self, value: Any, rng: random.Random) -> str:
        data = json.dumps(value)
        if not self.varied_format:
            return data
        style = rng.randrange(4)
        if style == 0:
            return data
        if style == 1:
            return f"Here is my answer.\n```json\n{json.dumps(value, indent=1)}\n```"
        if style == 2:
            return f"Looking at the text carefully:\n{data}\nThat is all."
        return repr(value)  # a python literal: single quotes, True/False

    # -- Words as Beacons: subgoals of a level -----------------------------------------------------------

    def level_subgoals(self, text: str, rng: random.Random) -> list[dict[str, Any]]:
        mission = (_MISSION.search(text) or [None, ""])[1]
        doors = [(state, color, int(x), int(y)) for state, color, x, y in _DOOR.findall(text)]
        objects = [(color, kind, int(x), int(y), holds_color or None, holds or None)
                   for color, kind, x, y, holds_color, holds in _OBJECT.findall(text)]
        plan: list[dict[str, Any]] = []
        for state, color, x, y in doors:
            if state != "locked":
                continue
            loose = [o for o in objects if o[1] == "key" and o[0] == color]
            boxed = [o for o in objects if o[1] == "box" and o[4] == color and o[5] == "key"]
            if not loose and boxed:
                plan.append({"type": "adjacent_to", "object": "box", "color": boxed[0][0]})
            plan.append(self._entry("picked_up", rng, object="key", color=color))
            plan.append(self._entry("opened_door", rng, color=color, pos=[x, y]))
        m = _PICK.search(mission)
        if m:
            target = {"type": "adjacent_to", "object": m.group(2)}
            if m.group(1):
                target["color"] = m.group(1)
            plan.append(target)
        return self._corrupt(plan, text, objects, rng)

    @staticmethod
    def _entry(kind: str, rng: random.Random, **fields: Any) -> dict[str, Any]:
        """A typed entry, or now and then the same as a short instruction (both are in the format)."""
        if rng.random() < 0.3:
            if kind == "picked_up":
                return {"type": "instruction", "text": f"pick up the {fields['color']} {fields['object']}"}
            return {"type": "instruction", "text": f"open the {fields['color']} door"}
        return {"type": kind, **fields}

    def _corrupt(self, plan: list[dict[str, Any]], text: str, objects: list[tuple], rng: random.Random) -> list[dict[str, Any]]:
        out = list(plan)
        i = 0
        while i < len(out):
            if rng.random() < self.noise:
                what = rng.choice(("drop", "swap", "distractor"))
                if what == "drop":
                    del out[i]
                    continue
                if what == "swap" and i + 1 < len(out):
                    out[i], out[i + 1] = out[i + 1], out[i]
                    i += 2
                    continue
                out[i] = self._distractor(text, objects, rng)
            i += 1
        return out

    @staticmethod
    def _distractor(text: str, objects: list[tuple], rng: random.Random) -> dict[str, Any]:
        rooms = [tuple(map(int, r)) for r in _ROOM.findall(text)]
        if objects and (not rooms or rng.random() < 0.5):
            color, kind = rng.choice(objects)[:2]
            return {"type": "adjacent_to", "object": kind, "color": color}
        if rooms:
            x0, x1, y0, y1 = rng.choice(rooms)
            return {"type": "reached_position", "pos": [rng.randint(x0, x1), rng.randint(y0, y1)]}
        return {"type": "adjacent_to", "object": "ball"}

    # -- CALM: decomposition and labels ---------------------------------------------------------------

    @staticmethod
    def decompose(text: str) -> list[str]:
        mission = (_TASK.search(text) or [None, ""])[1].strip().rstrip(".")
        steps = ["pick up the key", "open the door"]
        m = _PICK.search(mission)
        if m:
            target = f"pick up the {m.group(1) + ' ' if m.group(1) else ''}{m.group(2)}"
            if target != "pick up the key":
                steps.append(target)
        elif "goal" in mission:
            steps.append("go to the goal")
        elif "door" not in mission and mission:
            steps.append(mission)
        return steps

    @staticmethod
    def _subgoals(text: str) -> list[str]:
        block = text.split("Its subgoals:\n", 1)[-1].split("\n\n", 1)[0]
        return [m.group(1) for m in re.finditer(r"^\d+\. (.+)$", block, re.M)]

    @staticmethod
    def _events(before: str, after: str, message: str, mission: str) -> list[str]:
        """Event kinds between two observation texts (the ground truth the text shows)."""
        kinds = []
        held_before = (_CARRYING.search(before) or [None, "nothing"])[1]
        held_after = (_CARRYING.search(after) or [None, "nothing"])[1]
        if held_after != "nothing" and held_after != held_before:
            kinds.append(f"picked up {held_after.split()[-1]}")
        front_before = (_FRONT.search(before) or [None, ""])[1]
        front_after = (_FRONT.search(after) or [None, ""])[1]
        was, now = _DOOR_PHRASE.search(front_before), _DOOR_PHRASE.search(front_after)
        if was and now and was.group(1) != "open" and now.group(1) == "open" and was.group(2) == now.group(2):
            kinds.append("opened door")
        if "mission is accomplished" in message and "goal" in mission:
            kinds.append("reached goal")
        return kinds

    @staticmethod
    def _names(kinds: list[str], subgoals: list[str]) -> list[str]:
        return [s for s in subgoals if subgoal_kind(s) in kinds]

    def transition_labels(self, text: str, rng: random.Random) -> dict[str, bool]:
        subgoals = self._subgoals(text)
        play = text.split(GAMEPLAY_TAG, 1)[1].split("</gameplay>", 1)[0]
        before = play.split("Before:\n", 1)[-1].split("\nAction:", 1)[0]
        after_part = play.split("After:\n", 1)[-1]
        after, _, message = after_part.partition("\nMessage: ")
        mission = (_TASK.search(text) or [None, ""])[1]
        true = self._names(self._events(before, after, message, mission), subgoals)
        labels = {s: s in true for s in subgoals}
        for name in true:
            if rng.random() < self.noise:
                labels[name] = False
                others = [s for s in subgoals if s != name]
                if others and rng.random() < 0.5:  # swapped for another subgoal
                    labels[rng.choice(others)] = True
        if not true and subgoals and rng.random() < self.noise:
            labels[rng.choice(subgoals)] = True
        return labels

    def trajectory_labels(self, text: str, rng: random.Random) -> dict[str, int]:
        subgoals = self._subgoals(text)
        play = text.split(GAMEPLAY_TAG, 1)[1].split("</gameplay>", 1)[0]
        blocks = re.split(r"^Time (\d+):\n", play, flags=re.M)[1:]
        steps = [(int(blocks[i]), blocks[i + 1]) for i in range(0, len(blocks), 2)]
        mission = (_TASK.search(text) or [None, ""])[1]
        labels: dict[str, int] = {}
        for (_, before), (t, after) in zip(steps, steps[1:]):
            message = (re.search(r"^Message: (.+)$", after, re.M) or [None, ""])[1]
            obs_before = before.split("Observation:\n", 1)[-1]
            obs_after = after.split("Observation:\n", 1)[-1]
            for name in self._names(self._events(obs_before, obs_after, message, mission), subgoals):
                labels.setdefault(name, t)
        if not steps:
            return labels
        first, last = steps[0][0], steps[-1][0]
        for name in list(labels):
            if rng.random() < self.noise:
                if rng.random() < 0.5:
                    del labels[name]
                else:  # the right subgoal at the wrong time
                    labels[name] = min(last, max(first + 1, labels[name] + rng.choice((-2, -1, 1, 2))))
        missing = [s for s in subgoals if s not in labels]
        if missing and last > first and rng.random() < self.noise:
            labels[rng.choice(missing)] = rng.randint(first + 1, last)
        return labels


__all__ = ["ScriptedAnnotator", "MODEL_NAME"]
