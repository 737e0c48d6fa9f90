"""The results store on a real PostgreSQL server. Runs when SPARSEGYM_TEST_POSTGRES_URL is set, e.g.
``SPARSEGYM_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:55432/sgtest pytest tests/leaderboards``."""

import os

import pytest

URL = os.environ.get("SPARSEGYM_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="set SPARSEGYM_TEST_POSTGRES_URL to a scratch PostgreSQL database")


@pytest.fixture
def pg_store():
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(URL) as conn:
        conn.execute("DROP TABLE IF EXISTS episodes")
        conn.execute("DROP TABLE IF EXISTS submissions")
    from sparsegym.leaderboards.store import ResultsStore

    with ResultsStore(URL) as store:
        yield store


def test_postgres_store_round_trip_and_resume(pg_store, tiny_suite):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.report import leaderboard

    assert pg_store.kind == "postgresql"
    first = evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=pg_store, progress=False, max_episodes=3)
    assert first.ran == 3
    again = evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=pg_store, progress=False)
    assert again.skipped == 3 and again.ran == 5
    rows = pg_store.episodes(suite="smoke", split="test")
    assert len(rows) == 8 and all(isinstance(r.success, bool) for r in rows)
    assert pg_store.add_episode(rows[0]) is False  # ON CONFLICT DO NOTHING
    (stats,) = leaderboard(pg_store, tiny_suite, "test", reps=100)
    assert stats.complete and stats.episodes == 8
    assert pg_store.get_submission("RandomAgent")["entry"] == "sparsegym.baselines:RandomAgent"
