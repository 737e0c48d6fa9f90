"""`sparsegym train` / `sparsegym baseline` write run folders whose models the leaderboard can run."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("minigrid")

from sparsegym import cli  # noqa: E402
from sparsegym.leaderboards import ResultsStore, Suite, evaluate  # noqa: E402

ENV = "sparsegym/MiniGrid-DoorKey-5x5-v0"
SUITE = Suite("smoke", (ENV,), episodes=3, description="t")


def test_train_writes_a_run_folder_the_leaderboard_can_evaluate(tmp_path, capsys):
    assert cli.main(["train", "ppo", "--env", ENV, "--steps", "2048", "--intrinsic", "rnd", "--out", str(tmp_path),
                     "--no-progress", "--num-envs", "4"]) == 0
    run = tmp_path / "MiniGrid-DoorKey-5x5-v0-ppo-rnd-s0"
    assert {p.name for p in run.iterdir()} >= {"run.json", "config.json", "model.pt", "progress.csv"}
    assert json.loads((run / "run.json").read_text())["config"]["intrinsic"] == "rnd"
    assert "done: 2,048 frames" in capsys.readouterr().out
    with ResultsStore(tmp_path / "r.db") as store:
        result = evaluate("sparsegym.agents:load_ppo", SUITE, "test", agent_kwargs={"path": str(run)}, store=store,
                          progress=False)
        assert result.ran == 3 and result.failed == 0


def test_unknown_env_is_refused(tmp_path, capsys):
    assert cli.main(["train", "ppo", "--env", "sparsegym/Nope-v0", "--out", str(tmp_path)]) == 2
    assert "Unknown environment id" in capsys.readouterr().err


def test_sb3_baseline_run_and_agent(tmp_path):
    pytest.importorskip("stable_baselines3")
    assert cli.main(["baseline", "sb3-ppo", "--env", ENV, "--steps", "1024", "--out", str(tmp_path), "--no-progress",
                     "--num-envs", "2"]) == 0
    run = tmp_path / "MiniGrid-DoorKey-5x5-v0-sb3-ppo-s0"
    assert (run / "model.zip").exists() and (run / "progress.csv").read_text().startswith("frames,")
    with ResultsStore(tmp_path / "r.db") as store:
        result = evaluate("sparsegym.baselines.sb3:SB3Agent", SUITE, "test", store=store, progress=False,
                          agent_kwargs={"path": str(run / "model.zip")})
        assert result.ran == 3 and result.failed == 0
