"""Evaluating LLM agents: the async backend (many episodes in flight in one process), per-episode agent
stats and progression in the store, and a warm-cache rerun that makes no requests. The LLM is a scripted
OpenAI-compatible server here; tests/llm runs the real local server."""

from __future__ import annotations

import pytest

pytest.importorskip("openai")

from sparsegym.envs.progress import SuccessProgress  # noqa: E402
from sparsegym.leaderboards.evaluator import evaluate  # noqa: E402
from sparsegym.leaderboards.report import leaderboard, render  # noqa: E402
from sparsegym.leaderboards.suites import Suite  # noqa: E402
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402


def _walker(request):
    """Forward, and turn left every fourth call of a conversation (enough to end episodes)."""
    turns = sum(1 for m in request["messages"] if m["role"] == "assistant")
    return "turn left" if turns % 4 == 3 else "go forward"


@pytest.fixture
def suite():
    return Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/MiniGrid-MultiRoom-N2-S4-v0"),
                 episodes=3, description="t", step_timeout=30.0)


def test_an_llm_submission_runs_async_is_stored_ranked_and_reruns_from_cache(store, suite, tmp_path):
    cache = str(tmp_path / "llm-cache.sqlite")
    with ScriptedLLMServer(reply=_walker, delay=0.02) as server:
        kwargs = {"base_url": server.base_url, "cache": cache, "max_concurrency": 4}
        result = evaluate("sparsegym.agents.llm:LLMAgent", suite, "test", store=store, progress=False,
                          observation="text", agent_kwargs=kwargs, backend="async", workers=4)
        assert (result.ran, result.failed) == (6, 0)
        first_requests = server.count("/v1/chat/completions")
        assert server.max_in_flight >= 2  # several episodes waited on the server at once
        rows = store.episodes(agent=result.agent)
        assert len(rows) == 6
        for r in rows:
            assert r.agent_stats["calls"] == r.length and r.agent_stats["invalid_replies"] == 0
            assert r.agent_stats["prompt_tokens"] > 0 and r.progression in (0.0, 1.0)
        assert sum(r.agent_stats["requests"] for r in rows) == first_requests
        stats = leaderboard(store, suite, "test", reps=50)
        assert stats[0].agent == result.agent and stats[0].progression is not None
        assert "progression" in render(stats, suite, "test", "table")

        # The same run again, into a fresh store, from the warm cache: not one request.
        from sparsegym.leaderboards.store import ResultsStore

        with ResultsStore(tmp_path / "again.db") as again:
            rerun = evaluate("sparsegym.agents.llm:LLMAgent", suite, "test", store=again, progress=False,
                             observation="text", agent_kwargs=kwargs, backend="async", workers=4)
            assert rerun.ran == 6 and server.count("/v1/chat/completions") == first_requests
            assert [(r.env_id, r.seed, r.length) for r in again.episodes(agent=rerun.agent)] == \
                [(r.env_id, r.seed, r.length) for r in rows]
            assert all(r.agent_stats["requests"] == 0 and r.agent_stats["cache_hits"] == r.length
                       for r in again.episodes(agent=rerun.agent))


def test_a_server_that_goes_down_stops_the_run_and_a_500_fails_only_its_episode(store, tmp_path):
    suite = Suite("smoke", ("sparsegym/MiniGrid-MultiRoom-N2-S4-v0",), episodes=4, description="t", step_timeout=30.0)
    from sparsegym.errors import EvaluationStoppedError
    from sparsegym.llm.testing import Fault

    state = {"down": False, "calls": 0}

    def reply(request):
        state["calls"] += 1
        if state["down"] and state["calls"] > 5:  # 503 (unavailable), retried at once (Retry-After: 0)
            return Fault("status", status=503, body="loading model", headers={"Retry-After": "0"})
        if state.get("broken"):  # a 500 through every retry: that request's episode fails, the run goes on
            return Fault("status", status=500, body="boom", headers={"Retry-After": "0"})
        return _walker(request)

    with ScriptedLLMServer(reply=reply) as server:
        kwargs = {"base_url": server.base_url, "cache": str(tmp_path / "c.sqlite"), "max_concurrency": 2}
        run = dict(store=store, progress=False, observation="text", agent_kwargs=kwargs, backend="async", workers=2,
                   agent_name="llm")
        state["down"] = True
        with pytest.raises(EvaluationStoppedError, match=r"stopped at sparsegym/.*LLMServerUnavailableError: "
                                                         r"the server at .* answered HTTP 503.*run the same "
                                                         r"evaluation again"):
            evaluate("sparsegym.agents.llm:LLMAgent", suite, "test", **run)
        assert all(r.error is None for r in store.episodes(agent="llm"))
        state["down"] = False  # back up: the same call finishes the run, with nothing failed
        result = evaluate("sparsegym.agents.llm:LLMAgent", suite, "test", **run)
        assert result.skipped + result.ran == 4 and result.failed == 0

        state["broken"] = True
        broken = evaluate("sparsegym.agents.llm:LLMAgent", suite, "test", **{**run, "agent_name": "llm-500",
                          "agent_kwargs": {**kwargs, "cache": False}})
        assert (broken.ran, broken.failed) == (4, 4)
        assert all("LLMServerError: the server at" in r.error and "HTTP 500" in r.error
                   for r in store.episodes(agent="llm-500"))


def test_the_async_backend_gives_the_local_backends_records(store, suite):
    a = evaluate("sparsegym.baselines:RandomAgent", suite, "test", store=store, progress=False, agent_name="a")
    b = evaluate("sparsegym.baselines:RandomAgent", suite, "test", store=store, progress=False, agent_name="b",
                 backend="async", workers=3)
    key = lambda r: (r.env_id, r.seed, r.length, r.episode_return, r.success, r.progression)  # noqa: E731
    assert sorted(map(key, store.episodes(agent=a.agent))) == sorted(map(key, store.episodes(agent=b.agent)))


def test_progression_per_family():
    from sparsegym.envs.nethack.progress import DUNGEON_LEVEL, EXPERIENCE_LEVEL, table_progression
    from sparsegym.envs.textworld.progress import TextWorldProgress

    p = SuccessProgress()
    p.update(None, 0.0, True, False, {"success": False})
    assert p.value == 0.0
    tw = TextWorldProgress()
    tw.update(None, 1.0, False, False, {"score": 1, "max_score": 4})
    tw.update(None, 0.0, False, False, {"score": 1, "max_score": 4})
    assert tw.value == 0.25
    tw.update(None, 3.0, True, False, {"score": 4, "max_score": 4, "won": True})
    assert tw.value == 1.0
    assert len(DUNGEON_LEVEL) == 50 and len(EXPERIENCE_LEVEL) == 30
    assert table_progression(1, 1) == 0.0
    assert table_progression(5, 1) == DUNGEON_LEVEL[4] and table_progression(1, 10) == EXPERIENCE_LEVEL[9]
    assert table_progression(99, 99) == max(DUNGEON_LEVEL[-1], EXPERIENCE_LEVEL[-1])  # beyond the tables: their end
    assert all(a <= b for a, b in zip(DUNGEON_LEVEL, DUNGEON_LEVEL[1:]))


def test_nethack_progression_reads_the_bottom_line():
    pytest.importorskip("nle")
    import numpy as np
    from nle import nethack

    import sparsegym
    from sparsegym.envs.nethack.progress import BL_XP, DUNGEON_LEVEL, NetHackProgress

    assert BL_XP == nethack.NLE_BL_XP
    score_task = sparsegym.make("sparsegym/NetHack-Score-v0")
    assert score_task.unwrapped.has_goal is False
    p = NetHackProgress(score_task)
    bl = np.zeros(nethack.NLE_BLSTATS_SIZE, dtype=np.int64)
    bl[nethack.NLE_BL_DEPTH], bl[nethack.NLE_BL_XP] = 3, 1
    p.update({"blstats": bl}, 0.0, False, False, {})
    assert p.value == DUNGEON_LEVEL[2]
    room = sparsegym.make("sparsegym/MiniHack-Room-5x5-v0")
    assert room.unwrapped.has_goal is True
    q = NetHackProgress(room)
    q.update({"blstats": bl}, 1.0, True, False, {"success": True})
    assert q.value == 1.0
