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


def test_the_real_server_holds_replies_to_each_kind_of_pattern(server):
    """Every pattern LLMAgent sends (a form's, the software env's one-line actions, the continuous bandits'
    numbers) is accepted by llama.cpp's grammar converter, and a reply the server finished matches it."""
    import json
    import re

    import sparsegym
    from sparsegym.agents.llm import template_pattern
    from sparsegym.envs.swe.env import SWEEnv
    from sparsegym.llm import LLMClient
    from sparsegym.wrappers import TextObservation

    bandit = TextObservation(sparsegym.make("sparsegym/DynLinBandit-Continuous-Rho07-v0"))
    cases = [
        (template_pattern("search[<query>]"), "Find a blue mug. Reply search[<query>] with your keywords."),
        (SWEEnv.action_pattern, "Tests fail in calc.py. Actions: run <command>, view <path>, undo <path>, submit."),
        (bandit.get_wrapper_attr("view").action_pattern, "Choose 2 numbers between 0 and 1: play <x1> <x2>."),
    ]
    client = LLMClient(server.base_url, server.model, cache=False)
    for pattern, prompt in cases:
        schema = {"type": "object", "properties": {"action": {"type": "string", "pattern": pattern}},
                  "required": ["action"]}
        result = client.chat(messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=64,
                             response_format={"type": "json_object", "schema": schema})
        if result.finish_reasons[0] == "length":  # cut inside the string: nothing to check but the prefix
            assert result.text.lstrip().startswith("{")
            continue
        assert re.fullmatch(pattern, json.loads(result.text)["action"]), (pattern, result.text)
