"""NetHack state keys (for counts and novelty) and Go-Explore's cell, read from the bottom line and the
message, as the exploration papers on NetHack/MiniHack key their counts."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from sparsegym.envs.nethack.text import decode

# Indices into blstats (nle.nethack.NLE_BL_X, _Y, _DEPTH, _DLEVEL); a test checks them against nle.
BL_X, BL_Y, BL_DEPTH, BL_DLEVEL = 0, 1, 12, 24


def _blstats(observation: Any) -> np.ndarray:
    if not isinstance(observation, dict) or "blstats" not in observation:
        raise TypeError("NetHack state keys need the observation's 'blstats' (in the default observation keys)")
    return np.asarray(observation["blstats"])


def position_key(env: Any, observation: Any) -> Hashable:
    """The agent's cell on its dungeon level: ``(depth, dungeon level, x, y)``."""
    bl = _blstats(observation)
    return (int(bl[BL_DEPTH]), int(bl[BL_DLEVEL]), int(bl[BL_X]), int(bl[BL_Y]))


def message_key(env: Any, observation: Any) -> Hashable:
    """The game's last message (empty when none)."""
    if not isinstance(observation, dict) or "message" not in observation:
        raise TypeError("the 'message' state key needs the observation's 'message'")
    return decode(observation["message"])


def go_explore_cell(env: Any, observation: Any) -> Hashable:
    """Go-Explore's cell: the dungeon level and the agent's cell on it."""
    return position_key(env, observation)
