"""Imports every built-in algorithm module, so that each registers itself (one line per algorithm)."""

from sparsegym.agents.text.algos import arpo, epo, gigpo, grpo, hiper, ppo, rloo, spa  # noqa: F401
