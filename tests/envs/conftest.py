"""Fixtures shared by the env tests."""

import pytest


@pytest.fixture
def play_gold():
    """A function that plays one software-repair episode (either runtime) with the gold-patch oracle and
    returns the last step's reward and info."""
    from sparsegym.baselines.swe_agents import GoldPatchAgent

    def play(env, seed):
        agent = GoldPatchAgent(env)
        agent.reset(seed)
        obs, info = env.reset(seed=seed)
        while True:
            obs, r, term, trunc, info = env.step(agent.act(obs, info))
            if term or trunc:
                return r, info

    return play
