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
    sub = pg_store.get_submission(again.agent)
    assert sub["entry"] == "sparsegym.baselines:RandomAgent" and sub["identity"] == again.identity.digest
    assert {r.identity for r in rows} == {again.identity.digest}


def test_postgres_store_from_before_identities_is_migrated_in_place(tiny_suite, check_migrated, legacy_db):
    """The old schema, as sparsegym 0.1.0 created it (replayed from the SQLite store it made), with its
    rows, opened by today's code."""
    import sqlite3

    psycopg = pytest.importorskip("psycopg")
    from sparsegym.leaderboards.store import ResultsStore

    with sqlite3.connect(legacy_db) as old, psycopg.connect(URL) as conn:
        conn.execute("DROP TABLE IF EXISTS episodes")
        conn.execute("DROP TABLE IF EXISTS submissions")
        for table in ("submissions", "episodes"):
            (ddl,) = old.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
            conn.execute(ddl)
            cur = old.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cur.description]
            assert "identity" not in columns
            with conn.cursor() as pg:
                pg.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                               cur.fetchall())
        old_rows = [(a, sp, e, int(s), r, bool(ok), n) for a, sp, e, s, r, ok, n in old.execute(
            "SELECT agent, split, env_id, seed, episode_return, success, length FROM episodes").fetchall()]
    with ResultsStore(URL) as store:
        check_migrated(store, old_rows)
    with psycopg.connect(URL) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'episodes'").fetchall()}
        assert "identity" in columns
        assert conn.execute("SELECT COUNT(*) FROM episodes WHERE identity IS NULL").fetchone()[0] == 0
