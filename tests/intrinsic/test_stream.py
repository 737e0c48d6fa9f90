"""IntrinsicStream in both autoreset modes, against hand-computed values."""

import gymnasium
import numpy as np
import pytest

from sparsegym.intrinsic.stream import IntrinsicStream, ReturnNormalizer, autoreset_mode_name


class Recorder:
    """A module whose bonus is the first feature of ``next_obs``; it records every call."""

    name = "fake"
    normalize_returns = False
    episodic_returns = False

    def __init__(self, obs_dim=1):
        self.obs_dim = obs_dim
        self.batches, self.resets, self.updates = [], [], []

    def compute(self, batch):
        self.batches.append({k: np.array(v) for k, v in batch.items()})
        return np.asarray(batch["next_obs"])[:, 0] * 1.0

    def update(self, batch):
        self.updates.append({k: np.array(v) for k, v in batch.items()})
        return {"loss": float(len(batch["obs"]))}

    def reset(self, env_ids):
        self.resets.append(sorted(int(e) for e in env_ids))


def col(*xs):
    return np.array(xs, dtype=np.float32).reshape(-1, 1)


F, T = np.array([False, False]), np.array([True, False])  # env 0 ends its episode on the "T" step


def test_next_step_scores_the_real_last_observation_and_skips_the_reset_row():
    m = Recorder()
    s = IntrinsicStream(m, 2, autoreset_mode="next_step", normalize=False)
    s.reset(col(0, 10))
    assert m.resets == [[0, 1]]
    # env 0 ends on [1] (the real last observation is returned by this step in NEXT_STEP)
    assert s.step([1, 2], col(1, 11), T, F).tolist() == [1.0, 11.0]
    assert m.batches[-1]["next_obs"][:, 0].tolist() == [1, 11] and m.batches[-1]["obs"][:, 0].tolist() == [0, 10]
    assert m.resets[-1] == [0]  # its episodic state ends with the episode
    # the next row of env 0 is its reset observation [5]: no transition, no bonus, not computed
    assert s.step([3, 4], col(5, 12), F, F).tolist() == [0.0, 12.0]
    assert m.batches[-1]["env_ids"].tolist() == [1] and m.batches[-1]["action"].tolist() == [4]
    # env 0's first transition of the new episode starts from the reset observation
    assert s.step([5, 6], col(6, 13), F, F).tolist() == [6.0, 13.0]
    assert m.batches[-1]["obs"][:, 0].tolist() == [5, 12]


def test_same_step_scores_final_obs_and_starts_the_next_transition_at_the_reset_observation():
    m = Recorder()
    s = IntrinsicStream(m, 2, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP, normalize=False)
    s.reset(col(0, 10))
    # env 0 ends on [1]; the step returns its reset observation [5] and the last one in final_obs
    infos = {"final_obs": np.array([np.array([1.0]), None], dtype=object)}
    assert s.step([1, 2], col(5, 11), T, F, infos).tolist() == [1.0, 11.0]
    assert m.batches[-1]["next_obs"][:, 0].tolist() == [1, 11]
    assert m.resets[-1] == [0]
    assert s.step([3, 4], col(6, 12), F, F).tolist() == [6.0, 12.0]
    assert m.batches[-1]["obs"][:, 0].tolist() == [5, 11] and m.batches[-1]["env_ids"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="final_obs"):
        s.step([0, 0], col(0, 0), T, F, {})


def _hand_normalised(bonuses, gamma, episode_ends=()):
    """Hand-computed return normalisation of one env's bonuses: R_t = gamma R_{t-1} + b_t (restarting
    after each step in ``episode_ends``), divided by the population std of R_1..R_t pooled with a
    pseudo-count of 1e-4 at 0."""
    out, returns, running = [], [], 0.0
    for t, b in enumerate(bonuses):
        running = gamma * running + b
        returns.append(running)
        r, c = np.array(returns), 1e-4 + len(returns)
        mean = r.sum() / c
        var = (((r - mean) ** 2).sum() + 1e-4 * mean**2) / c
        out.append(b / (np.sqrt(var) + 1e-8))
        if t in episode_ends:
            running = 0.0
    return out


@pytest.mark.parametrize("restart", [True, False, None])
@pytest.mark.parametrize("mode", ["next_step", "same_step"])
def test_return_normalisation_by_hand(mode, restart):
    # One env: bonuses 1, 2, 3 | 4, 5 (the episode ends after the third transition). By default (None) the
    # running return runs on across the episode end, even for a module whose learner cuts its returns there.
    m = Recorder()
    m.episodic_returns = True
    kwargs = {} if restart is None else {"restart_returns": restart}
    s = IntrinsicStream(m, 1, autoreset_mode=mode, normalize="return", gamma=0.9, **kwargs)
    s.reset(col(0))
    got = []
    for t, b in enumerate([1, 2, 3, 4, 5]):
        end = np.array([t == 2])
        if mode == "same_step" and t == 2:
            got.append(s.step([0], col(9), end, ~end, {"final_obs": [np.array([b], np.float32)]})[0])
        else:
            got.append(s.step([0], col(b), end, np.array([False]))[0])
        if mode == "next_step" and t == 2:
            assert s.step([0], col(9), np.array([False]), np.array([False]))[0] == 0.0  # the reset row
    expected = _hand_normalised([1, 2, 3, 4, 5], 0.9, episode_ends=(2,) if restart else ())
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_step_normalisation_by_hand():
    m = Recorder()
    s = IntrinsicStream(m, 2, normalize="step")
    s.reset(col(0, 0))
    first = s.step([0, 0], col(1, 3), F, F)
    second = s.step([0, 0], col(2, 2), F, F)
    seen = np.array([1.0, 3.0])
    c = 1e-4 + 2
    var = (((seen - seen.sum() / c) ** 2).sum() + 1e-4 * (seen.sum() / c) ** 2) / c
    np.testing.assert_allclose(first, seen / (np.sqrt(var) + 1e-8), rtol=1e-9)
    seen = np.array([1.0, 3.0, 2.0, 2.0])
    c = 1e-4 + 4
    var = (((seen - seen.sum() / c) ** 2).sum() + 1e-4 * (seen.sum() / c) ** 2) / c
    np.testing.assert_allclose(second, np.array([2.0, 2.0]) / (np.sqrt(var) + 1e-8), rtol=1e-9)


def test_normalisation_defaults_follow_the_module():
    m = Recorder()
    assert IntrinsicStream(m, 1).normalizer is None
    m.normalize_returns = True
    assert isinstance(IntrinsicStream(m, 1).normalizer, ReturnNormalizer)
    m.normalization = "step"
    assert IntrinsicStream(m, 1).normalization == "step"
    assert IntrinsicStream(m, 1, normalize=False).normalizer is None
    m.episodic_returns = True  # the learner's business: the normaliser's running return still runs on
    assert not IntrinsicStream(m, 1).restart_returns and IntrinsicStream(m, 1, restart_returns=True).restart_returns
    with pytest.raises(ValueError, match="normalize must be"):
        IntrinsicStream(m, 1, normalize="max")


def test_update_scheduling_collects_only_transitions():
    m = Recorder()
    s = IntrinsicStream(m, 2, update_every=2, normalize=False)
    s.reset(col(0, 10))
    s.step([1, 2], col(1, 11), T, F)
    assert s.losses is None and not m.updates
    s.step([3, 4], col(5, 12), F, F)  # env 0's reset row is left out of the training batch
    assert s.losses == {"loss": 3.0}
    assert m.updates[0]["obs"][:, 0].tolist() == [0, 10, 11] and m.updates[0]["action"].tolist() == [1, 2, 4]
    assert m.updates[0]["next_obs"][:, 0].tolist() == [1, 11, 12]

    manual = IntrinsicStream(Recorder(), 1, update_every=None)
    manual.reset(col(0))
    for _ in range(300):
        manual.step([0], col(1), np.array([False]), np.array([False]))
    assert manual.losses is None and manual.update() == {"loss": 300.0} and manual.update() == {}

    frozen = IntrinsicStream(Recorder(), 1, learn=False)
    frozen.reset(col(0))
    for _ in range(200):
        frozen.step([0], col(1), np.array([False]), np.array([False]))
    assert frozen.update() == {} and not frozen.module.updates


def test_a_later_reset_does_not_rewrite_collected_transitions():
    m = Recorder()
    s = IntrinsicStream(m, 1, update_every=None, normalize=False)
    s.reset(col(0))
    s.step([0], col(1), np.array([True]), np.array([False]))
    s.reset(col(7))
    s.step([0], col(8), np.array([False]), np.array([False]))
    s.update()
    assert m.updates[0]["next_obs"][:, 0].tolist() == [1, 8] and m.updates[0]["obs"][:, 0].tolist() == [0, 7]


def test_autoreset_modes_and_misuse():
    assert autoreset_mode_name(None) == "next_step"
    assert autoreset_mode_name(gymnasium.vector.AutoresetMode.NEXT_STEP) == "next_step"
    assert autoreset_mode_name("SameStep") == "same_step"
    with pytest.raises(ValueError, match="NEXT_STEP or SAME_STEP"):
        autoreset_mode_name(gymnasium.vector.AutoresetMode.DISABLED)
    with pytest.raises(RuntimeError, match="reset"):
        IntrinsicStream(Recorder(), 1).step([0], col(1), np.array([False]), np.array([False]))
    with pytest.raises(ValueError, match="built for observations of size 1"):
        IntrinsicStream(Recorder(), 1, gymnasium.spaces.Box(0, 1, (3,)))


def test_one_env_alike_in_both_modes_and_the_single_env_wrapper():
    """The same transitions give the same normalised bonuses through a NEXT_STEP vector env, a
    SAME_STEP one and IntrinsicReward: only the bookkeeping of episode ends differs."""
    pytest.importorskip("minigrid")
    pytest.importorskip("torch")
    import sparsegym
    from sparsegym.intrinsic import RND
    from sparsegym.wrappers import IntrinsicReward
    from sparsegym.wrappers.intrinsic import flat_dim
    from sparsegym.wrappers.vector import VectorIntrinsicReward

    env_id, kwargs = "sparsegym/MiniGrid-DoorKey-5x5-v0", {"max_steps": 7}
    dim = flat_dim(sparsegym.make(env_id, **kwargs).observation_space)
    actions = np.random.default_rng(0).integers(0, 7, size=30)

    def module():
        return RND(dim, device="cpu", seed=0)

    single = IntrinsicReward(sparsegym.make(env_id, **kwargs), module(), coef=1.0, learn=False)
    single.reset(seed=3)
    expected = []
    for a in actions:
        _, _, te, tr, info = single.step(int(a))
        expected.append(info["reward_components"]["rnd"])
        if te or tr:
            single.reset()
    assert single.normalizer is not None

    for mode in (gymnasium.vector.AutoresetMode.NEXT_STEP, gymnasium.vector.AutoresetMode.SAME_STEP):
        envs = gymnasium.make_vec(env_id, num_envs=1, vector_kwargs={"autoreset_mode": mode}, **kwargs)
        envs = VectorIntrinsicReward(envs, module(), coef=1.0, learn=False)
        envs.reset(seed=3)
        got, ended, queue = [], False, list(actions)
        while queue:
            a = queue[0] if not ended else 0
            _, _, te, tr, infos = envs.step(np.array([a]))
            if ended:  # NEXT_STEP: the reset row, no transition
                assert infos["reward_components"]["rnd"][0] == 0.0
            else:
                got.append(infos["reward_components"]["rnd"][0])
                queue.pop(0)
            ended = mode == gymnasium.vector.AutoresetMode.NEXT_STEP and bool(te[0] or tr[0])
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=str(mode))
