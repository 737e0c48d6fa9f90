"""ALFWorld family (extra ``text``): ALFWorld's text engine, offline-generated games in ALFWorld's own
format, and the real dataset when ``$ALFWORLD_DATA`` holds it. Nothing optional is imported until an
env is made or a game generated. ``FAMILY`` is the family's descriptor (:mod:`sparsegym.envs.family`).

* :mod:`sparsegym.envs.alfworld.env`: :class:`ALFWorldEnv` and :func:`make_alfworld`;
* :mod:`sparsegym.envs.alfworld.generator`: the game generator and the expert check;
* :mod:`sparsegym.envs.alfworld.actions`: old (``put X in/on Y``) and new (``move X to Y``) syntax.
"""

from __future__ import annotations

from sparsegym._lazy import lazy_exports
from sparsegym.envs.family import Family

FAMILY = Family(name="alfworld", packages=("alfworld", "textworld"), text_native=True,
                oracle="sparsegym.baselines.alfworld_expert:ALFWorldExpertAgent",
                baselines={"random": "sparsegym.baselines:RandomAgent",
                           "expert": "sparsegym.baselines.alfworld_expert:ALFWorldExpertAgent"})

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "ALFWorldEnv": ".env", "make_alfworld": ".env", "generate_game": ".generator", "TASK_TYPES": ".generator",
    "TASK_SHORT": ".generator", "normalize": ".actions",
})
__all__ = ["FAMILY", *__all__]
