"""Leaderboard metrics: per-env success and return, and the aggregate interquartile mean (IQM) with
stratified-bootstrap confidence intervals, following Agarwal et al. (2021), "Deep RL at the Edge of
the Statistical Precipice" (the rliable library).

Scores form a matrix of shape ``(runs, envs)``: here a run is one seed (every env of a suite plays the
same seeds) and the score is the episode's return (MiniGrid returns lie in [0, 1]) or its success.

* IQM: the mean of the middle 50% of all scores pooled: ``floor(n / 4)`` scores trimmed from each
  end of the sorted ``n`` scores, the convention of ``scipy.stats.trim_mean(x, 0.25)``, which rliable
  uses, so our numbers and rliable's agree.
* Stratified bootstrap: resample the runs with replacement *within each env*, recompute the aggregate,
  repeat; the 95% interval is the 2.5th and 97.5th percentiles of the replicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.leaderboards.store import EpisodeRecord


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all values in ``scores`` (``floor(n/4)`` trimmed from each end)."""
    x = np.sort(np.asarray(scores, dtype=float).ravel())
    n = x.size
    if n == 0:
        raise ConfigError("IQM of no scores")
    cut = int(0.25 * n)
    return float(np.mean(x[cut : n - cut]))


def mean(scores: np.ndarray) -> float:
    return float(np.mean(scores))


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic`` over bootstrap replicates of a ``(runs, envs)`` matrix,
    resampling runs independently within each env (column)."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    runs, envs = scores.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, envs))
    samples = np.take_along_axis(np.broadcast_to(scores, (reps, runs, envs)), idx, axis=1)
    values = np.array([statistic(s) for s in samples])
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1.0 - alpha))


@dataclass
class EnvStats:
    env_id: str
    episodes: int
    success_rate: float
    mean_return: float
    mean_length: float
    errors: int


@dataclass
class AgentStats:
    agent: str
    episodes: int
    expected_episodes: int | None
    success_rate: float
    success_ci: tuple[float, float]
    mean_return: float
    iqm_return: float
    iqm_ci: tuple[float, float]
    errors: int
    per_env: list[EnvStats]
    identity: str | None = None  # the run identity of the records (None if they disagree or have none)
    progression: float | None = None  # mean episode progression in [0, 1] (BALROG's measure); None: not recorded
    progression_se: float | None = None  # its standard error over episodes

    @property
    def complete(self) -> bool:
        return self.expected_episodes is None or self.episodes >= self.expected_episodes


def score_matrix(records: Sequence[EpisodeRecord], env_ids: Sequence[str], field: str = "episode_return") -> np.ndarray:
    """``(runs, envs)`` matrix from records. Envs with fewer episodes than others are padded by
    resampling nothing: the matrix keeps the smallest common number of runs per env (in seed order)."""
    by_env: dict[str, list[float]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.env_id, r.seed)):
        by_env[r.env_id].append(float(getattr(r, field)))
    columns = [by_env[e] for e in env_ids if by_env.get(e)]
    if not columns:
        return np.zeros((0, 0))
    runs = min(len(c) for c in columns)
    return np.array([c[:runs] for c in columns], dtype=float).T


def agent_stats(agent: str, records: Sequence[EpisodeRecord], env_ids: Sequence[str] | None = None,
                expected_episodes: int | None = None, reps: int = 2000) -> AgentStats:
    """Every metric of one agent's records on one suite split."""
    env_ids = list(env_ids) if env_ids is not None else sorted({r.env_id for r in records})
    per_env = []
    for env_id in env_ids:
        rs = [r for r in records if r.env_id == env_id]
        if not rs:
            continue
        per_env.append(EnvStats(env_id, len(rs), float(np.mean([r.success for r in rs])),
                                float(np.mean([r.episode_return for r in rs])), float(np.mean([r.length for r in rs])),
                                sum(r.error is not None for r in rs)))
    returns = score_matrix(records, env_ids, "episode_return")
    successes = score_matrix(records, env_ids, "success")
    if returns.size == 0:
        raise ConfigError(f"no episodes of agent {agent!r} to score")
    # Success rate is the mean over envs of each env's rate (every env weighs the same).
    success_rate = float(np.mean([e.success_rate for e in per_env]))
    identities = {r.identity for r in records}
    prog = [float(r.progression) for r in records if r.progression is not None]
    prog_mean = float(np.mean(prog)) if prog else None
    prog_se = float(np.std(prog, ddof=1) / np.sqrt(len(prog))) if len(prog) > 1 else (0.0 if prog else None)
    return AgentStats(
        agent=agent,
        episodes=len(records),
        expected_episodes=expected_episodes,
        success_rate=success_rate,
        success_ci=stratified_bootstrap_ci(successes, mean, reps=reps),
        mean_return=float(np.mean([e.mean_return for e in per_env])),
        iqm_return=iqm(returns),
        iqm_ci=stratified_bootstrap_ci(returns, iqm, reps=reps),
        errors=sum(e.errors for e in per_env),
        per_env=per_env,
        identity=identities.pop() if len(identities) == 1 else None,
        progression=prog_mean,
        progression_se=prog_se,
    )


def rank(stats: Sequence[AgentStats]) -> list[AgentStats]:
    """Best first: by IQM of returns, then success rate, then name."""
    return sorted(stats, key=lambda s: (-s.iqm_return, -s.success_rate, s.agent))
