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


# -- the identity formula --------------------------------------------------------------------------


def test_identity_is_the_hash_of_a_canonical_spec(tmp_path, monkeypatch):
    import hashlib

    import sparsegym
    from sparsegym.leaderboards.identity import canonical, run_identity

    monkeypatch.chdir(tmp_path)
    a = run_identity("pkg.mod:make", {"b": [1, {"y": 2, "x": 1}], "a": 0.5})
    assert a.digest == run_identity("pkg.mod:make", {"a": 0.5, "b": [1, {"x": 1, "y": 2}]}).digest  # key order
    assert a.spec == {"entry": "pkg.mod:make", "kwargs": {"a": 0.5, "b": [1, {"x": 1, "y": 2}]}, "files": {},
                      "observation": "native", "view": None, "sparsegym": sparsegym.__version__}
    assert a.digest == hashlib.sha256(canonical(a.spec).encode()).hexdigest() and len(a.short) == 12
    assert canonical({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    others = [run_identity("pkg.mod:other", {"b": [1, {"y": 2, "x": 1}], "a": 0.5}),
              run_identity("pkg.mod:make", {"a": 0.25}),
              run_identity("pkg.mod:make", {"b": [1, {"y": 2, "x": 1}], "a": 0.5}, observation="text"),
              run_identity("pkg.mod:make", {"b": [1, {"y": 2, "x": 1}], "a": 0.5}, model_files={"w.pt": "ab" * 32})]
    monkeypatch.setattr(sparsegym, "__version__", "99.0")
    others.append(run_identity("pkg.mod:make", {"b": [1, {"y": 2, "x": 1}], "a": 0.5}))
    assert len({a.digest, *(o.digest for o in others)}) == 6
    assert others[2].spec["view"].startswith("TextObservation/")
    assert [d.split(":")[0] for d in a.differences(others[-1])] == ["sparsegym version"]


def test_files_named_by_kwargs_and_the_agent_file_are_hashed(tmp_path, monkeypatch):
    from sparsegym.leaderboards.identity import RunIdentityError, run_identity, sha256_file

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt.pt").write_bytes(b"weights v1")
    run = tmp_path / "run"
    (run / "checkpoints" / "100").mkdir(parents=True)
    (run / "model.pt").write_bytes(b"model")
    (run / "checkpoints" / "100" / "model.pt").write_bytes(b"early")
    (run / ".hidden").write_text("x")
    (tmp_path / "agent.py").write_text("def make_agent(env): ...\n")
    ident = run_identity("agent.py:make_agent", {"path": "ckpt.pt", "more": {"dirs": ["run"]}, "mode": "fast"},
                         base_dir=tmp_path)
    assert ident.spec["files"] == {
        "agent.py": sha256_file(tmp_path / "agent.py"), "ckpt.pt": sha256_file(tmp_path / "ckpt.pt"),
        "run/model.pt": sha256_file(run / "model.pt"),
        "run/checkpoints/100/model.pt": sha256_file(run / "checkpoints" / "100" / "model.pt"),
    }
    (tmp_path / "ckpt.pt").write_bytes(b"weights v2")  # retrained in place
    again = run_identity("agent.py:make_agent", {"path": "ckpt.pt", "more": {"dirs": ["run"]}, "mode": "fast"},
                         base_dir=tmp_path)
    assert again.digest != ident.digest
    (diff,) = again.differences(ident.spec)
    assert diff.startswith("file hashes (sha256): ckpt.pt ")
    # relative to the submission file's folder when not found from the current one
    monkeypatch.chdir(run)
    assert "ckpt.pt" in run_identity("pkg:make", {"path": "ckpt.pt"}, base_dir=tmp_path).spec["files"]
    monkeypatch.setattr("sparsegym.leaderboards.identity.MAX_FOLDER_FILES", 1)
    with pytest.raises(RunIdentityError, match="names a folder with over 1 files"):
        run_identity("pkg:make", {"path": str(run)})
    with pytest.raises(RunIdentityError, match="must be JSON values"):
        run_identity("pkg:make", {"f": object()})
    with pytest.raises(RunIdentityError, match="unknown observation mode 'pixels'"):
        run_identity("pkg:make", {}, observation="pixels")


# -- names, conflicts and --overwrite (Python API) -------------------------------------------------

AGENTS = str(HERE / "sample_agents.py")


def test_a_name_bound_to_another_run_is_refused_with_what_differs(tmp_path, store, tiny_suite, monkeypatch):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.identity import RunIdentityError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("2")
    first = evaluate(f"{AGENTS}:FromFile", tiny_suite, "dev", store=store, progress=False, agent_name="me",
                     agent_kwargs={"path": "a.txt"}, max_episodes=2)
    assert first.ran == 2
    (tmp_path / "a.txt").write_text("1")
    with pytest.raises(RunIdentityError) as info:
        evaluate(f"{AGENTS}:FromFile", tiny_suite, "dev", store=store, progress=False, agent_name="me",
                 agent_kwargs={"path": "a.txt", "extra": 1}, observation="native")
    message = str(info.value)
    assert f"stored identity {first.identity.short}" in message and "this run's identity" in message
    assert "kwargs: {\"path\":\"a.txt\"} -> {\"extra\":1,\"path\":\"a.txt\"}" in message
    assert "file hashes (sha256): a.txt " in message
    assert "--name NEW_NAME" in message and "--overwrite" in message
    assert len(store.episodes(agent="me")) == 2  # nothing was run or deleted
    replaced = evaluate(f"{AGENTS}:FromFile", tiny_suite, "dev", store=store, progress=False, agent_name="me",
                        agent_kwargs={"path": "a.txt"}, overwrite=True)
    assert (replaced.skipped, replaced.ran) == (0, 8)
    assert {r.identity for r in store.episodes(agent="me")} == {replaced.identity.digest}
    # --overwrite with the same run reruns the split from scratch
    rerun = evaluate(f"{AGENTS}:FromFile", tiny_suite, "dev", store=store, progress=False, agent_name="me",
                     agent_kwargs={"path": "a.txt"}, overwrite=True, max_episodes=1)
    assert (rerun.skipped, rerun.ran) == (0, 1) and len(store.episodes(agent="me")) == 1


def test_default_names_of_different_runs_differ_even_on_a_short_hash_clash(store, tiny_suite):
    from sparsegym.leaderboards.evaluator import default_agent_name, evaluate
    from sparsegym.leaderboards.identity import run_identity

    ident = run_identity("sparsegym.baselines:RandomAgent", {})
    assert default_agent_name("sparsegym.baselines:RandomAgent") == "RandomAgent"  # the old rule, kept
    short = default_agent_name("sparsegym.baselines:RandomAgent", ident)
    assert short == f"RandomAgent-{ident.digest[:8]}"
    store.put_submission(short, "other:entry", {}, "f" * 64, {"entry": "other:entry"})  # a clash on 8 digits
    result = evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "dev", store=store, progress=False, max_episodes=1)
    assert result.agent == f"RandomAgent-{ident.digest[:12]}"


def test_an_edited_agent_file_is_a_new_run_and_is_reimported(tmp_path, store, tiny_suite):
    from sparsegym.leaderboards.evaluator import evaluate

    agent = tmp_path / "walker.py"
    code = "class Agent:\n    def __init__(self, env): pass\n    def reset(self, seed): pass\n    def act(self, o, i): return {}\n"
    agent.write_text(code.replace("{}", "2"))
    first = evaluate(str(agent), tiny_suite, "dev", store=store, progress=False)
    agent.write_text(code.replace("{}", "99"))
    second = evaluate(str(agent), tiny_suite, "dev", store=store, progress=False)
    assert first.agent != second.agent and second.ran == 8
    assert first.failed == 0 and second.failed == 8  # the second run used the edited code (action 99)


# -- observation: native | text --------------------------------------------------------------------


def test_a_text_agent_plays_the_smoke_suite_with_text_observations(store, tiny_suite):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.report import leaderboard
    from sparsegym.wrappers import TextObservation

    text = evaluate(f"{AGENTS}:TextWalker", tiny_suite, "test", store=store, progress=False, observation="text")
    assert (text.ran, text.failed) == (8, 0)
    rows = store.episodes(agent=text.agent)
    assert len(rows) == 8 and all(r.length > 0 for r in rows)
    assert all(r.versions["observation"] == "text" and r.versions["text_view"] == "minigrid-text"
               and r.versions["text_view_version"] == f"1+TextObservation/{TextObservation.VERSION}" for r in rows)
    assert text.identity.spec["observation"] == "text"
    native = evaluate(f"{AGENTS}:TextWalker", tiny_suite, "test", store=store, progress=False)
    assert native.identity.digest != text.identity.digest and native.agent != text.agent
    assert native.ran == 8 and native.failed == 8  # it cannot read arrays: a different run, stored apart
    assert "TextWalker reads text observations" in store.episodes(agent=native.agent)[0].error
    stats = leaderboard(store, tiny_suite, "test", reps=50)
    assert {s.agent: s.identity for s in stats} == {text.agent: text.identity.digest,
                                                    native.agent: native.identity.digest}
    by = {s.agent: s for s in stats}  # both score 0 here (a walker rarely wins); the failed run has 8 errors
    assert by[native.agent].errors == 8 and by[text.agent].errors == 0


def test_a_suite_can_default_to_text_and_text_native_envs_are_not_wrapped(store):
    from sparsegym.leaderboards.evaluator import evaluate, make_env

    suite = Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=2, description="t", observation="text")
    result = evaluate(f"{AGENTS}:TextWalker", suite, "dev", store=store, progress=False)
    assert result.failed == 0 and result.identity.spec["observation"] == "text"
    env, stamp = make_env("sparsegym/SWE-Mutation-v0", "text")
    assert type(env).__name__ != "TextObservation" and stamp == {"observation": "text", "text_view": "native"}
    with pytest.raises(ValueError, match="observation must be one of native, text"):
        Suite("x", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=1, description="t", observation="pixels")


def test_submissions_and_the_cli_take_an_observation(tmp_path, one_env_smoke, capsys):
    from sparsegym.leaderboards.submission import SubmissionError, parse_submission

    good = {"name": "texty", "authors": "Ada", "agent": "sample_agents.py:TextWalker", "suite": "smoke",
            "observation": "text"}
    assert parse_submission(good, base_dir=HERE).observation == "text"
    assert parse_submission({**good, "observation": None}).observation is None
    with pytest.raises(SubmissionError, match="field 'observation': 'pixels' must be one of: native, text"):
        parse_submission({**good, "observation": "pixels"})
    sub = tmp_path / "texty.json"
    sub.write_text(json.dumps({**good, "agent": AGENTS + ":TextWalker"}))
    db = str(tmp_path / "r.db")
    assert cli.main(["submit", str(sub), "--db", db, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "texty: rank 1 of 1 on smoke/test" in out and "observation text" in out
    # the same file forced to native is a different run under the same name: refused
    assert cli.main(["submit", str(sub), "--db", db, "--no-progress", "--observation", "native"]) == 2
    assert "observation: text -> native" in capsys.readouterr().err
    with ResultsStore(db) as store:
        (row, *_) = store.episodes(agent="texty")
        assert row.versions["observation"] == "text" and store.get_submission("texty")["details"]["observation"] == "text"


def test_an_llm_agents_server_address_is_not_part_of_its_identity():
    from sparsegym.leaderboards.identity import run_identity

    a = run_identity("sparsegym.agents:LLMAgent", {"model": "smollm2", "base_url": "http://127.0.0.1:1/v1",
                                                  "cache": "/tmp/a.sqlite"}, observation="text")
    b = run_identity("sparsegym.agents:LLMAgent", {"model": "smollm2", "base_url": "http://127.0.0.1:2/v1"},
                     observation="text")
    c = run_identity("sparsegym.agents:LLMAgent", {"model": "smollm2", "prompt": "cot"}, observation="text")
    assert a.digest == b.digest != c.digest and "base_url" not in a.spec["kwargs"]
