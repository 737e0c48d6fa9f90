import json
from pathlib import Path

import pytest

from sparsegym.leaderboards.evaluator import evaluate
from sparsegym.leaderboards.report import leaderboard, render
from sparsegym.leaderboards.store import EpisodeRecord, ResultsStore, default_db_path
from sparsegym.leaderboards.submission import SubmissionError, load_submission, parse_submission
from sparsegym.leaderboards.suites import SUITES, TEST_SEED_BASE, get_suite

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


# -- suites ---------------------------------------------------------------------------------------


def test_shipped_suites_have_disjoint_fixed_seeds():
    assert {"smoke", "minigrid-easy", "minigrid-hard"} <= set(SUITES)
    for suite in SUITES.values():
        dev, test = suite.seeds("dev"), suite.seeds("test")
        assert len(dev) == len(test) == suite.episodes
        assert not set(dev) & set(test)
        assert test[0] == TEST_SEED_BASE
    assert get_suite("smoke").episodes_of("dev")[0] == ("sparsegym/MiniGrid-DoorKey-5x5-v0", 0)


def test_unknown_suite_suggests():
    with pytest.raises(ValueError, match="unknown suite 'smoek'. Did you mean 'smoke'"):
        get_suite("smoek")


# -- store ----------------------------------------------------------------------------------------


def _record(seed=0, agent="a", **kw):
    base = dict(agent=agent, suite="smoke", split="dev", env_id="sparsegym/MiniGrid-DoorKey-5x5-v0", seed=seed,
                episode_return=0.5, success=True, length=7, wall_seconds=0.01, versions={"sparsegym": "x"})
    base.update(kw)
    return EpisodeRecord(**base)


def test_store_round_trip_and_idempotent_inserts(tmp_path):
    with ResultsStore(tmp_path / "r.db") as store:
        assert store.add_episode(_record(0)) is True
        assert store.add_episode(_record(0, episode_return=0.9)) is False  # the first record stays
        assert store.add_episode(_record(1, success=False, error="boom")) is True
        rows = store.episodes()
        assert [(r.seed, r.episode_return, r.success, r.error) for r in rows] == [(0, 0.5, True, None), (1, 0.5, False, "boom")]
        assert rows[0].versions == {"sparsegym": "x"}
        assert store.done_keys("a", "smoke", "dev") == {("sparsegym/MiniGrid-DoorKey-5x5-v0", 0), ("sparsegym/MiniGrid-DoorKey-5x5-v0", 1)}
        assert store.done_keys("a", "smoke", "test") == set()
    with ResultsStore(tmp_path / "r.db") as again:  # persisted
        assert len(again.episodes()) == 2
        again.add_episode(_record(0, agent="b", split="test"))
        assert again.agents() == ["a", "b"] and again.agents(split="test") == ["b"]
        assert again.delete_run("a", split="dev") == 2 and again.agents() == ["b"]


def test_default_location_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSEGYM_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "results.db"
    monkeypatch.delenv("SPARSEGYM_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "sparsegym" / "results.db"


def test_postgres_url_without_driver_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ImportError, match=r'pip install "sparsegym\[postgres\]"'):
        ResultsStore("postgresql://user:pw@localhost:5432/sparsegym")


# -- submissions ----------------------------------------------------------------------------------


def test_example_submissions_load():
    sub = load_submission(EXAMPLES / "random_agent.yaml")
    assert (sub.name, sub.suite, sub.agent) == ("random", "smoke", "sparsegym.baselines:RandomAgent")
    mine = load_submission(EXAMPLES / "my_agent.yaml")
    assert mine.agent_kwargs == {"forward_prob": 0.6} and mine.base_dir == EXAMPLES


GOOD = {"name": "x", "authors": "Ada", "agent": "pkg:make", "suite": "smoke"}


@pytest.mark.parametrize(
    "change,field,problem",
    [
        ({"nmae": "x"}, "nmae", "unknown field; allowed fields: name, authors"),
        ({"name": None}, "name", "is required"),
        ({"name": "has space"}, "name", "must be 1-80 letters"),
        ({"authors": [1, 2]}, "authors", "must be a name or a list of names"),
        ({"agent": 3}, "agent", "must be an entry point string"),
        ({"suite": "smok"}, "suite", "Did you mean 'smoke'"),
        ({"agent_kwargs": [1]}, "agent_kwargs", "must be a mapping"),
        ({"model_files": ["nope.pt"]}, "model_files", "'nope.pt' does not exist"),
        ({"metadata": "text"}, "metadata", "must be a mapping"),
    ],
)
def test_malformed_submissions_name_the_field(change, field, problem):
    data = {**GOOD, **change}
    with pytest.raises(SubmissionError) as info:
        parse_submission(data, "sub.yaml")
    assert f"sub.yaml: field {field!r}: " in str(info.value)
    assert problem in str(info.value)


def test_model_files_are_hashed(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"abc")
    sub = parse_submission({**GOOD, "model_files": "w.bin"}, base_dir=tmp_path)
    assert sub.model_files == {"w.bin": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}


def test_malformed_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SubmissionError, match="not valid YAML"):
        load_submission(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(SubmissionError, match="must be a mapping of fields"):
        load_submission(tmp_path / "list.yaml")
    (tmp_path / "s.json").write_text(json.dumps(GOOD))
    assert load_submission(tmp_path / "s.json").name == "x"
    with pytest.raises(SubmissionError, match="does not exist"):
        load_submission(tmp_path / "missing.yaml")


# -- reports --------------------------------------------------------------------------------------


def test_leaderboard_ranks_and_renders_every_format(store, tiny_suite):
    agents = str(Path(__file__).with_name("sample_agents.py"))
    evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=store, progress=False, agent_name="random")
    evaluate(f"{agents}:Forward", tiny_suite, "test", store=store, progress=False, agent_name="forward")
    evaluate(f"{agents}:Forward", tiny_suite, "dev", store=store, progress=False, agent_name="dev-only")
    stats = leaderboard(store, tiny_suite, "test", reps=200)
    assert {s.agent for s in stats} == {"random", "forward"}  # dev results stay out of the test table
    assert stats == sorted(stats, key=lambda s: (-s.iqm_return, -s.success_rate, s.agent))

    table = render(stats, tiny_suite, "test", "table")
    assert table.splitlines()[2].split()[:3] == ["rank", "agent", "IQM"]
    md = render(stats, tiny_suite, "test", "markdown")
    assert "| rank | agent | IQM return |" in md and md.count("\n| ") >= 3
    data = json.loads(render(stats, tiny_suite, "test", "json"))
    assert [r["rank"] for r in data["ranking"]] == [1, 2]
    assert data["ranking"][0]["per_env"][0]["episodes"] == 4
    html = render(stats, tiny_suite, "test", "html")
    assert html.startswith("<!DOCTYPE html>") and "<table>" in html
    pytest.importorskip("matplotlib")
    assert html.count("data:image/png;base64,") == 2
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        render(stats, tiny_suite, "test", "pdf")


def test_partial_runs_are_marked(store, tiny_suite):
    evaluate("sparsegym.baselines:RandomAgent", tiny_suite, "test", store=store, progress=False, max_episodes=5)
    (stats,) = leaderboard(store, tiny_suite, "test", reps=100)
    assert not stats.complete
    assert "5/8 (partial)" in render([stats], tiny_suite, "test")
