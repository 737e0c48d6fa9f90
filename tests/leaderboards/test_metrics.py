import numpy as np
import pytest

from sparsegym.leaderboards.metrics import agent_stats, iqm, mean, rank, score_matrix, stratified_bootstrap_ci
from sparsegym.leaderboards.store import EpisodeRecord


def test_iqm_hand_computed():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # 8 scores: drop 2 each end -> mean(3, 4, 5, 6)
    assert iqm([10, 0, 1, 2, 3, 4, 5, 6, 7, -50]) == pytest.approx(np.mean([1, 2, 3, 4, 5, 6]))
    assert iqm([[0, 100], [1, 2]]) == pytest.approx(1.5)  # pooled over the matrix: [0, 1, 2, 100] -> mean(1, 2)
    assert iqm([3.0]) == 3.0
    with pytest.raises(ValueError):
        iqm([])


def test_iqm_matches_scipy_trim_mean_convention():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (5, 7, 10, 33):
        x = rng.normal(size=n)
        assert iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))


def test_bootstrap_is_stratified_by_env():
    # Column 0 is all zeros, column 1 all ones: resampling runs *within* each env keeps the mean at 0.5
    # in every replicate; pooling the envs would not.
    scores = np.column_stack([np.zeros(20), np.ones(20)])
    assert stratified_bootstrap_ci(scores, mean) == (0.5, 0.5)


def test_bootstrap_ci_is_seeded_and_contains_the_point_estimate():
    rng = np.random.default_rng(1)
    scores = rng.random((30, 4))
    a = stratified_bootstrap_ci(scores, iqm, reps=500, seed=3)
    assert a == stratified_bootstrap_ci(scores, iqm, reps=500, seed=3)
    assert a[0] < iqm(scores) < a[1]


@pytest.mark.parametrize("statistic,truth", [(mean, 0.3), (iqm, 0.5)])
def test_bootstrap_ci_coverage_on_synthetic_data(statistic, truth):
    rng = np.random.default_rng(2024)
    hits, trials = 0, 120
    for _ in range(trials):
        if statistic is mean:
            scores = (rng.random((40, 5)) < truth).astype(float)  # Bernoulli(0.3) successes
        else:
            scores = rng.random((40, 5))  # Uniform(0, 1): the population IQM is 0.5
        lo, hi = stratified_bootstrap_ci(scores, statistic, reps=400, seed=int(rng.integers(1 << 30)))
        hits += lo <= truth <= hi
    assert 0.88 <= hits / trials <= 0.995


def _rec(env, seed, ret, success, error=None):
    return EpisodeRecord("a", "s", "test", env, seed, ret, success, 10, 0.1, error)


def test_agent_stats_hand_computed():
    records = [_rec("e1", 0, 1.0, True), _rec("e1", 1, 0.0, False), _rec("e1", 2, 0.5, True), _rec("e1", 3, 0.0, False),
               _rec("e2", 0, 0.0, False), _rec("e2", 1, 0.0, False), _rec("e2", 2, 0.0, False, "boom"), _rec("e2", 3, 0.8, True)]
    s = agent_stats("a", records, ["e1", "e2"], expected_episodes=8, reps=300)
    assert [e.success_rate for e in s.per_env] == [0.5, 0.25]
    assert s.success_rate == pytest.approx(0.375)
    assert s.mean_return == pytest.approx((1.5 / 4 + 0.8 / 4) / 2)
    # pooled returns sorted: 0 0 0 0 0 0.5 0.8 1.0 -> drop 2 each end -> mean(0, 0, 0, 0.5)
    assert s.iqm_return == pytest.approx(0.125)
    assert s.errors == 1 and s.complete
    assert score_matrix(records, ["e1", "e2"]).shape == (4, 2)


def test_rank_orders_by_iqm_then_success():
    def stats(name, iqm_value, success):
        recs = [_rec("e", i, iqm_value, i < success) for i in range(4)]
        s = agent_stats(name, recs, ["e"], reps=50)
        return s

    ranked = rank([stats("low", 0.1, 4), stats("high", 0.9, 0), stats("mid-b", 0.5, 1), stats("mid-a", 0.5, 3)])
    assert [s.agent for s in ranked] == ["high", "mid-a", "mid-b", "low"]
