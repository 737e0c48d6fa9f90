"""``VectorCountBonus``: count bonuses over a vector env, with counts shared by all sub-envs."""

from __future__ import annotations

from collections import Counter

import gymnasium

from sparsegym.intrinsic.counts import EpisodicCount
from sparsegym.utils.spaces import flat_dim
from sparsegym.wrappers.vector.intrinsic import VectorIntrinsicReward


class VectorCountBonus(VectorIntrinsicReward):
    """``beta / sqrt(N(s'))`` per sub-env. Global counts are shared across sub-envs (one visitation
    table for the whole batch); episodic ones are per sub-env and restart at each of its episodes.
    States are keyed by their flattened observation (exact equality), as the single-env
    ``CountBonus(key="observation")``; ``N`` counts every observation shown, each episode's first one
    included. It is :class:`VectorIntrinsicReward` with an
    :class:`~sparsegym.intrinsic.EpisodicCount` (no torch needed), so it takes either autoreset mode.

    Examples:
        >>> import gymnasium, sparsegym
        >>> envs = VectorCountBonus(gymnasium.make_vec("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=2), beta=0.1)
        >>> _ = envs.reset(seed=[0, 0])  # two copies of one start state: N = 2 already
        >>> _, rewards, *_ = envs.step([1, 1])  # both reach the same new state: N = 1 then 2
        >>> [round(float(r), 4) for r in rewards]
        [0.1, 0.0707]
    """

    def __init__(self, env: gymnasium.vector.VectorEnv, beta: float = 0.1, episodic: bool = False,
                 name: str | None = None):
        module = EpisodicCount(flat_dim(env.single_observation_space), episodic=episodic)
        super().__init__(env, module, coef=beta, learn=False, normalize=False,
                         name=name or ("episodic_count" if episodic else "count"))
        self.beta, self.episodic = float(beta), bool(episodic)

    @property
    def counts(self) -> list[Counter]:
        """The visit tables: one per sub-env (episodic) or the shared one."""
        visits = self.module.visits
        return [visits.table(i) for i in range(self.num_envs)] if self.episodic else [visits.table()]
