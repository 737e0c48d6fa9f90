"""SPA-RL (sparsegym.agents.text.algos.spa): the progress estimator's sum-to-outcome objective, the dense
rewards and grounding by hand, the step advantages, options, training through TextRLTrainer and exact
resume of the estimator."""

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.callbacks import Checkpoint  # noqa: E402
from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.algos import make_algorithm  # noqa: E402
from sparsegym.agents.text.algos.grpo import episode_advantages  # noqa: E402
from sparsegym.agents.text.algos.spa import SPA, dense_rewards, grounding, step_advantages  # noqa: E402
from sparsegym.agents.text.policy import Choice, Turn  # noqa: E402
from sparsegym.agents.text.rollout import Trajectory  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}
TINY_SPA = {"buckets": 2**10, "embed_dim": 8, "hidden": 16, "updates_per_iteration": 4, "batch_size": 8}


def _traj(actions, rewards, invalid=None, group=0, penalties=None, task="Open the door."):
    """A hand-built episode: the observation of turn t is "Room, step t."; the first one states ``task``."""
    traj = Trajectory(task_seed=group, group=group)
    history = []
    for t, action in enumerate(actions):
        obs = f"{task} Room, step {t}." if t == 0 else f"Room, step {t}."
        traj.turns.append(Turn(obs, ["look", "go north", "take key", "open door"], list(history), "Play."))
        extra = {"format_penalty": penalties[t]} if penalties else {}
        traj.choices.append(Choice(action, None, -1.0, extra=extra))
        history.append((obs, action))
    traj.rewards = list(rewards)
    traj.invalid = list(invalid) if invalid is not None else [False] * len(actions)
    traj.terminated = True
    traj.success = bool(sum(rewards) > 0)
    return traj


def _key_episodes(rng, n):
    """Two free turns then "open door"; the episode succeeds (R = 1) iff "take key" was one of the free
    turns (at most once): "take key" always precedes success, "open door" happens in every episode."""
    out = []
    for _ in range(n):
        free = list(rng.choice(["look", "go north"], size=2))
        if rng.random() < 0.5:
            free[rng.integers(2)] = "take key"
        won = "take key" in free
        out.append(_traj([*free, "open door"], [0.0, 0.0, float(won)]))
    return out


def _bound(algo, **cfg):
    algo.bind(SimpleNamespace(config=TextRLConfig(**cfg)))
    return algo


@pytest.fixture
def one_thread():
    """Many tiny torch ops run faster on one thread (and steadier on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_estimator_learns_contributions_that_sum_to_the_outcome(one_thread):
    rng = np.random.default_rng(0)
    algo = _bound(make_algorithm("spa", {**TINY_SPA, "use_task": False, "updates_per_iteration": 20,
                                         "batch_size": 32, "lr": 1e-2, "buffer_size": 160}))
    stats = [algo.fit(_key_episodes(rng, 32)) for _ in range(5)]
    assert np.isnan(stats[0]["spa_corr"])  # an untrained estimator predicts 0 for every episode
    assert stats[-1]["spa_heldout_loss"] < 0.02 < stats[0]["spa_heldout_loss"]  # new episodes, before fitting
    assert stats[-1]["spa_corr"] > 0.95 and stats[-1]["spa_buffer"] == 160

    test = _key_episodes(np.random.default_rng(1), 64)
    c = algo.contributions(test)
    sums = np.array([x.sum() for x in c])
    outcomes = np.array([t.episode_return for t in test])
    assert np.abs(sums - outcomes).max() < 0.25
    key = np.concatenate([x[[a.action == "take key" for a in t.choices]] for x, t in zip(c, test)])
    door = np.array([x[-1] for x in c])
    assert key.mean() > 0.8 and abs(door.mean()) < 0.15  # the credit goes to the step that causes success


def test_dense_rewards_and_grounding_by_hand():
    assert grounding([True, False, True]).tolist() == [0.0, 1.0, 1.0]  # the final step always counts
    assert grounding([]).tolist() == []
    r = dense_rewards([0.2, -0.4, 0.6], [False, True, True], alpha=2.0, beta=0.5)
    np.testing.assert_allclose(r, [0.4 + 0.5, -0.8, 1.2 + 0.5])
    r = dense_rewards([0.2, -0.4, 0.6], [False, True, False], alpha=1.0, beta=0.0, penalties=[0.0, -0.1, 0.0])
    np.testing.assert_allclose(r, [0.2, -0.5, 0.6])
    with pytest.raises(ConfigError, match="2 contributions for 3 turns"):
        dense_rewards([0.0, 0.0], [False] * 3, alpha=1.0, beta=0.5)


def test_relabel_takes_grounding_from_invalid_and_penalties_from_choices():
    algo = _bound(make_algorithm("spa", {**TINY_SPA, "beta": 0.5}))  # untrained: c = 0
    traj = _traj(["look", "xyzzy", "take key", "open door"], [0, 0, 0, 1], invalid=[False, True, True, True],
                 penalties=[0.0, -0.1, 0.0, 0.0])
    [r] = algo.relabel([traj])
    np.testing.assert_allclose(r, [0.5, -0.1, 0.0, 0.5])


def test_step_advantages_by_hand():
    # returns (gamma 0.5): [0.5 + 0.25 * 2, 1 + 0.5 * 2, 2] = [1, 2, 2] and [0] in group 0; [3] alone in group 1
    rewards, groups = [[0.0, 1.0, 2.0], [0.0], [3.0]], [0, 0, 1]
    pooled = step_advantages(rewards, groups, gamma=0.5, norm_by_std=False, baseline="group")
    np.testing.assert_allclose(pooled, [1.0 - 1.25, 2.0 - 1.25, 2.0 - 1.25, -1.25, 3.0])  # a lone turn: mean 0
    # per turn index: turn 0 compares 1 with 0 (mean 0.5); turns 1, 2 and group 1 have no peer: 0
    per_turn = step_advantages(rewards, groups, gamma=0.5, norm_by_std=False)
    np.testing.assert_allclose(per_turn, [0.5, 0.0, 0.0, -0.5, 0.0])
    normed = step_advantages(rewards, groups, gamma=0.5)
    std = np.std([0.5, 0.0, 0.0, -0.5], ddof=1)  # of the differences over group 0's turns
    np.testing.assert_allclose(normed, [0.5 / (std + 1e-6), 0.0, 0.0, -0.5 / (std + 1e-6), 0.0])
    flat = np.array([1.0, 2.0, 2.0, 0.0])
    normed = step_advantages(rewards[:2], groups[:2], gamma=0.5, baseline="group")
    np.testing.assert_allclose(normed, (flat - flat.mean()) / (flat.std(ddof=1) + 1e-6))
    with pytest.raises(ConfigError, match="baseline must be one of"):
        step_advantages(rewards, groups, gamma=0.5, baseline="critic")


def test_advantages_are_grpo_during_warmup_then_dense_step_returns():
    trajs = [_traj(["take key", "open door"], [0, 1]), _traj(["look", "xyzzy", "open door"], [0, 0, 0],
                                                             invalid=[False, True, False])]
    algo = _bound(make_algorithm("spa", {**TINY_SPA, "warmup_iterations": 1, "beta": 0.5}),
                  invalid_penalty=0.1, gamma=0.9)
    algo.prepare(trajs)
    want = episode_advantages(trajs, kind="grpo", norm_by_std=True, stats_across_steps=False, invalid_penalty=0.1)
    np.testing.assert_array_equal(algo.advantages(trajs), want)
    assert algo._stats["spa_relabelled"] == 0.0
    algo.prepare(trajs)
    dense = algo.relabel(trajs)
    want = step_advantages(dense, [0, 0], gamma=0.9) - 0.1 * np.array([0, 0, 0, 1, 0])
    np.testing.assert_allclose(algo.advantages(trajs), want)
    assert algo._stats["spa_relabelled"] == 1.0


@pytest.mark.parametrize(("options", "message"), [
    ({"lr": 0.0}, "lr must be positive"),
    ({"alpha": float("nan")}, "alpha must be a finite number"),
    ({"buffer_size": 0}, "buffer_size must be an integer of at least 1"),
    ({"warmup_iterations": -1}, "warmup_iterations must be an integer of at least 0"),
    ({"batch_size": 2.5}, "batch_size must be an integer"),
    ({"use_task": "yes"}, "use_task must be true or false"),
    ({"baseline": "critic"}, "baseline must be one of"),
    ({"gamma": 0.9}, "spa has no option 'gamma'; its options: alpha, baseline, batch_size, beta"),
])
def test_option_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        TextRLConfig(algo="spa", algo_kwargs=options).validate()


def _trainer(corridor, **cfg):
    cfg = {"algo": "spa", "group_size": 4, "num_envs": 4, "policy_kwargs": SMALL,
           "algo_kwargs": {**TINY_SPA, "warmup_iterations": 1}, **cfg}
    return TextRLTrainer(lambda: corridor(), config=TextRLConfig(**cfg))


def test_spa_trains_through_the_trainer(corridor):
    trainer = _trainer(corridor)
    assert isinstance(trainer.algorithm, SPA) and trainer.algorithm.options.warmup_iterations == 1
    history = trainer.learn(12, progress=False)
    assert [h["spa_relabelled"] for h in history] == [0.0, 1.0, 1.0]
    assert [h["spa_buffer"] for h in history] == [4.0, 8.0, 12.0]
    for h in history:
        assert np.isfinite(h["spa_loss"]) and np.isfinite(h["spa_heldout_loss"]) and np.isfinite(h["policy_loss"])
    assert trainer.algorithm.fits == 3


def _state(trainer):
    return [p.detach().clone() for p in [*trainer.policy.parameters(), *trainer.algorithm.estimator.parameters()]]


def test_save_load_keeps_the_estimator_and_resume_is_exact(corridor, tmp_path):
    straight = _trainer(corridor)
    want = straight.learn(12, progress=False)

    first = _trainer(corridor)
    first.learn(8, callbacks=[Checkpoint(tmp_path / "ck", every=8)], progress=False)
    probe = [_traj(["go east", "take coin"], [0, 1]), _traj(["look"], [0])]
    before = first.algorithm.contributions(probe)
    assert any(np.abs(c).sum() > 0 for c in before)  # the estimator learned something

    resumed = TextRLTrainer.load(tmp_path / "ck" / "8", env=lambda: corridor())
    algo = resumed.algorithm
    assert algo.fits == 2 and len(algo.buffer) == 8 and list(algo.buffer) == list(first.algorithm.buffer)
    for a, b in zip(before, algo.contributions(probe)):
        np.testing.assert_array_equal(a, b)
    got = resumed.learn(4, progress=False)
    assert got[0]["spa_loss"] == want[2]["spa_loss"] and got[0]["batch_success"] == want[2]["batch_success"]
    for a, b in zip(_state(straight), _state(resumed)):
        assert torch.equal(a, b)
