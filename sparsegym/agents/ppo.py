"""Proximal Policy Optimization (Schulman et al., 2017) for sparsegym's vector envs, with optional
intrinsic rewards (a separate intrinsic value head and return, as in Burda et al.'s RND paper).

Written to be read top to bottom in the spirit of CleanRL's ``ppo.py``, but usable as a library::

    from sparsegym.agents import PPO, PPOConfig
    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(intrinsic="rnd"))
    agent.learn(100_000)
    agent.save("runs/doorkey")
    action = agent.act(observation, info)         # the leaderboard agent protocol

``learn`` collects a rollout (:mod:`sparsegym.agents.rollout`), computes advantages
(:func:`sparsegym.agents.advantages.gae`), updates, and reports to callbacks
(:mod:`sparsegym.agents.callbacks`: CSV/TensorBoard logs, progress bar, checkpoints, early stopping).

Choices worth knowing:

* the vector env runs in Gymnasium's ``SAME_STEP`` autoreset mode, so each rollout step's next
  observation is the reset observation after an episode ends (CleanRL's convention); truncation is
  treated as termination, as CleanRL does;
* intrinsic rewards come from an :class:`~sparsegym.intrinsic.stream.IntrinsicStream`, the same
  plumbing the reward wrappers use: a transition that ends an episode is scored on its real final
  observation (``infos["final_obs"]``), the module's episodic state is cleared when an episode ends,
  and bonuses are scaled as the module's ``normalization`` asks (``"return"``: divided by a running
  std of intrinsic returns; ``"step"``: of the bonuses themselves); the module trains once per rollout, after the policy;
* intrinsic returns are non-episodic (episode ends do not cut them), as in the RND paper, unless the
  module asks otherwise (``episodic_returns``: E3B); the running return that ``"return"``
  normalisation divides by runs on across episodes in either case (a scale estimate, as in RND);
* advantages are ``ext_coef * A_ext + int_coef * A_int``, normalised per minibatch (the RND paper's
  two value heads, ``intrinsic_recipe="two_heads"``); modules whose authors train one value head on
  ``r + coeff * r_int`` with episodic returns (E3B, Henaff et al. 2022; the global x episodic
  combinations, Henaff et al. 2023: ``module.recipe == "one_head"``) get that recipe by default
  (``intrinsic_recipe="auto"``): one return of ``r + int_coef * r_int``, clipped to ``[-1, 1]`` as
  their code clips it (``one_head_clip``), cut at episode ends;
* ``intrinsic_encoder="auto"`` gives E3B the env family's policy encoder (NetHack glyph embeddings,
  MiniGrid's CNN), as the authors embed glyphs; other modules read flat observations;
* RND-based modules start their observation statistics from ``intrinsic_obs_init_rollouts`` rollouts
  (of ``num_steps`` steps) of random actions before training, as Burda et al.'s code does (those frames are not counted as training frames);
* ``intrinsic_key`` gives count-based modules a state key (``position``, ``full``, ``message``, ...:
  :class:`sparsegym.wrappers.StateKeyInfo`; ``"auto"``: the full state for NovelD's first-visit gate
  where the family has one, as its authors count full states), and ``num_contexts`` draws each episode's seed from a
  fixed pool of that many (:class:`sparsegym.wrappers.SeedPool`; Henaff et al. 2023's number of
  contexts);
* the seed fixes the envs, the initial parameters (drawn under a forked torch RNG: constructing a PPO
  leaves the global torch RNG as it was) and the action samplers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym.agents.advantages import gae
from sparsegym.agents.callbacks import (
    Callback,
    CallbackList,
    Checkpoint,
    CSVLogger,
    ProgressBar,
    TensorBoardLogger,
    as_callback,
)
from sparsegym.agents.networks import ActorCritic, NumpyRolloutPolicy, torch
from sparsegym.agents.rollout import (
    EpisodeStats,
    NumpyActor,
    RolloutBuffer,
    TorchActor,
    _to_tensor_obs,
)
from sparsegym.errors import ConfigError
from sparsegym.intrinsic.base import pick_device
from sparsegym.intrinsic.stream import SAME_STEP, IntrinsicStream

__all__ = ["PPO", "PPOConfig", "ppo_policy_loss", "ppo_value_loss"]

#: modules that ``intrinsic_encoder="auto"`` gives the family's encoder: their authors embed
#: observations with the policy's encoder architecture (E3B: a glyph embedding and CNN on MiniHack)
EMBEDDED_MODULES = ("e3b", "rnd_x_e3b")


@dataclass
class PPOConfig:
    num_envs: int = 8  # parallel environments in the vector env
    num_steps: int = 128  # steps per env per rollout (a rollout is num_envs * num_steps frames)
    learning_rate: float = 2.5e-4  # Adam step size
    anneal_lr: bool = True  # decay the step size linearly to 0 over training
    gamma: float = 0.99  # discount of extrinsic returns
    gae_lambda: float = 0.95  # GAE lambda
    num_minibatches: int = 4  # minibatches per epoch
    update_epochs: int = 4  # passes over each rollout
    clip_coef: float = 0.2  # PPO ratio clip
    clip_vloss: bool = True  # clip the value loss as in the PPO reference implementation
    ent_coef: float = 0.01  # entropy bonus weight
    vf_coef: float = 0.5  # value loss weight
    max_grad_norm: float = 0.5  # gradient clipping
    norm_adv: bool = True  # normalise advantages per minibatch
    hidden: int = 256  # width of the encoder output and heads
    encoder: str = "auto"  # auto (the family's encoder that accepts the observation, else an MLP), a family name, or flat
    recurrent: bool = False  # an LSTM core after the encoder; minibatches then hold whole env sequences
    intrinsic: str | None = None  # name from sparsegym.intrinsic (rnd, icm, e3b, noveld, rdd, hindsight_code_mmd, counts, ...)
    # How the intrinsic module embeds observations: "flat" (an MLP over the flattened observation) or "family"
    # (the env family's encoder, e.g. MiniGrid's CNN over object codes, NetHack's glyph embeddings, as the papers do)
    # "auto": the family's encoder for modules whose authors embed observations with the policy's encoder (E3B), else flat
    intrinsic_encoder: str = "auto"
    # "auto" (the module's authors' recipe: module.recipe, else two heads), "two_heads" (RND: separate intrinsic value head,
    # non-episodic intrinsic returns unless the module asks) or "one_head" (E3B: one value head on r + int_coef * r_int)
    intrinsic_recipe: str = "auto"
    # the one-head recipe's reward r + int_coef * r_int is clipped to [-one_head_clip, one_head_clip], as E3B's authors
    # clip it (their --clip_rewards 1, the default, clamps the summed reward to [-1, 1]); None: not clipped
    one_head_clip: float | None = 1.0
    # keyword arguments of the intrinsic module, e.g. {"normalise": "return_std"} for E3B's earlier normalisation
    intrinsic_kwargs: dict[str, Any] = field(default_factory=dict)
    # state key given to count-based modules via info["state_key"] (position, full, message, ...); "auto": the family's
    # "full" state for NovelD's first-visit gate (the authors count full states), else none (observations are counted)
    intrinsic_key: str | None = "auto"
    intrinsic_obs_init_rollouts: int = 50  # rollouts of random actions that start RND's observation statistics (Burda et al.: 50)
    num_contexts: int | None = None  # draw each episode's seed from a fixed pool of this many (None: every episode new)
    int_coef: float = 1.0  # weight of intrinsic advantages (RND paper: 1)
    ext_coef: float = 2.0  # weight of extrinsic advantages when an intrinsic reward is on (RND paper: 2)
    int_gamma: float = 0.99  # discount of intrinsic returns
    demos: str | None = None  # demonstration file (.npz) for concurrent imitation (see sparsegym.agents.imitation)
    bc_coef: float = 0.0  # weight of the behaviour-cloning loss on demos, added to each PPO minibatch
    numpy_rollout: bool = True  # on CPU, a flat-MLP policy samples rollout actions from a numpy copy of itself (same function, ~4x cheaper per step)
    vectorization: str = "lean"  # lean (sparsegym.agents.vector: in-process, infos trimmed to success), or Gymnasium's sync or async
    seed: int = 0  # seeds the envs, the initial parameters and the action samplers (never torch's global RNG)
    device: str | None = None  # torch device; default CUDA when available, else CPU
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments for gymnasium.make

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


def _index_obs(obs: Any, idx: Any) -> Any:
    return {k: v[idx] for k, v in obs.items()} if isinstance(obs, dict) else obs[idx]


class PPO:
    """PPO with optional intrinsic rewards; also a leaderboard agent (``reset``/``act``)."""

    def __init__(self, env: str | gymnasium.Env, config: PPOConfig | None = None, **overrides: Any):
        self.config = config or PPOConfig()
        for k, v in overrides.items():
            if not hasattr(self.config, k):
                raise ConfigError(f"unknown PPO option {k!r}; see PPOConfig")
            setattr(self.config, k, v)
        cfg = self.config
        self.device = pick_device(cfg.device)
        if isinstance(env, str):
            import sparsegym  # noqa: F401  (registers the ids)

            self.env_id: str | None = env
            probe = gymnasium.make(env, **cfg.env_kwargs)
        else:
            self.env_id = env.spec.id if env.spec is not None else None
            probe = env
        self.observation_space, self.action_space = probe.observation_space, probe.action_space
        if not isinstance(self.action_space, gymnasium.spaces.Discrete):
            raise ConfigError(f"PPO here needs a Discrete action space, got {self.action_space}")
        self.n_actions = int(self.action_space.n)
        if cfg.recurrent and cfg.num_envs < cfg.num_minibatches:
            raise ConfigError(f"a recurrent PPO splits minibatches by env: num_envs ({cfg.num_envs}) must be at least "
                             f"num_minibatches ({cfg.num_minibatches})")
        if cfg.intrinsic_recipe not in ("auto", "one_head", "two_heads"):
            raise ConfigError(f"intrinsic_recipe must be 'auto', 'one_head' or 'two_heads', got {cfg.intrinsic_recipe!r}")
        self.intrinsic_key = self._resolve_intrinsic_key(probe)
        if self.intrinsic_key is not None:  # check the key against the env now, not in the first rollout
            from sparsegym.wrappers.counts import resolve_key

            resolve_key(self.intrinsic_key, probe)
        with torch.random.fork_rng(devices=[]):  # the seed's parameters, without seeding the caller's RNG
            torch.random.default_generator.manual_seed(cfg.seed)
            self.policy = ActorCritic(self.observation_space, self.n_actions, cfg.hidden, intrinsic=cfg.intrinsic
                                      is not None, encoder=cfg.encoder, recurrent=cfg.recurrent)
        self.policy.to(self.device)
        # foreach: one grouped kernel per Adam step instead of one per parameter (same values, tested on CPU).
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate, eps=1e-5, foreach=True)
        self.intrinsic = None
        if cfg.intrinsic is not None:
            from sparsegym.intrinsic import make_intrinsic

            extra: dict[str, Any] = {}
            if cfg.intrinsic_encoder not in ("auto", "flat", "family"):
                raise ConfigError(f"intrinsic_encoder must be 'flat' or 'family' (or 'auto'), got {cfg.intrinsic_encoder!r}")
            if cfg.intrinsic_encoder in ("auto", "family"):
                from sparsegym.envs.encoders import encoder_for
                from sparsegym.envs.family import family_of

                encoder = encoder_for(self.observation_space, family_of(probe))
                if encoder is None and cfg.intrinsic_encoder == "family":
                    raise ConfigError(f"intrinsic_encoder='family': no family encoder accepts {self.observation_space}; "
                                      "use intrinsic_encoder='flat'")
                if encoder is not None and (cfg.intrinsic_encoder == "family" or cfg.intrinsic in EMBEDDED_MODULES):
                    extra = {"encoder": encoder, "observation_space": self.observation_space}
            try:
                self.intrinsic = make_intrinsic(cfg.intrinsic, gymnasium.spaces.flatdim(self.observation_space),
                                                self.n_actions, device=str(self.device), seed=cfg.seed,
                                                **extra, **cfg.intrinsic_kwargs)
            except TypeError as exc:
                if "unexpected keyword argument" not in str(exc):
                    raise
                raise ConfigError(f"intrinsic_kwargs {cfg.intrinsic_kwargs} do not fit the {cfg.intrinsic!r} module: "
                                  f"{exc}; see its docstring for its arguments") from None
        self.demos = None
        if cfg.demos is not None:
            from sparsegym.agents.imitation import DemoSampler

            self.demos = DemoSampler(cfg.demos, self.observation_space, self.device, cfg.seed)
        self.global_step = 0
        self._generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    # -- training ---------------------------------------------------------------------------------

    def learn(self, total_steps: int, callbacks: Callback | list[Any] | Callable[[dict[str, float]], Any] | None = None,
              log_dir: str | Path | None = None, progress: bool = True, checkpoint_every: int | None = None, *,
              callback: Callable[[dict[str, float]], Any] | None = None) -> list[dict[str, float]]:
        """Train for ``total_steps`` env frames (whole rollouts: at least one); returns each rollout's
        statistics. ``callbacks``: a :class:`~sparsegym.agents.callbacks.Callback`, a list of them, or
        a function of each rollout's statistics (returning False stops; ``callback=`` is the older
        spelling). The shortcuts add default callbacks: ``progress`` a tqdm bar (when tqdm is
        installed); ``log_dir`` a CSV log ``log_dir/progress.csv`` and, when the ``tensorboard``
        package is installed, TensorBoard event files there; with ``log_dir`` and ``checkpoint_every``,
        atomic checkpoints in ``log_dir/checkpoints/<frames>`` that often (``PPO.load`` one to resume)."""
        cfg = self.config
        num_updates = max(1, total_steps // cfg.batch_size)
        hooks = self._callbacks(callbacks, callback, log_dir, progress, checkpoint_every)
        envs = self._make_vec()
        obs, reset_infos = envs.reset(seed=[cfg.seed + i for i in range(cfg.num_envs)])
        next_done = np.zeros(cfg.num_envs, dtype=np.float32)
        buffer, episodes, actor = RolloutBuffer(cfg.num_steps, cfg.num_envs), EpisodeStats(cfg.num_envs), self._actor()
        stream = None
        if self.intrinsic is not None:  # the intrinsic module trains once per rollout, after the policy
            stream = IntrinsicStream(self.intrinsic, cfg.num_envs, envs.single_observation_space,
                                     autoreset_mode=SAME_STEP, gamma=cfg.int_gamma, update_every=None)
            if self.global_step == 0 and cfg.intrinsic_obs_init_rollouts > 0 and \
                    getattr(self.intrinsic, "wants_obs_stats", False):
                obs, reset_infos = self._random_obs_stats(envs, stream)
            stream.reset(obs, infos=reset_infos)
        history: list[dict[str, float]] = []
        start, start_step = time.perf_counter(), self.global_step
        hooks.init_callback(self)
        hooks.on_training_start(num_updates * cfg.batch_size)
        try:
            with actor.blas_scope():
                for update in range(1, num_updates + 1):
                    if cfg.anneal_lr:
                        self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * (1.0 - (update - 1.0) / num_updates)
                    hooks.on_rollout_start()
                    start_state = actor.start_state()
                    obs, next_done, go_on = self._collect(envs, obs, next_done, buffer, actor, stream, episodes, hooks)
                    if not go_on:  # a callback stopped training mid-rollout: that rollout is not learned from
                        break
                    advantages, returns, int_returns = self._advantages(buffer, *actor.bootstrap(obs, next_done),
                                                                        next_done)
                    stats = self._update(buffer, advantages, returns, int_returns, start_state)
                    actor.sync()
                    if stream is not None:
                        stats.update(stream.update())
                        stats["intrinsic_reward"] = float(buffer.int_rewards.mean())
                    elapsed = time.perf_counter() - start
                    stats.update(frames=self.global_step, fps=(self.global_step - start_step) / elapsed if elapsed
                                 else 0.0, **episodes.summary())
                    history.append(stats)
                    if not hooks.on_rollout_end(stats):
                        break
        finally:
            envs.close()
            hooks.on_training_end()
        return history

    def _random_obs_stats(self, envs: Any, stream: IntrinsicStream) -> tuple[Any, Any]:
        """Start the module's observation statistics from a random agent's observations (Burda et al.'s
        ``collect_random_statistics``), then reset the envs; returns the reset's observations and infos."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        rows, total = [], cfg.intrinsic_obs_init_rollouts * cfg.num_steps
        for step in range(total):
            obs, *_ = envs.step(rng.integers(self.n_actions, size=cfg.num_envs))
            rows.append(stream._flat(obs, cfg.num_envs))
            if len(rows) == cfg.num_steps or step == total - 1:  # the authors update once per rollout
                self.intrinsic.init_obs_stats(np.concatenate(rows))
                rows.clear()
        return envs.reset(seed=[cfg.seed + i for i in range(cfg.num_envs)])

    def _resolve_intrinsic_key(self, env: gymnasium.Env) -> str | None:
        """The state key the intrinsic module counts: ``intrinsic_key``, with ``"auto"`` resolved."""
        cfg = self.config
        if cfg.intrinsic is None or cfg.intrinsic_key is None:
            return None
        if cfg.intrinsic_key != "auto":
            return cfg.intrinsic_key
        if cfg.intrinsic == "noveld":
            from sparsegym.envs.family import family_of

            family = family_of(env)
            if family is not None and "full" in family.state_keys:
                return "full"
        return None

    @property
    def intrinsic_recipe(self) -> str:
        """``"one_head"`` or ``"two_heads"``: what ``intrinsic_recipe`` resolves to for this module."""
        recipe = self.config.intrinsic_recipe
        if recipe == "auto":
            recipe = getattr(self.intrinsic, "recipe", "two_heads")
        return recipe

    def _callbacks(self, callbacks: Any, callback: Any, log_dir: str | Path | None, progress: bool,
                   checkpoint_every: int | None) -> CallbackList:
        """The caller's callbacks after the ones ``learn``'s shortcuts ask for."""
        chosen: list[Callback] = []
        if log_dir is not None:
            chosen.append(CSVLogger(Path(log_dir) / "progress.csv"))
            if TensorBoardLogger.available():
                chosen.append(TensorBoardLogger(log_dir))
            if checkpoint_every:
                chosen.append(Checkpoint(Path(log_dir) / "checkpoints", checkpoint_every))
        if progress and ProgressBar.available():
            chosen.append(ProgressBar())
        return CallbackList([*chosen, as_callback(callbacks), as_callback(callback)])

    def _actor(self) -> NumpyActor | TorchActor:
        """Who picks the rollout's actions: the numpy copy of a flat-MLP policy on CPU, else torch.
        Seeded by the seed and the frame count, so a resumed run samples reproducibly."""
        cfg, seed = self.config, self.config.seed + self.global_step
        if cfg.numpy_rollout and self.device.type == "cpu" and NumpyRolloutPolicy.supports(self.policy):
            return NumpyActor(self.policy, self.device, seed)
        return TorchActor(self.policy, self.device, cfg.num_envs, seed)

    def _collect(self, envs: Any, obs: Any, next_done: np.ndarray, buf: RolloutBuffer, actor: Any,
                 stream: IntrinsicStream | None, episodes: EpisodeStats, hooks: Callback) -> tuple[Any, np.ndarray, bool]:
        """Step the envs ``num_steps`` times into ``buf``; returns the last observations and done flags,
        and False if a callback's ``on_step`` asked to stop."""
        buf.obs.clear()
        for step in range(self.config.num_steps):
            self.global_step += self.config.num_envs
            buf.obs.append(obs)
            buf.dones[step] = next_done
            actions, buf.logprobs[step], buf.values[step], buf.int_values[step] = actor(obs, next_done)
            buf.actions[step] = actions
            obs, reward, terminated, truncated, infos = envs.step(actions)
            buf.rewards[step] = reward
            if stream is not None:
                buf.int_rewards[step] = stream.step(actions, obs, terminated, truncated, infos)
            done = np.logical_or(terminated, truncated)
            episodes.step(reward, done, infos)
            next_done = done.astype(np.float32)
            if not hooks.on_step():
                return obs, next_done, False
        return obs, next_done, True

    def _advantages(self, buf: RolloutBuffer, next_value: np.ndarray, next_int_value: np.ndarray,
                    next_done: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mixed advantages, extrinsic returns and intrinsic returns of a rollout. GAE runs over T small
        rows: numpy does each row's arithmetic for a fraction of torch's dispatch."""
        cfg = self.config
        rewards = buf.rewards
        one_head = self.intrinsic is not None and self.intrinsic_recipe == "one_head"
        if one_head:  # the authors of E3B: one return of r + coeff * r_int, clipped, cut at episode ends
            rewards = buf.rewards + cfg.int_coef * buf.int_rewards
            if cfg.one_head_clip is not None:
                rewards = np.clip(rewards, -cfg.one_head_clip, cfg.one_head_clip)
        adv, returns = gae(rewards, buf.values, buf.dones, next_value, next_done, cfg.gamma, cfg.gae_lambda)
        if self.intrinsic is None or one_head:
            return adv, returns, np.zeros_like(returns)
        if self.intrinsic.episodic_returns:  # E3B: intrinsic returns end with the episode
            int_dones, int_last_done = buf.dones, next_done
        else:  # RND's recipe: intrinsic returns ignore episode ends
            int_dones = np.zeros_like(buf.dones)
            int_last_done = int_dones[0]
        int_adv, int_returns = gae(buf.int_rewards, buf.int_values, int_dones, next_int_value, int_last_done,
                                   cfg.int_gamma, cfg.gae_lambda)
        return cfg.ext_coef * adv + cfg.int_coef * int_adv, returns, int_returns

    def _make_vec(self) -> gymnasium.vector.VectorEnv:
        if self.env_id is None:
            raise ConfigError("learn() needs an env id (PPO('sparsegym/...')) to build its vector env")
        cfg = self.config
        wrap = None
        if cfg.num_contexts is not None or self.intrinsic_key is not None:
            wrap = _ContextWrap(cfg.num_contexts, self.intrinsic_key)
        if cfg.vectorization == "lean":
            from sparsegym.agents.vector import make_lean_vec

            return make_lean_vec(self.env_id, cfg.num_envs, wrap=wrap, **cfg.env_kwargs)
        if cfg.vectorization not in ("sync", "async"):
            raise ConfigError(f"vectorization must be 'lean', 'sync' or 'async', got {cfg.vectorization!r}")
        return gymnasium.make_vec(self.env_id, num_envs=cfg.num_envs, vectorization_mode=cfg.vectorization,
                                  vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
                                  wrappers=None if wrap is None else [wrap], **cfg.env_kwargs)

    def _minibatches(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Indices into the flattened (time-major) rollout. A recurrent policy needs whole sequences,
        so its minibatches are sets of envs, each with all its steps in time order."""
        cfg = self.config
        if not cfg.recurrent:
            order = rng.permutation(cfg.batch_size)
            return [order[i:i + cfg.minibatch_size] for i in range(0, cfg.batch_size, cfg.minibatch_size)]
        envs = rng.permutation(cfg.num_envs)
        per = cfg.num_envs // cfg.num_minibatches
        steps = np.arange(cfg.num_steps)[:, None] * cfg.num_envs
        return [(steps + envs[i:i + per][None, :]).reshape(-1) for i in range(0, per * cfg.num_minibatches, per)]

    def _update(self, buf: RolloutBuffer, advantages: np.ndarray, returns: np.ndarray, int_returns: np.ndarray,
                start_state: Any = None) -> dict[str, float]:
        """``update_epochs`` passes of clipped PPO over the rollout, in minibatches."""
        cfg, dev = self.config, self.device
        obs = buf.obs_tensor(dev)
        actions, logprobs, dones, values, int_values, advantages, returns, int_returns = (
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64 if x is buf.actions else np.float32)).to(dev)
            for x in (buf.actions, buf.logprobs, buf.dones, buf.values, buf.int_values, advantages, returns,
                      int_returns))
        B = cfg.batch_size
        flat = lambda x: x.reshape(B, *x.shape[2:])  # noqa: E731
        b_obs = {k: flat(v) for k, v in obs.items()} if isinstance(obs, dict) else flat(obs)
        if self.policy.flat_space is not None:  # flatten/one-hot the whole rollout once, not per minibatch
            b_obs = self.policy.flat_input(b_obs)
        b_actions, b_logprobs, b_adv = flat(actions), flat(logprobs), flat(advantages)
        b_returns, b_values = flat(returns), flat(values)
        b_int_returns, b_int_values = flat(int_returns), flat(int_values)
        clipfracs, pg_losses, v_losses, entropies, approx_kls, bc_losses = [], [], [], [], [], []
        rng = np.random.default_rng(cfg.seed + self.global_step)
        for _ in range(cfg.update_epochs):
            for indices in self._minibatches(rng):
                mb = torch.as_tensor(indices, device=self.device)
                if start_state is None:
                    _, newlogprob, entropy, newvalue, new_int_value, _ = self.policy(_index_obs(b_obs, mb), b_actions[mb])
                else:
                    envs = torch.as_tensor(indices[: len(indices) // cfg.num_steps] % cfg.num_envs, device=self.device)
                    state = (start_state[0][:, envs], start_state[1][:, envs])
                    (_, newlogprob, entropy, newvalue, new_int_value, _), _ = self.policy.forward_sequence(
                        _index_obs(b_obs, mb), state, dones[:, envs], b_actions[mb])
                logratio = newlogprob - b_logprobs[mb]
                ratio = logratio.exp()
                with torch.no_grad():
                    approx_kls.append(((ratio - 1) - logratio).mean().item())
                    clipfracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item())
                mb_adv = b_adv[mb]
                if cfg.norm_adv and len(mb) > 1:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = ppo_policy_loss(mb_adv, ratio, cfg.clip_coef)
                v_loss = ppo_value_loss(newvalue, b_values[mb], b_returns[mb], cfg.clip_coef if cfg.clip_vloss else None)
                if self.intrinsic is not None and self.intrinsic_recipe == "two_heads":
                    v_loss = v_loss + ppo_value_loss(new_int_value, b_int_values[mb], b_int_returns[mb], None)
                ent = entropy.mean()
                loss = pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
                if self.demos is not None and cfg.bc_coef > 0:
                    from sparsegym.agents.imitation import bc_loss

                    demo_obs, demo_actions = self.demos.sample(len(mb))
                    imitation = bc_loss(self.policy, demo_obs, demo_actions)
                    loss = loss + cfg.bc_coef * imitation
                    bc_losses.append(imitation.item())
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                pg_losses.append(pg_loss.item())
                v_losses.append(v_loss.item())
                entropies.append(ent.item())
        stats = {"policy_loss": float(np.mean(pg_losses)), "value_loss": float(np.mean(v_losses)),
                 "entropy": float(np.mean(entropies)), "approx_kl": float(np.mean(approx_kls)),
                 "clipfrac": float(np.mean(clipfracs)), "learning_rate": self.optimizer.param_groups[0]["lr"]}
        if bc_losses:
            stats["bc_loss"] = float(np.mean(bc_losses))
        return stats

    # -- the agent protocol and persistence ---------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        self._generator = torch.Generator(device="cpu").manual_seed(0 if seed is None else int(seed))
        self._act_state = self.policy.initial_state(1, self.device)

    @torch.no_grad()
    def act(self, observation: Any, info: dict[str, Any] | None = None, deterministic: bool = False) -> int:
        batch = {k: np.asarray(v)[None] for k, v in observation.items()} if isinstance(observation, dict) \
            else np.asarray(observation, dtype=np.float32)[None]
        t_obs, dummy = _to_tensor_obs(batch, self.device), torch.zeros(1, dtype=torch.long, device=self.device)
        if self.policy.lstm is None:
            _, _, _, _, _, logits = self.policy(t_obs, dummy)
        else:
            if getattr(self, "_act_state", None) is None:
                self._act_state = self.policy.initial_state(1, self.device)
            (_, _, _, _, _, logits), self._act_state = self.policy.forward_sequence(
                t_obs, self._act_state, torch.zeros(1, 1, device=self.device), dummy)
        if deterministic:
            return int(logits.argmax(dim=-1).item())
        probs = torch.softmax(logits, dim=-1).cpu()
        return int(torch.multinomial(probs, 1, generator=self._generator).item())

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta = path / "config.json.tmp"
        meta.write_text(json.dumps({"env_id": self.env_id, "config": asdict(self.config),
                                    "global_step": self.global_step}, indent=2))
        meta.replace(path / "config.json")
        state = {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.intrinsic is not None:
            state["intrinsic"] = self.intrinsic.state_dict()
        tmp = path / "model.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(path / "model.pt")
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None, env: Any = None, **_: Any) -> PPO:
        """Load a saved run folder. ``env`` is accepted (and ignored) so that ``PPO.load`` can be a
        leaderboard factory via ``sparsegym.agents:load_ppo``."""
        path = Path(path)
        meta = json.loads((path / "config.json").read_text())
        config = PPOConfig(**meta["config"])
        if device is not None:
            config.device = device
        agent = cls(meta["env_id"], config)
        state = torch.load(path / "model.pt", map_location=agent.device, weights_only=False)
        agent.policy.load_state_dict(state["policy"])
        agent.optimizer.load_state_dict(state["optimizer"])
        if agent.intrinsic is not None and "intrinsic" in state:
            agent.intrinsic.load_state_dict(state["intrinsic"])
        agent.global_step = meta.get("global_step", 0)
        return agent


class _ContextWrap:
    """A picklable env wrapper factory: a seed pool of ``k`` contexts and/or a state key in the infos."""

    def __init__(self, k: int | None, key: str | None):
        self.k, self.key = k, key

    def __call__(self, env: gymnasium.Env) -> gymnasium.Env:
        from sparsegym.wrappers.contexts import SeedPool, StateKeyInfo

        if self.key is not None:
            env = StateKeyInfo(env, self.key)
        return SeedPool(env, self.k) if self.k is not None else env


def ppo_policy_loss(advantages: Any, ratio: Any, clip_coef: float) -> Any:
    """Clipped surrogate: ``mean(max(-A * r, -A * clip(r, 1 - c, 1 + c)))``."""
    return torch.max(-advantages * ratio, -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)).mean()


def ppo_value_loss(new_value: Any, old_value: Any, returns: Any, clip_coef: float | None) -> Any:
    """``0.5 * mean((V - R)^2)``, or with clipping ``0.5 * mean(max((V - R)^2, (V_clip - R)^2))``."""
    unclipped = (new_value - returns).pow(2)
    if clip_coef is None:
        return 0.5 * unclipped.mean()
    clipped = old_value + torch.clamp(new_value - old_value, -clip_coef, clip_coef)
    return 0.5 * torch.max(unclipped, (clipped - returns).pow(2)).mean()


def load_ppo(env: Any = None, path: str | None = None, **kwargs: Any) -> PPO:
    """Leaderboard factory of a saved PPO run: ``sparsegym evaluate --agent sparsegym.agents:load_ppo
    --agent-kwargs '{"path": "runs/ppo"}'`` (the run identity hashes the files under ``path``)."""
    if path is None:
        raise ConfigError("load_ppo needs the saved run's folder: --agent-kwargs '{\"path\": \"runs/ppo\"}'")
    return PPO.load(path, env=env, **kwargs)
