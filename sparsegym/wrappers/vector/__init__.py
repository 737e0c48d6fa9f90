"""Vector-env mirrors of the stateful reward wrappers: one batched call per step for all sub-envs.

They take either of Gymnasium's autoreset modes. With ``NEXT_STEP`` (the default of its vector envs)
the step after a sub-env's episode ended returns that sub-env's reset observation, so it earns no
bonus; with ``SAME_STEP`` (sparsegym's trainers) the ending transition is scored on
``infos["final_obs"]``. Either way the episodic state is cleared when the episode ends
(:class:`~sparsegym.intrinsic.stream.IntrinsicStream`). ``info["reward_components"]`` holds one
array per component, as Gymnasium's vector envs merge sub-env infos.

Per-episode wrappers without shared state (``PotentialShaping``, ``SubgoalReward``, ``GatedReward``)
vectorise by wrapping each sub-env: ``gymnasium.make_vec(id, n, wrappers=[lambda e: SubgoalReward(e, ...)])``.
"""

from sparsegym.wrappers.vector.counts import VectorCountBonus
from sparsegym.wrappers.vector.intrinsic import VectorIntrinsicReward, flatten_batch

__all__ = ["VectorCountBonus", "VectorIntrinsicReward", "flatten_batch"]
