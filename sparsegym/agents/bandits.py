"""Bandit agents for the bandit family (numpy only), all in the leaderboard agent protocol.

They learn from ``info["reward"]`` (the reward of their previous action), never from the hidden model:
``UCB1``, ``GaussianThompson``, ``LinUCB`` and ``DynLinUCB`` for dynamical linear bandits; ``LSDOptimistic``
for last-switch-dependent bandits. ``DynLinOracle`` and ``LSDPlanner`` read the model (for reference).

**DynLin-UCB, as implemented here.** Our reading of Mussi et al. (2023): the learner estimates the
steady-state gain ``h`` by ridge regression of rewards on the action played, using only rounds at which
that action had been held long enough for the transient of earlier actions to fade; it picks actions
optimistically, ``argmax_a h_hat^T a + beta ||a||_{V^-1}``, and holds each choice for an epoch. The
paper's epoch schedule and confidence radius depend on constants we do not reproduce exactly; our
choices: a burn-in of ``b = ceil(log(sqrt(T)) / log(1 / rho_bar))`` rounds after each switch (so the
transient left is at most ``1 / sqrt(T)`` of its initial size), epochs of ``2 b`` rounds (the second half
feeds the regression), and ``beta = sigma * sqrt(d log(1 + n / (lam d)) + 2 log T) + sqrt(lam)`` with
``n`` samples, the standard OFUL radius. ``rho_bar`` (an upper bound on the spectral radius, assumed
known in the paper) is read from the env. With a continuous box of actions the optimistic index, being
convex in ``a``, is maximised at a vertex of the box, so the vertices are searched.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import gymnasium
import numpy as np

from sparsegym.errors import ConfigError


def _arm_vectors(env: gymnasium.Env) -> np.ndarray:
    u = env.unwrapped
    if getattr(u, "actions", None) is not None:
        return np.asarray(u.actions, dtype=float)
    d = int(np.prod(env.action_space.shape))
    return np.array(list(itertools.product([0.0, 1.0], repeat=d)))


class _ArmAgent:
    """Shared bookkeeping: arms (indices, or box vertices), the last arm, the reward feedback."""

    def __init__(self, env: gymnasium.Env):
        self.env = env
        self.vectors = _arm_vectors(env)
        self.continuous = isinstance(env.action_space, gymnasium.spaces.Box)
        self.k = len(self.vectors)
        self.horizon = int(getattr(env.unwrapped, "horizon", 1000))
        self.reset(None)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.last: int | None = None
        self.t = 0
        self._reset_stats()

    def _reset_stats(self) -> None:
        self.counts = np.zeros(self.k)
        self.sums = np.zeros(self.k)

    def _feedback(self, info: dict[str, Any]) -> None:
        if self.last is not None and "reward" in info:
            self.observe(self.last, float(info["reward"]))

    def observe(self, arm: int, reward: float) -> None:
        self.counts[arm] += 1
        self.sums[arm] += reward

    def _emit(self, arm: int) -> Any:
        self.last, self.t = arm, self.t + 1
        return self.vectors[arm].astype(np.float32) if self.continuous else int(arm)

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        self._feedback(info)
        return self._emit(self.choose())

    def choose(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError


class UCB1(_ArmAgent):
    """UCB1 (Auer et al., 2002) over the arms, blind to the dynamics."""

    def choose(self) -> int:
        untried = np.flatnonzero(self.counts == 0)
        if len(untried):
            return int(untried[0])
        means = self.sums / self.counts
        return int(np.argmax(means + np.sqrt(2 * math.log(max(self.t, 2)) / self.counts)))


class GaussianThompson(_ArmAgent):
    """Thompson sampling with a Gaussian posterior per arm (known noise scale ``sigma``)."""

    def __init__(self, env: gymnasium.Env, sigma: float = 0.5):
        self.sigma = sigma
        super().__init__(env)

    def choose(self) -> int:
        means = self.sums / np.maximum(self.counts, 1)
        stds = self.sigma / np.sqrt(self.counts + 1)
        return int(np.argmax(self.rng.normal(means, stds)))


class LinUCB(_ArmAgent):
    """LinUCB/OFUL on the action vectors, treating each reward as ``theta^T a_t`` (no dynamics)."""

    def __init__(self, env: gymnasium.Env, lam: float = 1.0, sigma: float = 0.5):
        self.lam, self.sigma = lam, sigma
        super().__init__(env)

    def _reset_stats(self) -> None:
        super()._reset_stats()
        d = self.vectors.shape[1]
        self.V = self.lam * np.eye(d)
        self.b = np.zeros(d)
        self.n = 0

    def observe(self, arm: int, reward: float) -> None:
        super().observe(arm, reward)
        a = self.vectors[arm]
        self.V += np.outer(a, a)
        self.b += reward * a
        self.n += 1

    def beta(self) -> float:
        d = self.vectors.shape[1]
        return self.sigma * math.sqrt(d * math.log(1 + self.n / (self.lam * d)) + 2 * math.log(self.horizon)) + math.sqrt(self.lam)

    def index(self) -> np.ndarray:
        Vinv = np.linalg.inv(self.V)
        estimate = Vinv @ self.b
        widths = np.sqrt(np.einsum("ij,jk,ik->i", self.vectors, Vinv, self.vectors))
        return self.vectors @ estimate + self.beta() * widths

    def choose(self) -> int:
        return int(np.argmax(self.index()))


class DynLinUCB(LinUCB):
    """DynLin-UCB as read in the module docstring: optimistic on the steady-state gain, with each
    choice held for an epoch and only post-burn-in rounds used for estimation."""

    def __init__(self, env: gymnasium.Env, lam: float = 1.0, sigma: float = 0.5, rho_bar: float | None = None):
        rho = rho_bar if rho_bar is not None else float(getattr(env.unwrapped, "rho_bar", 0.9))
        self.rho_bar = min(max(rho, 1e-3), 0.999)
        super().__init__(env, lam, sigma)
        self.burn_in = max(1, math.ceil(math.log(math.sqrt(self.horizon)) / math.log(1 / self.rho_bar)))
        self.epoch = 2 * self.burn_in

    def _reset_stats(self) -> None:
        super()._reset_stats()
        self.held = 0
        self.current: int | None = None

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        if self.last is not None and "reward" in info and self.held > self.burn_in:
            self.observe(self.last, float(info["reward"]))  # only rounds past the burn-in feed the estimate
        if self.current is None or self.held >= self.epoch:
            arm = self.choose()
            self.held = 0 if arm != self.current else self.burn_in  # no new transient when repeating
            self.current = arm
        self.held += 1
        return self._emit(self.current)


class DynLinOracle(_ArmAgent):
    """Plays the best stationary action (reads the model's steady-state gain)."""

    def choose(self) -> int:
        return int(np.argmax(self.vectors @ self.env.unwrapped.gain))


class LSDPlanner:
    """A planner for a *known* LSD instance (reads ``env.unwrapped.mu``).

    * ``kind="dp"``: the exact finite-horizon optimum by dynamic programming;
    * ``kind="greedy"``: the arm with the highest expected payoff in the current states;
    * ``kind="cyclic"``: the best cyclic schedule of length up to ``max_cycle`` (steady-state average
      payoff of each cycle), repeated. The monotone-payoffs paper plans with repeated fixed schedules
      and proves a constant-factor guarantee for its own construction; we search cycles exhaustively
      instead and make no guarantee.
    """

    def __init__(self, env: gymnasium.Env, kind: str = "dp", max_cycle: int = 6):
        if kind not in ("dp", "greedy", "cyclic"):
            raise ConfigError(f"kind must be 'dp', 'greedy' or 'cyclic', got {kind!r}")
        from sparsegym.envs.bandits.lsd import lsd_model

        self.env, self.kind = env, kind
        u = env.unwrapped
        self.mu, self.tau_max, self.k, self.horizon = u.mu, u.tau_max, u.k, u.horizon
        self.model = lsd_model(self.mu, self.tau_max)
        if kind == "dp":
            _, self.policy = self.model.plan(self.horizon)
        if kind == "cyclic":
            self.cycle = self._best_cycle(max_cycle)
        self.reset(None)

    def _best_cycle(self, max_cycle: int) -> list[int]:
        best, best_value = [0], -1.0
        for length in range(1, max_cycle + 1):
            for cycle in itertools.product(range(self.k), repeat=length):
                s = 0
                for _ in range(2 * self.tau_max):  # reach the cycle's steady state
                    for a in cycle:
                        s = self.model.next[s, a]
                total = 0.0
                for a in cycle:
                    total += self.model.payoff[s, a]
                    s = self.model.next[s, a]
                if total / length > best_value + 1e-12:
                    best, best_value = list(cycle), total / length
        return best

    def reset(self, seed: int | None = None) -> None:
        self.t = 0
        self.state = 0

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        state = tuple(int(v) - self.tau_max for v in observation)
        s = self.model.index[state]
        if self.kind == "dp":
            arm = int(self.policy[min(self.t, self.horizon - 1), s])
        elif self.kind == "greedy":
            arm = int(np.argmax(self.model.payoff[s]))
        else:
            arm = self.cycle[self.t % len(self.cycle)]
        self.t += 1
        return arm


class LSDOptimistic:
    """An online learner for LSD bandits: empirical means of each (arm, state) payoff with UCB bonuses
    (unvisited pairs count as payoff 1), and at every round the first action of a ``lookahead``-round
    plan computed by dynamic programming on that optimistic model (receding-horizon planning)."""

    def __init__(self, env: gymnasium.Env, bonus: float = 0.3, lookahead: int = 20):
        from sparsegym.envs.bandits.lsd import _Model

        u = env.unwrapped
        self.k, self.tau_max, self.horizon = u.k, u.tau_max, u.horizon
        self.bonus, self.lookahead = bonus, lookahead
        self.model = _Model(np.ones((self.k, 2 * self.tau_max + 1)), self.tau_max)
        self.reset(None)

    def reset(self, seed: int | None = None) -> None:
        width = 2 * self.tau_max + 1
        self.counts = np.zeros((self.k, width))
        self.sums = np.zeros((self.k, width))
        self.t = 0
        self.last: tuple[int, int] | None = None

    def _optimistic_mu(self) -> np.ndarray:
        means = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), 1.0)
        widths = self.bonus * np.sqrt(math.log(max(self.t, 2)) / np.maximum(self.counts, 1))
        return np.clip(np.where(self.counts > 0, means + widths, 1.0), 0.0, 1.0)

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        if self.last is not None and "reward" in info:
            arm, col = self.last
            self.counts[arm, col] += 1
            self.sums[arm, col] += float(info["reward"])
        self.model.set_payoffs(self._optimistic_mu())
        _, policy = self.model.plan(self.lookahead)
        state = tuple(int(v) - self.tau_max for v in observation)
        arm = int(policy[0, self.model.index[state]])
        self.last = (arm, state[arm] + self.tau_max)
        self.t += 1
        return arm


def make_bandit_agent(env: gymnasium.Env, **kwargs: Any) -> Any:
    """The learner for whichever bandit ``env`` is: DynLin-UCB for dynamical linear bandits, the
    optimistic planner for LSD bandits (a leaderboard factory: ``sparsegym.agents.bandits:make_bandit_agent``)."""
    from sparsegym.envs.bandits import DynLinBandit, LSDBandit

    inner = env.unwrapped
    if isinstance(inner, DynLinBandit):
        return DynLinUCB(env, **kwargs)
    if isinstance(inner, LSDBandit):
        return LSDOptimistic(env, **kwargs)
    raise TypeError(f"make_bandit_agent needs a sparsegym bandit env, got {type(inner).__name__}")
