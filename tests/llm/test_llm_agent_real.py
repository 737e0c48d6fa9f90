"""LLMAgent against the real local server with the real SmolLM2-135M-Instruct model: a leaderboard
submission that is stored and ranked, then run again from the cache with zero requests. Only structure
and validity are asserted, never the model's words (they drift between builds and runs)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.llm_server



@pytest.fixture(scope="module")
def server(real_server):  # tests/llm/conftest.py: skips where the server or the model is missing
    return real_server


def test_a_zero_shot_submission_against_the_real_model(server, tmp_path):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.report import leaderboard
    from sparsegym.leaderboards.store import ResultsStore
    from sparsegym.leaderboards.suites import Suite

    # A short task (40 steps at most) so the test takes seconds per episode on 2 cores.
    suite = Suite("smoke", ("sparsegym/MiniGrid-MultiRoom-N2-S4-v0",), episodes=2, description="t", step_timeout=120)
    cache = str(tmp_path / "cache.sqlite")
    kwargs = {"base_url": server.base_url, "model": server.model, "cache": cache, "constrained": True}
    with ResultsStore(tmp_path / "results.db") as store:
        result = evaluate("sparsegym.agents:LLMAgent", suite, "test", store=store, progress=False, observation="text",
                          agent_kwargs=kwargs, backend="async", workers=2)
        assert (result.ran, result.failed) == (2, 0)
        rows = store.episodes(agent=result.agent)
        assert all(r.length > 0 and r.agent_stats["calls"] == r.length for r in rows)
        # Constrained decoding: every reply is one of the admissible actions.
        assert all(r.agent_stats["invalid_replies"] == 0 for r in rows)
        assert all(r.agent_stats["completion_tokens"] > 0 and r.agent_stats["requests"] > 0 for r in rows)
        [stats] = leaderboard(store, suite, "test", reps=20)
        assert stats.agent == result.agent and stats.episodes == 2 and 0.0 <= stats.progression <= 1.0

    with ResultsStore(tmp_path / "again.db") as again:
        rerun = evaluate("sparsegym.agents:LLMAgent", suite, "test", store=again, progress=False, observation="text",
                         agent_kwargs=kwargs, backend="async", workers=2)
        rows2 = again.episodes(agent=rerun.agent)
        assert sum(r.agent_stats["requests"] for r in rows2) == 0  # every reply came from the cache
        assert [(r.seed, r.length, r.episode_return) for r in rows2] == [(r.seed, r.length, r.episode_return) for r in rows]


def test_prompt_styles_give_valid_or_counted_replies(server):
    import sparsegym
    from sparsegym.agents.llm import LLMAgent
    from sparsegym.wrappers import TextObservation

    env = TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
    for prompt in ("naive", "cot"):
        agent = LLMAgent(env, base_url=server.base_url, model=server.model, cache=False, prompt=prompt, max_tokens=48)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        for _ in range(3):
            action = agent.act(obs, info)
            assert action in info["admissible_actions"]  # parsed, or the view's default when it named none
            obs, _, term, trunc, info = env.step(action)
        stats = agent.episode_stats()
        assert stats["calls"] == 3 and 0 <= stats["invalid_replies"] <= 3
