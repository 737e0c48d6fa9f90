"""IntrinsicReward and the vector mirrors on real sparsegym envs."""

import gymnasium
import numpy as np
import pytest

pytest.importorskip("minigrid")
pytest.importorskip("torch")

import sparsegym  # noqa: E402
from sparsegym.intrinsic import E3B, RND, EpisodicCount  # noqa: E402
from sparsegym.wrappers import CountBonus, IntrinsicReward  # noqa: E402
from sparsegym.wrappers.intrinsic import flat_dim, flatten_observation  # noqa: E402
from sparsegym.wrappers.vector import VectorCountBonus, VectorIntrinsicReward, flatten_batch  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def test_flatten_batch_matches_gymnasium_flatten():
    envs = gymnasium.make_vec(DOORKEY5, num_envs=3)
    obs, _ = envs.reset(seed=0)
    flat = flatten_batch(envs.single_observation_space, obs, 3)
    for i in range(3):
        single = {k: v[i] for k, v in obs.items()}
        assert np.array_equal(flat[i], flatten_observation(envs.single_observation_space, single))


def test_intrinsic_reward_adds_its_component_and_trains():
    env = sparsegym.make(DOORKEY5)
    env = IntrinsicReward(env, RND(flat_dim(env.observation_space), device="cpu"), coef=0.5, update_every=32)
    env.reset(seed=0)
    trained = 0
    for _ in range(100):
        _, r, term, trunc, info = env.step(env.action_space.sample())
        comps = info["reward_components"]
        assert r == pytest.approx(comps["extrinsic"] + comps["rnd"])
        assert comps["rnd"] >= 0
        trained += "intrinsic_losses" in info
        if term or trunc:
            env.reset()
    assert trained == 3


def test_intrinsic_reward_checks_the_module_size():
    env = sparsegym.make(DOORKEY5)
    with pytest.raises(ValueError, match="built for observations of size 10"):
        IntrinsicReward(env, RND(10, device="cpu"))


def test_episodic_module_resets_with_the_episode():
    env = sparsegym.make(DOORKEY5)
    env = IntrinsicReward(env, E3B(flat_dim(env.observation_space), 7, device="cpu"), coef=1.0, learn=False,
                          normalize=False)  # the raw bonus: a running std would change it between episodes
    env.reset(seed=0)
    first = [env.step(a)[4]["reward_components"]["e3b"] for a in (1, 0, 1)]
    env.reset(seed=0)
    again = [env.step(a)[4]["reward_components"]["e3b"] for a in (1, 0, 1)]
    assert again == pytest.approx(first, rel=1e-5)
    assert first[2] < first[0]  # the same state again within the episode pays less


def test_vector_intrinsic_matches_the_single_env_wrapper_with_a_frozen_module():
    n = 3
    single_dim = flat_dim(sparsegym.make(DOORKEY5).observation_space)
    module = EpisodicCount(single_dim)
    envs = VectorIntrinsicReward(gymnasium.make_vec(DOORKEY5, num_envs=n), module, coef=1.0, learn=False)
    envs.reset(seed=[0, 1, 2])
    singles = [IntrinsicReward(sparsegym.make(DOORKEY5), EpisodicCount(single_dim), coef=1.0, learn=False) for _ in range(n)]
    for i, e in enumerate(singles):
        e.reset(seed=i)
    rng = np.random.default_rng(0)
    ended = np.zeros(n, dtype=bool)
    for _ in range(300):
        actions = rng.integers(0, 7, size=n)
        _, rewards, terms, truncs, infos = envs.step(actions)
        for i, e in enumerate(singles):
            if ended[i]:  # NEXT_STEP autoreset: this row is the reset observation, no bonus
                assert infos["reward_components"]["episodic_count"][i] == 0.0
                e.reset()
                continue
            _, r, te, tr, info = e.step(int(actions[i]))
            assert rewards[i] == pytest.approx(r)
            assert (te, tr) == (terms[i], truncs[i])
        ended = terms | truncs


def test_vector_intrinsic_trains_in_one_batched_call():
    envs = gymnasium.make_vec(DOORKEY5, num_envs=4)
    calls = []
    module = RND(flat_dim(envs.single_observation_space), device="cpu")
    original = module.compute
    module.compute = lambda batch: calls.append(len(batch["next_obs"])) or original(batch)
    envs = VectorIntrinsicReward(envs, module, coef=0.01, update_every=8)
    envs.reset(seed=0)
    losses = 0
    for _ in range(16):
        *_, infos = envs.step(envs.action_space.sample())
        losses += "intrinsic_losses" in infos
    assert calls == [4] * 16 and losses == 2


def test_vector_count_bonus_shares_global_counts():
    envs = VectorCountBonus(gymnasium.make_vec(DOORKEY5, num_envs=2), beta=1.0)
    envs.reset(seed=[0, 0])
    _, rewards, *_ = envs.step(np.array([1, 1]))
    assert rewards.tolist() == pytest.approx([1.0, 1 / np.sqrt(2)])
    single = CountBonus(sparsegym.make(DOORKEY5), beta=1.0)
    single.reset(seed=0)
    assert single.step(1)[1] == 1.0


def test_vector_wrappers_take_same_step_envs_and_refuse_disabled_autoreset():
    from sparsegym.agents.vector import make_lean_vec  # SAME_STEP

    envs = VectorCountBonus(make_lean_vec(DOORKEY5, 2, max_steps=3), beta=1.0, episodic=True)
    envs.reset(seed=[0, 0])
    for t in range(6):
        _, rewards, terms, truncs, infos = envs.step(np.array([0, 0]))  # turning left: a new view each step
        # every transition pays (no reset rows in SAME_STEP); the counts restart each 3-step episode,
        # whose 4 distinct directions are never repeated within it
        assert rewards.tolist() == [1.0, 1.0]
        assert (terms | truncs).all() == (t % 3 == 2)
    disabled = gymnasium.make_vec(DOORKEY5, num_envs=2,
                                  vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.DISABLED})
    with pytest.raises(ValueError, match="NEXT_STEP or SAME_STEP"):
        VectorIntrinsicReward(disabled, EpisodicCount(flat_dim(disabled.single_observation_space)))


def test_one_observation_digest_for_counts_and_go_explore_cells():
    from sparsegym.agents.go_explore import observation_cell
    from sparsegym.utils.hashing import observation_digest
    from sparsegym.wrappers.counts import observation_key

    obs, _ = sparsegym.make(DOORKEY5).reset(seed=0)
    assert observation_key(None, obs) == observation_cell(None, obs) == observation_digest(obs)


def test_episodic_count_counts_the_episodes_first_observation():
    counts = EpisodicCount(2)
    s0, s1 = np.zeros((1, 2), np.float32), np.ones((1, 2), np.float32)
    assert counts.compute({"obs": s0, "next_obs": s0})[0] == pytest.approx(1 / np.sqrt(2))  # a no-op move
    assert counts.compute({"obs": s0, "next_obs": s1})[0] == 1.0
    counts.reset([0])
    assert counts.compute({"obs": s1, "next_obs": s1})[0] == pytest.approx(1 / np.sqrt(2))
    shared = EpisodicCount(2, episodic=False)
    shared.compute({"obs": np.concatenate([s0, s0]), "next_obs": np.concatenate([s1, s1]), "env_ids": np.array([0, 1])})
    assert shared.visits.count(shared_key(s0)) == 2 and shared.visits.count(shared_key(s1)) == 2
    from sparsegym.intrinsic import IntrinsicModule

    assert isinstance(counts, IntrinsicModule)


def shared_key(row):
    from sparsegym.utils.hashing import row_digests

    return row_digests(row)[0]
