"""Agents: PPO with optional intrinsic rewards and imitation (torch, ``pip install "sparsegym[torch]"``),
Go-Explore (numpy only), zero-shot LLM agents (``LLMAgent``: ``pip install "sparsegym[llm]"``), the
bandit learners, and text agents trained by reinforcement learning (below).

Every agent follows the leaderboard protocol (``reset(seed)``, ``act(observation, info)``). The learners
(PPO, Go-Explore, imitation) also have ``learn(total_steps)``, ``save(path)`` and ``load(path)``; PPO's
``learn`` takes ``callbacks`` (:mod:`sparsegym.agents.callbacks`: logging, progress, checkpoints, early
stopping). ``LLMAgent`` also has ``aact`` (a coroutine, for the leaderboard's ``async`` backend) and
``episode_stats()``.

Text agents trained by reinforcement learning (:mod:`sparsegym.agents.text`): ``TextRLTrainer`` (GRPO,
RLOO) trains any ``TextPolicy``: ``ActionScorer`` (a DRRN-style scorer of admissible actions) or
``CausalLMPolicy`` (a transformers causal language model, ``pip install "sparsegym[lm]"``);
``load_text_agent`` plays a saved one on a leaderboard.
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "PPO": ".ppo", "PPOConfig": ".ppo", "load_ppo": ".ppo", "gae": ".advantages",
    "GoExplore": ".go_explore", "GoExploreConfig": ".go_explore",
    "behaviour_cloning": ".imitation", "load_demonstrations": ".imitation",
    **dict.fromkeys(("Callback", "CallbackList", "CSVLogger", "TensorBoardLogger", "ProgressBar", "Checkpoint",
                     "StopOnSuccess"), ".callbacks"),
    "LLMAgent": ".llm", "parse_reply": ".llm", "follows_format": ".llm",
    **dict.fromkeys(("TextRLTrainer", "TextRLConfig", "TextPolicy", "ActionScorer", "TextAgent", "load_text_agent",
                     "CausalLMPolicy"), ".text"),
})
