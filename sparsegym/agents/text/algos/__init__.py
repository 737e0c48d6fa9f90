"""The text-RL algorithms, one file each, behind the :class:`~.base.Algorithm` hooks the trainer calls
(:mod:`.base` explains them): :mod:`.grpo`, :mod:`.rloo`, :mod:`.gigpo` (GiGPO: GRPO plus step-level
advantages over anchor states) and :mod:`.ppo` ("ppo-text": PPO with a turn-level critic and GAE)."""

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
