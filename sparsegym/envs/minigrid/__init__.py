"""MiniGrid family: curated sparse-reward MiniGrid/BabyAI tasks in one observation contract.

``make_minigrid`` and ``MiniGridTask`` live in :mod:`sparsegym.envs.minigrid.env`, which imports
``minigrid`` (extra ``minigrid``); this package itself imports nothing optional. ``FAMILY`` is the
family's descriptor (:mod:`sparsegym.envs.family`).
"""

from __future__ import annotations

from sparsegym._lazy import lazy_exports
from sparsegym.envs.family import Family

_M = "sparsegym.envs.minigrid"

FAMILY = Family(
    name="minigrid",
    packages=("minigrid",),
    text_view=f"{_M}.text:MiniGridTextView",
    state_keys={"position": f"{_M}.keys:position_key", "grid": f"{_M}.keys:grid_key", "full": f"{_M}.keys:full_key"},
    cell=f"{_M}.keys:go_explore_cell",
    potentials={"distance_to_goal": f"{_M}.potentials:minigrid_distance_to_goal",
                "subgoal_progress": f"{_M}.potentials:minigrid_subgoal_progress",
                "doorkey_progress": f"{_M}.potentials:doorkey_progress"},
    encoder=f"{_M}.encoder:MiniGridEncoder",
    subgoals=f"{_M}.subgoals",
    oracle="sparsegym.baselines:MiniGridOracle",
    baselines={"random": "sparsegym.baselines:RandomAgent", "oracle": "sparsegym.baselines:MiniGridOracle"},
    noop_action=6,  # "done": MiniGrid's tasks ignore it
    play_keys={"a": "turn left", "d": "turn right", "w": "go forward", "p": "pick up", "o": "drop", "t": "toggle",
               "x": "done", "v": "watch tv"},
    owns=f"{_M}.keys:is_minigrid_env",
    symbolic_state=f"{_M}.symbolic",
)

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "make_minigrid": ".env", "MiniGridTask": ".env", "describe": ".text", "ACTION_NAMES": ".text",
    "parse_action": ".text", "MiniGridTextView": ".text", "MiniGridEncoder": ".encoder",
})
__all__ = ["FAMILY", *__all__]
