"""GiGPO: its advantage against hand-computed values (exact and similarity anchor groups, both modes,
statistics across steps, the invalid penalty), its options, and training through TextRLTrainer."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.algos import make_algorithm  # noqa: E402
from sparsegym.agents.text.algos.gigpo import (  # noqa: E402
    GiGPO,
    GiGPOOptions,
    anchor_step_groups,
    gigpo_advantages,
    step_advantages,
)
from sparsegym.agents.text.algos.grpo import episode_advantages  # noqa: E402
from sparsegym.agents.text.policy import Choice, Turn  # noqa: E402
from sparsegym.agents.text.rollout import Trajectory  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


def _traj(group, observations, rewards, invalid=None):
    t = Trajectory(task_seed=100 + group, group=group, terminated=True)
    t.turns = [Turn(o, ["a", "b"], []) for o in observations]
    t.choices = [Choice("a", 0, -0.7) for _ in observations]
    t.rewards = [float(r) for r in rewards]
    t.invalid = list(invalid) if invalid is not None else [False] * len(observations)
    return t


def _batch(invalid_b=None):
    """One group of three episodes, gamma 0.5 gives step returns A [0.5, 1], B [0, 0], C [0.25, 0.5, 1].
    Anchor states: s0 = {A0, B0, C0}, s1 = {A1, C1}, s2 = {B1}, s3 = {C2}."""
    return [_traj(0, ["s0", "s1"], [0, 1]),
            _traj(0, ["s0", "s2"], [0, 0], invalid_b),
            _traj(0, ["s0", "s1", "s3"], [0, 0, 1])]


def test_mean_norm_by_hand():
    parts = gigpo_advantages(_batch(), gamma=0.5, mode="mean_norm")
    np.testing.assert_allclose(parts.step_returns, [0.5, 1, 0, 0, 0.25, 0.5, 1])
    assert parts.step_groups.tolist() == [0, 1, 0, 2, 0, 1, 3]
    # A^E: returns (1, 0, 1), mean 2/3
    np.testing.assert_allclose(parts.episode, [1 / 3, 1 / 3, -2 / 3, -2 / 3, 1 / 3, 1 / 3, 1 / 3])
    # A^S: s0 mean 0.25 -> (0.25, -0.25, 0); s1 mean 0.75 -> (0.25, -0.25); s2, s3 singletons -> 0
    np.testing.assert_allclose(parts.step, [0.25, 0.25, -0.25, 0, 0, -0.25, 0], atol=1e-12)
    np.testing.assert_allclose(parts.advantages, parts.episode + parts.step)
    half = gigpo_advantages(_batch(), gamma=0.5, mode="mean_norm", step_advantage_w=0.5)
    np.testing.assert_allclose(half.advantages, parts.episode + 0.5 * parts.step)


def test_mean_std_norm_by_hand():
    parts = gigpo_advantages(_batch(), gamma=0.5)  # the default mode
    # episode std of (1, 0, 1): sqrt((1/9 + 4/9 + 1/9) / 2) = sqrt(1/3)
    f = np.sqrt(1 / 3) + 1e-6
    np.testing.assert_allclose(parts.episode, np.array([1, 1, -2, -2, 1, 1, 1]) / 3 / f)
    # s0 (0.5, 0, 0.25): std 0.25 -> (1, -1, 0); s1 (1, 0.5): std sqrt(0.125) -> +-0.7071
    s1 = 0.25 / (np.sqrt(0.125) + 1e-6)
    np.testing.assert_allclose(parts.step, [0.25 / 0.250001, s1, -0.25 / 0.250001, 0, 0, -s1, 0], atol=1e-12)
    assert parts.step[4] == 0 and parts.step[3] == 0 and parts.step[6] == 0


def test_stats_across_steps_count_each_episode_per_turn():
    parts = gigpo_advantages(_batch(), gamma=0.5, mode="mean_norm", stats_across_steps=True)
    # turn scores (1, 1, 0, 0, 1, 1, 1): mean 5/7
    np.testing.assert_allclose(parts.episode, [2 / 7, 2 / 7, -5 / 7, -5 / 7, 2 / 7, 2 / 7, 2 / 7])
    np.testing.assert_allclose(parts.step, gigpo_advantages(_batch(), gamma=0.5, mode="mean_norm").step)


@pytest.mark.parametrize("across", [False, True])
def test_invalid_penalty_lowers_both_parts_without_being_discounted_back(across):
    batch = _batch(invalid_b=[True, False])
    parts = gigpo_advantages(batch, gamma=0.5, mode="mean_norm", invalid_penalty=0.1, stats_across_steps=across)
    np.testing.assert_allclose(parts.step_returns, [0.5, 1, -0.1, 0, 0.25, 0.5, 1])
    # s0 (0.5, -0.1, 0.25): mean 0.65 / 3
    m = 0.65 / 3
    np.testing.assert_allclose(parts.step, [0.5 - m, 0.25, -0.1 - m, 0, 0.25 - m, -0.25, 0], atol=1e-12)
    np.testing.assert_allclose(parts.episode, episode_advantages(batch, kind="grpo", norm_by_std=False,
                                                                 stats_across_steps=across, invalid_penalty=0.1))
    if not across:  # per episode: the penalty comes off the turn's advantage after the statistics
        np.testing.assert_allclose(parts.episode, [1 / 3, 1 / 3, -2 / 3 - 0.1, -2 / 3, 1 / 3, 1 / 3, 1 / 3])
    else:  # across steps: turn scores (1, 1, -0.1, 0, 1, 1, 1), mean 4.9 / 7
        m = 4.9 / 7
        np.testing.assert_allclose(parts.episode, [1 - m, 1 - m, -0.1 - m, -m, 1 - m, 1 - m, 1 - m])


def test_singleton_step_groups_reduce_gigpo_to_grpo():
    batch = [_traj(0, ["a", "b"], [0, 1]), _traj(0, ["c", "d"], [0, 0]), _traj(0, ["e"], [1])]
    for mode, norm in (("mean_std_norm", True), ("mean_norm", False)):
        parts = gigpo_advantages(batch, mode=mode)
        assert parts.step.tolist() == [0.0] * 5 and len(set(parts.step_groups.tolist())) == 5
        np.testing.assert_allclose(parts.advantages, episode_advantages(
            batch, kind="grpo", norm_by_std=norm, stats_across_steps=False, invalid_penalty=0.0))


def test_step_groups_stay_inside_task_groups_and_repeat_visits_count():
    batch = [_traj(0, ["s0", "s0"], [0, 1]), _traj(1, ["s0", "s1"], [0, 0]), _traj(1, ["s0"], [1])]
    parts = gigpo_advantages(batch, gamma=1.0, mode="mean_norm")
    assert parts.step_groups.tolist() == [0, 0, 1, 2, 1]
    # group 0: one episode revisits s0 with returns (1, 1) -> 0; group 1: s0 returns (0, 1)
    np.testing.assert_allclose(parts.step, [0, 0, -0.5, 0, 0.5])
    # a single-episode group: A^E = R (verl's convention: mean 0)
    np.testing.assert_allclose(parts.episode[:2], [1, 1])
    assert parts.stats() == {"gigpo_step_groups": 3.0, "gigpo_step_group_size": 5 / 3, "gigpo_grouped_frac": 0.8,
                             "gigpo_step_adv_std": pytest.approx(float(np.std([0, 0, -0.5, 0, 0.5])))}


def test_similarity_groups_greedily_against_each_clusters_first_member():
    a, b, c = "abcdefghijklmnopqrst", "abcdeXghijklmnopqrst", "abcdeXghijklmnoYqrst"  # ratios b~a, c~b .95; c~a .9
    obs, groups = [a, b, c, a, "zzz"], [0, 0, 0, 0, 0]
    assert anchor_step_groups(obs, groups).tolist() == [0, 1, 2, 0, 3]
    assert anchor_step_groups(obs, groups, enable_similarity=True).tolist() == [0, 0, 1, 0, 2]  # c does not chain
    assert anchor_step_groups(obs, groups, enable_similarity=True, similarity_thresh=0.9).tolist() == [0, 0, 0, 0, 1]
    # per task group (ids numbered group by group): group 0 holds a, c (apart); group 1 holds b, a (together), zzz
    assert anchor_step_groups(obs, [0, 1, 0, 1, 1], enable_similarity=True).tolist() == [0, 2, 1, 2, 3]
    with pytest.raises(ConfigError, match="text observations"):
        anchor_step_groups([("x",), ("y",)], [0, 0], enable_similarity=True)
    assert anchor_step_groups([np.array([1, 2]), np.array([1, 2]), [1, 2]], [0, 0, 0]).tolist() == [0, 0, 1]


def test_similarity_mode_by_hand():
    near = "Room 1. The corridor goes on to the east"
    batch = [_traj(0, ["Room 1. The corridor goes on to the east.", "end"], [0, 1]),
             _traj(0, [near, "other"], [0, 0])]
    exact = gigpo_advantages(batch, gamma=0.5, mode="mean_norm")
    similar = gigpo_advantages(batch, gamma=0.5, mode="mean_norm", enable_similarity=True)
    assert exact.step.tolist() == [0.0] * 4
    assert similar.step_groups.tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(similar.step, [0.25, 0, -0.25, 0])  # first turns' returns (0.5, 0)
    np.testing.assert_allclose(similar.advantages, [0.75, 0.5, -0.75, -0.5])


def test_step_advantages_function():
    np.testing.assert_allclose(step_advantages([2.0, 2.0, 3.0], [5, 5, 7]), [0, 0, 0])  # equal returns: 0, no nan
    np.testing.assert_allclose(step_advantages([1.0, 3.0], [0, 0], norm_by_std=False), [-1, 1])


def test_options_and_their_errors(corridor):
    algo = make_algorithm("gigpo", {"mode": "mean_norm", "step_advantage_w": 0.5})
    assert isinstance(algo, GiGPO) and algo.options == GiGPOOptions(mode="mean_norm", step_advantage_w=0.5)
    with pytest.raises(ConfigError, match="gigpo has no option 'omega'; its options: enable_similarity, mode, "
                                          "similarity_thresh, step_advantage_w"):
        make_algorithm("gigpo", {"omega": 1.0})
    with pytest.raises(ConfigError, match=r"mode must be one of \['mean_std_norm', 'mean_norm'\], got 'std'"):
        make_algorithm("gigpo", {"mode": "std"})
    with pytest.raises(ConfigError, match="similarity_thresh must be in"):
        TextRLConfig(algo="gigpo", algo_kwargs={"similarity_thresh": 0}).validate()
    with pytest.raises(ConfigError, match="'mode': 'mean_norm'"):
        TextRLTrainer(lambda: corridor(), config=TextRLConfig(algo="gigpo", norm_by_std=False, policy_kwargs=SMALL))


@pytest.mark.parametrize("kwargs", [{}, {"enable_similarity": True, "mode": "mean_norm"}])
def test_trains_through_the_trainer(corridor, kwargs):
    cfg = TextRLConfig(algo="gigpo", algo_kwargs=kwargs, group_size=4, num_envs=4, policy_kwargs=SMALL,
                       invalid_penalty=0.1, stats_across_steps=True)
    trainer = TextRLTrainer(lambda: corridor(), config=cfg)
    before = [p.detach().clone() for p in trainer.policy.parameters()]
    history = trainer.learn(8, progress=False)
    assert len(history) == 2
    for key in ("gigpo_step_groups", "gigpo_step_group_size", "gigpo_grouped_frac", "gigpo_step_adv_std"):
        assert np.isfinite(history[-1][key])
    # the corridor's rooms repeat across the group's episodes: most turns share their anchor state
    assert history[-1]["gigpo_step_group_size"] > 1 and history[-1]["gigpo_grouped_frac"] > 0.5
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.policy.parameters()))
