"""The one table of every sparsegym environment id.

Each row (:class:`EnvEntry`) says how to build the env, how long its episodes may run, which tags it
carries and which ``pip`` extra it needs. ``import sparsegym`` registers every row with Gymnasium;
nothing here imports an optional dependency, so the import stays fast.

Adding an env is adding a row. ``scripts/gen_env_table.py`` renders this table into docs/envs.md, and
a test fails when that page is out of date.

**Tags** are plain labels on rows (``minigrid``, ``minigrid-hard``, ``textworld-test``, ``box-obs``,
...): ``list_envs(tag=...)``, ``sparsegym list --tag T`` and ``sparsegym check --tag T`` select by one
tag, and a :class:`TagQuery` (all of / any of / none of several tags) selects by several. A *suite* is
something else: a seeded leaderboard suite (``sparsegym.leaderboards.suites``), which is defined by a
tag query over this table. (Tags were called "suites" before; the old spellings still work and warn.)

**Box-observation variants.** Single-file RL scripts (CleanRL's ``ppo.py`` and the like) accept only an
env id and read ``envs.single_observation_space.shape``, which a ``Dict`` observation does not have.
So every row of a family whose observation has one array that can stand alone also gets a variant id
that observes only that array, made from the row by one rule:

    ``sparsegym/<Family>-<Task>-v<N>``  ->  ``sparsegym/<Family>-<Task>-<Key>-v<N>``

where ``<Key>`` is the kept observation key, capitalised (:data:`BOX_OBS_KEYS`: ``image`` for
MiniGrid and BabyAI, ``glyphs`` for NetHack and MiniHack) and ``N`` is the base id's version. E.g.
``sparsegym/MiniGrid-DoorKey-5x5-Image-v0`` is ``make("sparsegym/MiniGrid-DoorKey-5x5-v0",
obs="image")``, and ``sparsegym/MiniHack-Room-5x5-Glyphs-v0`` is ``make("sparsegym/MiniHack-Room-5x5-v0",
obs="glyphs")``. A variant is the same task (dynamics, rewards, step limit, seeds) and names its base in
``EnvEntry.base_id``. Its only tag is :data:`BOX_OBS_TAG` (``box-obs``): it does not inherit its base's
tags, so every other tag selects the same ids as before the variants existed (code that loops over
``list_envs(tag="minigrid-hard")`` does not train each task twice), and a leaderboard suite, which
scores tasks rather than observation formats, never includes one. :func:`box_variant` maps a base id to
its variant. The variants are generated from the table below, never written as rows.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import gymnasium

from sparsegym.errors import ConfigError

NAMESPACE = "sparsegym"


@dataclass(frozen=True)
class EnvEntry:
    """One registered environment.

    Attributes:
        id: full Gymnasium id, ``sparsegym/<Family>-<Task>-v<N>``.
        family: env family (``minigrid``, ``nethack``, ...); one subpackage of ``sparsegym.envs``.
        entry_point: ``module:callable`` that builds the env from ``kwargs``.
        kwargs: default keyword arguments of the entry point (a user's ``make`` kwargs override).
        max_episode_steps: the step limit after which an episode is truncated; None where it
            changes from episode to episode (BabyAI's BossLevel sets it from the mission's length).
        limit_in_env: True when the env itself truncates at ``max_episode_steps`` (MiniGrid does,
            and its reward depends on the limit), so no Gymnasium ``TimeLimit`` is stacked on top.
        tags: labels that ``list_envs(tag=...)``, ``sparsegym list --tag`` and ``sparsegym check --tag``
            select by, and that leaderboard suites are defined by (see :class:`TagQuery`).
        extra: the ``pip install "sparsegym[extra]"`` that provides the env's dependencies (``core``:
            none beyond ``pip install sparsegym``).
        description: one line for tables.
        base_id: for a Box-observation variant (see the module docstring), the id it is a variant
            of; None for every row written in the table.
        order_enforce: whether Gymnasium wraps the env to refuse ``step`` before ``reset`` (False for
            envs that check it themselves).
    """

    id: str
    family: str
    entry_point: str
    kwargs: Mapping[str, object]
    max_episode_steps: int | None
    tags: tuple[str, ...]
    extra: str
    description: str
    limit_in_env: bool = True
    base_id: str | None = None
    order_enforce: bool = True

    @property
    def name(self) -> str:
        """The id without its namespace."""
        return self.id.split("/", 1)[-1]

    @property
    def suites(self) -> tuple[str, ...]:
        """Deprecated spelling of :attr:`tags` (a "suite" is now only a seeded leaderboard suite)."""
        warnings.warn("EnvEntry.suites is deprecated; use EnvEntry.tags", DeprecationWarning, stacklevel=2)
        return self.tags


# --------------------------------------------------------------------------------------------------
# MiniGrid family. Each row wraps one upstream minigrid task (``task=``) in the sparsegym observation
# contract (see sparsegym/envs/minigrid/env.py). Step limits are minigrid's own defaults; a test
# checks they still match the installed minigrid.

_MG = "sparsegym.envs.minigrid.env:make_minigrid"


def _minigrid(
    name: str,
    upstream: str,
    limit: int | None,
    tags: Iterable[str],
    description: str,
    **kwargs: object,
) -> EnvEntry:
    return EnvEntry(
        id=f"{NAMESPACE}/{name}",
        family="minigrid",
        entry_point=_MG,
        kwargs=MappingProxyType({"task": upstream, **kwargs}),
        max_episode_steps=limit,
        tags=("minigrid", *tags),
        extra="minigrid",
        description=description,
    )


# "smoke": the five quickest easy tasks (the "smoke" leaderboard suite runs them).
_E, _H, _B, _S = "minigrid-easy", "minigrid-hard", "babyai", "smoke"

_MINIGRID_ROWS: list[EnvEntry] = [
    _minigrid("MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-5x5-v0", 250, [_E, _S], "pick up the key, unlock the door, reach the goal"),
    _minigrid("MiniGrid-DoorKey-8x8-v0", "MiniGrid-DoorKey-8x8-v0", 640, [], "DoorKey in an 8x8 room"),
    _minigrid("MiniGrid-DoorKey-16x16-v0", "MiniGrid-DoorKey-16x16-v0", 2560, [_H], "DoorKey in a 16x16 room"),
    _minigrid("MiniGrid-Unlock-v0", "MiniGrid-Unlock-v0", 288, [_E, _S], "find the key and open the locked door"),
    _minigrid("MiniGrid-UnlockPickup-v0", "MiniGrid-UnlockPickup-v0", 288, [], "unlock a door, pick up the box behind it"),
    _minigrid("MiniGrid-BlockedUnlockPickup-v0", "MiniGrid-BlockedUnlockPickup-v0", 576, [_H], "move a ball blocking the door, unlock it, pick up the box"),
    _minigrid("MiniGrid-KeyCorridorS3R1-v0", "MiniGrid-KeyCorridorS3R1-v0", 270, [_E, _S], "find a key, unlock a room, pick up the ball (1 row)"),
    _minigrid("MiniGrid-KeyCorridorS3R3-v0", "MiniGrid-KeyCorridorS3R3-v0", 270, [], "KeyCorridor, rooms of size 3, 3 rows"),
    _minigrid("MiniGrid-KeyCorridorS4R3-v0", "MiniGrid-KeyCorridorS4R3-v0", 480, [_H], "KeyCorridor, rooms of size 4, 3 rows"),
    _minigrid("MiniGrid-KeyCorridorS5R3-v0", "MiniGrid-KeyCorridorS5R3-v0", 750, [_H], "KeyCorridor, rooms of size 5, 3 rows"),
    _minigrid("MiniGrid-KeyCorridorS6R3-v0", "MiniGrid-KeyCorridorS6R3-v0", 1080, [_H], "KeyCorridor, rooms of size 6, 3 rows"),
    _minigrid("MiniGrid-MultiRoom-N2-S4-v0", "MiniGrid-MultiRoom-N2-S4-v0", 40, [_E, _S], "cross 2 rooms (size <= 4) to the goal"),
    # minigrid's MultiRoom-N4-S5-v0 builds 6 rooms (a known upstream bug); v1 builds the 4 its name says.
    _minigrid("MiniGrid-MultiRoom-N4-S5-v0", "MiniGrid-MultiRoom-N4-S5-v1", 80, [_H], "cross 4 rooms (size <= 5) to the goal"),
    _minigrid("MiniGrid-MultiRoom-N6-v0", "MiniGrid-MultiRoom-N6-v0", 120, [_H], "cross 6 rooms to the goal"),
    _minigrid("MiniGrid-FourRooms-v0", "MiniGrid-FourRooms-v0", 100, [_H], "reach the goal in one of four rooms"),
    _minigrid("MiniGrid-LockedRoom-v0", "MiniGrid-LockedRoom-v0", 190, [_H], "fetch a key from one room to unlock another"),
    _minigrid("MiniGrid-ObstructedMaze-1Dlh-v0", "MiniGrid-ObstructedMaze-1Dlh-v0", 288, [_H], "key hidden in a box, locked door, pick up the ball"),
    _minigrid("MiniGrid-ObstructedMaze-2Dlh-v0", "MiniGrid-ObstructedMaze-2Dlh-v0", 576, [_H], "two locked doors with keys in boxes"),
    # Full-v1 is minigrid's fixed version of ObstructedMaze-Full.
    _minigrid("MiniGrid-ObstructedMaze-Full-v0", "MiniGrid-ObstructedMaze-Full-v1", 3600, [_H], "the full obstructed maze: boxes, blocked and locked doors"),
    _minigrid("MiniGrid-MemoryS7-v0", "MiniGrid-MemoryS7-v0", 245, [_E], "remember an object, pick the matching one (short hallway)"),
    _minigrid("MiniGrid-MemoryS13-v0", "MiniGrid-MemoryS13-v0", 845, [_H], "remember an object, pick the matching one (long hallway)"),
    _minigrid("BabyAI-GoToRedBallGrey-v0", "BabyAI-GoToRedBallGrey-v0", 64, [_E, _B, _S], "go to the red ball among grey distractors"),
    _minigrid("BabyAI-GoToLocal-v0", "BabyAI-GoToLocal-v0", 64, [_E, _B], "go to an object named in the mission"),
    _minigrid("BabyAI-PickupLoc-v0", "BabyAI-PickupLoc-v0", 64, [_E, _B], "pick up an object described by colour, type or location"),
    _minigrid("BabyAI-PutNextLocal-v0", "BabyAI-PutNextLocal-v0", 128, [_B], "put one object next to another"),
    _minigrid("BabyAI-UnlockLocal-v0", "BabyAI-UnlockLocal-v0", 576, [_B], "open a locked door in a 3x3 maze of rooms"),
    _minigrid("BabyAI-KeyInBox-v0", "BabyAI-KeyInBox-v0", 576, [_H, _B], "open a door whose key is hidden in a box"),
    _minigrid("BabyAI-BossLevel-v0", "BabyAI-BossLevel-v0", None, [_H, _B], "compositional instructions in a 3x3 maze of rooms"),
]

# Stochastic variants used by the curiosity literature (noisy TV: Burda et al. 2018; sticky actions:
# Machado et al. 2018). Any MiniGrid id also takes ``noisy_tv=True`` / ``sticky_prob=p`` in make().
_VARIANT_BASES = {
    "MiniGrid-DoorKey-8x8": ("MiniGrid-DoorKey-8x8-v0", 640),
    "MiniGrid-KeyCorridorS3R3": ("MiniGrid-KeyCorridorS3R3-v0", 270),
    "MiniGrid-MultiRoom-N4-S5": ("MiniGrid-MultiRoom-N4-S5-v1", 80),
    "MiniGrid-FourRooms": ("MiniGrid-FourRooms-v0", 100),
}
# All noisy-TV rows first, then all sticky ones: the "minigrid-stochastic" leaderboard suite lists its
# ids in this table's order, and its stored results have them in this order.
for _name, (_up, _limit) in _VARIANT_BASES.items():
    _MINIGRID_ROWS.append(
        _minigrid(f"{_name}-NoisyTV-v0", _up, _limit, ["noisy-tv"],
                  f"{_name} plus a noisy-TV action that fills the view with random noise", noisy_tv=True)
    )
for _name, (_up, _limit) in _VARIANT_BASES.items():
    _MINIGRID_ROWS.append(
        _minigrid(f"{_name}-Sticky-v0", _up, _limit, ["sticky"],
                  f"{_name} where the previous action repeats with probability 0.25", sticky_prob=0.25)
    )

# --------------------------------------------------------------------------------------------------
# Bandits (numpy only: extra "core"). Instance seeds are fixed per id, so an id names one instance;
# the reset seed drives only the noise. For the DynLin ids the instance seed is the one among 0-11 whose
# immediate-best action (argmax theta^T a) loses the most steady-state value against the best action:
# the instances where ignoring the dynamics costs the most. DynLinBandit-v0 is the short name of
# DynLinBandit-Rho07-v0 (same instance): tagged "alias", so nothing selects the instance twice; it is
# kept (not a new instance) because tests and docs use the short id. That selection favours learners
# that model the dynamics, so the v0 DynLin ids are not neutral benchmarks: DynLinBandit-Mussi2023-*
# is the DLB paper's synthetic system (authors' config/testcase_synt_sigma*.json), chosen by nobody
# here. The LSD v0 families are trivial (greedy or a short cycle is optimal); LSDBandit-Recharging-v1
# (delay-dependent payoffs, mu(+k) = mu(-1)) and LSDBandit-Monotone-v1 (monotone payoffs as in
# Foussoul et al. 2023) use the first instance seed from 0 where greedy earns at most 90% of the DP
# optimum over 1000 rounds. The new rows are tagged "bandits-paper", not "bandits", so the pinned
# "bandits" leaderboard suite is unchanged (adding them is a leaderboard decision).


def _bandit(name: str, entry_point: str, horizon: int, description: str, tags: Iterable[str] = (),
            family_tag: str = "bandits", **kwargs: object) -> EnvEntry:
    return EnvEntry(id=f"{NAMESPACE}/{name}", family="bandits", entry_point=entry_point,
                    kwargs=MappingProxyType({"horizon": horizon, **kwargs}), max_episode_steps=horizon,
                    tags=(family_tag, *tags), extra="core", description=description)


_DL = "sparsegym.envs.bandits.dynlin:make_dynlin"
_LSD = "sparsegym.envs.bandits.lsd:make_lsd"
_DLM = "sparsegym.envs.bandits.dynlin:make_mussi2023"
_BANDIT_ROWS = [
    _bandit("DynLinBandit-v0", _DL, 1000, "dynamical linear bandit, rho 0.7, 6 arms in R^2, hidden state in R^3",
            tags=["alias"], rho=0.7, instance_seed=3),
    _bandit("DynLinBandit-Rho03-v0", _DL, 1000, "dynamical linear bandit, fast dynamics (rho 0.3)", rho=0.3, instance_seed=1),
    _bandit("DynLinBandit-Rho07-v0", _DL, 1000, "dynamical linear bandit, rho 0.7", rho=0.7, instance_seed=3),
    _bandit("DynLinBandit-Rho09-v0", _DL, 1000, "dynamical linear bandit, slow dynamics (rho 0.9)", rho=0.9, instance_seed=3),
    _bandit("DynLinBandit-Rho07-D4-v0", _DL, 1000, "dynamical linear bandit, 10 arms in R^4, hidden state in R^5, rho 0.7",
            n=5, d=4, k=10, rho=0.7, instance_seed=11),
    _bandit("DynLinBandit-Continuous-Rho07-v0", _DL, 1000, "dynamical linear bandit, actions in [0, 1]^2, rho 0.7",
            rho=0.7, instance_seed=3, continuous=True),
    _bandit("LSDBandit-Satiating-v0", _LSD, 1000, "last-switch-dependent bandit, 3 arms that tire when repeated",
            family="satiating", instance_seed=0),
    _bandit("LSDBandit-Recharging-v0", _LSD, 1000, "last-switch-dependent bandit, 3 arms that recharge when rested",
            family="recharging", instance_seed=0),
    _bandit("LSDBandit-Monotone-v0", _LSD, 1000, "last-switch-dependent bandit, 3 arms that tire and recharge",
            family="monotone", instance_seed=0),
    _bandit("DynLinBandit-Mussi2023-v0", _DLM, 10_000, "the DLB paper's synthetic system (n = d = 3, rho 0.2, noise 0.01, "
            "6 budget allocations)", family_tag="bandits-paper", sigma=0.01),
    _bandit("DynLinBandit-Mussi2023-Sigma01-v0", _DLM, 10_000, "the DLB paper's synthetic system with noise 0.1",
            family_tag="bandits-paper", sigma=0.1),
    _bandit("LSDBandit-Recharging-v1", _LSD, 1000, "last-switch-dependent bandit, 3 delay-dependent (recharging) arms: "
            "a streak pays like a one-round rest", family_tag="bandits-paper", family="delayed", instance_seed=1),
    _bandit("LSDBandit-Monotone-v1", _LSD, 1000, "last-switch-dependent bandit, 3 arms with monotone payoffs "
            "(recharge when rested, tire on a streak)", family_tag="bandits-paper", family="monotone-strict", instance_seed=1),
]

# --------------------------------------------------------------------------------------------------
# NetHack and MiniHack (extra "nethack"). Step limits are the upstream ones (a test checks them).
# Left out: MiniHack's Boxoban tasks (they need a level download); its LavaCrossing/SimpleCrossing
# ports (they do not build with minigrid 3.x); NetHackChallenge, which refuses chosen seeds inside the
# game itself (by design, against seed hacking), so it cannot meet the seeded-determinism contract:
# use nle's own "NetHackChallenge-v0" for it.

_NH = "sparsegym.envs.nethack.env:make_nethack"


def _nethack(name: str, upstream: str, limit: int, tags: Iterable[str], description: str) -> EnvEntry:
    return EnvEntry(id=f"{NAMESPACE}/{name}", family="nethack", entry_point=_NH,
                    kwargs=MappingProxyType({"task": upstream}), max_episode_steps=limit,
                    tags=("nethack", *tags), extra="nethack", description=description,
                    # NetHack envs check the reset-before-step order themselves at no cost per step (see
                    # NetHackTask); Gymnasium's wrapper for it is a call layer on every ~20 us step.
                    order_enforce=False)


_NLE, _NAV, _SKILL, _E3B = "nle", "minihack-navigation", "minihack-skills", "minihack-e3b"
_NETHACK_ROWS = [
    _nethack("NetHack-Score-v0", "NetHackScore-v0", 5000, [_NLE], "full NetHack, reward: in-game score"),
    _nethack("NetHack-Staircase-v0", "NetHackStaircase-v0", 5000, [_NLE], "full NetHack, reach the stairs down"),
    _nethack("NetHack-StaircasePet-v0", "NetHackStaircasePet-v0", 5000, [_NLE], "reach the stairs down with the pet next to you"),
    _nethack("NetHack-Oracle-v0", "NetHackOracle-v0", 5000, [_NLE], "find the Oracle"),
    _nethack("NetHack-Gold-v0", "NetHackGold-v0", 5000, [_NLE], "collect gold"),
    _nethack("NetHack-Eat-v0", "NetHackEat-v0", 5000, [_NLE], "eat (reward: nutrition)"),
    _nethack("NetHack-Scout-v0", "NetHackScout-v0", 5000, [_NLE], "explore (reward: newly seen squares)"),
    _nethack("MiniHack-Room-5x5-v0", "MiniHack-Room-5x5-v0", 100, [_NAV], "reach the stairs in a 5x5 room"),
    _nethack("MiniHack-Room-15x15-v0", "MiniHack-Room-15x15-v0", 300, [_NAV], "reach the stairs in a 15x15 room"),
    _nethack("MiniHack-Room-Ultimate-15x15-v0", "MiniHack-Room-Ultimate-15x15-v0", 300, [_NAV], "dark room with monsters and traps"),
    _nethack("MiniHack-KeyRoom-S5-v0", "MiniHack-KeyRoom-S5-v0", 200, [_NAV], "fetch a key, unlock a room, reach the stairs"),
    _nethack("MiniHack-KeyRoom-S15-v0", "MiniHack-KeyRoom-S15-v0", 400, [_NAV], "KeyRoom in a 15x15 layout"),
    _nethack("MiniHack-Corridor-R3-v0", "MiniHack-Corridor-R3-v0", 1000, [_NAV], "rooms joined by corridors (3 rooms)"),
    _nethack("MiniHack-Corridor-R5-v0", "MiniHack-Corridor-R5-v0", 1000, [_NAV], "rooms joined by corridors (5 rooms)"),
    _nethack("MiniHack-River-Narrow-v0", "MiniHack-River-Narrow-v0", 350, [_NAV], "push a boulder into a river to cross it"),
    _nethack("MiniHack-River-v0", "MiniHack-River-v0", 350, [_NAV], "push two boulders into a river to cross it"),
    _nethack("MiniHack-MazeWalk-9x9-v0", "MiniHack-MazeWalk-9x9-v0", 200, [_NAV], "find the stairs in a 9x9 maze"),
    _nethack("MiniHack-MazeWalk-15x15-v0", "MiniHack-MazeWalk-15x15-v0", 1000, [_NAV], "find the stairs in a 15x15 maze"),
    _nethack("MiniHack-Quest-Easy-v0", "MiniHack-Quest-Easy-v0", 500, [_SKILL], "cross lava with an item, fight, reach the goal"),
    _nethack("MiniHack-Quest-Medium-v0", "MiniHack-Quest-Medium-v0", 1000, [_SKILL], "Quest with a maze and monsters"),
    _nethack("MiniHack-Quest-Hard-v0", "MiniHack-Quest-Hard-v0", 1000, [_SKILL], "Quest with a maze, lava and a Minotaur"),
    _nethack("MiniHack-MultiRoom-N4-v0", "MiniHack-MultiRoom-N4-v0", 120, [_NAV], "cross 4 rooms"),
    _nethack("MiniHack-MultiRoom-N6-v0", "MiniHack-MultiRoom-N6-v0", 240, [_NAV], "cross 6 rooms"),
    _nethack("MiniHack-MultiRoom-N6-Locked-v0", "MiniHack-MultiRoom-N6-Locked-v0", 240, [_NAV], "6 rooms, locked doors (kick them)"),
    _nethack("MiniHack-MultiRoom-N6-Lava-v0", "MiniHack-MultiRoom-N6-Lava-v0", 240, [_NAV, _E3B], "6 rooms with lava walls"),
    _nethack("MiniHack-MultiRoom-N4-Extreme-v0", "MiniHack-MultiRoom-N4-Extreme-v0", 120, [_NAV], "4 rooms, locked doors, lava, monsters"),
    _nethack("MiniHack-MultiRoom-N10-OpenDoor-v0", "MiniHack-MultiRoom-N10-OpenDoor-v0", 360, [_NAV, _E3B], "10 rooms, open doors"),
    _nethack("MiniHack-MultiRoom-N4-Locked-v0", "MiniHack-MultiRoom-N4-Locked-v0", 120, [_NAV, _E3B], "4 rooms, locked doors (kick them)"),
    _nethack("MiniHack-MultiRoom-N6-Lava-OpenDoor-v0", "MiniHack-MultiRoom-N6-Lava-OpenDoor-v0", 240, [_NAV, _E3B], "6 rooms with lava walls, open doors"),
    _nethack("MiniHack-MultiRoom-N6-LavaMonsters-v0", "MiniHack-MultiRoom-N6-LavaMonsters-v0", 240, [_NAV, _E3B], "6 rooms with lava walls and monsters"),
    _nethack("MiniHack-MultiRoom-N10-Lava-OpenDoor-v0", "MiniHack-MultiRoom-N10-Lava-OpenDoor-v0", 360, [_NAV, _E3B], "10 rooms with lava walls, open doors"),
    _nethack("MiniHack-Labyrinth-Big-v0", "MiniHack-Labyrinth-Big-v0", 1000, [_NAV, _E3B], "find the goal in a big labyrinth"),
    _nethack("MiniHack-Freeze-Horn-Restricted-v0", "MiniHack-Freeze-Horn-Restricted-v0", 250, [_SKILL, _E3B], "freeze a lava river with a horn of frost"),
    _nethack("MiniHack-Freeze-Wand-Restricted-v0", "MiniHack-Freeze-Wand-Restricted-v0", 250, [_SKILL, _E3B], "freeze a lava river with a wand of cold"),
    _nethack("MiniHack-Freeze-Random-Restricted-v0", "MiniHack-Freeze-Random-Restricted-v0", 250, [_SKILL, _E3B], "freeze a lava river with a wand of cold or a horn of frost (random)"),
    _nethack("MiniHack-Levitate-Potion-Restricted-v0", "MiniHack-Levitate-Potion-Restricted-v0", 250, [_SKILL, _E3B], "drink a potion of levitation to cross lava"),
    _nethack("MiniHack-Levitate-Boots-Restricted-v0", "MiniHack-Levitate-Boots-Restricted-v0", 250, [_SKILL, _E3B], "wear levitation boots to cross lava"),
    _nethack("MiniHack-WoD-Medium-Restricted-v0", "MiniHack-WoD-Medium-Restricted-v0", 150, [_SKILL], "pick up a wand of death, kill a monster, reach the goal"),
    _nethack("MiniHack-WoD-Hard-Restricted-v0", "MiniHack-WoD-Hard-Restricted-v0", 400, [_SKILL, _E3B], "pick up a wand of death, kill a minotaur in the corridor, reach the goal"),
    _nethack("MiniHack-LavaCross-Restricted-v0", "MiniHack-LavaCross-Restricted-v0", 250, [_SKILL, _E3B], "cross lava with a levitation potion, ring or boots (random)"),
    _nethack("MiniHack-LavaCross-Levitate-Potion-Inv-Restricted-v0", "MiniHack-LavaCross-Levitate-Potion-Inv-Restricted-v0", 400, [_SKILL], "cross lava with a potion in the inventory"),
    _nethack("MiniHack-Eat-v0", "MiniHack-Eat-v0", 250, [_SKILL], "eat an apple"),
    _nethack("MiniHack-Wield-v0", "MiniHack-Wield-v0", 250, [_SKILL], "wield a dagger"),
]

# --------------------------------------------------------------------------------------------------
# TextWorld (extra "text"). Games are made with TextWorld's generator on first use and cached
# (sparsegym/envs/textworld/games.py); the reset seed picks the game. Each challenge has a train id
# and a "-Test" id over disjoint game seeds (and TextWorld's held-out object sets where it has them);
# the leaderboard runs the Test ids. W2-O3-Q4 and W4-O6-Q8 are the custom-game settings of "A
# Practitioner's Guide to Multi-turn Agentic RL" (rooms, objects, quest length).

_TW = "sparsegym.envs.textworld.env:make_textworld"


def _textworld(name: str, limit: int, description: str, challenge: str, **settings: object) -> list[EnvEntry]:
    rows = []
    for split, suffix in (("train", ""), ("test", "-Test")):
        rows.append(EnvEntry(
            id=f"{NAMESPACE}/TextWorld-{name}{suffix}-v0", family="textworld", entry_point=_TW,
            kwargs=MappingProxyType({"challenge": challenge, "settings": dict(settings), "split": split}),
            max_episode_steps=limit, tags=("textworld", f"textworld-{split}"), extra="text",
            description=description + (" (held-out test games)" if split == "test" else ""),
            limit_in_env=False,
        ))
    return rows


_TEXTWORLD_ROWS = [
    *_textworld("W2-O3-Q4", 50, "2 rooms, 3 objects, a 4-step quest", "custom", world_size=2, nb_objects=3, quest_length=4),
    *_textworld("W4-O6-Q8", 100, "4 rooms, 6 objects, an 8-step quest", "custom", world_size=4, nb_objects=6, quest_length=8),
    *_textworld("Simple", 100, "tw-simple: 6 rooms, dense score for each step of the quest", "simple", rewards="dense", goal="detailed"),
    *_textworld("CoinCollector-L5", 50, "find the coin along a chain of rooms (level 5)", "coin_collector", level=5),
    *_textworld("TreasureHunter-L10", 100, "find and take the named object among distractors (level 10)", "treasure_hunter", level=10),
    *_textworld("Cooking", 100, "read the recipe, fetch, cut and cook 2 ingredients, eat the meal (6 rooms)",
                "cooking", recipe=2, take=1, go=6, open=True, cook=True, cut=True),
]

# --------------------------------------------------------------------------------------------------
# ALFWorld (extra "text"): ALFWorld's text engine on games generated offline in ALFWorld's format (or the
# real dataset when $ALFWORLD_DATA holds json_2.1.1; see sparsegym/envs/alfworld/env.py). One id per
# task type plus the mixed one, all tagged "alfworld"; the -Unseen ids (also tagged "alfworld-unseen")
# play held-out floor plans (ALFWorld's valid_unseen idea) and make the "alfworld" leaderboard suite. split="seen" gives held-in floor plans with unseen games.
# 50 steps is ALFWorld's evaluation limit; the env truncates itself.

_AW = "sparsegym.envs.alfworld.env:make_alfworld"
_ALFWORLD_TASKS = [
    ("", "mixed", "ALFWorld household tasks, all six types mixed"),
    ("PickAndPlace-", "PickAndPlace", "ALFWorld: find an object and put it in/on a receptacle"),
    ("LookAtInLight-", "LookAtInLight", "ALFWorld: pick up an object and look at it under a lamp"),
    ("Clean-", "Clean", "ALFWorld: clean an object in the sink, then put it in/on a receptacle"),
    ("Heat-", "Heat", "ALFWorld: heat an object in the microwave, then put it in/on a receptacle"),
    ("Cool-", "Cool", "ALFWorld: cool an object in the fridge, then put it in/on a receptacle"),
    ("PickTwo-", "PickTwo", "ALFWorld: put two objects of one type in/on a receptacle"),
]


def _alfworld(name: str, task: str, split: str, tags: Iterable[str], description: str) -> EnvEntry:
    return EnvEntry(id=f"{NAMESPACE}/{name}", family="alfworld", entry_point=_AW,
                    kwargs=MappingProxyType({"task": task, "split": split}), max_episode_steps=50,
                    tags=tuple(tags), extra="text", description=description)


def _alfworld_tags(task: str, *tags: str) -> list[str]:
    # The ids that mix all six task types are also tagged "alfworld-mixed" (the leaderboard suite
    # scores the six types one by one, so it leaves them out).
    return ["alfworld", *tags, *(["alfworld-mixed"] if task == "mixed" else [])]


_ALFWORLD_ROWS = [
    _alfworld(f"ALFWorld-{name}v0", task, "train", _alfworld_tags(task), desc) for name, task, desc in _ALFWORLD_TASKS
] + [
    _alfworld(f"ALFWorld-{name}Unseen-v0", task, "unseen", _alfworld_tags(task, "alfworld-unseen"),
              desc + " (held-out floor plans)")
    for name, task, desc in _ALFWORLD_TASKS
]

# --------------------------------------------------------------------------------------------------
# WebShop (extra "webshop"): sparsegym's own WebShop on a shipped, generated catalog (5,000 products,
# synthetic goals made as the original makes them), or on the original's data files (-Real ids, from
# $WEBSHOP_DATA). Splits as the original's: test goals 0-499, dev 500-1499, train 1500 on. The original
# has no step limit; 15 is ReAct's and verl-agent's budget. Each row is also tagged with its split
# (webshop-test, webshop-dev, webshop-train). v1: the reward and synthetic goals follow the original exactly
# (thefuzz, its colour words, option pairs, sorted option names); v0 differed on a few purchases in a
# hundred and ordered synthetic goals differently.

_WS = "sparsegym.envs.webshop.env:make_webshop"


def _webshop(name: str, split: str, source: str, tags: Iterable[str], description: str) -> EnvEntry:
    return EnvEntry(id=f"{NAMESPACE}/{name}", family="webshop", entry_point=_WS,
                    kwargs=MappingProxyType({"split": split, "source": source}), max_episode_steps=15,
                    tags=(*tags, f"webshop-{split}"), extra="webshop", description=description, limit_in_env=False)


_WEBSHOP_ROWS = [
    _webshop("WebShop-v1", "test", "catalog", ["webshop"], "buy the product an instruction asks for (shipped catalog, test goals)"),
    _webshop("WebShop-Dev-v1", "dev", "catalog", ["webshop"], "WebShop on the shipped catalog, dev goals (500-1499)"),
    _webshop("WebShop-Train-v1", "train", "catalog", ["webshop"], "WebShop on the shipped catalog, training goals (1500 on)"),
    _webshop("WebShop-Real-v1", "test", "real", ["webshop-real"], "the original WebShop data (needs $WEBSHOP_DATA), test goals 0-499"),
    _webshop("WebShop-Real-Train-v1", "train", "real", ["webshop-real"], "the original WebShop data (needs $WEBSHOP_DATA), training goals"),
]

# --------------------------------------------------------------------------------------------------
# Software repair (extra "swe": pyseccomp for the local sandbox's filter, docker for the Docker runtime;
# the sandbox also needs bubblewrap, a system package). The shipped
# tasks are bugs injected by AST mutation into vendored projects and validated by their tests
# (sparsegym/envs/swe/maker.py); SWE-Gym-Files takes a user's SWE-bench/SWE-Gym file (tasks=...).

_SWE = "sparsegym.envs.swe.env:make_swe"
_SWE_ROWS = [
    EnvEntry(id=f"{NAMESPACE}/SWE-Mutation-v0", family="swe", entry_point=_SWE, kwargs=MappingProxyType({"tasks": "shipped"}),
             max_episode_steps=50, tags=("swe",), extra="swe", limit_in_env=False,
             description="fix a bug injected into a real Python project until its tests pass (24 shipped tasks)"),
    EnvEntry(id=f"{NAMESPACE}/SWE-Gym-v0", family="swe", entry_point=_SWE, kwargs=MappingProxyType({"runtime": "docker"}),
             max_episode_steps=50, tags=("swe-docker",), extra="swe", limit_in_env=False,
             description="SWE-bench/SWE-Gym instances from a file (tasks=...), in SWE-Gym's Docker images"),
]

_TABLE: list[EnvEntry] = _MINIGRID_ROWS + _BANDIT_ROWS + _NETHACK_ROWS + _TEXTWORLD_ROWS + _ALFWORLD_ROWS + _WEBSHOP_ROWS + _SWE_ROWS

# --------------------------------------------------------------------------------------------------
# Box-observation variants, generated from the table (the rule is in the module docstring).

#: Tag of every Box-observation variant; leaderboard suites never include these ids.
BOX_OBS_TAG = "box-obs"
#: Family -> the observation key its Box variants keep (passed to the env as ``obs=<key>``).
BOX_OBS_KEYS: Mapping[str, str] = MappingProxyType({"minigrid": "image", "nethack": "glyphs"})
_VERSION = re.compile(r"^(?P<stem>.+)-v(?P<n>\d+)$")


def box_variant_id(env_id: str, key: str) -> str:
    """The id of the variant of ``env_id`` that observes only ``key``: ``-<Key>`` before the version.

    >>> box_variant_id("sparsegym/MiniGrid-DoorKey-5x5-v0", "image")
    'sparsegym/MiniGrid-DoorKey-5x5-Image-v0'
    """
    m = _VERSION.match(env_id)
    if m is None:
        raise ConfigError(f"{env_id!r} does not end in -v<N>")
    return f"{m['stem']}-{key[:1].upper()}{key[1:]}-v{m['n']}"


def _box_variant(e: EnvEntry, key: str) -> EnvEntry:
    return replace(
        e, id=box_variant_id(e.id, key), kwargs=MappingProxyType({**e.kwargs, "obs": key}),
        tags=(BOX_OBS_TAG,), description=f"{e.description} (Box observation: {key} only)", base_id=e.id,
    )


_BOX_ROWS = [_box_variant(e, BOX_OBS_KEYS[e.family]) for e in _TABLE if e.family in BOX_OBS_KEYS]

ENTRIES: tuple[EnvEntry, ...] = tuple(_TABLE + _BOX_ROWS)
_BY_ID: dict[str, EnvEntry] = {e.id: e for e in ENTRIES}
if len(_BY_ID) != len(ENTRIES):  # pragma: no cover - guards the table itself
    raise RuntimeError("duplicate id in sparsegym's env registry")


def box_variant(env_id: str) -> str:
    """The registered Box-observation variant of ``env_id`` (``ValueError`` if its family has none).

    >>> box_variant("sparsegym/MiniHack-Room-5x5-v0")
    'sparsegym/MiniHack-Room-5x5-Glyphs-v0'
    >>> box_variant("sparsegym/MiniGrid-Unlock-v0")
    'sparsegym/MiniGrid-Unlock-Image-v0'
    """
    e = get_entry(env_id)
    if e.base_id is not None:
        return e.id
    key = BOX_OBS_KEYS.get(e.family)
    if key is None:
        raise ConfigError(f"{env_id} has no Box-observation variant (families with one: {', '.join(BOX_OBS_KEYS)})")
    return box_variant_id(e.id, key)


def register_all() -> None:
    """Register every row with Gymnasium (idempotent)."""
    for e in ENTRIES:
        if e.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=e.id,
            entry_point=e.entry_point,
            kwargs=dict(e.kwargs),
            max_episode_steps=None if e.limit_in_env else e.max_episode_steps,
            disable_env_checker=False,
            order_enforce=e.order_enforce,
        )


# --------------------------------------------------------------------------------------------------
# Selecting rows by tags.


def _as_tags(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class TagQuery:
    """Which rows a few tags select: rows carrying every tag of ``all_of``, at least one of ``any_of``
    (when it is given) and none of ``none_of``. Results keep table order.

    A query must name a tag to select by (``all_of`` or ``any_of``); a single tag may be given as a
    string. Leaderboard suites are defined by queries (``sparsegym.leaderboards.suites``).

    >>> len(TagQuery(all_of="bandits", none_of="alias").ids())
    8
    >>> str(TagQuery(any_of=("noisy-tv", "sticky")))
    'noisy-tv | sticky'
    """

    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("all_of", "any_of", "none_of"):
            object.__setattr__(self, name, _as_tags(getattr(self, name)))
        if not (self.all_of or self.any_of):
            raise ConfigError("a TagQuery needs a tag to select by (all_of or any_of)")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the known tags if the query names a tag no row carries."""
        known = set(tags())
        unknown = [t for t in (*self.all_of, *self.any_of, *self.none_of) if t not in known]
        if unknown:
            raise ConfigError(f"unknown tag {unknown[0]!r}; known tags: {', '.join(tags())}")

    def matches(self, row_tags: Iterable[str]) -> bool:
        have = set(row_tags)
        return (
            all(t in have for t in self.all_of)
            and (not self.any_of or any(t in have for t in self.any_of))
            and not any(t in have for t in self.none_of)
        )

    def entries(self, family: str | None = None) -> list[EnvEntry]:
        """The matching rows, in table order (optionally of one family)."""
        self.validate()
        return [e for e in entries(family=family) if self.matches(e.tags)]

    def ids(self, family: str | None = None) -> list[str]:
        """The matching ids, in table order."""
        return [e.id for e in self.entries(family)]

    def __str__(self) -> str:
        parts = [" & ".join(self.all_of)] if self.all_of else []
        if self.any_of:
            any_part = " | ".join(self.any_of)
            parts.append(f"({any_part})" if self.all_of and len(self.any_of) > 1 else any_part)
        parts += [f"!{t}" for t in self.none_of]
        return " & ".join(parts)


def _deprecated_suite(tag: str | None, suite: str | None, where: str) -> str | None:
    if suite is None:
        return tag
    warnings.warn(f"{where}(suite=...) is deprecated; use {where}(tag=...) (registry labels are tags; "
                  "a suite is a leaderboard suite)", DeprecationWarning, stacklevel=3)
    if tag is not None and tag != suite:
        raise TypeError(f"{where}: pass tag= only (suite= is its deprecated spelling)")
    return suite


def entries(family: str | None = None, tag: str | None = None, *, suite: str | None = None) -> list[EnvEntry]:
    """Rows of the table, in table order, optionally filtered by family and tag.

    Raises ``ValueError`` naming the known values when ``family`` or ``tag`` is unknown. ``suite=`` is
    the deprecated spelling of ``tag=``.
    """
    tag = _deprecated_suite(tag, suite, "entries")
    if family is not None and family not in families():
        raise ConfigError(f"unknown family {family!r}; known families: {', '.join(families())}")
    if tag is not None and tag not in tags():
        raise ConfigError(f"unknown tag {tag!r}; known tags: {', '.join(tags())}")
    return [
        e for e in ENTRIES
        if (family is None or e.family == family) and (tag is None or tag in e.tags)
    ]


def list_envs(family: str | None = None, tag: str | None = None, *, suite: str | None = None) -> list[str]:
    """Ids of the registered envs, optionally filtered by family and tag (``suite=``: deprecated ``tag=``).

    >>> "sparsegym/MiniGrid-DoorKey-5x5-Image-v0" in list_envs(tag="box-obs")
    True
    """
    return [e.id for e in entries(family, _deprecated_suite(tag, suite, "list_envs"))]


def families() -> list[str]:
    return sorted({e.family for e in ENTRIES})


def tags() -> list[str]:
    """Every tag some row carries, sorted."""
    return sorted({t for e in ENTRIES for t in e.tags})


def suites() -> list[str]:
    """Deprecated: the registry's labels are :func:`tags`; suites are leaderboard suites."""
    warnings.warn("sparsegym.envs.registry.suites() is deprecated; use tags()", DeprecationWarning, stacklevel=2)
    return tags()


def get_entry(env_id: str) -> EnvEntry:
    """The row of ``env_id``; :class:`~sparsegym.errors.UnknownEnvError` with suggestions if none."""
    try:
        return _BY_ID[env_id]
    except KeyError:
        from sparsegym.errors import UnknownEnvError

        raise UnknownEnvError(env_id, suggest(env_id)) from None


def suggest(env_id: str, n: int = 3) -> list[str]:
    """The registered ids nearest to ``env_id`` (sparsegym's first, then any Gymnasium id)."""
    ours = [e.id for e in ENTRIES]
    out: list[str] = []
    # A sparsegym id typed without its namespace, or with the wrong case.
    for cand in (f"{NAMESPACE}/{env_id}", env_id):
        for known in ours:
            if known.lower() == cand.lower() and known not in out:
                out.append(known)
    lowered = {i.lower(): i for i in ours}
    for m in difflib.get_close_matches(env_id.lower(), list(lowered), n=n, cutoff=0.6):
        if lowered[m] not in out:
            out.append(lowered[m])
    if not env_id.startswith(f"{NAMESPACE}/"):
        others = [i for i in gymnasium.registry if not i.startswith(f"{NAMESPACE}/")]
        for m in difflib.get_close_matches(env_id, others, n=n, cutoff=0.75):
            if m not in out:
                out.append(m)
    return out[:n]
