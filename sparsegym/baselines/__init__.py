"""Standard baselines that follow the leaderboard agent protocol (``reset(seed)``, ``act(obs, info)``).

* ``RandomAgent``: uniform random actions, reproducible from the episode seed.
* ``MiniGridOracle``: a full-state planner for the MiniGrid and BabyAI tasks; ``write_demonstrations``
  records its episodes for imitation learning.
* ``WalkthroughAgent``: replays a text game's recorded walkthrough (TextWorld), the ceiling of its suite.
* ``ALFWorldExpertAgent``, ``WebShopScriptedAgent``, ``GoldPatchAgent``/``SubmitAtOnceAgent``: the
  ALFWorld expert, a scripted shopper, the software tasks' ceiling and floor.
* ``SB3Agent``: a trained stable-baselines3 model as a leaderboard agent.

Each family's descriptor names its oracle (``Family.oracle``).
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "MiniGridOracle": ".oracles", "OracleError": ".oracles", "write_demonstrations": ".oracles",
    "RandomAgent": ".random_agent", "WalkthroughAgent": ".text_oracles", "ALFWorldExpertAgent": ".alfworld_expert",
    "WebShopScriptedAgent": ".webshop_agent", "GoldPatchAgent": ".swe_agents", "SubmitAtOnceAgent": ".swe_agents",
    "SB3Agent": ".sb3",
})
