"""Stackable wrappers. One concern per module; each keeps the info keys of sparsegym's contract and
adds its reward term to ``info["reward_components"]`` without touching ``extrinsic``.

Stacking order (innermost first): reward *sources* (``SubgoalReward``, ``ScoreReward``, ``PotentialShaping``,
``CountBonus``, ``IntrinsicReward``, ``LLMRewardCode``, ``LLMFeedbackReward``, ``LLMSubgoals``, ``LLMSubgoalCredit``)
in any order, then ``GatedReward`` outside the terms it gates, then observation wrappers that change what
the agent sees (``TextObservation``) last, since the
reward wrappers read the env's own observations. :mod:`sparsegym.wrappers.stack` builds a stack from data
(a config file or the command line).
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "CountBonus": ".counts", "SeedPool": ".contexts", "StateKeyInfo": ".contexts", "GatedReward": ".gating", "IntrinsicReward": ".intrinsic",
    "LLMFeedbackReward": ".llm_feedback",
    "PotentialShaping": ".shaping", "ScoreReward": ".score", "Subgoal": ".subgoals", "SubgoalReward": ".subgoals",
    "Transition": ".subgoals",
    "TextObservation": ".text", "InstructionSearch": ".text", "LLMRewardCode": ".llm_reward_code", "refine_reward_code": ".reward_refinement",
    "LLMSubgoals": ".llm_subgoals", "LLMSubgoalCredit": ".llm_credit", "evaluate_credit": ".llm_credit",
})
