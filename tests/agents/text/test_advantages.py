"""GRPO, RLOO and the step returns against values computed by hand from the formulas in
shared notes (verl-agent's core_algos / core_gigpo)."""

import math

import numpy as np
import pytest

from sparsegym.agents.text.advantages import (
    broadcast,
    discounted_step_returns,
    group_statistics,
    grpo_advantages,
    rloo_advantages,
)
from sparsegym.errors import ConfigError

pytest.importorskip("torch")

from sparsegym.agents.text.policy import Choice  # noqa: E402
from sparsegym.agents.text.rollout import Trajectory  # noqa: E402
from sparsegym.agents.text.trainer import TextRLTrainer  # noqa: E402

EPS = 1e-6


def test_grpo_one_group_unbiased_std():
    # mean 0.25; unbiased variance (0.75^2 + 3 * 0.25^2) / 3 = 0.25, so std 0.5
    adv = grpo_advantages([1.0, 0.0, 0.0, 0.0], [0, 0, 0, 0])
    assert adv == pytest.approx([0.75 / (0.5 + EPS), -0.25 / (0.5 + EPS), -0.25 / (0.5 + EPS), -0.25 / (0.5 + EPS)])


def test_grpo_groups_are_separate_and_equal_returns_give_zero():
    adv = grpo_advantages([1.0, 0.0, 2.0, 2.0], ["a", "a", "b", "b"])
    s = math.sqrt(0.5)  # std of (1, 0)
    assert adv == pytest.approx([0.5 / (s + EPS), -0.5 / (s + EPS), 0.0, 0.0])


def test_grpo_group_of_one_has_mean_zero_std_one():
    assert grpo_advantages([3.0], [7]) == pytest.approx([3.0 / (1 + EPS)])
    assert grpo_advantages([3.0, 1.0, 2.0], [0, 1, 1])[0] == pytest.approx(3.0 / (1 + EPS))


def test_dr_grpo_drops_the_std():
    assert grpo_advantages([1.0, 0.0, 0.0, 0.0], [0] * 4, norm_by_std=False) == pytest.approx([0.75, -0.25, -0.25, -0.25])
    assert grpo_advantages([3.0], [0], norm_by_std=False) == pytest.approx([3.0])  # singleton: mean 0


def test_grpo_across_steps_counts_each_return_once_per_turn():
    # R = (1, 0) with 1 and 3 turns: the samples are (1, 0, 0, 0): mean 0.25, std 0.5
    adv = grpo_advantages([1.0, 0.0], [0, 0], lengths=[1, 3])
    assert adv == pytest.approx([0.75 / (0.5 + EPS), -0.25 / (0.5 + EPS)])
    # per episode instead: mean 0.5, std sqrt(0.5)
    assert grpo_advantages([1.0, 0.0], [0, 0]) == pytest.approx([0.5 / (math.sqrt(0.5) + EPS), -0.5 / (math.sqrt(0.5) + EPS)])
    # one episode of 3 turns is 3 samples of one value: mean R, std 0, so A = 0 (not R, as a singleton gets)
    assert grpo_advantages([1.0], [0], lengths=[3]) == pytest.approx([0.0])
    assert grpo_advantages([1.0], [0], lengths=[1]) == pytest.approx([1.0 / (1 + EPS)])


def test_rloo_is_leave_one_out():
    R = np.array([1.0, 0.0, 0.0, 0.0])
    adv = rloo_advantages(R, [0] * 4)
    assert adv == pytest.approx([1.0, -1 / 3, -1 / 3, -1 / 3])
    loo = [R[i] - np.delete(R, i).mean() for i in range(4)]
    assert adv == pytest.approx(loo)
    assert adv == pytest.approx(4 / 3 * (R - R.mean()))


def test_rloo_singleton_and_across_steps():
    assert rloo_advantages([2.0], [0]) == pytest.approx([2.0])  # verl: a group of one keeps its score
    # across steps: samples (1, 0, 0, 0): n = 4, mean 0.25
    assert rloo_advantages([1.0, 0.0], [0, 0], lengths=[1, 3]) == pytest.approx([1.0, -1 / 3])


def test_group_statistics_and_errors():
    mean, std, n = group_statistics([1.0, 3.0, 5.0], [0, 0, 1])
    assert mean.tolist() == [2.0, 2.0, 0.0] and std[:2] == pytest.approx([math.sqrt(2)] * 2) and std[2] == 1.0
    assert n.tolist() == [2, 2, 1]
    with pytest.raises(ConfigError):
        group_statistics([1.0, 2.0], [0])
    with pytest.raises(ConfigError):
        group_statistics([1.0], [0], lengths=[0])


def test_discounted_step_returns():
    assert discounted_step_returns([0.0, 1.0, 0.0, 2.0], 0.5) == pytest.approx([0.5 + 0.25, 1 + 0.5, 1.0, 2.0])
    assert discounted_step_returns([0.0, 0.0, 1.0], 0.95) == pytest.approx([0.9025, 0.95, 1.0])
    # the invalid-action penalty hits its own turn only, after discounting
    got = discounted_step_returns([0.0, 0.0, 1.0], 0.95, invalid=[False, True, False], penalty=0.1)
    assert got == pytest.approx([0.9025, 0.85, 1.0])
    assert discounted_step_returns([], 0.9).tolist() == []


def test_broadcast():
    assert broadcast([1.0, -2.0], [2, 3]).tolist() == [1.0, 1.0, -2.0, -2.0, -2.0]


def _traj(group, rewards, invalid=None, penalties=None):
    t = Trajectory(task_seed=group, group=group)
    t.rewards = list(rewards)
    t.invalid = list(invalid or [False] * len(rewards))
    t.turns = [None] * len(rewards)
    t.choices = [Choice("x", 0, 0.0, extra={} if p is None else {"format_penalty": p})
                 for p in (penalties or [None] * len(rewards))]
    return t


def _trainer(corridor, **cfg):
    return TextRLTrainer(lambda: corridor(), **cfg)


@pytest.mark.parametrize("algo", ["grpo", "rloo"])
def test_trainer_broadcasts_episode_advantages_to_turns(corridor, algo):
    trajs = [_traj(0, [0, 1]), _traj(0, [0, 0, 0]), _traj(1, [1])]
    adv = _trainer(corridor, algo=algo).advantages(trajs)
    fn = grpo_advantages if algo == "grpo" else rloo_advantages
    per_episode = fn([1.0, 0.0, 1.0], [0, 0, 1])
    assert adv == pytest.approx(broadcast(per_episode, [2, 3, 1]))
    across = _trainer(corridor, algo=algo, stats_across_steps=True).advantages(trajs)
    assert across == pytest.approx(broadcast(fn([1.0, 0.0, 1.0], [0, 0, 1], lengths=[2, 3, 1]), [2, 3, 1]))


def test_invalid_penalty_per_turn(corridor):
    trajs = [_traj(0, [0, 1], invalid=[True, False]), _traj(0, [0, 0])]
    # episode mode: the penalty comes off the invalid turn's advantage
    base = grpo_advantages([1.0, 0.0], [0, 0])
    adv = _trainer(corridor, invalid_penalty=0.1).advantages(trajs)
    assert adv == pytest.approx([base[0] - 0.1, base[0], base[1], base[1]])
    # across steps (verl-agent): the turn's score is R - 0.1 before the statistics: samples (0.9, 1, 0, 0)
    scores = np.array([0.9, 1.0, 0.0, 0.0])
    want = (scores - scores.mean()) / (scores.std(ddof=1) + EPS)
    got = _trainer(corridor, invalid_penalty=0.1, stats_across_steps=True).advantages(trajs)
    assert got == pytest.approx(want)


def test_format_penalties_enter_the_training_return(corridor):
    trajs = [_traj(0, [0, 1], penalties=[-0.1, None]), _traj(0, [0, 0])]
    assert trajs[0].train_rewards == [-0.1, 1.0] and trajs[0].train_return == pytest.approx(0.9)
    assert trajs[0].episode_return == 1.0  # the env's own return is what statistics report
    adv = _trainer(corridor).advantages(trajs)
    assert adv == pytest.approx(broadcast(grpo_advantages([0.9, 0.0], [0, 0]), [2, 2]))
