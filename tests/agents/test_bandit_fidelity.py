"""The bandit methods as their papers define them: DynLin-UCB's epochs and radius (Mussi et al. 2023),
ISI-CombUCB1's block LP (Laforgue et al. 2022), the LP planner for LSD bandits (after Foussoul et al.
2023) and the v1 LSD instances where greedy is not optimal. Values are computed by hand in comments."""

import itertools
import math

import numpy as np
import pytest

import sparsegym
from sparsegym.agents.bandits import (
    DynLinUCB,
    ISICombUCB1,
    LSDLPPlanner,
    LSDPlanner,
    dynlin_epoch_lengths,
    evaluate_schedule,
    isi_block_lp,
    plan_lsd_lp,
    transient_constant,
)
from sparsegym.envs.bandits import DynLinBandit
from sparsegym.envs.bandits.dynlin import make_mussi2023
from sparsegym.envs.bandits.lsd import _Model, lsd_model, payoff_table
from sparsegym.errors import ConfigError


def play(env, agent, seed=0):
    agent.reset(seed)
    obs, info = env.reset(seed=seed)
    while True:
        obs, _, term, trunc, info = env.step(agent.act(obs, info))
        if term or trunc:
            return info


# ---------------------------------------------------------------- DynLin-UCB


def test_epoch_lengths_by_hand():
    # rho_bar = 1/2: H_m = 1 + floor(log2 m) = 1, 2, 2, 3, 3, 3, 3, 4, ...; 20 rounds: 1+2+2+3*4 = 17, then 3 left
    assert dynlin_epoch_lengths(0.5, 20) == [1, 2, 2, 3, 3, 3, 3, 3]
    # rho_bar = 0.2: log(m) / log(5) reaches 1 at m = 5 exactly (H_5 = 2) and 2 at m = 25 (H_25 = 3)
    lengths = dynlin_epoch_lengths(0.2, 1000)
    assert lengths[:5] == [1, 1, 1, 1, 2] and lengths[23] == 2 and lengths[24] == 3
    assert sum(lengths) == 1000
    assert dynlin_epoch_lengths(0.0, 5) == [1, 1, 1, 1, 1]  # no dynamics: every round a sample
    with pytest.raises(ConfigError, match="rho_bar must be in"):
        dynlin_epoch_lengths(1.0, 10)


def _scalar_env(horizon=100):
    # x' = 0.5 x + a, reward = x + 0.5 a; actions 1 and 0.5; state noise 0.2, reward noise 0.1
    return DynLinBandit(A=[[0.5]], B=[[1.0]], w=[1.0], theta=[0.5], actions=[[1.0], [0.5]], horizon=horizon,
                        state_noise=0.2, reward_noise=0.1)


def test_radius_by_hand():
    agent = DynLinUCB(_scalar_env())
    # Theta = 0.5, omega = 1, B = 1, U = 1, Phi = 1 (scalar A), rho_bar = 0.5, lam = 1
    assert agent.bounds == pytest.approx({"theta": 0.5, "omega": 1.0, "B": 1.0, "U": 1.0, "Phi": 1.0})
    assert agent.c1 == pytest.approx(0.5 + 1 * 1 * 1 / 0.5)  # 2.5
    assert agent.c2 == pytest.approx(1 * 1 * 1 * (1 / 0.5 + 1 / 0.5))  # 4
    assert agent.sigma_bar_sq == pytest.approx(0.01 + 0.04 / 0.75)  # sigma_eps^2 + sigma_eta^2 omega^2 Phi^2 / (1 - rho^2)
    # t = 0, T = 100, d = 1: 2.5 + 4 log(e) + sqrt(2 * 0.063333 * log 100) = 6.5 + 0.76376
    assert agent.beta() == pytest.approx(7.26376, abs=1e-4)
    agent.t = 9  # + 4 log(10 e) - 4 and log(1 + 9 / 1) inside the root
    expected = 2.5 + 4 * math.log(10 * math.e) + math.sqrt(2 * (0.01 + 0.04 / 0.75) * (math.log(100) + 0.5 * math.log(10)))
    assert agent.beta() == pytest.approx(expected)
    # the fixed (earlier) reading keeps the OFUL radius of LinUCB
    fixed = DynLinUCB(_scalar_env(), schedule="fixed")
    assert fixed.beta() == pytest.approx(0.5 * math.sqrt(0 + 2 * math.log(100)) + 1.0)


def test_one_sample_per_epoch_at_its_last_round():
    env = _scalar_env(horizon=20)
    agent = DynLinUCB(env)
    seen = []
    original = agent.observe
    agent.observe = lambda arm, reward: (seen.append(reward), original(arm, reward))
    agent.reset(0)
    obs, info = env.reset(seed=0)
    rewards, arms = [], []
    for _ in range(20):
        a = agent.act(obs, info)
        arms.append(a)
        obs, r, _, _, info = env.step(a)
        rewards.append(r)
    # epochs [1, 2, 2, 3, 3, 3, 3, 3] end at rounds 1, 3, 5, 8, 11, 14, 17 (1-based); the 8th ends at 20,
    # its sample would come with the 21st call
    assert seen == pytest.approx([rewards[i - 1] for i in (1, 3, 5, 8, 11, 14, 17)])
    for start, length in zip((0, 1, 3, 5, 8, 11, 14, 17), (1, 2, 2, 3, 3, 3, 3, 3)):
        assert len(set(arms[start:start + length])) == 1  # an action is held for its whole epoch


def test_transient_constant():
    assert transient_constant(np.diag([0.2, 0.0, 0.1])) == pytest.approx(1.0)  # normal matrix
    J = np.array([[0.5, 1.0], [0.0, 0.5]])  # Jordan block: ||J^t|| / 0.5^t grows like t
    assert transient_constant(J, max_power=10) > 10


def test_dynlin_ucb_bad_input():
    with pytest.raises(ConfigError, match="schedule must be"):
        DynLinUCB(_scalar_env(), schedule="burn-in")
    with pytest.raises(ConfigError, match="rho_bar must be in"):
        DynLinUCB(_scalar_env(), rho_bar=1.2)
    with pytest.raises(ConfigError, match="lam must be positive"):
        DynLinUCB(_scalar_env(), lam=0)
    with pytest.raises(ConfigError, match="lam must be positive or 'log'"):
        DynLinUCB(_scalar_env(), lam="sqrt")
    assert DynLinUCB(_scalar_env(horizon=100), lam="log").lam == pytest.approx(math.log(100))


def test_mussi2023_instance():
    env = make_mussi2023(sigma=0.01)
    # h = theta + B^T (I - A)^{-T} w = (0.45 / 0.8, 0.5, 0.1 + 0.01 / 0.9)
    assert env.gain == pytest.approx([0.5625, 0.5, 0.1 + 0.01 / 0.9])
    assert env.rho == pytest.approx(0.2) and env.optimal_value == pytest.approx(0.8125)
    assert env.actions[env.optimal_action].tolist() == [1.0, 0.5, 0.0]
    assert sparsegym.make("sparsegym/DynLinBandit-Mussi2023-v0").unwrapped.state_noise == 0.01


# ---------------------------------------------------------------- ISI-CombUCB1


def _two_arm_index():
    # tau_max = 1: column 0 = rested (tau = -1), column 2 = on a streak (tau = +1)
    index = np.zeros((2, 3))
    index[0, 0], index[0, 2] = 0.9, 0.1
    index[1, 0], index[1, 2] = 0.5, 0.45
    return index


def test_isi_block_lp_two_arms_by_hand():
    model = _Model(np.ones((2, 3)), 1)
    index = _two_arm_index()
    start = model.index[(-1, -1)]
    # d = 3 from the rested start: 0,1,0 pays 0.9 + 0.5 + 0.9 = 2.3; next best 1,0,1 = 1.9, 0,1,1 = 1.85
    seq, value = isi_block_lp(model, start, index, 3)
    assert seq == [0, 1, 0] and value == pytest.approx(2.3)
    # from state (+1, -1) (arm 0 just pulled): 1,0,1 = 0.5 + 0.9 + 0.5 = 1.9; 1,1,0 = 0.5 + 0.45 + 0.9 = 1.85
    seq, value = isi_block_lp(model, model.index[(1, -1)], index, 3)
    assert seq == [1, 0, 1] and value == pytest.approx(1.9)
    with pytest.raises(ConfigError, match="block size"):
        isi_block_lp(model, start, index, 0)


def test_isi_block_lp_is_exact_against_enumeration():
    rng = np.random.default_rng(3)
    model = _Model(np.ones((3, 5)), 2)
    for _ in range(5):
        index = rng.uniform(0, 1, size=(3, 5))
        start = int(rng.integers(len(model.states)))
        best = -1.0
        for seq in itertools.product(range(3), repeat=4):
            s, total = start, 0.0
            for a in seq:
                total += index[a, model.columns[s, a]]
                s = model.next[s, a]
            best = max(best, total)
        assert isi_block_lp(model, start, index, 4)[1] == pytest.approx(best)


def test_isi_combucb1_learns_on_the_v1_instance():
    env = sparsegym.make("sparsegym/LSDBandit-Monotone-v1")
    from sparsegym.baselines import RandomAgent

    random = play(env, RandomAgent(env))["regret"]
    agent = ISICombUCB1(env)
    assert agent.d == 4 and agent.indices()[0, 0] == pytest.approx(4 * math.sqrt(1.5 * math.log(12)))
    assert play(env, agent)["regret"] < 0.85 * random  # measured 94 vs 122 at T = 1000 (it still explores)
    with pytest.raises(ConfigError, match="block size"):
        ISICombUCB1(env, d=0)


# ---------------------------------------------------------------- LP planner


def test_lp_planner_schedule_is_feasible_and_bounded():
    env = sparsegym.make("sparsegym/LSDBandit-Recharging-v1").unwrapped
    planner = LSDLPPlanner(env, samples=4)
    assert len(planner.schedule) == env.horizon and set(planner.schedule) <= set(range(env.k))
    assert planner.value == pytest.approx(evaluate_schedule(env.mu, env.tau_max, planner.schedule))
    assert env.optimal_value - 1e-6 <= planner.upper_bound  # the relaxation bounds the optimum
    assert planner.value >= planner.certified_ratio * env.optimal_value - 1e-9
    info = play(env, planner)  # and the env pays exactly the planned value
    assert info["regret"] == pytest.approx(env.optimal_value - planner.value, abs=1e-6)
    greedy = env.optimal_value - play(env, LSDPlanner(env, "greedy"))["regret"]
    assert planner.value >= greedy - 1e-9
    with pytest.raises(ConfigError, match="samples"):
        LSDLPPlanner(env, samples=0)
    with pytest.raises(ConfigError, match="outside"):
        evaluate_schedule(env.mu, env.tau_max, [5])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("rounding, floor", [("virtual_mirror", 0.88), ("greedy_interleave", 0.9)])
def test_lp_planner_against_dp_on_small_monotone_instances(seed, rounding, floor):
    rng = np.random.default_rng(seed)
    k, tau_max, horizon = int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(30, 61))
    mu = payoff_table("monotone-strict", k, tau_max, 100 + seed)
    optimum = lsd_model(mu, tau_max).plan(horizon)[0][0, 0]
    schedule, value, upper = plan_lsd_lp(mu, tau_max, horizon, samples=8, rounding=rounding)
    assert upper >= optimum - 1e-6
    # value / upper is a proven per-instance lower bound on value / optimum (the LP bounds the
    # optimum); the floors are measured on these seeds (lowest: 0.891 for virtual_mirror, seed 5;
    # 0.917 for greedy_interleave). The a-priori ratio of virtual_mirror is tested in test_lsd_planner.py.
    assert value / upper >= floor
    assert value >= 0.9 * optimum


# ---------------------------------------------------------------- the v1 LSD instances


@pytest.mark.parametrize("env_id", ["sparsegym/LSDBandit-Recharging-v1", "sparsegym/LSDBandit-Monotone-v1"])
def test_greedy_is_measurably_suboptimal_on_v1(env_id):
    env = sparsegym.make(env_id).unwrapped
    greedy = env.optimal_value - play(env, LSDPlanner(env, "greedy"))["regret"]
    assert greedy <= 0.9 * env.optimal_value
    mu, t = env.mu, env.tau_max
    for i in range(env.k):  # the payoff shapes: recharging in the rest, no gain on a streak
        assert np.all(np.diff(mu[i, :t][::-1]) >= -1e-12)  # mu(-1) <= mu(-2) <= ... <= mu(-tau_max)
        assert np.all(mu[i, t + 1:] <= mu[i, t - 1] + 1e-12)  # mu(+k) <= mu(-1)


def test_delayed_family_streak_pays_like_one_round_rest():
    mu = payoff_table("delayed", 3, 4, 1)
    assert np.allclose(mu[:, 5:], mu[:, [3]])
    with pytest.raises(ConfigError, match="unknown payoff family"):
        payoff_table("seasonal", 3, 4, 0)
