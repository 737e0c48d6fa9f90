"""ALFWorld family (extra ``text``): ALFWorld's text engine, offline-generated games in ALFWorld's own
format, and the real dataset when ``$ALFWORLD_DATA`` holds it. Nothing optional is imported until an
env is made or a game generated.

* :mod:`sparsegym.envs.alfworld.env`: :class:`ALFWorldEnv` and :func:`make_alfworld`;
* :mod:`sparsegym.envs.alfworld.generator`: the game generator and the expert check;
* :mod:`sparsegym.envs.alfworld.actions`: old (``put X in/on Y``) and new (``move X to Y``) syntax.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALFWorldEnv", "make_alfworld", "generate_game", "TASK_TYPES", "TASK_SHORT", "normalize"]


def __getattr__(name: str) -> Any:
    if name in {"ALFWorldEnv", "make_alfworld"}:
        from sparsegym.envs.alfworld import env

        return getattr(env, name)
    if name in {"generate_game", "TASK_TYPES", "TASK_SHORT"}:
        from sparsegym.envs.alfworld import generator

        return getattr(generator, name)
    if name == "normalize":
        from sparsegym.envs.alfworld.actions import normalize

        return normalize
    raise AttributeError(f"module 'sparsegym.envs.alfworld' has no attribute {name!r}")
