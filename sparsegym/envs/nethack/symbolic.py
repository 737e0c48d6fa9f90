"""NetHack's and MiniHack's documented symbolic state: what reward code written by a language model may read.

:func:`symbolic_state` reads the game's bottom-line statistics (``blstats``) by name, the last message,
a small crop of the map around the agent, where the staircases are, and the inventory when the env
carries it, as a dict of plain Python data; :data:`SCHEMA` documents each field for the prompt. It
reads the observation the env returned when it holds the keys, and the game's last observation
otherwise (so ``obs="glyphs"`` envs work too).

>>> import sparsegym
>>> env = sparsegym.make("sparsegym/MiniHack-Room-5x5-v0")
>>> obs, _ = env.reset(seed=0)
>>> state = symbolic_state(env, obs)
>>> state["depth"], state["hp"] > 0, state["around"][2][2]
(1, True, '@')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsegym.envs.nethack.text import action_names as _names
from sparsegym.envs.nethack.text import decode

#: blstats fields by name (nle.nethack's NLE_BL_* indices; a test checks them against nle).
BLSTATS = {"x": 0, "y": 1, "strength": 2, "dexterity": 4, "constitution": 5, "intelligence": 6, "wisdom": 7,
           "charisma": 8, "score": 9, "hp": 10, "max_hp": 11, "depth": 12, "gold": 13, "energy": 14,
           "max_energy": 15, "armor_class": 16, "experience_level": 18, "experience_points": 19, "time": 20,
           "hunger": 21, "encumbrance": 22, "dungeon_number": 23, "dungeon_level": 24}
#: Half the side of the map crop around the agent (5x5 by default).
CROP = 2

SCHEMA = """\
- x, y: ints, the agent's column (0-78) and row (0-20) on the map; y grows downward.
- hp, max_hp: ints, hit points now and at most. The agent dies at 0.
- depth: int, how deep the current level is (1 = the first level); dungeon_number, dungeon_level: ints, NetHack's dungeon branch and level.
- gold: int; score: int, the in-game score; time: int, game turns elapsed.
- experience_level, experience_points: ints.
- energy, max_energy, armor_class (lower is better), strength (3-25), dexterity, constitution, intelligence, wisdom, charisma: ints.
- hunger: int, 0 not hungry, 1 hungry, 2 weak, 3 fainting (higher is worse); encumbrance: int, 0 unencumbered and up.
- message: str, the game's message of this step ("" when none), e.g. "You see here a key." or "The door opens.".
- around: list of 5 strs of 5 chars each, the map around the agent, row by row from north to south; the agent is the "@" at around[2][2].
  Map characters: "." floor, "#" corridor (or tree/sink), "|" and "-" walls (or open doors), "+" closed door (or spellbook), ">" stairs down, "<" stairs up,
  "{" fountain, "^" trap, "`" boulder, "$" gold, letters are monsters, ")" "[" "%" "?" "/" "=" "!" "(" '"' "*" are items; " " unexplored or outside the map.
- stairs_down, stairs_up: tuple (x, y) of the nearest visible staircase down (">") or up ("<"), or None when none is on the map.
- inventory: list of tuples (letter, description) of strs, e.g. ("a", "a +1 long sword (weapon in hand)"); empty when the env does not observe the inventory.
- steps: int, steps taken so far in this episode (0 after reset)."""


def _array(env: Any, observation: Any, key: str) -> np.ndarray | None:
    """Observation ``key`` from the observation when it has it, else from the game's last observation."""
    if isinstance(observation, dict) and key in observation:
        return np.asarray(observation[key])
    core = getattr(env.unwrapped, "core", env.unwrapped)
    keys = list(getattr(core, "_observation_keys", ()))
    last = getattr(core, "last_observation", ())
    if key in keys and len(last) > keys.index(key):
        return np.asarray(last[keys.index(key)])
    return None


def _nearest(chars: np.ndarray, char: str, x: int, y: int) -> tuple[int, int] | None:
    ys, xs = np.nonzero(chars == ord(char))
    if len(xs) == 0:
        return None
    i = int(np.argmin(np.abs(xs - x) + np.abs(ys - y)))
    return (int(xs[i]), int(ys[i]))


def symbolic_state(env: Any, observation: Any = None) -> dict[str, Any]:
    """The state of :data:`SCHEMA` for ``env`` (any wrapping of a sparsegym NetHack/MiniHack env)."""
    bl = _array(env, observation, "blstats")
    if bl is None:
        raise TypeError("the NetHack symbolic state needs blstats, which this env does not observe")
    state: dict[str, Any] = {name: int(bl[i]) for name, i in BLSTATS.items()}
    message = _array(env, observation, "message")
    state["message"] = decode(message) if message is not None else ""
    chars = _array(env, observation, "chars")
    x, y = state["x"], state["y"]
    if chars is not None:
        padded = np.pad(chars, CROP, constant_values=ord(" "))
        crop = padded[y:y + 2 * CROP + 1, x:x + 2 * CROP + 1]
        state["around"] = [bytes(row.astype(np.uint8)).decode("latin-1") for row in crop]
        state["stairs_down"], state["stairs_up"] = _nearest(chars, ">", x, y), _nearest(chars, "<", x, y)
    else:
        state["around"], state["stairs_down"], state["stairs_up"] = [], None, None
    letters, strs = _array(env, observation, "inv_letters"), _array(env, observation, "inv_strs")
    inventory = []
    if letters is not None and strs is not None:
        for letter, text in zip(letters, strs):
            if int(letter) == 0:
                break
            inventory.append((chr(int(letter)), decode(text)))
    state["inventory"] = inventory
    core = getattr(env.unwrapped, "core", env.unwrapped)
    state["steps"] = int(getattr(core, "_steps", 0) or 0)
    return state


def action_names(env: Any) -> list[str]:
    """The env's actions by index (``"north"``, ``"far east"``, ``"pickup"``, ...)."""
    return _names(env.unwrapped.actions)


def describe_task(env: Any) -> str:
    """The task in a few sentences: its id, and whether it has a goal or asks for a score."""
    spec = getattr(env, "spec", None) or getattr(env.unwrapped, "spec", None)
    name = spec.id if spec is not None else getattr(env.unwrapped, "task", "NetHack")
    if getattr(env.unwrapped, "has_goal", True):
        goal = ("It has a goal: the episode succeeds when the goal is reached (in MiniHack's navigation tasks, "
                "standing on the staircase down '>'); the task's reward is paid then.")
    else:
        goal = "It is open-ended: there is no goal, the task's reward follows the in-game score."
    return f"The NetHack/MiniHack task {name}, a roguelike seen as a character map. {goal}"
