"""`sparsegym train grpo|rloo` writes a run folder (config, CSV, curves, checkpoints, the trainer) that
resumes after an interruption and that the leaderboard plays as it is."""

import csv
import json
import shutil

import pytest

pytest.importorskip("torch")
pytest.importorskip("textworld")

from sparsegym import cli  # noqa: E402
from sparsegym.leaderboards import ResultsStore, Suite, evaluate  # noqa: E402

ENV = "sparsegym/TextWorld-TreasureHunter-L10-v0"


def _episodes(run):
    with open(run / "progress.csv", newline="") as f:
        return [int(r["episodes"]) for r in csv.DictReader(f)]


def test_train_resume_and_evaluate(tmp_path, capsys):
    args = ["train", "grpo", "--env", ENV, "--group-size", "4", "--env-kwargs", '{"game_seed": 2}', "--out",
            str(tmp_path), "--no-progress", "--checkpoint-every", "4", "--num-envs", "4"]
    assert cli.main([*args, "--episodes", "8"]) == 0
    run = tmp_path / "TextWorld-TreasureHunter-L10-v0-grpo-s0"
    names = {p.name for p in run.iterdir()}
    assert names >= {"run.json", "progress.csv", "checkpoints", "trainer.json", "trainer.pt", "policy"}
    pytest.importorskip("matplotlib")
    assert "curves.png" in names
    config = json.loads((run / "run.json").read_text())
    assert config["config"]["env_kwargs"] == {"game_seed": 2} and config["policy"] == "ActionScorer"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["4", "8"] and _episodes(run) == [4, 8]
    assert "done: 8 episodes" in capsys.readouterr().out

    # An interruption after the CSV row of episode 8 but before its checkpoint and the final save:
    # --resume restarts from checkpoint 4 and writes rows 8 and 12 again, once.
    (run / "trainer.json").unlink()
    shutil.rmtree(run / "checkpoints" / "8")
    assert cli.main([*args, "--episodes", "12", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming grpo from" in out and "at 4 episodes" in out and "done: 12 episodes" in out
    assert _episodes(run) == [4, 8, 12]
    assert json.loads((run / "trainer.json").read_text())["global_step"] == 12
    assert cli.main([*args, "--episodes", "12", "--resume"]) == 0  # nothing left to do
    assert "for 0 episodes" in capsys.readouterr().out

    suite = Suite("t", (ENV,), episodes=2, description="t", step_timeout=None)
    with ResultsStore(tmp_path / "r.db") as store:
        result = evaluate("sparsegym.agents:load_text_agent", suite, "dev", agent_kwargs={"path": str(run)},
                          store=store, progress=False)
        assert result.ran == 2 and result.failed == 0


def test_train_text_refuses_ppo_options(tmp_path, capsys):
    assert cli.main(["train", "rloo", "--env", ENV, "--intrinsic", "rnd", "--out", str(tmp_path)]) == 2
    assert "PPO option" in capsys.readouterr().err


def test_trainer_and_algorithm_options_from_the_command_line(tmp_path, capsys):
    base = ["train", "gigpo", "--env", ENV, "--out", str(tmp_path), "--no-progress"]
    assert cli.main([*base, "--trainer-kwargs", '{"bogus": 1}']) == 2
    assert "TextRLConfig has no field 'bogus'" in capsys.readouterr().err
    assert cli.main([*base, "--algo-kwargs", '{"omega": 1}']) == 2
    assert "gigpo has no option 'omega'; its options: " in capsys.readouterr().err
    assert cli.main([*base, "--algo-kwargs", "not json"]) == 2
    assert "--algo-kwargs must be a JSON object" in capsys.readouterr().err
    args = [*base, "--env-kwargs", '{"game_seed": 2}', "--group-size", "2", "--num-envs", "2", "--episodes", "2",
            "--num-tasks", "3", "--trainer-kwargs", '{"ent_coef": 0.05}', "--algo-kwargs", '{"step_advantage_w": 0.5}']
    assert cli.main(args) == 0
    config = json.loads((tmp_path / "TextWorld-TreasureHunter-L10-v0-gigpo-s0" / "run.json").read_text())["config"]
    assert config["num_tasks"] == 3 and config["ent_coef"] == 0.05
    assert config["algo_kwargs"] == {"step_advantage_w": 0.5}
