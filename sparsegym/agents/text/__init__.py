"""Reinforcement learning for text agents: one policy interface, group rollouts, group-relative
advantages (GRPO, RLOO), clipped policy losses and a trainer that reads top to bottom.

* :mod:`.policy`: :class:`Turn`, :class:`Choice`, :class:`TextPolicy` (the interface), :class:`UniformPolicy`;
* :mod:`.scorer`: :class:`ActionScorer`, a DRRN-style scorer of admissible actions (hashed word bags);
* :mod:`.rollout`: :func:`collect`, G episodes per task seed over a list of envs, as :class:`Trajectory` s;
* :mod:`.advantages` and :mod:`.losses`: the formulas, pure functions;
* :mod:`.trainer`: :class:`TextRLTrainer` and :class:`TextRLConfig`;
* :mod:`.agent`: :class:`TextAgent` (the leaderboard protocol) and :func:`load_text_agent`;
* :mod:`.lm_policy`: :class:`CausalLMPolicy`, a transformers causal language model behind the interface
  (``pip install "sparsegym[lm]"``).
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("Turn", "Choice", "TextPolicy", "UniformPolicy"), ".policy"),
    "ActionScorer": ".scorer", "HashTokenizer": ".scorer",
    "Trajectory": ".rollout", "collect": ".rollout",
    "grpo_advantages": ".advantages", "rloo_advantages": ".advantages",
    "discounted_step_returns": ".advantages",
    "clipped_policy_loss": ".losses", "kl_k3": ".losses", "value_loss": ".losses",
    "TextRLConfig": ".trainer", "TextRLTrainer": ".trainer",
    "TextAgent": ".agent", "load_text_agent": ".agent",
    **dict.fromkeys(("CausalLMPolicy", "parse_response", "match_action", "tiny_causal_lm"), ".lm_policy"),
})
