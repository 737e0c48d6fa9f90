"""Imports every built-in algorithm module, so that each registers itself (one line per algorithm)."""

from sparsegym.agents.text.algos import grpo, rloo, spa  # noqa: F401
