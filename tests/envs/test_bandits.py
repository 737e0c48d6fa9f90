"""Bandit family: the steady-state formula, the DP planner, regret accounting, and agents that learn."""

import itertools

import numpy as np
import pytest

import sparsegym
from sparsegym.agents.bandits import (
    UCB1,
    DynLinOracle,
    DynLinUCB,
    GaussianThompson,
    LinUCB,
    LSDOptimistic,
    LSDPlanner,
)
from sparsegym.baselines import RandomAgent
from sparsegym.envs.bandits import DynLinBandit, lsd_optimal_plan, make_dynlin, steady_state_gain
from sparsegym.envs.bandits.lsd import LSDBandit, _step_state, payoff_table
from sparsegym.errors import InvalidActionError


def play(env_id_or_env, make_agent, seed=0, **kwargs):
    env = sparsegym.make(env_id_or_env, **kwargs) if isinstance(env_id_or_env, str) else env_id_or_env
    agent = make_agent(env)
    agent.reset(seed)
    obs, info = env.reset(seed=seed)
    while True:
        obs, _, term, trunc, info = env.step(agent.act(obs, info))
        if term or trunc:
            return info


def test_steady_state_value_matches_a_long_simulated_average():
    env = make_dynlin(rho=0.9, instance_seed=3, horizon=40_000, reward_noise=0.1, state_noise=0.05)
    for arm in range(env.action_space.n):
        env.reset(seed=arm)
        rewards = [env.step(arm)[1] for _ in range(40_000)]
        assert np.mean(rewards[2000:]) == pytest.approx(env.actions[arm] @ env.gain, abs=0.03)


def test_gain_formula_by_hand():
    A = np.array([[0.5]])
    B = np.array([[2.0]])
    w, theta = np.array([1.0]), np.array([0.25])
    # x = 0.5 x + 2 a  ->  x = 4 a; reward = x + 0.25 a = 4.25 a
    assert steady_state_gain(A, B, w, theta) == pytest.approx([4.25])


def test_pseudo_regret_accounting():
    info = play("sparsegym/DynLinBandit-Rho07-v0", DynLinOracle)
    env = sparsegym.make("sparsegym/DynLinBandit-Rho07-v0").unwrapped
    # the oracle pays only the transient from the zero start state
    assert abs(info["cumulative_pseudo_regret"]) < 0.05 * env.value_gap * 1000 and info["success"]
    worst = int(np.argmin(env.actions @ env.gain))
    bad = play("sparsegym/DynLinBandit-Rho07-v0", lambda e: type("W", (), {"reset": lambda s, seed: None,
                                                                             "act": lambda s, o, i: worst})())
    assert bad["cumulative_pseudo_regret"] == pytest.approx(1000 * env.value_gap, rel=0.05)
    assert not bad["success"]


def test_dynlin_validation():
    with pytest.raises(ValueError, match="spectral radius of A is 1.500"):
        DynLinBandit(A=[[1.5]], B=[[1.0]], w=[1.0], theta=[0.0], actions=[[1.0]])
    with pytest.raises(ValueError, match="shapes do not fit"):
        DynLinBandit(A=[[0.5]], B=[[1.0]], w=[1.0, 2.0], theta=[0.0], actions=[[1.0]])
    env = sparsegym.make("sparsegym/DynLinBandit-v0")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="expected an arm index in \\[0, 5\\]"):
        env.unwrapped.step(6)


def test_dp_value_equals_brute_force_enumeration():
    mu = payoff_table("monotone", 2, 2, seed=5)
    horizon = 7
    best = 0.0
    for seq in itertools.product(range(2), repeat=horizon):
        state, total = (-2, -2), 0.0
        for arm in seq:
            total += mu[arm, state[arm] + 2]
            state = _step_state(state, arm, 2)
        best = max(best, total)
    value, policy = lsd_optimal_plan(mu, 2, horizon)
    assert value == pytest.approx(best)
    # and following the DP policy earns exactly that
    env = LSDBandit(mu, 2, horizon=horizon)
    info = play(env, LSDPlanner)
    assert info["regret"] == pytest.approx(0.0, abs=1e-9)


def test_lsd_dynamics_and_payoffs():
    env = sparsegym.make("sparsegym/LSDBandit-Satiating-v0").unwrapped
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0, 0, 0]  # every arm fully rested: tau = -tau_max
    fresh = env.expected_payoff(1)
    obs, *_ = env.step(1)
    assert obs.tolist() == [0, 5, 0]  # arm 1 at +1, the others stay at -4 (capped)
    again = env.expected_payoff(1)
    assert again < fresh  # satiation
    env.step(0)
    assert env.state == (1, -1, -4)


@pytest.mark.parametrize("env_id", ["sparsegym/DynLinBandit-Rho03-v0", "sparsegym/DynLinBandit-Rho07-v0",
                                    "sparsegym/DynLinBandit-Rho09-v0"])
def test_dynlin_ucb_beats_random_by_a_wide_margin(env_id):
    random = np.mean([play(env_id, RandomAgent, s)["cumulative_pseudo_regret"] for s in range(2)])
    # the earlier sparsegym reading (fixed burn-in, every post-burn-in round a sample), kept as "fixed"
    dynlin = np.mean([play(env_id, lambda e: DynLinUCB(e, schedule="fixed"), s)["cumulative_pseudo_regret"] for s in range(2)])
    assert dynlin < 0.25 * random


def test_arm_agents_learn_on_the_fast_instance():
    env_id = "sparsegym/DynLinBandit-Rho03-v0"
    random = play(env_id, RandomAgent, 0)["cumulative_pseudo_regret"]
    for agent in (UCB1, LinUCB, GaussianThompson):
        assert play(env_id, agent, 0)["cumulative_pseudo_regret"] < 0.6 * random, agent.__name__


def test_continuous_actions():
    env_id = "sparsegym/DynLinBandit-Continuous-Rho07-v0"
    random = play(env_id, RandomAgent, 0)["cumulative_pseudo_regret"]
    assert play(env_id, lambda e: DynLinUCB(e, schedule="fixed"), 0)["cumulative_pseudo_regret"] < 0.25 * random
    assert play(env_id, DynLinOracle, 0)["cumulative_pseudo_regret"] < 0.02 * random


@pytest.mark.parametrize("env_id", ["sparsegym/LSDBandit-Satiating-v0", "sparsegym/LSDBandit-Recharging-v0",
                                    "sparsegym/LSDBandit-Monotone-v0"])
def test_lsd_learner_and_planners(env_id):
    random = np.mean([play(env_id, RandomAgent, s)["regret"] for s in range(2)])
    learner = np.mean([play(env_id, LSDOptimistic, s)["regret"] for s in range(2)])
    assert learner < 0.5 * random
    assert play(env_id, LSDPlanner)["regret"] == pytest.approx(0.0, abs=1e-6)
    cyclic = play(env_id, lambda e: LSDPlanner(e, "cyclic"))["regret"]
    greedy = play(env_id, lambda e: LSDPlanner(e, "greedy"))["regret"]
    assert -1e-6 <= cyclic <= greedy + 1e-6  # never better than the optimum, never worse than greedy
    with pytest.raises(ValueError, match="kind must be"):
        LSDPlanner(sparsegym.make(env_id), kind="magic")
