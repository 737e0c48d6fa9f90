"""Ensemble disagreement: noise it has seen stops paying; inputs it has never seen still pay."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sparsegym.intrinsic import make_intrinsic  # noqa: E402


def test_noisy_transitions_pay_less_than_unseen_ones():
    rng = np.random.default_rng(0)
    dim, n = 16, 256
    seen = np.zeros((n, dim), np.float32)
    seen[:, 0] = 1.0                                     # one familiar state...
    batch = {"obs": seen, "action": np.zeros(n, np.int64),
             "next_obs": rng.normal(size=(n, dim)).astype(np.float32)}  # ...whose next state is pure noise
    m = make_intrinsic("disagreement", dim, 2, device="cpu", seed=0)
    first = m.compute(batch).mean()
    for _ in range(150):
        batch["next_obs"] = rng.normal(size=(n, dim)).astype(np.float32)
        m.update(batch)
    noisy = m.compute(batch).mean()
    unseen = np.zeros((n, dim), np.float32)
    unseen[:, 5] = 4.0
    novel = m.compute({"obs": unseen, "action": np.ones(n, np.int64), "next_obs": batch["next_obs"]}).mean()
    assert noisy < first / 5          # the noise stopped paying although it is never predictable
    assert novel > 5 * noisy          # an input it never trained on still does


def test_needs_two_models():
    with pytest.raises(ValueError, match="at least 2 models"):
        make_intrinsic("disagreement", 4, 2, n_models=1)
