"""NetHack (nle) and MiniHack tasks in sparsegym's contract (extra ``nethack``); nothing optional is
imported until an env is made."""

from __future__ import annotations

from typing import Any

__all__ = ["make_nethack", "NetHackTask", "DEFAULT_KEYS", "describe", "action_names"]


def __getattr__(name: str) -> Any:
    if name in {"make_nethack", "NetHackTask", "DEFAULT_KEYS"}:
        from sparsegym.envs.nethack import env

        return getattr(env, name)
    if name in {"describe", "action_names"}:
        from sparsegym.envs.nethack import text

        return getattr(text, name)
    raise AttributeError(f"module 'sparsegym.envs.nethack' has no attribute {name!r}")
