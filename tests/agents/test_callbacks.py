"""Training callbacks: hook order, stopping, logging, checkpoints and resuming."""

import csv
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("minigrid")

from sparsegym.agents import PPO, PPOConfig  # noqa: E402
from sparsegym.agents.callbacks import (  # noqa: E402
    Callback,
    CallbackList,
    Checkpoint,
    CSVLogger,
    ProgressBar,
    StopOnSuccess,
    as_callback,
)

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def _agent(**kw):
    return PPO(DOORKEY5, PPOConfig(encoder="flat", hidden=16, num_envs=2, num_steps=4, num_minibatches=2,
                                   update_epochs=1, device="cpu", **kw))


class Recorder(Callback):
    def __init__(self, stop_step=None, stop_rollout=None):
        self.events, self.stop_step, self.stop_rollout = [], stop_step, stop_rollout

    def init_callback(self, trainer):
        super().init_callback(trainer)
        self.events.append("init")

    def on_training_start(self, total_steps):
        self.events.append(f"start {total_steps}")

    def on_rollout_start(self):
        self.events.append("rollout")

    def on_step(self):
        self.events.append(f"step {self.num_timesteps}")
        return self.num_timesteps != self.stop_step

    def on_rollout_end(self, stats):
        self.events.append(f"end {stats['frames']}")
        return stats["frames"] != self.stop_rollout

    def on_training_end(self):
        self.events.append("done")


def test_hooks_run_in_order():
    rec = Recorder()
    history = _agent().learn(16, callbacks=rec, progress=False)
    assert rec.events == ["init", "start 16",
                          "rollout", "step 2", "step 4", "step 6", "step 8", "end 8",
                          "rollout", "step 10", "step 12", "step 14", "step 16", "end 16", "done"]
    assert len(history) == 2


def test_on_step_false_stops_at_once_without_learning_the_cut_rollout():
    rec = Recorder(stop_step=12)
    agent = _agent()
    history = agent.learn(32, callbacks=[rec], progress=False)
    assert rec.events[-3:] == ["step 10", "step 12", "done"]
    assert len(history) == 1 and agent.global_step == 12


def test_on_rollout_end_false_stops_after_that_rollout_and_every_callback_still_sees_it():
    first, second = Recorder(stop_rollout=8), Recorder()
    history = _agent().learn(32, callbacks=CallbackList([first, second]), progress=False)
    assert len(history) == 1
    assert second.events[-2:] == ["end 8", "done"]


def test_plain_functions_and_the_older_callback_keyword():
    seen = []
    _agent().learn(16, lambda stats: seen.append(stats["frames"]), progress=False)
    _agent().learn(16, progress=False, callback=lambda stats: seen.append(-stats["frames"]) or False)
    assert seen == [8, 16, -8]
    assert isinstance(as_callback(None), CallbackList) and isinstance(as_callback([lambda s: None]), CallbackList)


def test_stop_on_success():
    stop = StopOnSuccess(threshold=0.8, min_episodes=10)
    assert stop.on_rollout_end({"success_rate": 0.9, "episodes": 5, "frames": 100})  # too few episodes yet
    assert stop.on_rollout_end({"success_rate": 0.7, "episodes": 20, "frames": 200})
    assert not stop.on_rollout_end({"success_rate": 0.8, "episodes": 20, "frames": 300})
    assert stop.reached_at == 300 and stop.reached_after_s >= 0
    watch = StopOnSuccess(threshold=0.8, min_episodes=1, stop=False)
    assert watch.on_rollout_end({"success_rate": 1.0, "episodes": 3, "frames": 50})
    assert watch.on_rollout_end({"success_rate": 0.0, "episodes": 3, "frames": 60}) and watch.reached_at == 50
    assert stop.on_rollout_end({"success_rate": math.nan, "episodes": 0, "frames": 0}) is False  # stays stopped


def test_csv_logger_writes_and_appends(tmp_path):
    agent = _agent()
    agent.learn(16, callbacks=CSVLogger(tmp_path), progress=False)
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert [int(r["frames"]) for r in rows] == [8, 16] and "policy_loss" in rows[0]
    agent.learn(8, callbacks=CSVLogger(tmp_path / "progress.csv", append=True), progress=False)
    rows = list(csv.DictReader(open(tmp_path / "progress.csv")))
    assert [int(r["frames"]) for r in rows] == [8, 16, 24]


def test_checkpoints_are_atomic_and_resume(tmp_path):
    agent = _agent(seed=2)
    saves = Checkpoint(tmp_path / "ck", every=8, keep=2)
    agent.learn(24, callbacks=saves, progress=False)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["16", "24"]  # 8 was dropped (keep=2)
    assert not list((tmp_path / "ck").glob(".*"))  # no temporary folder left behind
    resumed = PPO.load(tmp_path / "ck" / "16")
    assert resumed.global_step == 16
    for a, b in zip(agent.policy.parameters(), PPO.load(tmp_path / "ck" / "24").policy.parameters()):
        assert torch.equal(a, b)
    # resuming goes on counting frames, and the next checkpoint replaces the old 24 atomically
    again = Checkpoint(tmp_path / "ck", every=8)
    history = resumed.learn(8, callbacks=again, progress=False)
    assert history[-1]["frames"] == 24 and again.saved == [tmp_path / "ck" / "24"]
    assert PPO.load(tmp_path / "ck" / "24").global_step == 24
    with pytest.raises(ValueError, match="positive"):
        Checkpoint(tmp_path, every=0)


def test_learn_shortcuts_map_to_default_callbacks(tmp_path):
    agent = _agent()
    hooks = agent._callbacks(None, None, tmp_path, True, 8)
    kinds = [type(c).__name__ for c in hooks.callbacks]
    assert kinds[:2] == ["CSVLogger", "Checkpoint"] or kinds[:3] == ["CSVLogger", "TensorBoardLogger", "Checkpoint"]
    assert ("ProgressBar" in kinds) == ProgressBar.available()
    assert [type(c).__name__ for c in agent._callbacks(None, None, None, False, 8).callbacks] == \
        ["CallbackList", "CallbackList"]  # no log dir: no checkpoints, as before


@pytest.mark.skipif(not ProgressBar.available(), reason="needs tqdm")
def test_progress_bar_counts_the_frames_of_the_call(capsys):
    bar = ProgressBar()
    _agent().learn(16, callbacks=bar, progress=False)
    assert "16/16" in capsys.readouterr().err


def test_a_callback_that_fails_still_closes_the_envs_and_the_others(tmp_path):
    class Boom(Callback):
        def on_rollout_end(self, stats):
            raise RuntimeError("boom")

    log = CSVLogger(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        _agent().learn(16, callbacks=[log, Boom()], progress=False)
    assert log._file is None


def test_a_numpy_rollout_and_a_torch_rollout_are_each_reproducible():
    for numpy_rollout in (True, False):
        a, b = (_agent(seed=4, numpy_rollout=numpy_rollout).learn(16, progress=False) for _ in range(2))
        for x, y in zip(a, b):
            assert {k: v for k, v in x.items() if k != "fps"} == pytest.approx(
                {k: v for k, v in y.items() if k != "fps"}, nan_ok=True)
    assert np.isfinite(a[-1]["policy_loss"])
