"""`sparsegym suites / evaluate / submit / leaderboard` as a user types them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparsegym import cli

ROOT = Path(__file__).resolve().parents[2]


def test_suites_lists_the_shipped_suites(capsys):
    assert cli.main(["suites"]) == 0
    out = capsys.readouterr().out
    assert "smoke" in out and "minigrid-hard" in out and "1000000-1000009" in out


def test_submit_example_prints_the_leaderboard_and_rank(tmp_path):
    db = tmp_path / "r.db"
    out = subprocess.run([sys.executable, "-m", "sparsegym.cli", "submit", str(ROOT / "examples" / "random_agent.yaml"),
                          "--db", str(db), "--no-progress"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "sparsegym leaderboard: suite 'smoke', split 'test' (5 envs x 10 episodes)" in out.stdout
    assert "random: rank 1 of 1 on smoke/test" in out.stdout
    assert "50 episodes run now, 0 already stored" in out.stdout
    again = subprocess.run([sys.executable, "-m", "sparsegym.cli", "submit", str(ROOT / "examples" / "random_agent.yaml"),
                            "--db", str(db), "--no-progress"], capture_output=True, text=True)
    assert "0 episodes run now, 50 already stored" in again.stdout


def test_evaluate_then_leaderboard_json_and_html(tmp_path, capsys):
    db = str(tmp_path / "r.db")
    agent = str(ROOT / "examples" / "my_agent.py")
    assert cli.main(["evaluate", "--agent", agent, "--suite", "smoke", "--split", "dev", "--db", db, "--no-progress",
                     "--agent-kwargs", '{"forward_prob": 0.9}', "--name", "walker"]) == 0
    capsys.readouterr()
    assert cli.main(["leaderboard", "--suite", "smoke", "--split", "dev", "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ranking"][0]["agent"] == "walker" and data["ranking"][0]["episodes"] == 50
    out_file = tmp_path / "lb" / "board.html"
    plots = tmp_path / "plots"
    assert cli.main(["leaderboard", "--suite", "smoke", "--split", "dev", "--format", "html", "--db", db,
                     "--output", str(out_file), "--plots", str(plots)]) == 0
    assert out_file.read_text().startswith("<!DOCTYPE html>")
    if (plots / "aggregate_iqm.png").exists():
        assert (plots / "aggregate_iqm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_malformed_submission_exits_2_naming_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: me\nauthors: [a]\nagent: x:y\nsuite: smoke\nfoo: 1\n")
    assert cli.main(["submit", str(bad), "--db", str(tmp_path / "r.db")]) == 2
    assert "field 'foo': unknown field" in capsys.readouterr().err


def test_bad_agent_kwargs_and_bad_agent(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--agent-kwargs is not valid JSON"):
        cli.main(["evaluate", "--agent", "sparsegym.baselines:RandomAgent", "--suite", "smoke", "--agent-kwargs", "{",
                  "--db", str(tmp_path / "r.db")])
    assert cli.main(["evaluate", "--agent", "nope_sg:x", "--suite", "smoke", "--db", str(tmp_path / "r.db")]) == 2
    assert "cannot import module 'nope_sg'" in capsys.readouterr().err
