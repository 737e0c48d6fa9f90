"""Standard baselines that follow the leaderboard agent protocol (``reset(seed)``, ``act(obs, info)``).

* ``RandomAgent``: uniform random actions, reproducible from the episode seed.
* ``MiniGridOracle``: a full-state planner for the MiniGrid and BabyAI tasks; ``write_demonstrations``
  records its episodes for imitation learning.
* ``WalkthroughAgent``: replays a text game's recorded walkthrough (TextWorld), the ceiling of its suite.
"""

from sparsegym.baselines.oracles import MiniGridOracle, OracleError, write_demonstrations
from sparsegym.baselines.random_agent import RandomAgent
from sparsegym.baselines.text_oracles import WalkthroughAgent

__all__ = ["MiniGridOracle", "OracleError", "RandomAgent", "WalkthroughAgent", "write_demonstrations"]
