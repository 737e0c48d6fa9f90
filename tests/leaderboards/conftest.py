from pathlib import Path

import pytest

pytest.importorskip("minigrid")

from sparsegym.leaderboards.suites import Suite  # noqa: E402

AGENTS = str(Path(__file__).with_name("sample_agents.py"))


@pytest.fixture
def tiny_suite():
    return Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/MiniGrid-MultiRoom-N2-S4-v0"),
                 episodes=4, description="test", step_timeout=0.5)


@pytest.fixture
def store(tmp_path):
    from sparsegym.leaderboards.store import ResultsStore

    with ResultsStore(tmp_path / "results.db") as s:
        yield s


LEGACY_DB = Path(__file__).with_name("data") / "legacy_store_v0.db"
#: What data/make_legacy_store.py stored for the submission "random".
LEGACY_DETAILS = {"authors": ["sparsegym developers"], "agent_kwargs": {}, "model_files": {},
                  "metadata": {"description": "legacy store for the migration test"}}


@pytest.fixture
def legacy_db():
    """The store data/make_legacy_store.py wrote with sparsegym 0.1.0 (read it; copy it to change it)."""
    return LEGACY_DB


@pytest.fixture
def check_migrated(monkeypatch, tiny_suite):
    """Checks of a store made by data/make_legacy_store.py (sparsegym 0.1.0, before run identities)
    once opened by today's code: shared by the SQLite and PostgreSQL migration tests."""
    import sparsegym
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.identity import RunIdentityError, legacy_identity, run_identity
    from sparsegym.leaderboards.report import leaderboard

    def check(store, old_rows):
        rows = store.episodes()
        assert len(rows) == len(old_rows) == 19
        # every old episode is still there, unchanged, now with an identity
        assert sorted((r.agent, r.split, r.env_id, r.seed, r.episode_return, r.success, r.length) for r in rows) == \
            sorted(old_rows)
        assert all(r.identity for r in rows)
        random, forward = store.get_submission("random"), store.get_submission("sample_agents-Forward")
        expected = legacy_identity("sparsegym.baselines:RandomAgent", LEGACY_DETAILS, [{"sparsegym": "0.1.0"}])
        assert random["identity"] == expected.digest and random["identity_spec"] == expected.spec
        assert forward["identity_spec"]["kwargs"] is None  # `sparsegym evaluate` never recorded kwargs
        assert {r.identity for r in rows if r.agent == "random"} == {random["identity"]}
        assert {r.identity for r in rows if r.agent != "random"} == {forward["identity"]}
        # ranked as before
        stats = leaderboard(store, tiny_suite, "test", reps=50)
        assert sorted(s.agent for s in stats) == ["random", "sample_agents-Forward"]
        assert all(s.complete and s.episodes == 8 for s in stats)
        assert {s.agent: s.identity for s in stats}["random"] == random["identity"]

        # The same submission run again (by the version that stored it) has the same identity and resumes.
        monkeypatch.setattr(sparsegym, "__version__", "0.1.0")
        assert run_identity("sparsegym.baselines:RandomAgent", {}).digest == random["identity"]
        result = evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, agent_name="random",
                          details=LEGACY_DETAILS, progress=False)
        assert (result.skipped, result.ran) == (3, 5)
        assert {r.identity for r in store.episodes(agent="random", split="dev")} == {random["identity"]}
        # A run whose kwargs the old store never recorded cannot be proven equal: refused, with why.
        with pytest.raises(RunIdentityError, match="(?s)sample_agents-Forward.*kwargs: not recorded.*--overwrite"):
            evaluate(f"{Path(AGENTS).parent}/sample_agents.py:Forward", tiny_suite, "test", store=store,
                     agent_name="sample_agents-Forward", progress=False)

    return check
