"""Former home of the MiniGrid potentials, now in their family (``sparsegym.envs.minigrid.potentials``;
each family's descriptor lists its potentials, and ``PotentialShaping(env, "distance_to_goal")`` finds
them by name). Old imports from here keep working, with a ``DeprecationWarning``."""

from __future__ import annotations

import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    from sparsegym.envs.family import all_families, load_ref

    for family in all_families():
        for ref in family.potentials.values():
            if ref.rsplit(":", 1)[-1] == name:
                warnings.warn(f"sparsegym.wrappers.potentials.{name} moved to {ref.replace(':', '.')}",
                              DeprecationWarning, stacklevel=2)
                return load_ref(ref)
    raise AttributeError(f"module 'sparsegym.wrappers.potentials' has no attribute {name!r}")
