"""Last-switch-dependent (LSD) bandits (Laforgue, Clerici, Cesa-Bianchi and Gilad-Bachrach, 2022,
"A Last Switch Dependent Analysis of Satiation and Seasonality in Bandits"; and "Last Switch Dependent
Bandits with Monotone Payoff Functions").

Each arm ``i`` has a state ``tau_i``, the signed time since its last switch, capped at ``tau_max``:
``+k`` when it has been pulled in each of the last ``k`` rounds, ``-k`` when it was last pulled ``k``
rounds ago. Pulling it pays, in expectation, ``mu_i(tau_i)`` for its state *before* the pull, then its
state moves to ``max(tau_i, 0) + 1`` and every other arm's to ``min(tau_j, 0) - 1`` (capped). All arms
start fully rested at ``-tau_max``. Payoffs are Bernoulli with those means.

Payoff families (``mu`` in ``[0, 1]``):

* ``satiating``: pulling an arm again and again pays less each time (``mu(+k)`` decreasing in ``k``);
  a rested arm pays its fresh value;
* ``recharging``: an arm pays more the longer it rested (``mu(-k)`` increasing in ``k``), a streak
  pays its base value;
* ``monotone``: both at once, with arm-specific rates.

The states are observable (``MultiDiscrete``: ``tau + tau_max`` per arm). The full-information optimum
over the horizon ``T`` is found by dynamic programming over the reachable joint states (at most one
arm has a positive state), so ``info`` reports the regret against it; ``info["success"]`` at the end is
whether the learner earned within 5% of that optimum.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym.errors import ConfigError

FAMILIES = ("satiating", "recharging", "monotone", "delayed", "monotone-strict")


def payoff_table(family: str, k: int, tau_max: int, seed: int) -> np.ndarray:
    """``mu[i, tau + tau_max]`` for ``tau`` in ``-tau_max..tau_max`` (index ``tau_max`` is unused).

    ``satiating``, ``recharging`` and ``monotone`` are the original (v0) families. In ``recharging`` a
    streak pays the arm's base value forever, so playing the best arm on a streak is optimal (the
    instance is trivial); they are kept for the v0 ids. ``delayed`` and ``monotone-strict`` (the v1
    ids) are not trivial:

    * ``delayed``: delay-dependent (recharging) bandits as in the recharging-bandits literature: an
      arm's payoff depends only on the rounds since it was last pulled, so a streak pays like a
      one-round rest, ``mu(+k) = mu(-1)``. ``mu(-r) = base * min(1, r / L)`` grows linearly to the base
      value over a recovery time ``L`` in ``2..tau_max`` drawn per arm.
    * ``monotone-strict``: the monotone LSD setting of Foussoul et al. (2023): ``mu(-r)`` non-decreasing
      in the rest ``r`` (as ``delayed``) and ``mu(+k)`` non-increasing in the streak ``k``, starting from
      the one-round-rest value, ``mu(+k) = mu(-1) * (1 - s)^(k - 1)``.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown payoff family {family!r}; use one of {', '.join(FAMILIES)}")
    if k < 1 or tau_max < 1:
        raise ConfigError(f"need k >= 1 arms and tau_max >= 1, got k={k}, tau_max={tau_max}")
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.35, 0.9, size=k)
    mu = np.zeros((k, 2 * tau_max + 1))
    if family in ("delayed", "monotone-strict"):
        for i in range(k):
            recovery = int(rng.integers(min(2, tau_max), tau_max + 1))
            sat = rng.uniform(0.1, 0.4) if family == "monotone-strict" else 0.0
            for r in range(1, tau_max + 1):
                mu[i, tau_max - r] = base[i] * min(1.0, r / recovery)
            for kk in range(1, tau_max + 1):
                mu[i, tau_max + kk] = mu[i, tau_max - 1] * (1 - sat) ** (kk - 1)
        return np.clip(mu, 0.0, 1.0)
    for i in range(k):
        sat = rng.uniform(0.1, 0.35) if family in ("satiating", "monotone") else 0.0
        rec = rng.uniform(0.15, 0.5) if family in ("recharging", "monotone") else 0.0
        for tau in range(1, tau_max + 1):
            mu[i, tau_max + tau] = base[i] * (1 - sat) ** tau  # after a streak of tau pulls
            mu[i, tau_max - tau] = base[i] * (1 - rec * (tau_max - tau) / tau_max)  # rested tau rounds
    return np.clip(mu, 0.0, 1.0)


def is_monotone(mu: np.ndarray, tau_max: int, tol: float = 1e-12) -> bool:
    """Whether every arm's payoff is non-increasing in its signed state along
    ``-tau_max, ..., -1, +1, ..., +tau_max``: a longer rest never pays less, a longer streak never pays
    more, and a one-round rest pays at least the second pull of a streak (``mu(-1) >= mu(+1)``). This is
    the monotonicity under which ``LSDLPPlanner``'s virtual-state rounding keeps each arm's real state
    at least as rested as its virtual one (see that class). ``satiating``, ``delayed`` and
    ``monotone-strict`` tables satisfy it; ``recharging`` and ``monotone`` (v0) need not."""
    mu = np.asarray(mu, dtype=float)
    chain = np.concatenate([mu[:, :tau_max], mu[:, tau_max + 1:]], axis=1)
    return bool(np.all(np.diff(chain, axis=1) <= tol))


def _step_state(state: tuple[int, ...], arm: int, tau_max: int) -> tuple[int, ...]:
    return tuple(min(max(t, 0) + 1, tau_max) if j == arm else max(min(t, 0) - 1, -tau_max)
                 for j, t in enumerate(state))


class _Model:
    """The reachable joint states of an LSD instance and their transition and payoff tables."""

    def __init__(self, mu: np.ndarray, tau_max: int):
        k = mu.shape[0]
        start = tuple([-tau_max] * k)
        index = {start: 0}
        states = [start]
        frontier = [start]
        while frontier:
            nxt = []
            for s in frontier:
                for a in range(k):
                    s2 = _step_state(s, a, tau_max)
                    if s2 not in index:
                        index[s2] = len(states)
                        states.append(s2)
                        nxt.append(s2)
            frontier = nxt
        self.states, self.index, self.k, self.tau_max = states, index, k, tau_max
        self.next = np.array([[index[_step_state(s, a, tau_max)] for a in range(k)] for s in states])
        self.columns = np.array(states, dtype=np.int64) + tau_max  # (S, K): each arm's payoff column
        self.set_payoffs(mu)

    def set_payoffs(self, mu: np.ndarray) -> None:
        """Use new payoff means on the same state graph (cheap: no search)."""
        self.payoff = np.asarray(mu)[np.arange(self.k)[None, :], self.columns]

    def plan(self, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Finite-horizon DP: ``values[t, s]`` (best expected total from round ``t`` in state ``s``) and
        ``policy[t, s]``."""
        n = len(self.states)
        values = np.zeros((horizon + 1, n))
        policy = np.zeros((horizon, n), dtype=np.int64)
        for t in range(horizon - 1, -1, -1):
            q = self.payoff + values[t + 1][self.next]
            policy[t] = q.argmax(axis=1)
            values[t] = q.max(axis=1)
        return values, policy


@lru_cache(maxsize=32)
def _cached_model(mu_bytes: bytes, shape: tuple[int, int], tau_max: int) -> _Model:
    return _Model(np.frombuffer(mu_bytes).reshape(shape), tau_max)


def lsd_model(mu: np.ndarray, tau_max: int) -> _Model:
    mu = np.ascontiguousarray(mu, dtype=np.float64)
    return _cached_model(mu.tobytes(), mu.shape, tau_max)


def lsd_optimal_plan(mu: np.ndarray, tau_max: int, horizon: int) -> tuple[float, Any]:
    """The optimal expected total payoff over ``horizon`` rounds from the rested start, and a policy
    ``policy(t, state_tuple) -> arm``."""
    model = lsd_model(mu, tau_max)
    values, policy = model.plan(horizon)
    return float(values[0, 0]), lambda t, state: int(policy[t, model.index[tuple(state)]])


class LSDBandit(gymnasium.Env):
    """An LSD bandit instance (see the module docstring). ``mu`` (``(K, 2 tau_max + 1)``) is public for
    planners and oracles; learners should not read it."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, mu: Any, tau_max: int, horizon: int = 1000, success_tol: float = 0.05,
                 render_mode: str | None = None):
        self.mu = np.asarray(mu, dtype=np.float64)
        self.k, self.tau_max, self.horizon = self.mu.shape[0], int(tau_max), int(horizon)
        if self.mu.shape != (self.k, 2 * self.tau_max + 1):
            raise ConfigError(f"mu must have shape (K, 2 * tau_max + 1) = ({self.k}, {2 * self.tau_max + 1}), got {self.mu.shape}")
        if self.mu.min() < 0 or self.mu.max() > 1:
            raise ConfigError("mu must lie in [0, 1] (payoffs are Bernoulli)")
        self.success_tol, self.render_mode = success_tol, render_mode
        self.action_space = spaces.Discrete(self.k)
        self.observation_space = spaces.MultiDiscrete([2 * self.tau_max + 1] * self.k)
        self.optimal_value, _ = lsd_optimal_plan(self.mu, self.tau_max, self.horizon)
        self.optimal_average = self.optimal_value / self.horizon

    def _obs(self) -> np.ndarray:
        return np.asarray(self.state, dtype=np.int64) + self.tau_max

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.state = tuple([-self.tau_max] * self.k)
        self.t, self.earned = 0, 0.0
        return self._obs(), {"success": False, "reward_components": {"extrinsic": 0.0}, "regret": 0.0,
                             "optimal_value": self.optimal_value}

    def expected_payoff(self, arm: int) -> float:
        return float(self.mu[arm, self.state[arm] + self.tau_max])

    def step(self, action: Any):
        try:
            arm = int(action)
        except (TypeError, ValueError):
            arm = -1
        if not 0 <= arm < self.k or arm != action:
            from sparsegym.errors import InvalidActionError

            raise InvalidActionError(f"invalid action {action!r}: expected an arm index in [0, {self.k - 1}]")
        mean = self.expected_payoff(arm)
        reward = float(self.np_random.random() < mean)
        self.earned += mean
        self.state = _step_state(self.state, arm, self.tau_max)
        self.t += 1
        truncated = self.t >= self.horizon
        regret = self.t * self.optimal_average - self.earned
        info = {"expected_reward": mean, "regret": regret, "optimal_value": self.optimal_value,
                "reward": reward, "reward_components": {"extrinsic": reward},
                "success": bool(truncated and regret <= self.success_tol * self.optimal_value)}
        return self._obs(), reward, False, truncated, info

    def render(self):
        if self.render_mode == "ansi":
            return f"t={getattr(self, 't', 0)} states={getattr(self, 'state', None)}"
        return None


def make_lsd(family: str = "monotone", k: int = 3, tau_max: int = 4, instance_seed: int = 0, **kwargs: Any) -> LSDBandit:
    """Factory for the registered ids."""
    return LSDBandit(payoff_table(family, k, tau_max, instance_seed), tau_max, **kwargs)
