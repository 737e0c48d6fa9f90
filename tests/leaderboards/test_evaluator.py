import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from sparsegym.errors import EvaluationStoppedError
from sparsegym.leaderboards.agent import AgentLoadError
from sparsegym.leaderboards.evaluator import evaluate, trajectory_path
from sparsegym.leaderboards.store import ResultsStore

AGENTS = str(__import__("pathlib").Path(__file__).with_name("sample_agents.py"))


def _keys(records):
    return sorted((r.env_id, r.seed) for r in records)


def test_runs_every_episode_of_the_split_once(store, tiny_suite):
    result = evaluate(f"{AGENTS}:Forward", tiny_suite, "test", store=store, progress=False)
    assert result.ran == 8 and result.skipped == 0 and result.failed == 0
    rows = store.episodes(suite="smoke", split="test")
    assert _keys(rows) == sorted((e, s) for e in tiny_suite.env_ids for s in tiny_suite.seeds("test"))
    # The default name is the entry's short name and 8 hex digits of the run identity.
    assert {r.agent for r in rows} == {f"sample_agents-Forward-{result.identity.digest[:8]}"} == {result.agent}
    assert {r.identity for r in rows} == {result.identity.digest}
    r = rows[0]
    assert r.versions["sparsegym"] and r.versions["minigrid"] == "3.2.0" and r.versions["observation"] == "native"
    assert r.length > 0 and r.wall_seconds > 0


def test_resume_skips_stored_episodes_and_loses_none(store, tiny_suite):
    first = evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False, max_episodes=3)
    assert first.ran == 3
    second = evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False)
    assert second.skipped == 3 and second.ran == 5
    third = evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False)
    assert third.ran == 0 and third.skipped == 8
    assert len(store.episodes(split="dev")) == 8


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path):
    db = tmp_path / "killed.db"
    code = textwrap.dedent(f"""
        from sparsegym.leaderboards.evaluator import evaluate
        from sparsegym.leaderboards.store import ResultsStore
        from sparsegym.leaderboards.suites import Suite
        suite = Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=12, description="t", step_timeout=None)
        evaluate({AGENTS + ':Slow'!r}, suite, "dev", store=ResultsStore({str(db)!r}), progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    stored = 0
    while time.time() < deadline and stored < 3:
        time.sleep(0.1)
        if db.exists():
            try:
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
            except sqlite3.OperationalError:
                stored = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= stored < 12, "the run should have been killed part-way"

    from sparsegym.leaderboards.suites import Suite

    suite = Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=12, description="t", step_timeout=None)
    with ResultsStore(db) as store:
        before = len(store.episodes())
        result = evaluate(f"{AGENTS}:Slow", suite, "dev", store=store, progress=False)
        assert result.skipped == before and result.ran == 12 - before
        assert _keys(store.episodes()) == [("sparsegym/MiniGrid-DoorKey-5x5-v0", s) for s in range(12)]


def test_agent_exceptions_are_recorded_not_fatal(store, tiny_suite):
    result = evaluate(f"{AGENTS}:RaisesOnEvenSeeds", tiny_suite, "dev", store=store, progress=False)
    assert result.ran == 8 and result.failed == 4
    for r in store.episodes():
        if r.seed % 2 == 0:
            assert r.error.startswith("the agent raised at step 3: RuntimeError: boom on an even seed")
            assert r.success is False and r.length == 3
        else:
            assert r.error is None


@pytest.mark.parametrize("backend, workers", [("local", 1), ("local", 2), ("async", 2)])
def test_an_unavailable_service_stops_the_run_and_the_same_call_resumes_it(store, tiny_suite, monkeypatch, backend,
                                                                          workers):
    monkeypatch.delenv("SPARSEGYM_TEST_SERVICE_UP", raising=False)
    kwargs = {"up": "SPARSEGYM_TEST_SERVICE_UP"}
    with pytest.raises(EvaluationStoppedError) as stop:
        evaluate(f"{AGENTS}:ServiceDownOnSeedTwo", tiny_suite, "dev", agent_name="svc", agent_kwargs=kwargs,
                 store=store, progress=False, backend=backend, workers=workers)
    message = str(stop.value)
    assert "the evaluation of 'svc' stopped at sparsegym/" in message and "seed 2, after 2 steps" in message
    assert "ServiceDown: the fake service is down" in message and "run the same evaluation again" in message
    stored = store.episodes(agent="svc")
    assert all(r.error is None for r in stored)  # nothing failed was stored, and not the episode that stopped it
    assert all(r.seed != 2 for r in stored if r.env_id == stop.value.where.split(" seed")[0])
    assert stop.value.result.ran == len(stored) < 8
    monkeypatch.setenv("SPARSEGYM_TEST_SERVICE_UP", "1")  # the service is back: the same call finishes the run
    result = evaluate(f"{AGENTS}:ServiceDownOnSeedTwo", tiny_suite, "dev", agent_name="svc", agent_kwargs=kwargs,
                      store=store, progress=False, backend=backend, workers=workers)
    assert (result.skipped, result.ran, result.failed) == (len(stored), 8 - len(stored), 0)


def test_a_hanging_agent_times_out_per_step(store, tiny_suite):
    start = time.time()
    result = evaluate(f"{AGENTS}:HangsOnSeedZero", tiny_suite, "dev", store=store, progress=False)
    assert time.time() - start < 15
    failed = [r for r in store.episodes() if r.error]
    assert result.failed == 2 and {r.seed for r in failed} == {0}
    assert all("step timeout: the agent took over 0.5 s to act at step 1" in r.error for r in failed)


def test_async_episodes_in_flight_share_the_step_allowance(store, tiny_suite):
    # Four agents queue on one server taking 0.2 s a call: the last waits 0.8 s, over the suite's 0.5 s
    # alone but within its share (0.5 s x 4 in flight).
    result = evaluate(f"{AGENTS}:QueuesOnOneServer", tiny_suite, "dev", store=store, progress=False,
                      backend="async", workers=4)
    assert result.ran == 8 and result.failed == 0, [r.error for r in result.records if r.error]


def test_a_hanging_async_agent_times_out_with_the_shared_allowance_named(store, tiny_suite):
    start = time.time()
    result = evaluate(f"{AGENTS}:HangsAsyncOnSeedZero", tiny_suite, "dev", store=store, progress=False,
                      backend="async", workers=4)
    assert time.time() - start < 15
    failed = [r for r in store.episodes() if r.error]
    assert result.failed == 2 and {r.seed for r in failed} == {0}
    assert all(r.error == "step timeout: the agent took over 2 s (the suite's 0.5 s x 4 episodes in flight) "
               "to act at step 1" for r in failed), failed[0].error


def test_a_hanging_agent_times_out_in_worker_processes_too(store, tiny_suite):
    result = evaluate(f"{AGENTS}:HangsOnSeedZero", tiny_suite, "dev", store=store, progress=False, workers=2)
    assert result.failed == 2
    assert all("step timeout" in r.error for r in store.episodes() if r.error)


def test_invalid_actions_get_a_clear_error(store, tiny_suite):
    evaluate(f"{AGENTS}:InvalidAction", tiny_suite, "dev", store=store, progress=False)
    errors = [r.error for r in store.episodes()]
    assert len(errors) == 8
    for error in errors:
        assert error.startswith("env.step rejected action 99 at step 0: InvalidActionError: invalid action 99 for MiniGrid-")
        assert "0=turn left" in error


def test_process_pool_gives_the_same_records_as_inline(tmp_path, tiny_suite):
    results = []
    for workers in (1, 2):
        with ResultsStore(tmp_path / f"w{workers}.db") as store:
            evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=store, progress=False, workers=workers)
            results.append([(r.env_id, r.seed, r.episode_return, r.success, r.length) for r in store.episodes()])
    assert results[0] == results[1]


def test_ray_backend_gives_the_same_records_as_local(tmp_path, tiny_suite, ray_session):
    results = []
    for backend in ("local", "ray"):
        with ResultsStore(tmp_path / f"{backend}.db") as store:
            evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=store, progress=False,
                     workers=2, backend=backend)
            results.append([(r.env_id, r.seed, r.episode_return, r.success, r.length, r.error) for r in store.episodes()])
    assert len(results[1]) == 8
    assert results[0] == results[1]


def test_trajectories_are_written_per_episode(store, tiny_suite, tmp_path):
    evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False, trajectory_dir=tmp_path / "traj",
             max_episodes=1)
    (record,) = store.episodes()
    path = trajectory_path(tmp_path / "traj", record.agent, "smoke", "dev", record.env_id, record.seed)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["episode"]["seed"] == record.seed
    assert len(lines) == 1 + 1 + record.length  # header, reset, one per step
    assert all(step["action"] == 2 for step in lines[2:])
    assert lines[-1]["truncated"] or lines[-1]["terminated"]


def test_an_agent_name_cannot_silently_change_its_entry_point(store, tiny_suite):
    evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False, agent_name="me", max_episodes=2)
    with pytest.raises(ValueError, match="(?s)already holds results of a different run.*entry: .*--overwrite"):
        evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, progress=False, agent_name="me")
    evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, progress=False, agent_name="me",
             overwrite=True)
    assert len(store.episodes(agent="me")) == 8
    assert store.get_submission("me")["entry"] == "sparsegym.baselines:RandomAgent"


@pytest.mark.parametrize(
    "entry,match",
    [
        ("no_such_module_sg:make", "cannot import module 'no_such_module_sg'"),
        ("sparsegym.baselines", "needs ':factory' after the module"),
        ("sparsegym.baselines:Nope", "has no 'Nope'; callables defined there: .*RandomAgent"),
        ("missing_file.py", "agent file 'missing_file.py' does not exist"),
        (f"{AGENTS}:NoAct", "lacks act\\(\\)"),
    ],
)
def test_bad_entry_points_fail_fast_with_the_fix(store, tiny_suite, entry, match):
    with pytest.raises(AgentLoadError, match=match):
        if entry.endswith(":NoAct"):
            import sparsegym
            from sparsegym.leaderboards.agent import build_agent

            build_agent(entry, sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
        else:
            evaluate(entry, tiny_suite, "dev", store=store, progress=False)
    assert store.episodes() == []


@pytest.mark.parametrize("kwargs, match", [
    ({"sped": 2}, r"agent_kwargs of '.*:make_with_options': make_with_options takes no 'sped' \(did you mean "
                  r"'speed'\?\); it takes speed, mode"),
    ({"speed": 2, "colour": 1, "mod": "x"}, r"takes no 'colour', 'mod' \(did you mean 'mode'\?\)"),
    ({"mode": "slow"}, r"do not fit make_with_options\(env, speed, \*, mode='fast'\): missing a required "
                       r"argument: 'speed'"),
])
def test_agent_kwargs_that_do_not_fit_the_factory_fail_before_any_episode(store, tiny_suite, kwargs, match):
    with pytest.raises(AgentLoadError, match=match):
        evaluate(f"{AGENTS}:make_with_options", tiny_suite, "dev", store=store, progress=False, agent_kwargs=kwargs)
    assert store.episodes() == []
    # what fits runs, and a factory taking **kwargs is left to its call
    assert evaluate(f"{AGENTS}:make_with_options", tiny_suite, "dev", store=store, progress=False,
                    agent_kwargs={"speed": 2, "mode": "slow"}, agent_name="fits").failed == 0
    assert evaluate(f"{AGENTS}:Forward", tiny_suite, "dev", store=store, progress=False,
                    agent_kwargs={"anything": 1}, agent_name="takes-all").failed == 0


def test_bad_split_backend_and_workers(store, tiny_suite):
    with pytest.raises(ValueError, match="unknown split 'train'"):
        evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "train", store=store)
    with pytest.raises(ValueError, match="unknown backend 'slurm'"):
        evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, backend="slurm")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, workers=0)


def test_a_dying_worker_fails_only_its_own_episode(store, tiny_suite):
    result = evaluate(f"{AGENTS}:DiesOnSeedOne", tiny_suite, "dev", store=store, progress=False, workers=2)
    rows = store.episodes()
    assert result.ran == 8 and len(rows) == 8
    failed = {(r.env_id, r.seed) for r in rows if r.error}
    assert failed == {(env_id, 1) for env_id in tiny_suite.env_ids}
    assert all("worker process died" in r.error for r in rows if r.error)
