"""sparsegym: a Gymnasium benchmark suite for sparse-reward RL and LLM agents.

``import sparsegym`` registers every env id under the ``sparsegym/`` namespace, so
``gymnasium.make("sparsegym/MiniGrid-DoorKey-8x8-v0")`` works in any RL code. Nothing heavy is
imported here: each family imports its optional dependencies when one of its envs is made.

>>> import sparsegym
>>> env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)                                # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym._lazy import lazy_exports
from sparsegym.envs.registry import get_entry, list_envs, register_all, suggest
from sparsegym.errors import (
    ConfigError,
    InvalidActionError,
    MissingDependencyError,
    SparseGymError,
    UnknownEnvError,
)

__version__ = "0.1.0"

register_all()


def make(id: str | gymnasium.envs.registration.EnvSpec, **kwargs: Any) -> gymnasium.Env:  # noqa: A002
    """Same as :func:`gymnasium.make`, with a clearer error for an unknown id.

    An id that is not registered raises :class:`UnknownEnvError` naming the nearest registered ids
    (``sparsegym/`` ids first). Keyword arguments go to the env's factory, as with Gymnasium.
    """
    if isinstance(id, str) and id not in gymnasium.registry:
        raise UnknownEnvError(id, suggest(id))
    return gymnasium.make(id, **kwargs)


# Subpackages load on first use, so that ``import sparsegym`` stays light.
_lazy_all, __getattr__, __dir__ = lazy_exports(__name__, {
    name: f".{name}:*" for name in ("agents", "baselines", "cli", "envs", "errors", "intrinsic", "leaderboards", "llm",
                                   "types", "wrappers")
})
__all__ = [
    "__version__", "make", "list_envs", "get_entry",
    "ConfigError", "InvalidActionError", "MissingDependencyError", "SparseGymError", "UnknownEnvError",
    *_lazy_all,
]
