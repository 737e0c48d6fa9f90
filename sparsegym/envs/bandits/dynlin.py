"""Dynamical linear bandits (Mussi, Metelli and Restelli, "Dynamical Linear Bandits", ICML 2023).

A hidden state ``x_t`` in ``R^n`` evolves as ``x_{t+1} = A x_t + B a_t + eta_t`` and the learner sees the
reward ``y_t = w^T x_t + theta^T a_t + eps_t``. With the spectral radius of ``A`` below 1, holding one
action ``a`` forever drives the state to ``x = (I - A)^{-1} B a``, so its long-run value is

    J(a) = (theta + B^T (I - A)^{-T} w)^T a = h^T a,

``h`` being the system's steady-state gain. The best stationary policy plays ``argmax_a h^T a`` and earns
``J* = max_a h^T a`` per round. The env reports, each round, the pseudo-regret
``J* - (w^T x_t + theta^T a_t)`` (the expected reward given the true state, no noise) and its running
sum; it never reveals ``x_t``.

Actions are either a finite set of action vectors (``Discrete(K)``) or the box ``[0, 1]^d``
(``continuous=True``, where ``J* = sum of the positive entries of h``). The observation is the last
reward and action (``observe="last"``) or a constant (``observe="none"``). ``info["success"]`` at the
end is whether the mean per-round pseudo-regret stayed within ``success_tol`` of the gap between the
best and worst stationary values (default 5%): a policy that locked onto the best action early.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym.errors import ConfigError

OBS_BOUND = 1e6


def steady_state_gain(A: np.ndarray, B: np.ndarray, w: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """``h = theta + B^T (I - A)^{-T} w``: the long-run reward per unit of each action coordinate."""
    n = A.shape[0]
    return theta + B.T @ np.linalg.solve((np.eye(n) - A).T, w)


def random_instance(n: int, d: int, k: int, rho: float, seed: int) -> dict[str, np.ndarray]:
    """A reproducible instance: ``A`` with spectral radius ``rho``, random ``B``, ``w``, ``theta`` and ``k``
    action vectors in ``[0, 1]^d`` (the first ``d`` of them the unit vectors)."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M / max(abs(np.linalg.eigvals(M))) * rho
    B = rng.uniform(-1, 1, size=(n, d))
    w = rng.uniform(-1, 1, size=n)
    theta = rng.uniform(-0.5, 0.5, size=d)
    actions = np.vstack([np.eye(d), rng.uniform(0, 1, size=(max(k - d, 0), d))])[:k]
    return {"A": A, "B": B, "w": w, "theta": theta, "actions": actions}


class DynLinBandit(gymnasium.Env):
    """A dynamical linear bandit (see the module docstring). ``rho_bar`` (an upper bound on the spectral
    radius, known to the learner in the paper) and the action set are public attributes; ``A``, ``B``,
    ``w``, ``theta`` are for oracles and tests."""

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, A: Any, B: Any, w: Any, theta: Any, actions: Any = None, continuous: bool = False,
                 horizon: int = 1000, state_noise: float = 0.05, reward_noise: float = 0.1, observe: str = "last",
                 success_tol: float = 0.05, rho_bar: float | None = None, render_mode: str | None = None):
        self.A, self.B = np.asarray(A, float), np.asarray(B, float)
        self.w, self.theta = np.asarray(w, float), np.asarray(theta, float)
        n, d = self.B.shape
        if self.A.shape != (n, n) or self.w.shape != (n,) or self.theta.shape != (d,):
            raise ConfigError(f"shapes do not fit: A {self.A.shape}, B {self.B.shape}, w {self.w.shape}, "
                             f"theta {self.theta.shape} (need A n x n, B n x d, w n, theta d)")
        self.rho = float(max(abs(np.linalg.eigvals(self.A))))
        if self.rho >= 1.0:
            raise ConfigError(f"the spectral radius of A is {self.rho:.3f}; it must be below 1 for a steady state")
        if observe not in ("last", "none"):
            raise ConfigError(f"observe must be 'last' or 'none', got {observe!r}")
        self.rho_bar = float(rho_bar) if rho_bar is not None else self.rho
        self.continuous, self.horizon, self.observe = bool(continuous), int(horizon), observe
        self.state_noise, self.reward_noise, self.success_tol = state_noise, reward_noise, success_tol
        self.render_mode = render_mode
        self.n, self.d = n, d
        self.gain = steady_state_gain(self.A, self.B, self.w, self.theta)
        if continuous:
            self.actions = None
            self.action_space = spaces.Box(0.0, 1.0, shape=(d,), dtype=np.float32)
            self.optimal_value = float(np.maximum(self.gain, 0).sum())
            worst = float(np.minimum(self.gain, 0).sum())
            self.optimal_action = (self.gain > 0).astype(np.float64)
        else:
            if actions is None:
                raise ConfigError("a discrete dynamical linear bandit needs its action vectors (actions=...)")
            self.actions = np.asarray(actions, float)
            if self.actions.ndim != 2 or self.actions.shape[1] != d:
                raise ConfigError(f"actions must be a (K, {d}) array of action vectors, got {self.actions.shape}")
            self.action_space = spaces.Discrete(len(self.actions))
            values = self.actions @ self.gain
            self.optimal_value, worst = float(values.max()), float(values.min())
            self.optimal_action = int(values.argmax())
        self.value_gap = max(self.optimal_value - worst, 1e-12)
        if observe == "last":
            # Finite bounds (the reward is clipped into them in the observation only; it never gets close).
            self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(1 + d,), dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0.0, 0.0, shape=(1,), dtype=np.float32)

    def _vector(self, action: Any) -> np.ndarray:
        if self.continuous:
            a = np.asarray(action, dtype=np.float64).reshape(-1)
            if a.shape != (self.d,) or not np.all(np.isfinite(a)):
                raise ConfigError(f"action must be a vector of {self.d} numbers in [0, 1], got {action!r}")
            return np.clip(a, 0.0, 1.0)
        try:
            i = int(action)
        except (TypeError, ValueError):
            i = -1
        if not 0 <= i < len(self.actions) or i != action:
            from sparsegym.errors import InvalidActionError

            raise InvalidActionError(f"invalid action {action!r}: expected an arm index in [0, {len(self.actions) - 1}]")
        return self.actions[i]

    def _obs(self, reward: float, a: np.ndarray) -> np.ndarray:
        if self.observe == "none":
            return np.zeros(1, dtype=np.float32)
        return np.concatenate([[np.clip(reward, -OBS_BOUND, OBS_BOUND)], a]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.x = np.zeros(self.n)
        self.t = 0
        self.cumulative_regret = 0.0
        return self._obs(0.0, np.zeros(self.d)), {"success": False, "reward_components": {"extrinsic": 0.0},
                                                   "pseudo_regret": 0.0, "cumulative_pseudo_regret": 0.0}

    def step(self, action: Any):
        a = self._vector(action)
        mean = float(self.w @ self.x + self.theta @ a)
        reward = mean + self.reward_noise * float(self.np_random.normal())
        regret = self.optimal_value - mean
        self.cumulative_regret += regret
        self.x = self.A @ self.x + self.B @ a + self.state_noise * self.np_random.normal(size=self.n)
        self.t += 1
        truncated = self.t >= self.horizon
        info = {"pseudo_regret": regret, "cumulative_pseudo_regret": self.cumulative_regret, "expected_reward": mean,
                "reward": reward, "reward_components": {"extrinsic": reward},
                "success": bool(truncated and self.cumulative_regret / self.t <= self.success_tol * self.value_gap)}
        return self._obs(reward, a), reward, False, truncated, info

    def render(self):
        if self.render_mode == "ansi":
            return f"t={getattr(self, 't', 0)} cumulative pseudo-regret={getattr(self, 'cumulative_regret', 0.0):.3f}"
        return None


def make_dynlin(n: int = 3, d: int = 2, k: int = 6, rho: float = 0.7, instance_seed: int = 0, **kwargs: Any) -> DynLinBandit:
    """Factory for the registered ids: a :func:`random_instance` wrapped in a :class:`DynLinBandit`."""
    inst = random_instance(n, d, k, rho, instance_seed)
    if kwargs.get("continuous"):
        inst.pop("actions")
    return DynLinBandit(**inst, **kwargs)


def mussi2023_synthetic() -> dict[str, np.ndarray]:
    """The synthetic system of Mussi et al. (2023), Section 7, from the authors' configs
    ``config/testcase_synt_sigma0dot{001,01,1}.json``: ``n = d = 3``, ``A = diag(0.2, 0, 0.1)``
    (spectral radius 0.2), ``B = diag(0.45, 0, 0.1)``, ``C = diag(1, 0, 0.1)``, ``D = diag(0, 0.5, 0.1)``,
    the reward the sum of the outputs (``w = C^T 1``, ``theta = D^T 1``), and the six actions that
    split a budget of 1.5 over three campaigns of at most 1 (the permutations of ``(1, 0.5, 0)``).
    The best stationary action is ``(1, 0.5, 0)`` (value 0.8125); the immediately best one is
    ``(0.5, 1, 0)`` (instant value 0.5, long-run 0.78125)."""
    A = np.diag([0.2, 0.0, 0.1])
    B = np.diag([0.45, 0.0, 0.1])
    C = np.diag([1.0, 0.0, 0.1])
    D = np.diag([0.0, 0.5, 0.1])
    ones = np.ones(3)
    actions = np.array(sorted({p for p in __import__("itertools").permutations((1.0, 0.5, 0.0))}))
    return {"A": A, "B": B, "w": C.T @ ones, "theta": D.T @ ones, "actions": actions}


def make_mussi2023(sigma: float = 0.01, **kwargs: Any) -> DynLinBandit:
    """The DLB paper's synthetic instance (:func:`mussi2023_synthetic`) with the same noise level
    ``sigma`` on the state and the reward (the authors' configs use 0.001, 0.01 and 0.1)."""
    if sigma < 0:
        raise ConfigError(f"sigma must be non-negative, got {sigma!r}")
    return DynLinBandit(**mussi2023_synthetic(), state_noise=sigma, reward_noise=sigma, **kwargs)
