"""The text-RL algorithms, one file each, behind the :class:`~.base.Algorithm` hooks the trainer calls
(:mod:`.base` explains them):

* :mod:`.grpo`: GRPO over episodes (group-normalised returns);
* :mod:`.rloo`: RLOO (leave-one-out baselines);
* :mod:`.gigpo`: GiGPO, GRPO plus step-level advantages over anchor states (turns of a group that saw the
  same observation);
* :mod:`.ppo`: ``ppo-text``, PPO with a turn-level critic (the policy's value head) and GAE;
* :mod:`.arpo`: ARPO, GRPO with a replay buffer of successes per task seed, swapped into groups that
  have none;
* :mod:`.epo`: EPO, GRPO with an entropy bonus smoothed against the historical entropy per turn index;
* :mod:`.spa`: SPA-RL, dense per-turn rewards from a progress estimator trained so that an episode's
  contributions sum to its outcome.
* :mod:`.hiper`: HiPER, a planner/executor turn format (switch, sub-goal, action) with hierarchical advantage
  estimation (GAE inside sub-goal segments, SMDP GAE over them, a switch advantage) given per token by three
  value heads; needs :class:`~.hiper.HiPERPolicy`.
"""

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
