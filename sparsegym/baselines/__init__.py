"""Standard baselines that follow the leaderboard agent protocol (``reset(seed)``, ``act(obs, info)``)."""

from sparsegym.baselines.random_agent import RandomAgent

__all__ = ["RandomAgent"]
