"""Generate ALFWorld games offline, in ALFWorld's own on-disk format.

ALFWorld's dataset (``json_2.1.1``) cannot be downloaded everywhere, but the ``alfworld`` package ships
what a game is made of: the PDDL domain (``data/alfred.pddl``), the TextWorld grammar
(``data/alfred.twl2``), and for each of ALFRED's 120 AI2-THOR floor plans the object types present
(``gen/layouts/FloorPlan<N>-objects.json``), the receptacles with the pose the agent stands at to use
them (``FloorPlan<N>-openable.json``) and the reachable floor positions (``FloorPlan<N>-layout.npy``).

A game here is one folder, exactly as ALFWorld's ``AlfredTWEnv`` walks for:

* ``traj_data.json``: ``task_type``, ``pddl_params`` (``object_target``, ``parent_target``,
  ``toggle_target``, ``mrecep_target``, ``object_sliced``), ``scene`` (floor plan, scene number,
  random seed), ``turk_annotations`` (the templated task description) and ``task_id``; what ALFWorld's
  handcoded expert and ``AlfredTWEnv`` read.
* ``game.tw-pddl``: JSON with ``pddl_domain``, ``grammar`` (the task description substituted for
  ``UNKNOWN GOAL``, as ``alfworld-generate`` does), ``pddl_problem``, ``solvable`` and ``walkthrough``.

How a game is made (:func:`generate_game`), deterministically from ``(task type, split, index)``:

1. A floor plan is drawn from the split's floor plans among the room types ALFRED allows for the task
   type (``GOALS_VALID``: heat and cool only in kitchens, look-in-light only in living rooms and bedrooms,
   clean in kitchens and bathrooms).
2. The scene: every receptacle of ``openable.json`` (name and location as in ALFRED's problems), plus
   one instance of each static receptacle type that ``objects.json`` lists but ``openable.json`` lacks
   (a toaster, a coffee machine...) at a free floor position. Every pickupable object type of
   ``objects.json`` gets 1-3 instances, each put in a random receptacle that ALFRED's
   ``VAL_RECEPTACLE_OBJECTS`` allows it in; desk and floor lamps stand on a table-like receptacle.
3. The goal: an object type and a receptacle type that can hold it (plus a lamp for look-in-light), with
   the task's appliance present (sink basin, microwave, fridge); the target's instances never start in a
   receptacle of the goal's type, so no goal holds at the start. Pick-two gets at least two instances.
   The ``:goal`` is ALFRED's own for the task type (``alfworld.gen.goal_library``).
4. The game is played by ALFWorld's handcoded expert in ALFWorld's text engine (``PddlEnv`` with the
   same wrappers ``alfworld-generate`` uses); it is kept only if the expert wins within ``max_steps``
   (50, ALFWorld's episode limit), and the expert's commands are stored as the ``walkthrough``.
   Otherwise the next candidate scene is drawn.

Games are cached on disk under ``<cache>/<task type>/<split>/<index>/``, written to a temporary folder
first and renamed into place, so parallel workers never see half-written games; a second request for
the same game reads the folder.

Splits (ALFRED's scene split, ``alfworld.gen.constants``): ``train`` and ``seen`` use the training floor
plans 7-30 of each room type (kitchens 1-30, living rooms 201-230, bedrooms 301-330, bathrooms 401-430),
with disjoint game seeds; ``unseen`` uses the held-out floor plans 1-6 of each room type, which no
train game uses. This mirrors ALFWorld's ``valid_seen``/``valid_unseen``.

What is not generated: sliced objects and movable receptacles (ALFWorld's text engine skips those
games too), and ALFRED's human-written task descriptions (the templated ones are used, as ALFWorld
does by default).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparsegym.envs.alfworld._paths import games_cache, import_alfworld, package_file
from sparsegym.errors import ConfigError, SparseGymError

#: ALFWorld's six task types, in ALFWorld's order (``alfred_tw_env.TASK_TYPES``).
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
#: Short names used in env ids.
TASK_SHORT: dict[str, str] = {
    "PickAndPlace": "pick_and_place_simple",
    "LookAtInLight": "look_at_obj_in_light",
    "Clean": "pick_clean_then_place_in_recep",
    "Heat": "pick_heat_then_place_in_recep",
    "Cool": "pick_cool_then_place_in_recep",
    "PickTwo": "pick_two_obj_and_place",
}
SPLITS: tuple[str, ...] = ("train", "seen", "unseen")
#: Games per split that the envs draw from (indices 0..n-1; generated lazily, on first use).
#: ``seen``/``unseen`` mirror the sizes of ALFWorld's valid_seen (140) and valid_unseen (134).
POOL_SIZES: dict[str, int] = {"train": 10_000, "seen": 140, "unseen": 134}
#: Bump when a change to the generator changes the games; part of the cache path.
GENERATOR_VERSION = 1

_ROOM_RANGES = {"Kitchen": (1, 31), "LivingRoom": (201, 231), "Bedroom": (301, 331), "Bathroom": (401, 431)}
_HELD_OUT = 6  # floor plans 1-6 of each room type are the unseen ones (ALFRED's test scenes)
_LAMPS = ("DeskLamp", "FloorLamp")
_LAMP_STANDS = ("Desk", "SideTable", "Dresser", "CoffeeTable", "DiningTable", "TVStand", "Shelf")
#: The appliance a task type needs, and receptacle types that make no sense as its goal.
_APPLIANCE = {
    "pick_clean_then_place_in_recep": "SinkBasin",
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
}
_ACTION_CLASS = {
    "pick_clean_then_place_in_recep": "Cleanable",
    "pick_heat_then_place_in_recep": "Heatable",
    "pick_cool_then_place_in_recep": "Coolable",
}
_MAX_ATTEMPTS = 30


class GameFileError(SparseGymError, ValueError):
    """A game folder whose ``traj_data.json`` or ``game.tw-pddl`` is missing or malformed."""


class GenerationError(SparseGymError, RuntimeError):
    """No solvable game was found for a (task type, split, index) within the attempt budget."""


def _constants() -> Any:
    import_alfworld()
    import alfworld.gen.constants as constants

    return constants


def floor_plans(split: str, task_type: str | None = None) -> list[int]:
    """Floor plan numbers of ``split``, restricted to the room types ALFRED allows for ``task_type``."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    rooms = list(_ROOM_RANGES)
    if task_type is not None:
        rooms = [r for r in rooms if r in _constants().GOALS_VALID[task_type]]
    out = []
    for room in rooms:
        lo, hi = _ROOM_RANGES[room]
        if split == "unseen":
            out.extend(range(lo, lo + _HELD_OUT))
        else:
            out.extend(range(lo + _HELD_OUT, hi))
    return out


def game_seed(task_type: str, split: str, index: int) -> int:
    """The generator seed of a game: a stable hash of its key (same on every machine and Python)."""
    digest = hashlib.sha256(f"alfworld/v{GENERATOR_VERSION}/{task_type}/{split}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


# -- names as ALFRED writes them --------------------------------------------------------------------

_PDDL_CHARS = (("-", "_minus_"), ("|", "_bar_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_"))


def pddl_name(name: str) -> str:
    """ALFRED's escaping of an object id for PDDL (``Apple|+00.10|...`` -> ``Apple_bar__plus_00_dot_10...``)."""
    for a, b in _PDDL_CHARS:
        name = name.replace(a, b)
    return name


def _object_id(kind: str, x: float, y: float, z: float) -> str:
    return f"{kind}|{x:+06.2f}|{y:+06.2f}|{z:+06.2f}"


def _location(x: float, z: float, rotation: int, horizon: int) -> str:
    return f"loc|{int(round(x / 0.25))}|{int(round(z / 0.25))}|{int(rotation) // 90 % 4}|{int(horizon)}"


@dataclass
class Scene:
    """A sampled scene: receptacles with their locations, objects with the receptacle holding them."""

    floor_plan: int
    receptacles: dict[str, str] = field(default_factory=dict)  # id -> type
    receptacle_location: dict[str, str] = field(default_factory=dict)  # id -> location
    objects: dict[str, str] = field(default_factory=dict)  # id -> type
    object_in: dict[str, str] = field(default_factory=dict)  # object id -> receptacle id
    agent_location: str = ""

    def receptacles_of(self, kind: str) -> list[str]:
        return [r for r, t in self.receptacles.items() if t == kind]


@dataclass(frozen=True)
class Goal:
    task_type: str
    object_target: str
    parent_target: str = ""
    toggle_target: str = ""

    @property
    def pddl_params(self) -> dict[str, Any]:
        return {"object_target": self.object_target, "parent_target": self.parent_target,
                "toggle_target": self.toggle_target, "mrecep_target": "", "object_sliced": False}


def _layout(floor_plan: int) -> tuple[list[str], dict[str, list[float]], np.ndarray]:
    base = package_file("gen", "layouts")
    kinds = json.loads((base / f"FloorPlan{floor_plan}-objects.json").read_text())
    poses = json.loads((base / f"FloorPlan{floor_plan}-openable.json").read_text())
    points = np.load(base / f"FloorPlan{floor_plan}-layout.npy")
    return kinds, poses, points


def _receptacle_type(rid: str) -> str:
    parts = rid.split("|")
    return parts[-1] if len(parts) == 5 else parts[0]  # "Sink|x|y|z|SinkBasin" is a SinkBasin


def _build_receptacles(floor_plan: int, rng: np.random.Generator) -> tuple[Scene, list[str], np.ndarray]:
    c = _constants()
    static = set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES)
    kinds, poses, points = _layout(floor_plan)
    scene = Scene(floor_plan)
    used_locations: set[str] = set()

    def place(rid: str, loc: str) -> None:
        while loc in used_locations:  # one receptacle per location keeps "go to" unambiguous
            parts = loc.split("|")
            loc = "|".join(parts[:4] + [str(int(parts[4]) + 15)])
        used_locations.add(loc)
        scene.receptacles[rid] = _receptacle_type(rid)
        scene.receptacle_location[rid] = loc

    for rid in sorted(poses):
        if _receptacle_type(rid) in static:
            x, z, rot, hor = poses[rid]
            place(rid, _location(x, z, rot, hor))
    present = set(scene.receptacles.values())
    for kind in sorted(set(kinds)):
        if kind in static and kind not in present:
            px, pz = points[rng.integers(len(points))]
            rid = _object_id(kind, px + rng.uniform(-0.5, 0.5), rng.uniform(0.0, 1.5), pz + rng.uniform(-0.5, 0.5))
            place(rid, _location(px, pz, int(rng.integers(4)) * 90, 30))
    free = [p for p in points if _location(p[0], p[1], 0, 0) not in used_locations]
    start = free[rng.integers(len(free))] if free else points[0]
    scene.agent_location = _location(start[0], start[1], int(rng.integers(4)) * 90, 30)
    while scene.agent_location in used_locations:
        scene.agent_location = scene.agent_location + "0"
    return scene, kinds, points


def _holders(scene: Scene, kind: str) -> list[str]:
    """Receptacles of the scene that may hold an object of type ``kind``."""
    if kind in _LAMPS:
        return [r for r, t in scene.receptacles.items() if t in _LAMP_STANDS]
    allowed = _constants().VAL_RECEPTACLE_OBJECTS
    return [r for r, t in scene.receptacles.items() if kind in allowed.get(t, ())]


def _choose_goal(task_type: str, scene: Scene, kinds: list[str], rng: np.random.Generator) -> Goal | None:
    c = _constants()
    static = set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES)
    present_r = set(scene.receptacles.values())
    pickable = sorted({k for k in kinds if k in c.OBJECTS and k not in static and k not in _LAMPS
                       and "Sliced" not in k and _holders(scene, k)})
    appliance = _APPLIANCE.get(task_type)
    if appliance and appliance not in present_r:
        return None
    if task_type in _ACTION_CLASS:
        pickable = [k for k in pickable if k in c.VAL_ACTION_OBJECTS[_ACTION_CLASS[task_type]]]
    if task_type == "look_at_obj_in_light":
        lamps = [k for k in _LAMPS if k in kinds and _holders(scene, k)]
        if not lamps or not pickable:
            return None
        return Goal(task_type, str(rng.choice(pickable)), toggle_target=str(rng.choice(lamps)))
    pairs = []
    for obj in pickable:
        for parent in sorted(present_r):
            if parent == appliance or parent in ("SinkBasin", "BathtubBasin") and task_type != "pick_and_place_simple":
                continue
            if obj not in c.VAL_RECEPTACLE_OBJECTS.get(parent, ()):
                continue
            # the target must start somewhere that is not the goal's receptacle type
            if not [r for r in _holders(scene, obj) if scene.receptacles[r] != parent]:
                continue
            pairs.append((obj, parent))
    if not pairs:
        return None
    obj, parent = pairs[int(rng.integers(len(pairs)))]
    return Goal(task_type, obj, parent_target=parent)


def _populate(scene: Scene, kinds: list[str], goal: Goal, points: np.ndarray, rng: np.random.Generator) -> None:
    c = _constants()
    static = set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES)
    wanted = sorted({k for k in kinds if (k in c.OBJECTS and k not in static and "Sliced" not in k)})
    if goal.toggle_target and goal.toggle_target not in wanted:
        wanted.append(goal.toggle_target)
    used_ids: set[str] = set()
    for kind in wanted:
        holders = _holders(scene, kind)
        if kind == goal.object_target and goal.parent_target:
            holders = [r for r in holders if scene.receptacles[r] != goal.parent_target]
        if not holders:
            continue
        if kind in _LAMPS:
            count = 1 if kind == goal.toggle_target or rng.random() < 0.5 else 0
        elif kind == goal.object_target and goal.task_type == "pick_two_obj_and_place":
            count = int(rng.integers(2, 4))
        else:
            count = int(rng.integers(1, 4))
        for _ in range(count):
            rid = holders[int(rng.integers(len(holders)))]
            # object ids carry made-up coordinates near their receptacle's, in ALFRED's format
            base = [float(v) for v in rid.split("|")[1:4]]
            for _ in range(100):
                oid = _object_id(kind, *(v + rng.uniform(-0.4, 0.4) for v in base))
                if oid not in used_ids:
                    break
            used_ids.add(oid)
            scene.objects[oid] = kind
            scene.object_in[oid] = rid


def _problem(scene: Scene, goal: Goal, name: str) -> str:
    """The PDDL problem, laid out like ALFRED's ``initial_state.pddl``."""
    c = _constants()
    import alfworld.gen.goal_library as glib

    static = sorted(set(c.RECEPTACLES) - set(c.MOVABLE_RECEPTACLES))
    otypes = sorted(set(c.OBJECTS_SET) - set(static))
    p = pddl_name
    objects = sorted(scene.objects)
    receptacles = sorted(scene.receptacles)
    locations = sorted(set(scene.receptacle_location.values()) | {scene.agent_location})
    decl = ["agent1 - agent"]
    decl += [f"{t}Type - otype" for t in otypes]
    decl += [f"{t}Type - rtype" for t in static]
    decl += [f"{p(o)} - object" for o in objects]
    decl += [f"{p(r)} - receptacle" for r in receptacles]
    decl += [f"{p(loc)} - location" for loc in locations]

    init = []
    init += [f"(receptacleType {p(r)} {scene.receptacles[r]}Type)" for r in receptacles]
    init += [f"(objectType {p(o)} {scene.objects[o]}Type)" for o in objects]
    present_o = sorted(set(scene.objects.values()))
    for rt in sorted(set(scene.receptacles.values())):
        init += [f"(canContain {rt}Type {ot}Type)" for ot in present_o if ot in c.VAL_RECEPTACLE_OBJECTS.get(rt, ())]
    init += [f"(pickupable {p(o)})" for o in objects if scene.objects[o] not in _LAMPS]
    init += [f"(isReceptacleObject {p(o)})" for o in objects if scene.objects[o] in c.MOVABLE_RECEPTACLES_SET]
    init += [f"(openable {p(r)})" for r in receptacles if scene.receptacles[r] in c.OPENABLE_CLASS_SET]
    init.append(f"(atLocation agent1 {p(scene.agent_location)})")
    for prop, cls in (("cleanable", "Cleanable"), ("heatable", "Heatable"), ("coolable", "Coolable"),
                      ("sliceable", "Sliceable")):
        init += [f"({prop} {p(o)})" for o in objects if scene.objects[o] in c.VAL_ACTION_OBJECTS[cls]]
    init += [f"(toggleable {p(o)})" for o in objects if scene.objects[o] in _LAMPS]
    init += [f"(inReceptacle {p(o)} {p(scene.object_in[o])})" for o in objects]
    init += [f"(receptacleAtLocation {p(r)} {p(scene.receptacle_location[r])})" for r in receptacles]
    init += [f"(objectAtLocation {p(o)} {p(scene.receptacle_location[scene.object_in[o]])})" for o in objects]

    goal_pddl = glib.gdict[goal.task_type]["pddl"].format(
        obj=goal.object_target, recep=goal.parent_target, toggle=goal.toggle_target, mrecep="")
    goal_pddl = goal_pddl.replace("#", "-")  # ALFRED writes types as "?x # type" and escapes them later
    sep = "\n        "
    return (f"\n(define (problem {name})\n(:domain alfred)\n(:objects\n        {sep.join(decl)}\n        )\n\n"
            f"(:init\n        {sep.join(init)}\n        )\n\n{goal_pddl}")


def task_description(goal: Goal, rng: np.random.Generator) -> str:
    """One of ALFRED's templates for the goal, filled in (as ``alfworld``'s templated descriptions)."""
    import_alfworld()
    import alfworld.gen.goal_library as glib

    templates = glib.gdict[goal.task_type]["templates"]
    template = templates[int(rng.integers(len(templates)))]
    return template.format(obj=goal.object_target.lower(), recep=goal.parent_target.lower(),
                           toggle=goal.toggle_target.lower(), mrecep="")


def _game_files(scene: Scene, goal: Goal, seed: int, name: str, rng: np.random.Generator) -> tuple[dict, dict]:
    desc = task_description(goal, rng)
    grammar = package_file("data", "alfred.twl2").read_text().replace("UNKNOWN GOAL", desc)
    traj = {
        "task_type": goal.task_type,
        "task_id": name,
        "pddl_params": goal.pddl_params,
        "scene": {"floor_plan": f"FloorPlan{scene.floor_plan}", "scene_num": scene.floor_plan,
                  "random_seed": seed % (2**31)},
        "turk_annotations": {"anns": [{"task_desc": desc, "high_descs": [], "votes": []}]},
        "generator": {"name": "sparsegym.envs.alfworld.generator", "version": GENERATOR_VERSION},
    }
    game = {
        "pddl_domain": package_file("data", "alfred.pddl").read_text(),
        "grammar": grammar,
        "pddl_problem": _problem(scene, goal, name),
        "solvable": None,
        "walkthrough": None,
    }
    return traj, game


# -- verification with ALFWorld's handcoded expert ---------------------------------------------------

def _expert_wrapper() -> type:
    """ALFWorld's ``AlfredExpert`` wrapper, its handcoded agent patched for alfworld 0.4.x's syntax.

    alfworld 0.4 renamed "put X in/on Y" to "move X to Y" and the expert now *issues* "move", but its
    state tracking still looks for "put" in the last command to know that it emptied its hands. So after
    its first placement it believes it still holds the object, and pick-two games fail or wander
    (measured: most pick-two games lost). The patch shows the tracker the old form of a "move" command;
    nothing else of the expert changes.
    """
    import_alfworld()
    from alfworld.agents.environment.alfred_tw_env import AlfredExpert
    from alfworld.agents.expert import HandCodedTWAgent

    from sparsegym.envs.alfworld.actions import to_legacy

    class _Agent(HandCodedTWAgent):
        def act(self, game_state, reward, done, last_action=""):  # noqa: ANN001, ANN201
            action = self.policy.act(game_state, to_legacy(last_action))
            if action == last_action or (last_action == "look" and action not in game_state["admissible_commands"]):
                return random.choice(game_state["admissible_commands"])
            return action

    class _Expert(AlfredExpert):
        def load(self, gamefile):  # noqa: ANN001, ANN201
            with open(gamefile) as f:  # PddlEnv.load(path) would leave the file open
                data = json.load(f)
            super().load(data)
            self.gamefile = gamefile  # the expert reads traj_data.json next to it
            self._handcoded_expert = _Agent(max_steps=200)

    return _Expert


def expert_walkthrough(game_file: str | os.PathLike, max_steps: int = 50, seed: int = 0) -> list[str] | None:
    """Play ``game_file`` with ALFWorld's handcoded expert; its commands if it wins within ``max_steps``.

    Uses the engine and wrappers ``alfworld-generate`` uses to check games (``PddlEnv``, the demangler,
    ``AlfredExpert``). The expert breaks ties with Python's ``random``; it is seeded with ``seed`` here
    and the global state restored afterwards, so the walkthrough is reproducible.
    """
    import_alfworld()
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs import PddlEnv

    infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["gamefile", "expert_plan"])
    env = _expert_wrapper()(AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False)), expert_type="handcoded")
    saved = random.getstate()
    random.seed(seed)
    commands: list[str] = []
    try:
        env.load(str(game_file))
        state = env.reset()
        for _ in range(max_steps):
            command = state["extra.expert_plan"][0]
            state, _, done = env.step(command)
            commands.append(command)
            if state["won"]:
                return commands
            if done:
                break
    except Exception:  # the expert gives up by raising (timeouts, no plan): not solvable by it
        return None
    finally:
        random.setstate(saved)
        env.close()
    return None


# -- the public entry points --------------------------------------------------------------------------

def game_dir(task_type: str, split: str, index: int, cache_dir: str | os.PathLike | None = None) -> Path:
    root = Path(cache_dir) if cache_dir is not None else games_cache()
    return root / f"v{GENERATOR_VERSION}" / task_type / split / f"{index:06d}"


def _check_key(task_type: str, split: str, index: int) -> None:
    if task_type not in TASK_TYPES:
        raise ConfigError(f"unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not 0 <= int(index) < POOL_SIZES[split]:
        raise ConfigError(f"game index {index} out of range for split {split!r} (0..{POOL_SIZES[split] - 1})")


def generate_game(
    task_type: str,
    split: str,
    index: int,
    cache_dir: str | os.PathLike | None = None,
    max_steps: int = 50,
) -> Path:
    """The folder of game ``index`` of ``(task_type, split)``, generating and verifying it if needed.

    Returns the folder holding ``traj_data.json`` and ``game.tw-pddl``. Deterministic: the same key
    gives the same files on every machine. Raises :class:`GenerationError` if no candidate scene was
    solved by the expert within ``_MAX_ATTEMPTS`` tries (not seen in practice).
    """
    _check_key(task_type, split, index)
    final = game_dir(task_type, split, index, cache_dir)
    if (final / "game.tw-pddl").is_file() and (final / "traj_data.json").is_file():
        return final
    seed = game_seed(task_type, split, index)
    rng = np.random.default_rng(seed)
    plans = floor_plans(split, task_type)
    final.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(_MAX_ATTEMPTS):
        floor_plan = int(plans[int(rng.integers(len(plans)))])
        scene, kinds, points = _build_receptacles(floor_plan, rng)
        goal = _choose_goal(task_type, scene, kinds, rng)
        if goal is None:
            continue
        _populate(scene, kinds, goal, points, rng)
        if not any(t == goal.object_target for t in scene.objects.values()):
            continue
        name = f"sparsegym_{task_type}_{split}_{index:06d}"
        traj, game = _game_files(scene, goal, seed, name, rng)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        try:
            (tmp / "traj_data.json").write_text(json.dumps(traj, indent=1))
            (tmp / "game.tw-pddl").write_text(json.dumps(game))
            walkthrough = expert_walkthrough(tmp / "game.tw-pddl", max_steps=max_steps, seed=seed % (2**31))
            if walkthrough is None:
                continue
            game["solvable"] = True
            game["walkthrough"] = walkthrough
            traj["generator"]["attempt"] = attempt
            (tmp / "traj_data.json").write_text(json.dumps(traj, indent=1))
            (tmp / "game.tw-pddl").write_text(json.dumps(game))
            try:
                os.rename(tmp, final)  # atomic; loses the race harmlessly if another worker finished first
            except OSError:
                if not (final / "game.tw-pddl").is_file():
                    raise
            return final
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    raise GenerationError(f"no game of {task_type}/{split}/{index} was solved by the expert in {_MAX_ATTEMPTS} tries")


def generate_games(
    task_types: list[str] | None = None,
    split: str = "train",
    n: int = 10,
    start: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> list[tuple[Path, float]]:
    """Generate ``n`` games per task type (indices ``start..start+n-1``); returns (folder, seconds) pairs."""
    out = []
    for task_type in task_types or list(TASK_TYPES):
        for index in range(start, start + n):
            t0 = time.perf_counter()
            path = generate_game(task_type, split, index, cache_dir=cache_dir)
            out.append((path, time.perf_counter() - t0))
    return out
