"""Standard baselines that follow the leaderboard agent protocol (``reset(seed)``, ``act(obs, info)``).

* ``RandomAgent``: uniform random actions, reproducible from the episode seed.
* ``MiniGridOracle``: a full-state planner for the MiniGrid and BabyAI tasks; ``write_demonstrations``
  records its episodes for imitation learning.
"""

from sparsegym.baselines.oracles import MiniGridOracle, OracleError, write_demonstrations
from sparsegym.baselines.random_agent import RandomAgent

__all__ = ["MiniGridOracle", "OracleError", "RandomAgent", "write_demonstrations"]
