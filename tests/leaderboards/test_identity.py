"""A leaderboard run is identified by what ran (entry, kwargs, model-file hashes, observation mode,
sparsegym version), not by its display name."""

import json
from pathlib import Path

import pytest

from sparsegym import cli
from sparsegym.leaderboards.store import ResultsStore
from sparsegym.leaderboards.suites import SUITES, Suite

HERE = Path(__file__).resolve().parent


@pytest.fixture
def one_env_smoke(monkeypatch):
    """`--suite smoke` cut to one env and two seeds, so CLI runs take seconds."""
    suite = Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=2, description="test", step_timeout=None)
    monkeypatch.setitem(SUITES, "smoke", suite)
    return suite


def _evaluate(db, *extra):
    return cli.main(["evaluate", "--suite", "smoke", "--split", "dev", "--db", str(db), "--no-progress", *extra])


def test_two_ppo_checkpoints_without_name_are_two_runs(tmp_path, one_env_smoke, capsys, monkeypatch):
    torch = pytest.importorskip("torch")
    from sparsegym.agents import PPO

    monkeypatch.chdir(tmp_path)
    for name, seed in (("ckpt_a", 1), ("ckpt_b", 2)):
        torch.manual_seed(seed)
        PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=1, num_steps=8, seed=seed, device="cpu").save(tmp_path / name)
    db = tmp_path / "r.db"
    entry = ["--agent", "sparsegym.agents:load_ppo"]

    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_a"})) == 0
    assert "2 episodes run now, 0 already stored" in capsys.readouterr().out
    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_b"})) == 0
    out = capsys.readouterr().out
    assert "2 episodes run now, 0 already stored" in out  # today: "0 episodes run now, 2 already stored"
    with ResultsStore(db) as store:
        names = store.agents()
        assert len(names) == 2 and all(n.startswith("load_ppo-") for n in names)
        identities = {store.get_submission(n)["identity"] for n in names}
        assert len(identities) == 2
    rows = [line.split() for line in out.splitlines() if "load_ppo-" in line and "2/2" in line]
    assert sorted(r[1] for r in rows) == names  # both runs in the table

    # The first checkpoint again: same identity, same default name -> nothing new runs.
    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_a"})) == 0
    assert "0 episodes run now, 2 already stored" in capsys.readouterr().out

    # Retrained in place: the folder's files changed, so the identity did too.
    torch.manual_seed(3)
    PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=1, num_steps=8, seed=3, device="cpu").save(tmp_path / "ckpt_a")
    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_a"}), "--name", "mine") == 0
    capsys.readouterr()
    torch.manual_seed(4)
    PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", num_envs=1, num_steps=8, seed=4, device="cpu").save(tmp_path / "ckpt_a")
    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_a"}), "--name", "mine") == 2
    err = capsys.readouterr().err
    assert "agent name 'mine' already holds results of a different run" in err
    assert "file hashes" in err and "ckpt_a/model.pt" in err and "--overwrite" in err and "--name" in err
    assert _evaluate(db, *entry, "--agent-kwargs", json.dumps({"path": "ckpt_a"}), "--name", "mine", "--overwrite") == 0
    assert "2 episodes run now, 0 already stored" in capsys.readouterr().out
    with ResultsStore(db) as store:
        assert len(store.episodes(agent="mine")) == 2
        assert {r.identity for r in store.episodes(agent="mine")} == {store.get_submission("mine")["identity"]}


# -- migration of a store written before runs had identities ---------------------------------------

OLD_ROW = "SELECT agent, split, env_id, seed, episode_return, success, length FROM episodes"


def _old_rows(conn):
    return [(a, sp, e, int(s), r, bool(ok), n) for a, sp, e, s, r, ok, n in conn.execute(OLD_ROW).fetchall()]


def test_a_sqlite_store_from_before_identities_is_migrated_in_place(tmp_path, check_migrated, legacy_db):
    import shutil
    import sqlite3

    db = tmp_path / "old.db"
    shutil.copyfile(legacy_db, db)
    with sqlite3.connect(db) as conn:
        assert "identity" not in {row[1] for row in conn.execute("PRAGMA table_info(episodes)")}
        old_rows = _old_rows(conn)
    with ResultsStore(db) as store:
        identities = {a: store.get_submission(a)["identity"] for a in ("random", "sample_agents-Forward")}
        check_migrated(store, old_rows)
    with sqlite3.connect(db) as conn:  # in place: the file itself has the new columns
        assert "identity" in {row[1] for row in conn.execute("PRAGMA table_info(episodes)")}
        assert {"identity", "identity_spec"} <= {row[1] for row in conn.execute("PRAGMA table_info(submissions)")}
        assert conn.execute("SELECT COUNT(*) FROM episodes WHERE identity IS NULL").fetchone()[0] == 0
    with ResultsStore(db) as again:  # opening again changes nothing
        assert {a: again.get_submission(a)["identity"] for a in identities} == identities
        assert len(again.episodes()) == 19 + 5


def test_rows_written_by_an_older_sparsegym_into_a_migrated_store_get_an_identity(tmp_path, store):
    from sparsegym.leaderboards.store import EpisodeRecord

    store.put_submission("old", "sparsegym.baselines:RandomAgent", {"agent_kwargs": {}, "model_files": {}})
    for agent in ("old", "orphan"):  # the old code's INSERT names no identity column
        store.add_episode(EpisodeRecord(agent, "smoke", "dev", "sparsegym/MiniGrid-DoorKey-5x5-v0", 0, 1.0, True, 3,
                                        0.1, versions={"sparsegym": "0.0.9"}))
    assert {r.identity for r in store.episodes()} == {None}
    with ResultsStore(store.location) as again:
        old = again.get_submission("old")
        assert old["identity"] and old["identity_spec"]["sparsegym"] == "0.0.9"
        rows = {r.agent: r.identity for r in again.episodes()}
        assert rows["old"] == old["identity"] and rows["orphan"] and rows["orphan"] != rows["old"]
