"""HindsightCodeMMD (a gated hindsight code with an MMD independence penalty, not the paper's
BYOL-Hindsight): the code may explain noise away but not a deterministic outcome, so a
learned noise source stops paying while an unseen transition still pays; without the independence
constraint the code describes every outcome and novelty stops paying too."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sparsegym.intrinsic import make_intrinsic  # noqa: E402

DIM, N = 16, 128


def _train(weight, steps=150, seed=0):
    rng = np.random.default_rng(seed)
    m = make_intrinsic("hindsight_code_mmd", DIM, 2, device="cpu", seed=seed, independence_weight=weight, hidden=64,
                       embed_dim=16)
    noisy_obs = np.zeros((N, DIM), np.float32)
    noisy_obs[:, 0] = 1.0                                   # action 0 here ("watch tv"): the next state is pure noise
    calm_obs = np.zeros((N, DIM), np.float32)
    calm_obs[:, 1] = 1.0                                    # action 1 here: a fixed next state
    calm_next = np.tile(np.linspace(-1, 1, DIM, dtype=np.float32), (N, 1))
    for _ in range(steps):
        m.update({"obs": np.concatenate([noisy_obs, calm_obs]), "action": np.repeat([0, 1], N),
                  "next_obs": np.concatenate([rng.normal(size=(N, DIM)).astype(np.float32), calm_next])})
    noise = {"obs": noisy_obs, "action": np.zeros(N, np.int64),
             "next_obs": rng.normal(size=(N, DIM)).astype(np.float32)}   # fresh noise, never trained on
    unseen = np.zeros((N, DIM), np.float32)
    unseen[:, 5] = 3.0
    novel = {"obs": unseen, "action": np.ones(N, np.int64), "next_obs": -calm_next}   # an unseen state, the familiar action
    seen = {"obs": calm_obs, "action": np.ones(N, np.int64), "next_obs": calm_next}
    return m, noise, novel, seen


def test_learned_noise_pays_far_less_than_an_unseen_transition():
    m, noise, novel, seen = _train(weight=100.0)
    noisy, new, old = m.compute(noise).mean(), m.compute(novel).mean(), m.compute(seen).mean()
    assert noisy < 0.2 * new          # the code carries the noise and the predictor explains it away...
    assert old < 0.2 * new            # ...a familiar deterministic transition pays little...
    assert new > 0.1                  # ...and an unseen one still pays
    # The gate opened where the outcome is noise and stayed shut where it is determined.
    assert m.gate(noise["obs"], noise["action"]).mean() > 0.8
    assert m.gate(seen["obs"], seen["action"]).mean() < 0.5


def test_without_independence_the_code_explains_novelty_away():
    m, _, novel, _ = _train(weight=0.0)
    free = m.compute(novel).mean()
    constrained, _, novel_c, _ = _train(weight=100.0)
    assert free < 0.3 * constrained.compute(novel_c).mean()


def test_needs_discrete_actions():
    with pytest.raises(ValueError, match="n_actions"):
        make_intrinsic("hindsight_code_mmd", DIM, None, device="cpu")


def test_the_old_names_still_build_it_and_warn():
    from sparsegym.intrinsic import HindsightCodeMMD, HindsightCuriosity

    with pytest.warns(DeprecationWarning, match="hindsight_code_mmd"):
        m = make_intrinsic("hindsight", DIM, 2, device="cpu", hidden=16, embed_dim=8)
    assert type(m) is HindsightCodeMMD and m.name == "hindsight_code_mmd"
    with pytest.warns(DeprecationWarning, match="not the paper's BYOL-Hindsight"):
        old = HindsightCuriosity(DIM, 2, device="cpu", hidden=16, embed_dim=8)
    assert isinstance(old, HindsightCodeMMD)
