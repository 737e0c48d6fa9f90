"""Agents: PPO with optional intrinsic rewards and imitation (torch, ``pip install "sparsegym[torch]"``),
and Go-Explore (numpy only).

Every agent follows the leaderboard protocol (``reset(seed)``, ``act(observation, info)``) and has
``learn(total_steps)``, ``save(path)`` and ``load(path)``; PPO's ``learn`` takes ``callbacks``
(:mod:`sparsegym.agents.callbacks`: logging, progress, checkpoints, early stopping).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {"PPO": "ppo", "PPOConfig": "ppo", "gae": "advantages", "load_ppo": "ppo", "GoExplore": "go_explore",
          "GoExploreConfig": "go_explore", "behaviour_cloning": "imitation", "load_demonstrations": "imitation",
          "Callback": "callbacks", "CallbackList": "callbacks", "CSVLogger": "callbacks",
          "TensorBoardLogger": "callbacks", "ProgressBar": "callbacks", "Checkpoint": "callbacks",
          "StopOnSuccess": "callbacks"}
__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name == "load_ppo":
        from sparsegym.agents.ppo import PPO

        return lambda env=None, path=None, **kw: PPO.load(path, env=env, **kw)
    if name in _NAMES:
        return getattr(importlib.import_module(f"sparsegym.agents.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'sparsegym.agents' has no attribute {name!r}")
