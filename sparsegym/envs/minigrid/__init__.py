"""MiniGrid family: curated sparse-reward MiniGrid/BabyAI tasks in one observation contract.

``make_minigrid`` and ``MiniGridTask`` live in :mod:`sparsegym.envs.minigrid.env`, which imports
``minigrid`` (extra ``minigrid``); this package itself imports nothing optional.
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_minigrid", "MiniGridTask", "describe", "ACTION_NAMES", "parse_action"]


def __getattr__(name: str) -> Any:
    if name in {"make_minigrid", "MiniGridTask"}:
        from sparsegym.envs.minigrid import env

        return getattr(env, name)
    if name in {"describe", "ACTION_NAMES", "parse_action"}:
        from sparsegym.envs.minigrid import text

        return getattr(text, name)
    raise AttributeError(f"module 'sparsegym.envs.minigrid' has no attribute {name!r}")
