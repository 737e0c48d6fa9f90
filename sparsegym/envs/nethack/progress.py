"""NetHack's progression (BALROG): for open-ended NetHack, the probability that a human player who reached
the agent's deepest dungeon level, or its highest experience level, went on to win (ascend); for tasks
with a goal (MiniHack, and NetHack's Staircase, Oracle, ...) it is success.

The two tables are the numbers BALROG publishes (``balrog/environments/nle/achievements.json``, derived
from human games of NetHack 3.4.3): ``DUNGEON_LEVEL[d]`` and ``EXPERIENCE_LEVEL[x]``. An episode's
progression is the largest entry it reached. Its tasks' ``info["success"]`` decides which kind a task
is: a task with a goal reports success at the end (see :mod:`sparsegym.envs.nethack.env`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsegym.envs.nethack.keys import BL_DEPTH

BL_XP = 18  # nle.nethack.NLE_BL_XP (a test checks it)

# Win probability by deepest dungeon level reached (1-50).
DUNGEON_LEVEL = (
    0.0, 0.015392269075361172, 0.017539535798967013, 0.021221378364235505, 0.026482449457437766,
    0.035428686118173014, 0.04846098359243788, 0.0695812141543123, 0.09770935198701912, 0.12558597019922987,
    0.1612677822768481, 0.20612854836308672, 0.2566039887664476, 0.29247245425293333, 0.30881240110986263,
    0.3249071349317381, 0.34007883702829594, 0.3526455577544006, 0.3654881095022441, 0.37895667923256743,
    0.39293747679675045, 0.40832255575976223, 0.4258360748858015, 0.445181408701678, 0.46637631565303056,
    0.5067605633802816, 0.5543572044866264, 0.6015648510382184, 0.6465049415992812, 0.6913110342176086,
    0.7101094299371864, 0.7176456494828894, 0.7232124894378948, 0.7284405900470092, 0.7327761924174481,
    0.7368528917489855, 0.7421458943978863, 0.7471321695760599, 0.753731343283582, 0.7610398408061306,
    0.76740810314648, 0.7725338491295938, 0.7771626297577855, 0.7812567949554251, 0.7858986134802957,
    0.7890256738822022, 0.7929718875502008, 0.7967408445768355, 0.8018467495718222, 0.8067964442444019,
)
# Win probability by highest experience level reached (1-30).
EXPERIENCE_LEVEL = (
    0.0, 0.01847840456172601, 0.02081163581974355, 0.024160136550546978, 0.029108986017138745,
    0.036887590648350246, 0.0507583712345433, 0.07453595273884014, 0.11704996473565571, 0.17909953770432294,
    0.25480449090205187, 0.33264942385807844, 0.41442590519821954, 0.49403949403949404, 0.5778823703813513,
    0.6261221999477034, 0.656281764586298, 0.6810218550418937, 0.7015328516442704, 0.7174494081710576,
    0.7286977843944303, 0.7371004909327723, 0.7443446629532795, 0.7513449678519879, 0.7585537128343045,
    0.7642151855635002, 0.7703376822716808, 0.7759810263044415, 0.7783345263660224, 0.7804561949196475,
)


def table_progression(depth: int, experience_level: int) -> float:
    """The larger of the two tables' entries for a dungeon level and an experience level."""
    d = DUNGEON_LEVEL[min(max(int(depth), 1), len(DUNGEON_LEVEL)) - 1]
    x = EXPERIENCE_LEVEL[min(max(int(experience_level), 1), len(EXPERIENCE_LEVEL)) - 1]
    return max(d, x)


class NetHackProgress:
    """The largest table entry reached over the episode; a task with a goal scores its success instead."""

    def __init__(self, env: Any = None) -> None:
        self.value = 0.0
        self._table = 0.0
        self._goal_task = bool(getattr(getattr(env, "unwrapped", env), "has_goal", False))

    def update(self, observation: Any, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> None:
        if isinstance(observation, dict) and "blstats" in observation:
            bl = np.asarray(observation["blstats"])
            self._table = max(self._table, table_progression(int(bl[BL_DEPTH]), int(bl[BL_XP])))
        if self._goal_task:
            self.value = 1.0 if info.get("success") else 0.0
        else:
            self.value = self._table
