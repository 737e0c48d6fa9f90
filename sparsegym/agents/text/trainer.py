"""Group-relative policy optimisation for text agents: GRPO (Shao et al., 2024) and RLOO (Ahmadian et
al., 2024) over whole episodes, as verl-agent applies them to multi-turn agents.

Written to be read top to bottom in the spirit of CleanRL, but usable as a library::

    from sparsegym.agents.text import TextRLConfig, TextRLTrainer
    trainer = TextRLTrainer("sparsegym/TextWorld-TreasureHunter-L10-v0", config=TextRLConfig(algo="grpo"))
    trainer.learn(400)                        # episodes
    trainer.save("runs/th")                   # sparsegym.agents:load_text_agent plays it on a leaderboard

Each iteration of ``learn``:

1. **collects groups** (:func:`~sparsegym.agents.text.rollout.collect`): ``groups_per_iteration`` task
   seeds, ``group_size`` episodes from each, sampled from the policy;
2. **computes advantages** (:mod:`~sparsegym.agents.text.advantages`): every turn of an episode gets
   its episode's group-relative advantage (GRPO or RLOO), from the episode return;
3. **updates** the policy: ``update_epochs`` passes of the clipped loss with dual clip
   (:mod:`~sparsegym.agents.text.losses`) over the iteration's turns, minus an entropy bonus, plus an
   optional k3 KL to the initial policy and an optional value loss; the "old" log-probabilities are
   recomputed under the parameters that collected the turns, before the first step (as verl does);
4. **reports** the iteration's statistics to the callbacks (:mod:`sparsegym.agents.callbacks`: CSV,
   progress bar, checkpoints, early stopping), counted in episodes.

Choices worth knowing:

* each *turn* is a training sample (verl-agent's turn-level samples); ``loss_agg="token-mean"`` weighs
  every turn (or, for a language model, every token) equally, so long episodes weigh more;
* group statistics are over episodes (each counts once) unless ``stats_across_steps`` (verl-agent's
  default), which counts each episode once per turn;
* ``invalid_penalty`` is subtracted from the score of each turn whose action the env refused: in
  across-steps mode before the statistics (as verl-agent does), otherwise from that turn's advantage;
* a choice's ``extra["format_penalty"]`` (a language model's malformed reply) is added to that turn's
  reward, so it enters the episode's training return (``Trajectory.train_return``); the reported
  returns are the env's rewards (after ``env_wrappers``: shaped, subgoal, score or gated terms count) and
  the successes the env's own ``info["success"]``;
* ``env_wrappers`` stacks reward wrappers on every env from data (:mod:`sparsegym.wrappers.stack`): a
  step-level source such as ``ScoreReward`` alone pays its terms at once (direct accumulation), with
  ``GatedReward`` outside it only on a successful episode (gated accumulation, G-RA);
* ``backend="ray"`` steps the envs in ``num_workers`` Ray actors (:mod:`~sparsegym.agents.text.workers`)
  while the policy still chooses for all of them in one batched call here; the trajectories are the same;
* the task seed of the ``k``-th group is ``first_task_seed + k`` (modulo ``num_tasks`` when set), so runs
  with different seeds see the same tasks in the same order; ``seed`` fixes the initial parameters and
  the sampling, and a run resumed from a checkpoint continues exactly as the uninterrupted one would.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym.agents.callbacks import (
    Callback,
    CallbackList,
    Checkpoint,
    CSVLogger,
    ProgressBar,
    TensorBoardLogger,
    as_callback,
)
from sparsegym.agents.text.advantages import discounted_step_returns
from sparsegym.agents.text.algos import Batch, available, make_algorithm
from sparsegym.agents.text.losses import AGGREGATIONS, aggregate, clipped_policy_loss, kl_k3, value_loss
from sparsegym.agents.text.policy import TextPolicy, torch
from sparsegym.agents.text.rollout import EnvPool, Trajectory, collect, summarize
from sparsegym.agents.text.workers import EnvFactory
from sparsegym.errors import ConfigError

__all__ = ["TextRLConfig", "TextRLTrainer"]

BACKENDS = ("local", "ray")


@dataclass
class TextRLConfig:
    algo: str = "grpo"  # a registered algorithm (sparsegym.agents.text.algos.available()): grpo, rloo, ...
    algo_kwargs: dict[str, Any] = field(default_factory=dict)  # the algorithm's own options (its Options class)
    group_size: int = 8  # episodes per task seed (G); a group compares them
    groups_per_iteration: int = 1  # task seeds per iteration (an iteration plays group_size * this episodes)
    num_envs: int = 8  # envs played in lockstep (the policy chooses for all of them in one batched call)
    num_tasks: int | None = None  # cycle over this many task seeds; None: a new seed for every group
    first_task_seed: int = 0  # the task seed of the first group
    learning_rate: float = 3e-3  # Adam step size (3e-3 suits the scorer; a language model wants ~1e-6)
    update_epochs: int = 1  # passes over each iteration's turns
    num_minibatches: int = 1  # gradient steps per pass (the turns split evenly, shuffled)
    clip_coef: float = 0.2  # PPO ratio clip (both sides unless clip_coef_high)
    clip_coef_high: float | None = None  # upper ratio clip (DAPO's clip-higher); None: clip_coef
    dual_clip: float | None = 3.0  # cap of the loss of negative-advantage turns, -A * c (None: off)
    loss_agg: str = "token-mean"  # token-mean | turn-mean | turn-sum | turn-sum-norm (sparsegym.agents.text.losses)
    norm_by_std: bool = True  # GRPO divides by the group's std; False is Dr. GRPO (no division)
    stats_across_steps: bool = False  # group mean/std over turn-samples (verl-agent's default) rather than episodes
    ent_coef: float = 0.01  # entropy bonus weight
    kl_coef: float = 0.0  # weight of the k3 KL to the initial policy (verl-agent: 0.01 for language models)
    vf_coef: float = 0.0  # weight of the value-head loss on discounted returns (0: GRPO and RLOO need no critic)
    gamma: float = 0.95  # discount of the per-turn returns the value head learns (and GiGPO's step returns)
    invalid_penalty: float = 0.0  # subtracted per refused action (verl-agent: 0.1); see the module docstring
    max_grad_norm: float = 1.0  # gradient clipping
    max_episode_steps: int | None = None  # override the env id's step limit (None: keep it)
    stats_window: int = 100  # success_rate and episode_return are over this many latest episodes
    seed: int = 0  # initial parameters of the default policy, and the sampling of actions and minibatches
    device: str | None = None  # torch device of the default policy (None: CPU)
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments for gymnasium.make
    # Wrappers around every env, innermost first, as data (sparsegym.wrappers.stack), e.g. direct score
    # rewards [{"wrapper": "ScoreReward", "scale": 0.1}] or gated ones [..., "GatedReward"]; returns are
    # the wrapped rewards.
    env_wrappers: list[Any] = field(default_factory=list)
    backend: str = "local"  # local: the envs step in this process; ray: in num_workers Ray actors (.workers)
    num_workers: int = 2  # (backend="ray") actors holding the num_envs envs (at most one per env)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)  # of the default policy (ActionScorer)

    @property
    def episodes_per_iteration(self) -> int:
        return self.group_size * self.groups_per_iteration

    def validate(self) -> None:
        if self.algo not in available():
            raise ConfigError(f"algo must be one of {available()}, got {self.algo!r}")
        make_algorithm(self.algo, self.algo_kwargs)  # unknown options fail here, naming the known ones
        if self.loss_agg not in AGGREGATIONS:
            raise ConfigError(f"loss_agg must be one of {list(AGGREGATIONS)}, got {self.loss_agg!r}")
        for name in ("group_size", "groups_per_iteration", "num_envs", "update_epochs", "num_minibatches",
                     "stats_window"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_tasks is not None and self.num_tasks < 1:
            raise ConfigError(f"num_tasks must be at least 1 or None, got {self.num_tasks}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.num_workers < 1:
            raise ConfigError(f"num_workers must be at least 1, got {self.num_workers}")
        from sparsegym.wrappers.stack import check_wrappers

        check_wrappers(self.env_wrappers)  # unknown wrappers or arguments fail here, naming the known ones


class TextRLTrainer:
    """GRPO or RLOO on a text env (module docstring).

    Args:
        env: an env id, or a function that makes one env (then ``load`` needs it again).
        policy: any :class:`~sparsegym.agents.text.policy.TextPolicy`; default an
            :class:`~sparsegym.agents.text.scorer.ActionScorer` made from ``config.policy_kwargs``.
        config: the hyper-parameters; keyword overrides may follow (``TextRLTrainer(env, algo="rloo")``).
    """

    def __init__(self, env: str | Callable[[], gymnasium.Env], policy: TextPolicy | None = None,
                 config: TextRLConfig | None = None, **overrides: Any):
        self.config = config or TextRLConfig()
        for k, v in overrides.items():
            if not hasattr(self.config, k):
                raise ConfigError(f"unknown text-RL option {k!r}; see TextRLConfig")
            setattr(self.config, k, v)
        cfg = self.config
        cfg.validate()
        self.env_id = env if isinstance(env, str) else None
        self._env_factory = env if callable(env) else None
        if self.env_id is not None:
            import sparsegym  # noqa: F401  (registers the ids)
            from sparsegym.envs.registry import get_entry

            get_entry(self.env_id)  # an unknown id fails here, with the registry's message
        if policy is None:
            from sparsegym.agents.text.scorer import ActionScorer

            policy = ActionScorer(**{"seed": cfg.seed, **cfg.policy_kwargs})
            if cfg.device is not None:
                policy.to(cfg.device)
        self.policy = policy
        self.algorithm = make_algorithm(cfg.algo, cfg.algo_kwargs)
        self.algorithm.bind(self)
        self.policy.eval()  # acting mode; _update switches to train mode for its steps only
        # Only what the policy leaves trainable (a LoRA-adapted language model freezes its base weights).
        self.optimizer = torch.optim.Adam([p for p in self.policy.parameters() if p.requires_grad],
                                          lr=cfg.learning_rate, foreach=True)
        # The KL's reference: the policy as it starts (frozen); only kept when the KL is on.
        self.reference = _frozen_copy(self.policy) if cfg.kl_coef > 0 else None
        self.global_step = 0  # episodes so far (what learn counts; checkpoints are named by it)
        self.frames = 0  # env turns so far
        self.iterations = 0
        self.groups_done = 0  # groups collected so far (the next group's task seed follows from it)
        self._returns: deque[float] = deque(maxlen=cfg.stats_window)
        self._successes: deque[float] = deque(maxlen=cfg.stats_window)
        self._generator = torch.Generator().manual_seed(cfg.seed)
        self.envs: list[gymnasium.Env] | EnvPool = []  # a RayEnvPool with backend="ray"

    # -- training ---------------------------------------------------------------------------------

    def learn(self, total_episodes: int, callbacks: Callback | list[Any] | Callable[[dict[str, float]], Any] | None = None,
              log_dir: str | Path | None = None, progress: bool = True,
              checkpoint_every: int | None = None) -> list[dict[str, float]]:
        """Train for ``total_episodes`` episodes (whole iterations: at least one); returns each
        iteration's statistics. ``callbacks`` and the shortcuts (``log_dir``: a CSV log and, with
        tensorboard installed, event files; ``checkpoint_every``: checkpoints in
        ``log_dir/checkpoints/<episodes>``; ``progress``: a tqdm bar) work as in PPO's ``learn``."""
        cfg = self.config
        iterations = max(1, math.ceil(total_episodes / cfg.episodes_per_iteration))
        hooks = self._callbacks(callbacks, log_dir, progress, checkpoint_every)
        envs = self._ensure_envs()
        history: list[dict[str, float]] = []
        start, start_frames = time.perf_counter(), self.frames
        hooks.init_callback(self)
        hooks.on_training_start(iterations * cfg.episodes_per_iteration)
        try:
            for _ in range(iterations):
                hooks.on_rollout_start()
                # 1. collect groups: group_size episodes from each of this iteration's task seeds
                trajectories = collect(envs, self.policy, self._next_task_seeds(), cfg.group_size,
                                       generator=self._generator)
                go_on = self._record_episodes(trajectories, hooks)
                if not go_on:  # a callback stopped training: this iteration is not learned from
                    break
                # 2. advantages: one per turn, the algorithm's (after it may have changed the batch)
                collected = trajectories
                trajectories = self.algorithm.prepare(trajectories)
                advantages = self.advantages(trajectories)
                # 3. update the policy on the iteration's turns
                stats = self._update(trajectories, advantages)
                self.algorithm.after_update(trajectories, stats)
                # 4. report
                self.iterations += 1
                elapsed = time.perf_counter() - start
                stats.update(summarize(collected))  # what was played, not what prepare made of it
                stats.update(frames=self.frames, episodes=self.global_step, iteration=self.iterations,
                             fps=(self.frames - start_frames) / elapsed if elapsed else 0.0,
                             success_rate=float(np.mean(self._successes)),
                             episode_return=float(np.mean(self._returns)))
                history.append(stats)
                if not hooks.on_rollout_end(stats):
                    break
        finally:
            hooks.on_training_end()
        return history

    def _next_task_seeds(self) -> list[int]:
        cfg = self.config
        seeds = []
        for _ in range(cfg.groups_per_iteration):
            k = self.groups_done if cfg.num_tasks is None else self.groups_done % cfg.num_tasks
            seeds.append(cfg.first_task_seed + k)
            self.groups_done += 1
        return seeds

    def _record_episodes(self, trajectories: Sequence[Trajectory], hooks: Callback) -> bool:
        go_on = True
        for traj in trajectories:
            self.global_step += 1
            self.frames += traj.length
            self._returns.append(traj.episode_return)
            self._successes.append(float(traj.success))
            go_on = hooks.on_step() is not False and go_on
        return go_on

    def advantages(self, trajectories: Sequence[Trajectory]) -> np.ndarray | list[np.ndarray]:
        """The advantage of every turn, episodes one after another (the algorithm's, :mod:`.algos`): an array
        of one per turn, or a list of one array per turn holding an advantage per generated token (a token
        policy only; HiPER's)."""
        return self.algorithm.advantages(trajectories)

    def _update(self, trajectories: Sequence[Trajectory],
                advantages: np.ndarray | list[np.ndarray]) -> dict[str, float]:
        """``update_epochs`` passes of the clipped loss over the turns, in ``num_minibatches`` steps each."""
        cfg, dev = self.config, self._device()
        turns = [turn for t in trajectories for turn in t.turns]
        choices = [c for t in trajectories for c in t.choices]
        steps = np.concatenate([np.arange(t.length) for t in trajectories]) if trajectories else np.zeros(0, int)
        per_token = isinstance(advantages, list)  # one array per turn, over its tokens (HiPER), else one per turn
        if per_token:
            adv_turns = [torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in advantages]
            advantages = np.concatenate([np.asarray(a, dtype=np.float64) for a in advantages]) if advantages \
                else np.zeros(0)
        else:
            adv = torch.as_tensor(advantages, dtype=torch.float32, device=dev)
        targets = torch.as_tensor(np.concatenate([discounted_step_returns(t.train_rewards, cfg.gamma)
                                                  for t in trajectories]), dtype=torch.float32, device=dev)
        old = self._old_logprobs(turns, choices)
        ref = self._reference_logprobs(turns, choices) if self.reference is not None else None
        rng = np.random.default_rng([cfg.seed, self.iterations])
        logs: dict[str, list[float]] = {k: [] for k in ("policy_loss", "entropy", "kl", "value_loss", "clipfrac",
                                                        "approx_kl", "grad_norm")}
        self.policy.train()
        for _ in range(cfg.update_epochs):
            order = rng.permutation(len(turns)) if cfg.num_minibatches > 1 else np.arange(len(turns))
            for mb in np.array_split(order, cfg.num_minibatches):
                if len(mb) == 0:
                    continue
                out = self.policy.evaluate([turns[i] for i in mb], [choices[i] for i in mb])
                logprob, mask, entropy = _per_token(out)
                old_mb = _gather(old, mb, logprob, mask)
                adv_mb = _token_advantages(adv_turns, mb, logprob, mask) if per_token else adv[mb]
                pg_loss, pg_stats = clipped_policy_loss(
                    logprob, old_mb, adv_mb, clip=cfg.clip_coef, clip_high=cfg.clip_coef_high,
                    dual_clip=cfg.dual_clip, mask=mask, agg=cfg.loss_agg)
                ent = aggregate(entropy, mask, cfg.loss_agg)
                loss = pg_loss - cfg.ent_coef * ent
                if ref is not None:
                    kl = aggregate(kl_k3(logprob, _gather(ref, mb, logprob, mask)), mask, cfg.loss_agg)
                    loss = loss + cfg.kl_coef * kl
                    logs["kl"].append(kl.item())
                if cfg.vf_coef > 0 and "value" in out:
                    v_loss = value_loss(out["value"], targets[mb])
                    loss = loss + cfg.vf_coef * v_loss
                    logs["value_loss"].append(v_loss.item())
                extra, extra_logs = self.algorithm.extra_loss(Batch(
                    index=mb, turns=[turns[i] for i in mb], choices=[choices[i] for i in mb], out=out,
                    logprob=logprob, entropy=entropy, mask=mask, step=steps[mb], agg=cfg.loss_agg))
                if extra is not None:
                    loss = loss + extra
                for k, v in extra_logs.items():
                    logs.setdefault(k, []).append(float(v))
                self.optimizer.zero_grad()
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"],
                                                           cfg.max_grad_norm)
                self.optimizer.step()
                logs["policy_loss"].append(pg_loss.item())
                logs["entropy"].append(ent.item())
                logs["grad_norm"].append(float(grad_norm))
                logs["clipfrac"].append(pg_stats["clipfrac"])
                logs["approx_kl"].append(pg_stats["approx_kl"])
        self.policy.eval()
        stats = {k: float(np.mean(v)) for k, v in logs.items() if v}
        stats.update(advantage_mean=float(advantages.mean()), advantage_std=float(advantages.std()),
                     learning_rate=self.optimizer.param_groups[0]["lr"])
        return stats

    @torch.no_grad()
    def _old_logprobs(self, turns: list[Any], choices: list[Any]) -> list[torch.Tensor]:
        """Each turn's log-probabilities (per token, for a token policy) under the parameters that
        collected it, computed before any step, in chunks of a minibatch."""
        return _logprobs_per_turn(self.policy, turns, choices, self._chunk(len(turns)))

    @torch.no_grad()
    def _reference_logprobs(self, turns: list[Any], choices: list[Any]) -> list[torch.Tensor]:
        return _logprobs_per_turn(self.reference, turns, choices, self._chunk(len(turns)))

    def _chunk(self, n: int) -> int:
        return max(1, math.ceil(n / self.config.num_minibatches))

    def _device(self) -> torch.device:
        p = next(self.policy.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def _callbacks(self, callbacks: Any, log_dir: str | Path | None, progress: bool,
                   checkpoint_every: int | None) -> CallbackList:
        chosen: list[Callback] = []
        if log_dir is not None:
            chosen.append(CSVLogger(Path(log_dir) / "progress.csv", append=self.global_step > 0))
            if TensorBoardLogger.available():
                chosen.append(TensorBoardLogger(log_dir))
            if checkpoint_every:
                chosen.append(Checkpoint(Path(log_dir) / "checkpoints", checkpoint_every))
        if progress and ProgressBar.available():
            chosen.append(ProgressBar(desc=self.config.algo.upper(), unit="episode"))
        return CallbackList([*chosen, as_callback(callbacks)])

    def env_factory(self) -> EnvFactory:
        """What makes one of the trainer's envs (picklable, for the Ray workers): the env id with
        ``max_episode_steps`` and ``env_kwargs`` (or the trainer's function), then ``env_wrappers``."""
        cfg = self.config
        if self._env_factory is not None:
            return EnvFactory(self._env_factory, wrappers=list(cfg.env_wrappers))
        if self.env_id is None:
            raise ConfigError("this trainer has no env: pass the env id or factory (TextRLTrainer.load(path, env=...))")
        extra = {"max_episode_steps": cfg.max_episode_steps} if cfg.max_episode_steps else {}
        return EnvFactory(self.env_id, {**extra, **cfg.env_kwargs}, list(cfg.env_wrappers))

    def _make_env(self) -> gymnasium.Env:
        return self.env_factory()()

    def _ensure_envs(self) -> list[gymnasium.Env] | EnvPool:
        wanted = min(self.config.num_envs, self.config.episodes_per_iteration)
        if self.config.backend == "ray":
            if not isinstance(self.envs, EnvPool):
                from sparsegym.agents.text.workers import RayEnvPool

                self.envs = RayEnvPool(self.env_factory(), wanted, self.config.num_workers)
            return self.envs
        while len(self.envs) < wanted:
            self.envs.append(self._make_env())
        return self.envs

    def close(self) -> None:
        """Close the envs the trainer made (``learn`` keeps them open between calls) and end its Ray workers."""
        if isinstance(self.envs, EnvPool):
            self.envs.close()
        else:
            for env in self.envs:
                env.close()
        self.envs = []

    # -- the agent protocol and persistence ---------------------------------------------------------

    def agent(self, env: gymnasium.Env | None = None, sample: bool = False) -> Any:
        """The trained policy as a leaderboard agent (:class:`~sparsegym.agents.text.agent.TextAgent`)."""
        from sparsegym.agents.text.agent import TextAgent

        return TextAgent(self.policy, env=env, sample=sample)

    def save(self, path: str | Path) -> Path:
        """Write the trainer to the folder ``path``: ``trainer.json`` (env, config, counters),
        ``policy/`` (the policy's own save) and ``trainer.pt`` (optimizer, sampler and reference
        states), enough to resume exactly; ``load_text_agent`` plays the folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.policy.save(path / "policy")
        state: dict[str, Any] = {"optimizer": self.optimizer.state_dict(), "generator": self._generator.get_state(),
                                 "algorithm": self.algorithm.state_dict()}
        if self.reference is not None:
            state["reference"] = self.reference.state_dict()
        tmp = path / "trainer.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(path / "trainer.pt")
        meta = {"env_id": self.env_id, "config": asdict(self.config), "global_step": self.global_step,
                "frames": self.frames, "iterations": self.iterations, "groups_done": self.groups_done,
                "returns": list(self._returns), "successes": list(self._successes)}
        tmp = path / "trainer.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(path / "trainer.json")
        return path

    @classmethod
    def load(cls, path: str | Path, env: str | Callable[[], gymnasium.Env] | None = None,
             device: str | None = None) -> TextRLTrainer:
        """A trainer saved by :meth:`save` (a run folder or one of its checkpoints), ready to resume;
        ``env`` replaces the saved env id (and is required when the trainer was made from a function)."""
        path = Path(path)
        meta = json.loads((path / "trainer.json").read_text())
        config = TextRLConfig(**meta["config"])
        if device is not None:
            config.device = device
        policy = TextPolicy.load(path / "policy", device=config.device)
        target = env if env is not None else meta["env_id"]
        if target is None:
            raise ConfigError(f"{str(path)!r} was trained on an env made by a function: pass env= to load it")
        trainer = cls(target, policy, config)
        state = torch.load(path / "trainer.pt", map_location=config.device or "cpu", weights_only=False)
        trainer.optimizer.load_state_dict(state["optimizer"])
        trainer._generator.set_state(state["generator"])
        if trainer.reference is not None and "reference" in state:
            trainer.reference.load_state_dict(state["reference"])
        for key in ("global_step", "frames", "iterations", "groups_done"):
            setattr(trainer, key, int(meta[key]))
        trainer.algorithm.load_state_dict(state.get("algorithm", {}))
        trainer._returns.extend(meta["returns"])
        trainer._successes.extend(meta["successes"])
        return trainer


def _frozen_copy(policy: TextPolicy) -> TextPolicy:
    ref = copy.deepcopy(policy)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def _per_token(out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``(logprob, mask, entropy)``: per token when the policy reports tokens, else per turn."""
    if "token_logprob" in out:
        mask = out["mask"] if "mask" in out else out["token_mask"]
        return out["token_logprob"], mask, out.get("token_entropy", out["entropy"][:, None].expand_as(mask))
    return out["logprob"], None, out["entropy"]


def _logprobs_per_turn(policy: TextPolicy, turns: list[Any], choices: list[Any], chunk: int) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for i in range(0, len(turns), chunk):
        logprob, mask, _ = _per_token(policy.evaluate(turns[i:i + chunk], choices[i:i + chunk]))
        if mask is None:
            out += list(logprob.detach().unbind(0))
        else:
            out += [row[m.bool()].detach() for row, m in zip(logprob, mask)]
    return out


def _token_advantages(per_turn: list[torch.Tensor], index: np.ndarray, like: torch.Tensor,
                      mask: torch.Tensor | None) -> torch.Tensor:
    """Per-token advantages of the turns ``index``, scattered into ``mask``'s positions (0 elsewhere)."""
    if mask is None:
        raise ConfigError("the algorithm gave an advantage per token, but the policy reports none (no "
                          "\"token_logprob\" in evaluate): use a token policy (CausalLMPolicy in generate mode)")
    counts = mask.bool().sum(1).tolist()
    for i, n in zip(index, counts):
        if len(per_turn[i]) != n:
            raise ConfigError(f"turn {int(i)} has {len(per_turn[i])} per-token advantages but {n} tokens in the "
                              "policy's mask: give one advantage per generated token")
    return _gather(per_turn, index, like, mask)


def _gather(per_turn: list[torch.Tensor], index: np.ndarray, like: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The saved per-turn values of the turns ``index``, shaped like ``like`` (scattered into ``mask``'s
    positions for per-token values)."""
    if mask is None:
        return torch.stack([per_turn[i] for i in index]).to(like.device)
    full = torch.zeros_like(like)
    full[mask.bool()] = torch.cat([per_turn[i] for i in index]).to(like.device)
    return full
