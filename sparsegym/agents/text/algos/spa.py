"""SPA-RL (Wang et al., 2025, arXiv 2505.20732): stepwise progress attribution. A progress estimator learns
how much each turn contributed to its episode's outcome, and the policy learns from the resulting dense
rewards instead of the outcome alone.

**The estimator** (:class:`ProgressEstimator`) maps a turn to a contribution ``c_t``. Its input is hashed
bag-of-words features (:class:`~sparsegym.agents.text.scorer.HashTokenizer`, one salt per part) of the
turn's observation and chosen action, and, with ``use_task`` (the default), the env's instructions and the
episode's first observation, which states the task in most text games. One mean-embedding per part goes
through a ReLU layer to a linear output; that last layer starts at zero, so an untrained estimator says
``c_t = 0``. There are no per-step labels: the estimator is fitted so that an episode's contributions add
up to its outcome, minimising ``mean_episodes (sum_t c_t - R)^2`` with ``R`` the episode's env return
(``Trajectory.episode_return``). It has its own Adam and a bounded buffer of the latest ``buffer_size``
episodes; every iteration adds the new episodes and takes ``updates_per_iteration`` steps on minibatches
of ``batch_size`` episodes drawn from the buffer.

**The dense reward** of turn ``t`` is ``r_t = alpha * c_t + beta * g_t + p_t``:

* ``g_t`` is the grounding signal, 1 when the env accepted the action (``not invalid[t]``) and always 1
  at an episode's last turn, else 0. The reference code writes it as ``0.5`` or ``0`` (and adds it with
  weight 1); here ``g`` is in ``{0, 1}`` and ``beta = 0.5`` is the default, which is the same reward;
* ``p_t`` is the choice's ``extra["format_penalty"]`` (0 when absent), as in ``Trajectory.train_rewards``:
  a penalty the trainer knows exactly is added, not learned;
* the env's own per-turn rewards are *replaced*: they only reach the policy through ``R``, which the
  contributions learn to sum to. (The relabelled rewards stay inside the algorithm; the trajectories, and
  so the reported returns and successes, are the env's.)

**The advantage** of turn ``t`` is the discounted return of the dense rewards, ``G_t = sum_{k >= t}
gamma^(k - t) r_k`` (``gamma``: ``TextRLConfig.gamma``, 0.95), minus a baseline from the episode's group
(the episodes of one task seed), and divided by a group std unless ``norm_by_std=False``
(:func:`step_advantages`):

* ``baseline="turn"`` (default): the group's mean ``G`` at the same turn index, over the episodes that
  reached it (a turn no other episode of the group reached gets 0), divided by the std (unbiased) of these
  differences over the group's turns. A time-dependent baseline: ``G_t`` shrinks towards an episode's end
  (fewer rewards left to add up), and comparing turns at one index removes that trend;
* ``baseline="group"``: GRPO's statistics over all turn-samples of the group, ``(G_t - mean) / (std +
  1e-6)`` (:func:`~sparsegym.agents.text.advantages.group_statistics`). Early turns of long episodes then
  outscore late turns whatever they did, so a success's decisive last turn can get a negative advantage.

``invalid_penalty`` is then subtracted from each refused turn's advantage. During the first
``warmup_iterations`` iterations, while the estimator knows little, the advantages are GRPO's (:mod:`.grpo`)
and only the estimator learns.

**How this deviates from the paper.** SPA-RL trains the estimator once, offline, on rollouts of an SFT'd
agent (its backbone is that language model, with a linear head on the last token of each turn), relabels
those rollouts, and then runs *step-level PPO with a critic* (GAE over the dense rewards placed at the
turn-end tokens). Here the estimator is a small hashed bag-of-words model trained online, on the trainer's
own recent episodes, so it keeps up with the policy; and there is no critic: the group of episodes from
one task seed gives the baseline (a GRPO-like step baseline in place of the critic's ``V(s_t)``, and the
Monte-Carlo return ``G_t`` in place of GAE). The grounding term pays ``beta`` for every accepted
action, so among episodes that fail alike the longer ones collect more reward (the paper has this too); an
env with admissible-action lists rarely refuses an action, so there ``beta`` mostly adds a per-turn bonus
that pays wandering more than a quick success: on TreasureHunter-L10 the default collapsed the scorer's
success to ~0, while ``beta=0`` learned as fast as GRPO. Use ``beta=0`` (or small) on such envs.

Logged each iteration: ``spa_loss`` (the mean minibatch loss of the iteration's estimator updates),
``spa_heldout_loss`` and ``spa_corr`` (the loss on the iteration's new episodes, and the Pearson
correlation of their predicted sums with their outcomes, both *before* the estimator trains on them;
the correlation is NaN when all outcomes are equal), ``spa_relabelled`` (1 once the dense rewards are
used), ``spa_contribution_mean``, ``spa_dense_return_mean`` and ``spa_buffer`` (episodes kept).

Examples:
    >>> import numpy as np
    >>> from sparsegym.agents.text.algos.spa import dense_rewards, grounding
    >>> grounding([False, True, True]).tolist()          # the last turn always counts
    [1.0, 0.0, 1.0]
    >>> dense_rewards([0.25, -0.5, 1.0], [False, True, True], alpha=1.0, beta=0.5).tolist()
    [0.75, -0.5, 1.5]
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.agents.text.advantages import EPS, discounted_step_returns, group_statistics
from sparsegym.agents.text.algos.base import Algorithm, register
from sparsegym.agents.text.algos.grpo import episode_advantages
from sparsegym.agents.text.policy import torch
from sparsegym.agents.text.scorer import HashTokenizer
from sparsegym.errors import ConfigError

__all__ = ["SPA", "ProgressEstimator", "SPAOptions", "correlation", "dense_rewards", "grounding", "step_advantages"]

nn = torch.nn
#: The salts of a turn's parts: always the observation and action; the task parts with ``use_task``.
STEP_PARTS = ("observation", "action")
TASK_PARTS = ("instructions", "task")
#: The step baselines of :func:`step_advantages`.
BASELINES = ("turn", "group")

#: An episode as the estimator keeps it: each turn's part texts (in the estimator's part order), and R.
Episode = tuple[tuple[tuple[str, ...], ...], float]


@dataclasses.dataclass
class SPAOptions:
    """SPA's own options (``TextRLConfig.algo_kwargs``); the module docstring says how each acts."""

    alpha: float = 1.0  # weight of the estimator's contribution c_t (the reference code: 1)
    beta: float = 0.5  # weight of the grounding signal g_t in {0, 1} (the reference code adds 0.5 or 0)
    warmup_iterations: int = 2  # iterations with GRPO advantages while the estimator starts learning
    buffer_size: int = 512  # episodes the estimator learns from (the latest)
    updates_per_iteration: int = 8  # estimator Adam steps per iteration
    batch_size: int = 32  # episodes per estimator step (drawn without replacement from the buffer)
    lr: float = 1e-3  # estimator Adam step size (the paper's 3e-6 fine-tunes an LLM; this model starts from scratch)
    use_task: bool = True  # also featurise the instructions and the episode's first observation
    buckets: int = 2**14  # hash buckets of the estimator's embedding table
    embed_dim: int = 32  # width of its word embeddings
    hidden: int = 64  # width of its hidden layer
    baseline: str = "turn"  # step baseline: "turn" (the group's mean at the same turn index) or "group" (all turns)

    def validate(self) -> None:
        for name in ("alpha", "beta", "lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"spa option {name} must be a finite number, got {value!r}")
        if self.lr <= 0:
            raise ConfigError(f"spa option lr must be positive, got {self.lr}; try 1e-3")
        for name, least in (("warmup_iterations", 0), ("buffer_size", 1), ("updates_per_iteration", 1),
                            ("batch_size", 1), ("buckets", 2), ("embed_dim", 1), ("hidden", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"spa option {name} must be an integer of at least {least}, got {value!r}")
        if self.baseline not in BASELINES:
            raise ConfigError(f"spa option baseline must be one of {list(BASELINES)}, got {self.baseline!r}")
        if not isinstance(self.use_task, bool):
            raise ConfigError(f"spa option use_task must be true or false, got {self.use_task!r}")


def grounding(invalid: Sequence[bool]) -> np.ndarray:
    """``g_t``: 1 where the env accepted the action, 0 where it refused it; the last turn is always 1."""
    g = 1.0 - np.asarray(invalid, dtype=np.float64)
    if len(g):
        g[-1] = 1.0
    return g


def dense_rewards(contributions: Sequence[float], invalid: Sequence[bool], *, alpha: float, beta: float,
                  penalties: Sequence[float] | None = None) -> np.ndarray:
    """One episode's SPA rewards ``alpha * c_t + beta * g_t (+ p_t)``, with ``g`` from :func:`grounding`."""
    c = np.asarray(contributions, dtype=np.float64)
    if len(c) != len(invalid):
        raise ConfigError(f"{len(c)} contributions for {len(invalid)} turns")
    r = alpha * c + beta * grounding(invalid)
    if penalties is not None:
        r = r + np.asarray(penalties, dtype=np.float64)
    return r


def step_advantages(rewards: Sequence[Sequence[float]], groups: Sequence[int], *, gamma: float,
                    norm_by_std: bool = True, baseline: str = "turn") -> np.ndarray:
    """Each turn's discounted return of ``rewards`` (one sequence per episode) minus a baseline from its
    episode's group, episodes one after another (module docstring).

    ``baseline="turn"``: the mean return of the group's turns at the same index (a turn nobody else in
    the group reached gets advantage 0), divided by the std of these differences over the group's turns.
    ``baseline="group"``: the mean and std of all the group's turn-samples (a group of one turn: mean 0,
    std 1). ``norm_by_std=False`` skips the division.

    >>> step_advantages([[0.0, 1.0], [0.0, 0.0]], [0, 0], gamma=0.5, norm_by_std=False).tolist()
    [0.25, 0.5, -0.25, -0.5]
    >>> step_advantages([[0.0, 1.0], [0.0, 0.0]], [0, 0], gamma=0.5, norm_by_std=False,
    ...                 baseline="group").tolist()   # one mean, 0.375, for every turn
    [0.125, 0.625, -0.375, -0.375]
    """
    if baseline not in BASELINES:
        raise ConfigError(f"baseline must be one of {list(BASELINES)}, got {baseline!r}")
    returns = [discounted_step_returns(r, gamma) for r in rewards]
    if not returns:
        return np.zeros(0)
    flat = np.concatenate(returns)
    turn_groups = np.repeat(np.asarray(groups), [len(r) for r in returns])
    if baseline == "group":
        mean, std, _ = group_statistics(flat, turn_groups)
        centred = flat - mean
    else:
        index = np.concatenate([np.arange(len(r)) for r in returns])
        centred, std = np.zeros_like(flat), np.ones_like(flat)
        for g in np.unique(turn_groups):
            member = turn_groups == g
            for t in np.unique(index[member]):
                same = member & (index == t)
                if same.sum() > 1:
                    centred[same] = flat[same] - flat[same].mean()
            if member.sum() > 1:
                std[member] = centred[member].std(ddof=1)
    return centred / (std + EPS) if norm_by_std else centred


class ProgressEstimator(nn.Module):
    """Per-turn contributions from hashed features of the turn's parts (module docstring).

    >>> est = ProgressEstimator(buckets=2**8, embed_dim=4, hidden=8, use_task=False)
    >>> est.contributions([[("Room 0.", "go east"), ("Room 1.", "take coin")]])[0].tolist()   # starts at 0
    [0.0, 0.0]
    """

    def __init__(self, buckets: int = 2**14, embed_dim: int = 32, hidden: int = 64, use_task: bool = True,
                 seed: int = 0):
        super().__init__()
        self.parts = STEP_PARTS + (TASK_PARTS if use_task else ())
        self.tokenizer = HashTokenizer(buckets)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.embed = nn.EmbeddingBag(buckets, embed_dim, mode="mean")
            nn.init.normal_(self.embed.weight, std=0.1)
            self.net = nn.Sequential(nn.Linear(len(self.parts) * embed_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def forward(self, steps: Sequence[tuple[str, ...]]) -> torch.Tensor:
        """The contribution of each turn ``(N,)``; a turn is its part texts in :attr:`parts` order."""
        ids = [self.tokenizer(text, salt) for step in steps for salt, text in zip(self.parts, step)]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        offsets = np.zeros(len(ids), dtype=np.int64)
        if len(ids) > 1:
            np.cumsum(lengths[:-1], out=offsets[1:])
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        bags = self.embed(torch.from_numpy(flat), torch.from_numpy(offsets)).reshape(len(steps), -1)
        return self.net(bags).squeeze(-1)

    def episode_sums(self, episodes: Sequence[Sequence[tuple[str, ...]]]) -> torch.Tensor:
        """``sum_t c_t`` of each episode ``(E,)`` (with gradients)."""
        steps = [s for ep in episodes for s in ep]
        owner = torch.repeat_interleave(torch.arange(len(episodes)), torch.tensor([len(ep) for ep in episodes]))
        c = self(steps) if steps else torch.zeros(0)
        return torch.zeros(len(episodes)).index_add(0, owner, c)

    @torch.no_grad()
    def contributions(self, episodes: Sequence[Sequence[tuple[str, ...]]]) -> list[np.ndarray]:
        """Each episode's contributions, as arrays (no gradients)."""
        steps = [s for ep in episodes for s in ep]
        c = self(steps).numpy().astype(np.float64) if steps else np.zeros(0)
        return np.split(c, np.cumsum([len(ep) for ep in episodes])[:-1]) if episodes else []


@register
class SPA(Algorithm):
    """Stepwise progress attribution (module docstring)."""

    name = "spa"
    Options = SPAOptions

    def __init__(self, options: SPAOptions | None = None):
        super().__init__(options)
        self.options.validate()
        self._build(seed=0)
        self.fits = 0  # iterations the estimator has learned from (relabelling starts after the warm-up)
        self._stats: dict[str, float] = {}

    def _build(self, seed: int) -> None:
        o = self.options
        self.estimator = ProgressEstimator(o.buckets, o.embed_dim, o.hidden, o.use_task, seed=seed)
        self.estimator_optimizer = torch.optim.Adam(self.estimator.parameters(), lr=o.lr)
        self.buffer: deque[Episode] = deque(maxlen=o.buffer_size)
        self.seed = seed

    def bind(self, trainer: Any) -> None:
        super().bind(trainer)
        self._build(seed=int(trainer.config.seed))  # the run's seed sets the estimator's initial weights

    # -- the estimator ------------------------------------------------------------------------------

    def episode(self, trajectory: Any) -> tuple[tuple[str, ...], ...]:
        """A trajectory's turns as the estimator reads them (the part texts of each turn)."""
        out = []
        for turn, choice in zip(trajectory.turns, trajectory.choices):
            texts: tuple[str, ...] = (turn.observation, choice.action)
            if self.options.use_task:
                task = turn.history[0][0] if turn.history else turn.observation
                texts += (turn.instructions, task)
            out.append(texts)
        return tuple(out)

    def fit(self, trajectories: Sequence[Any]) -> dict[str, float]:
        """Add the episodes to the buffer and take ``updates_per_iteration`` estimator steps; returns the
        statistics (held-out loss and correlation on these episodes before the steps, mean step loss)."""
        o = self.options
        new = [(self.episode(t), float(t.episode_return)) for t in trajectories]
        stats = {"spa_heldout_loss": math.nan, "spa_corr": math.nan}
        if new:
            with torch.no_grad():
                predicted = self.estimator.episode_sums([ep for ep, _ in new]).numpy().astype(np.float64)
            outcomes = np.array([r for _, r in new])
            stats["spa_heldout_loss"] = float(np.mean((predicted - outcomes) ** 2))
            stats["spa_corr"] = correlation(predicted, outcomes)
        self.buffer.extend(new)
        rng = np.random.default_rng([self.seed, self.fits])
        losses = []
        if self.buffer:
            for _ in range(o.updates_per_iteration):
                pick = rng.choice(len(self.buffer), size=min(o.batch_size, len(self.buffer)), replace=False)
                batch = [self.buffer[i] for i in pick]
                sums = self.estimator.episode_sums([ep for ep, _ in batch])
                target = torch.tensor([r for _, r in batch], dtype=sums.dtype)
                loss = torch.mean((sums - target) ** 2)
                self.estimator_optimizer.zero_grad()
                loss.backward()
                self.estimator_optimizer.step()
                losses.append(loss.item())
        self.fits += 1
        stats.update(spa_loss=float(np.mean(losses)) if losses else math.nan, spa_buffer=float(len(self.buffer)))
        return stats

    def contributions(self, trajectories: Sequence[Any]) -> list[np.ndarray]:
        """The estimator's ``c_t`` of every turn of each trajectory."""
        return self.estimator.contributions([self.episode(t) for t in trajectories])

    def relabel(self, trajectories: Sequence[Any], contributions: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """The dense rewards of each trajectory (module docstring); ``contributions``: the estimator's, when
        already computed."""
        o = self.options
        if contributions is None:
            contributions = self.contributions(trajectories)
        return [dense_rewards(c, t.invalid, alpha=o.alpha, beta=o.beta,
                              penalties=[float(ch.extra.get("format_penalty", 0.0)) for ch in t.choices])
                for c, t in zip(contributions, trajectories)]

    @property
    def relabelling(self) -> bool:
        """Whether the advantages use the dense rewards (after ``warmup_iterations`` fits)."""
        return self.fits > self.options.warmup_iterations

    # -- the hooks ------------------------------------------------------------------------------------

    def prepare(self, trajectories: list[Any]) -> list[Any]:
        self._stats = self.fit(trajectories)
        return trajectories

    def advantages(self, trajectories: Sequence[Any]) -> np.ndarray:
        cfg = self.trainer.config
        per_episode = self.contributions(trajectories)
        dense = self.relabel(trajectories, per_episode)
        contributions = np.concatenate(per_episode) if per_episode else np.zeros(0)
        self._stats.update(spa_relabelled=float(self.relabelling),
                           spa_contribution_mean=float(contributions.mean()) if len(contributions) else math.nan,
                           spa_dense_return_mean=float(np.mean([d.sum() for d in dense])) if dense else math.nan)
        if not self.relabelling:
            return episode_advantages(trajectories, kind="grpo", norm_by_std=cfg.norm_by_std,
                                      stats_across_steps=cfg.stats_across_steps, invalid_penalty=cfg.invalid_penalty)
        adv = step_advantages(dense, [t.group for t in trajectories], gamma=cfg.gamma, norm_by_std=cfg.norm_by_std,
                              baseline=self.options.baseline)
        invalid = np.concatenate([np.asarray(t.invalid, dtype=np.float64) for t in trajectories])
        return adv - cfg.invalid_penalty * invalid

    def after_update(self, trajectories: Sequence[Any], stats: dict[str, float]) -> None:
        stats.update(self._stats)

    def state_dict(self) -> dict[str, Any]:
        return {"estimator": self.estimator.state_dict(), "optimizer": self.estimator_optimizer.state_dict(),
                "buffer": list(self.buffer), "fits": self.fits, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.estimator.load_state_dict(state["estimator"])
        self.estimator_optimizer.load_state_dict(state["optimizer"])
        self.buffer = deque(state["buffer"], maxlen=self.options.buffer_size)
        self.fits, self.seed = int(state["fits"]), int(state["seed"])


def correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation of two samples; NaN when either is constant (or has fewer than 2 values)."""
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])
