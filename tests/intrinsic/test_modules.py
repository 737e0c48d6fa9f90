"""Intrinsic modules: the protocol, and what each paper promises of its bonus."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.intrinsic import (  # noqa: E402
    E3B,
    ICM,
    INTRINSIC_MODULES,
    RDD,
    RND,
    EpisodicCount,
    GlobalEpisodic,
    NovelD,
    make_intrinsic,
)

D, A = 12, 4


def _batch(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"obs": rng.normal(size=(n, D)).astype(np.float32), "next_obs": rng.normal(size=(n, D)).astype(np.float32),
            "action": rng.integers(0, A, size=n)}


@pytest.mark.parametrize("name", list(INTRINSIC_MODULES))
def test_protocol(name):
    module = make_intrinsic(name, D, A, device="cpu")
    batch = _batch(64)
    bonus = module.compute(batch)
    assert isinstance(bonus, np.ndarray) and bonus.shape == (64,) and np.all(np.isfinite(bonus))
    # non-negative, except the aleatoric authors' preset, which (like their code) does not clip
    assert np.all(bonus >= 0) or (name == "aleatoric_authors" and module.clip_min is None)
    losses = module.update(batch)
    assert isinstance(losses, dict) and all(isinstance(v, float) and np.isfinite(v) for v in losses.values())
    module.reset([0, 1])
    assert module.compute({**batch, "env_ids": np.arange(64) % 2}).shape == (64,)


def test_unknown_module_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown intrinsic reward 'rndd'; use one of rnd, icm"):
        make_intrinsic("rndd", D, A)


def _train_on(module, state, steps=300):
    batch = {"obs": np.repeat(state, 64, 0), "next_obs": np.repeat(state, 64, 0), "action": np.zeros(64, dtype=int)}
    for _ in range(steps):
        module.update(batch)


@pytest.mark.parametrize("cls", [RND, RDD])
def test_rnd_bonus_shrinks_on_a_revisited_state(cls):
    rng = np.random.default_rng(0)
    module = cls(D, device="cpu", lr=1e-3, update_proportion=1.0) if cls is RND else cls(D, device="cpu", lr=1e-3)
    seen = rng.normal(size=(1, D)).astype(np.float32)
    unseen = rng.normal(size=(16, D)).astype(np.float32)
    before = module.compute({"next_obs": seen})[0]
    _train_on(module, seen)
    after = module.compute({"next_obs": seen})[0]
    novel = module.compute({"next_obs": unseen}).mean()
    assert after < 0.25 * before
    assert after < 0.25 * novel


def test_rdd_bonus_decays_like_a_pseudo_count():
    module = RDD(D, device="cpu", lr=3e-3, sigma=1.0, seed=1)
    state = np.random.default_rng(1).normal(size=(1, D)).astype(np.float32)
    values = []
    for _ in range(4):
        _train_on(module, state, steps=60)
        values.append(module.compute({"next_obs": state})[0])
    assert values[-1] < values[0]


def test_e3b_bonus_shrinks_within_an_episode_and_resets():
    module = E3B(D, A, device="cpu")
    state = {"obs": np.zeros((1, D), np.float32), "next_obs": np.ones((1, D), np.float32), "action": np.zeros(1, int),
             "env_ids": np.array([3])}
    first = module.compute(state)[0]
    second = module.compute(state)[0]
    third = module.compute(state)[0]
    assert first > second > third > 0
    other_env = module.compute({**state, "env_ids": np.array([4])})[0]
    assert other_env == pytest.approx(first, rel=1e-5)  # episodic memory is per env
    module.reset([3])
    assert module.compute(state)[0] == pytest.approx(first, rel=1e-5)


def test_e3b_matches_the_closed_form():
    module = E3B(D, A, device="cpu", ridge=0.5)
    rng = np.random.default_rng(2)
    xs = rng.normal(size=(5, D)).astype(np.float32)
    bonuses = [module.compute({"next_obs": x[None], "env_ids": np.array([0])})[0] for x in xs]
    with torch.no_grad():
        phi = module.embedding.phi(torch.as_tensor(xs)).numpy().astype(np.float64)
    C = 0.5 * np.eye(module.feature_dim)
    for t in range(5):
        assert bonuses[t] == pytest.approx(phi[t] @ np.linalg.solve(C, phi[t]), rel=1e-3)
        C += np.outer(phi[t], phi[t])


def test_e3b_counts_the_first_state_of_an_episode_as_seen():
    # As in the authors' code, the episode's first state enters C without paying a bonus.
    module = E3B(D, A, device="cpu")
    rng = np.random.default_rng(5)
    s0, s1 = rng.normal(size=(1, D)).astype(np.float32), rng.normal(size=(1, D)).astype(np.float32)
    bonus = module.compute({"obs": s0, "next_obs": s1, "env_ids": np.array([0])})[0]
    with torch.no_grad():
        p0, p1 = (module.embedding.phi(torch.as_tensor(x))[0].numpy().astype(np.float64) for x in (s0, s1))
    C = 0.1 * np.eye(module.feature_dim) + np.outer(p0, p0)
    assert bonus == pytest.approx(p1 @ np.linalg.solve(C, p1), rel=1e-3)
    # Reaching the first state again pays little: it is already in C.
    again = module.compute({"obs": s1, "next_obs": s0, "env_ids": np.array([0])})[0]
    assert again < 0.1 * bonus
    assert E3B.episodic_returns and E3B.normalization == "step" and not E3B.normalize_returns


def test_icm_bonus_shrinks_on_a_learned_transition():
    module = ICM(D, A, device="cpu", lr=1e-3)
    rng = np.random.default_rng(3)
    s, s2 = rng.normal(size=(1, D)).astype(np.float32), rng.normal(size=(1, D)).astype(np.float32)
    batch = {"obs": np.repeat(s, 64, 0), "next_obs": np.repeat(s2, 64, 0), "action": np.ones(64, dtype=int)}
    before = module.compute(batch)[0]
    for _ in range(200):
        module.update(batch)
    assert module.compute(batch)[0] < 0.2 * max(before, 1e-6) or module.compute(batch)[0] < 1e-3


def test_noveld_pays_only_the_first_visit_in_an_episode():
    module = NovelD(D, device="cpu")
    rng = np.random.default_rng(4)
    batch = {"obs": np.zeros((1, D), np.float32), "next_obs": rng.normal(size=(1, D)).astype(np.float32),
             "action": np.zeros(1, int), "env_ids": np.array([0])}
    first = module.compute(batch)[0]
    assert first > 0
    assert module.compute(batch)[0] == 0.0
    module.reset([0])
    assert module.compute(batch)[0] == pytest.approx(first)


def test_noveld_pays_the_novelty_difference_clipped_at_zero():
    module = NovelD(D, device="cpu", alpha=0.5, novelty="mse")  # the earlier novelty; the L2 one in test_fidelity
    rng = np.random.default_rng(5)
    s, s2 = rng.normal(size=(1, D)).astype(np.float32), rng.normal(size=(1, D)).astype(np.float32)
    n_s, n_s2 = (module.rnd.compute({"next_obs": x})[0] for x in (s, s2))
    bonus = module.compute({"obs": s, "next_obs": s2, "env_ids": np.array([0])})[0]
    assert bonus == pytest.approx(max(n_s2 - 0.5 * n_s, 0.0), rel=1e-5)


def test_episodic_counts_and_the_global_x_episodic_product():
    counts = EpisodicCount(D)
    x = {"next_obs": np.ones((1, D), np.float32), "env_ids": np.array([0])}
    assert [counts.compute(x)[0] for _ in range(3)] == pytest.approx([1, 1 / np.sqrt(2), 1 / np.sqrt(3)])
    counts.reset([0])
    assert counts.compute(x)[0] == 1.0

    rnd = RND(D, device="cpu")
    combo = GlobalEpisodic(rnd, EpisodicCount(D), rule="product")
    g = rnd.compute(x)[0]
    assert [combo.compute(x)[0] for _ in range(2)] == pytest.approx([g, g / np.sqrt(2)], rel=1e-5)
    summed = GlobalEpisodic(rnd, EpisodicCount(D), rule="sum", episodic_weight=2.0)
    assert summed.compute(x)[0] == pytest.approx(g + 2.0, rel=1e-5)
    with pytest.raises(ValueError, match="rule must be"):
        GlobalEpisodic(rnd, EpisodicCount(D), rule="max")


def test_state_dict_round_trip():
    a, b = RND(D, device="cpu", seed=0), RND(D, device="cpu", seed=1)
    x = {"next_obs": np.ones((2, D), np.float32)}
    assert not np.allclose(a.compute(x), b.compute(x))
    b.load_state_dict(a.state_dict())
    assert np.allclose(a.compute(x), b.compute(x))
