"""The text-RL algorithms, one file each, behind the :class:`~.base.Algorithm` hooks the trainer calls
(:mod:`.base` explains them): :mod:`.grpo`, :mod:`.rloo`, :mod:`.spa` (SPA-RL: a learned progress
estimator's dense per-turn rewards)."""

from sparsegym.agents.text.algos.base import (
    Algorithm,
    Batch,
    NoOptions,
    available,
    get_algorithm,
    make_algorithm,
    register,
)

__all__ = ["Algorithm", "Batch", "NoOptions", "available", "get_algorithm", "make_algorithm", "register"]
