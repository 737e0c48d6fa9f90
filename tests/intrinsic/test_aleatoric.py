"""Aleatoric-uncertainty curiosity: noise it has learned to expect stops paying; inputs it has never
seen still pay; with the variance term switched off (plain forward-prediction curiosity) the noise
keeps paying."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sparsegym.intrinsic import make_intrinsic  # noqa: E402

DIM, N = 16, 128


def _train(eta, steps=100, seed=0):
    rng = np.random.default_rng(seed)
    m = make_intrinsic("aleatoric", DIM, 2, device="cpu", seed=seed, eta=eta, hidden=64)
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
    m, noise, novel, seen = _train(eta=2.0)
    noisy, new, old = m.compute(noise).mean(), m.compute(novel).mean(), m.compute(seen).mean()
    assert noisy < 0.15 * new         # the noise is explained away by its learned variance...
    assert old < 0.1 * new            # ...a familiar deterministic transition pays little...
    assert new > 0.05                 # ...and an unseen one still pays


def test_without_the_variance_term_the_noise_keeps_paying():
    m, noise, novel, _ = _train(eta=0.0)
    assert m.compute(noise).mean() > 0.5 * m.compute(novel).mean()   # plain curiosity: the TV trap


def test_the_authors_preset_subtracts_the_variance_once_and_does_not_clip():
    from sparsegym.intrinsic import AleatoricCuriosity

    m = make_intrinsic("aleatoric_authors", DIM, 2, device="cpu", seed=0, hidden=64)
    assert isinstance(m, AleatoricCuriosity) and (m.eta, m.nll_lambda, m.clip_min) == (1.0, 1.0, None)
    assert AleatoricCuriosity.authors(DIM, 2, device="cpu", eta=1.5).eta == 1.5   # the preset can be overridden
    rng = np.random.default_rng(0)
    obs = np.zeros((N, DIM), np.float32)
    for _ in range(100):   # pure noise after (obs, 0): the variance learns the error's mean
        m.update({"obs": obs, "action": np.zeros(N, np.int64), "next_obs": rng.normal(size=(N, DIM)).astype(np.float32)})
    batch = {"obs": obs, "action": np.zeros(N, np.int64), "next_obs": rng.normal(size=(N, DIM)).astype(np.float32)}
    bonus = m.compute(batch)
    assert bonus.min() < 0.0                            # unclipped: less surprise than expected is negative
    clipped = make_intrinsic("aleatoric", DIM, 2, device="cpu", seed=0, hidden=64)
    assert clipped.clip_min == 0.0 and clipped.eta == 2.0   # the default stays ours
