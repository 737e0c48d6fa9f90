"""Proximal Policy Optimization (Schulman et al., 2017) for sparsegym's vector envs, with optional
intrinsic rewards (a separate intrinsic value head and return, as in Burda et al.'s RND paper).

Written to be read top to bottom in the spirit of CleanRL's ``ppo.py``, but usable as a library::

    from sparsegym.agents import PPO, PPOConfig
    agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", PPOConfig(intrinsic="rnd"))
    agent.learn(100_000)
    agent.save("runs/doorkey")
    action = agent.act(observation, info)         # the leaderboard agent protocol

Choices worth knowing:

* the vector env runs in Gymnasium's ``SAME_STEP`` autoreset mode, so each rollout step's next
  observation is the reset observation after an episode ends (CleanRL's convention); truncation is
  treated as termination, as CleanRL does;
* the intrinsic reward of a transition that ends an episode is computed on its real final observation
  (``infos["final_obs"]``), and intrinsic returns are non-episodic (episode ends do not cut them), as
  in the RND paper, unless the module asks otherwise (``episodic_returns``: E3B); modules that ask for
  it (``normalize_returns``) are divided by a running std of intrinsic returns;
* advantages are ``ext_coef * A_ext + int_coef * A_int``, normalised per minibatch.
"""

from __future__ import annotations

import contextlib
import csv
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym.agents.advantages import gae
from sparsegym.agents.networks import ActorCritic, NumpyRolloutPolicy, torch
from sparsegym.intrinsic.base import pick_device
from sparsegym.wrappers.intrinsic import ReturnNormalizer
from sparsegym.wrappers.vector.intrinsic import flatten_batch


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
    encoder: str = "auto"  # auto (MiniGrid CNN / NetHack glyph encoder by observation, else MLP), minigrid, nethack or flat
    recurrent: bool = False  # an LSTM core after the encoder; minibatches then hold whole env sequences
    intrinsic: str | None = None  # name from sparsegym.intrinsic (rnd, icm, e3b, noveld, rdd, hindsight, counts, ...)
    int_coef: float = 1.0  # weight of intrinsic advantages (RND paper: 1)
    ext_coef: float = 2.0  # weight of extrinsic advantages when an intrinsic reward is on (RND paper: 2)
    int_gamma: float = 0.99  # discount of intrinsic returns
    demos: str | None = None  # demonstration file (.npz) for concurrent imitation (see sparsegym.agents.imitation)
    bc_coef: float = 0.0  # weight of the behaviour-cloning loss on demos, added to each PPO minibatch
    numpy_rollout: bool = True  # on CPU, a flat-MLP policy samples rollout actions from a numpy copy of itself (same function, ~4x cheaper per step)
    vectorization: str = "lean"  # lean (sparsegym.agents.vector: in-process, infos trimmed to success), or Gymnasium's sync or async
    seed: int = 0  # seeds the envs, torch and the action sampler
    device: str | None = None  # torch device; default CUDA when available, else CPU
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # keyword arguments for gymnasium.make

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


def _to_tensor_obs(obs: Any, device: Any) -> Any:
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}
    return torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device)


def _index_obs(obs: Any, idx: Any) -> Any:
    return {k: v[idx] for k, v in obs.items()} if isinstance(obs, dict) else obs[idx]


class PPO:
    """PPO with optional intrinsic rewards; also a leaderboard agent (``reset``/``act``)."""

    def __init__(self, env: str | gymnasium.Env, config: PPOConfig | None = None, **overrides: Any):
        self.config = config or PPOConfig()
        for k, v in overrides.items():
            if not hasattr(self.config, k):
                raise ValueError(f"unknown PPO option {k!r}; see PPOConfig")
            setattr(self.config, k, v)
        cfg = self.config
        self.device = pick_device(cfg.device)
        torch.manual_seed(cfg.seed)
        if isinstance(env, str):
            import sparsegym  # noqa: F401  (registers the ids)

            self.env_id: str | None = env
            probe = gymnasium.make(env, **cfg.env_kwargs)
        else:
            self.env_id = env.spec.id if env.spec is not None else None
            probe = env
        self.observation_space, self.action_space = probe.observation_space, probe.action_space
        if not isinstance(self.action_space, gymnasium.spaces.Discrete):
            raise ValueError(f"PPO here needs a Discrete action space, got {self.action_space}")
        self.n_actions = int(self.action_space.n)
        self.policy = ActorCritic(self.observation_space, self.n_actions, cfg.hidden,
                                  intrinsic=cfg.intrinsic is not None, encoder=cfg.encoder, recurrent=cfg.recurrent)
        if cfg.recurrent and cfg.num_envs < cfg.num_minibatches:
            raise ValueError(f"a recurrent PPO splits minibatches by env: num_envs ({cfg.num_envs}) must be at least "
                             f"num_minibatches ({cfg.num_minibatches})")
        self.policy.to(self.device)
        # foreach: one grouped kernel per Adam step instead of one per parameter (same values, tested on CPU).
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.learning_rate, eps=1e-5, foreach=True)
        self.intrinsic = None
        if cfg.intrinsic is not None:
            from sparsegym.intrinsic import make_intrinsic

            self.intrinsic = make_intrinsic(cfg.intrinsic, gymnasium.spaces.flatdim(self.observation_space),
                                            self.n_actions, device=str(self.device), seed=cfg.seed)
        self.demos = None
        if cfg.demos is not None:
            from sparsegym.agents.imitation import DemoSampler

            self.demos = DemoSampler(cfg.demos, self.observation_space, self.device, cfg.seed)
        self.global_step = 0
        self._generator = torch.Generator(device="cpu").manual_seed(cfg.seed)

    # -- training ---------------------------------------------------------------------------------

    def _make_vec(self) -> gymnasium.vector.VectorEnv:
        if self.env_id is None:
            raise ValueError("learn() needs an env id (PPO('sparsegym/...')) to build its vector env")
        if self.config.vectorization == "lean":
            from sparsegym.agents.vector import make_lean_vec

            return make_lean_vec(self.env_id, self.config.num_envs, **self.config.env_kwargs)
        if self.config.vectorization not in ("sync", "async"):
            raise ValueError(f"vectorization must be 'lean', 'sync' or 'async', got {self.config.vectorization!r}")
        return gymnasium.make_vec(self.env_id, num_envs=self.config.num_envs,
                                  vectorization_mode=self.config.vectorization,
                                  vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP},
                                  **self.config.env_kwargs)

    def learn(self, total_steps: int, callback: Callable[[dict[str, float]], Any] | None = None,
              log_dir: str | Path | None = None, progress: bool = True,
              checkpoint_every: int | None = None) -> list[dict[str, float]]:
        """Train for ``total_steps`` env frames. Each rollout's statistics go to ``callback`` (return
        False from it to stop early), to ``log_dir/progress.csv`` and, when the ``tensorboard`` package is
        installed, to TensorBoard event files in ``log_dir``; they are also returned. With ``log_dir``
        and ``checkpoint_every``, the agent is saved to ``log_dir/checkpoints/<frames>`` that often."""
        cfg, dev = self.config, self.device
        envs = self._make_vec()
        single = envs.single_observation_space
        T, N = cfg.num_steps, cfg.num_envs
        num_updates = max(1, total_steps // cfg.batch_size)

        # Rollout buffers live in numpy while stepping (a numpy row write costs a fraction of a torch
        # index assignment, and there are several per step) and go to the device once per rollout.
        np_actions = np.zeros((T, N), dtype=np.int64)
        np_logprobs, np_rewards, np_int_rewards, np_dones, np_values, np_int_values = (
            np.zeros((T, N), dtype=np.float32) for _ in range(6))
        int_norm = ReturnNormalizer(N, cfg.int_gamma) if (self.intrinsic and self.intrinsic.normalize_returns) else None

        obs, _ = envs.reset(seed=[cfg.seed + i for i in range(N)])
        next_done = np.zeros(N, dtype=np.float32)
        lstm_state = self.policy.initial_state(N, dev)
        flat_obs = flatten_batch(single, obs, N) if self.intrinsic else None
        fast = None
        if cfg.numpy_rollout and self.device.type == "cpu" and NumpyRolloutPolicy.supports(self.policy):
            fast = NumpyRolloutPolicy(self.policy, seed=cfg.seed + self.global_step)
        recent_returns, recent_success = deque(maxlen=100), deque(maxlen=100)
        ep_returns, ep_lengths = np.zeros(N), np.zeros(N, dtype=int)
        history: list[dict[str, float]] = []
        writer = None
        tensorboard = None
        next_checkpoint = checkpoint_every
        if log_dir is not None:
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            log_file = open(Path(log_dir) / "progress.csv", "w", newline="")  # noqa: SIM115
            try:
                from torch.utils.tensorboard import SummaryWriter

                tensorboard = SummaryWriter(str(log_dir))
            except ImportError:  # the tensorboard package is optional
                tensorboard = None
        bar = None
        if progress:
            try:
                from tqdm import tqdm

                bar = tqdm(total=num_updates * cfg.batch_size, unit="frame", dynamic_ncols=True, desc="PPO")
            except ImportError:
                bar = None
        scope = contextlib.ExitStack()
        if fast is not None:
            # numpy's BLAS would start its own threads for the rollout's small products and fight
            # torch's threads for the cores (at width 256 that halves training speed); one is enough.
            try:
                from threadpoolctl import threadpool_limits

                scope.enter_context(threadpool_limits(limits=1, user_api="blas"))
            except ImportError:  # optional: only speed depends on it
                pass
        start = time.perf_counter()
        try:
            for update in range(1, num_updates + 1):
                if cfg.anneal_lr:
                    self.optimizer.param_groups[0]["lr"] = cfg.learning_rate * (1.0 - (update - 1.0) / num_updates)
                rollout_obs, rollout_flat, rollout_next_flat = [], [], []
                start_state = None if lstm_state is None else (lstm_state[0].clone(), lstm_state[1].clone())
                for step in range(T):
                    self.global_step += N
                    rollout_obs.append(obs)
                    np_dones[step] = next_done
                    if fast is not None:
                        a, np_logprobs[step], np_values[step], np_int_values[step] = fast(obs)
                    else:
                        t_obs = _to_tensor_obs(obs, dev)
                        if lstm_state is None:
                            with torch.inference_mode():
                                action, logprob, _, value, int_value, _ = self.policy(t_obs, entropy=False)
                        else:  # the LSTM state is reused by the update, so no inference-mode tensors here
                            with torch.no_grad():
                                (action, logprob, _, value, int_value, _), lstm_state = self.policy.forward_sequence(
                                    t_obs, lstm_state, torch.as_tensor(next_done, device=dev)[None], entropy=False)
                        a = action.cpu().numpy()
                        np_logprobs[step] = logprob.cpu().numpy()
                        np_values[step], np_int_values[step] = value.cpu().numpy(), int_value.cpu().numpy()
                    np_actions[step] = a
                    obs_next, reward, term, trunc, infos = envs.step(a)
                    done = np.logical_or(term, trunc)
                    np_rewards[step] = reward
                    if self.intrinsic is not None:
                        real_next = flatten_batch(single, obs_next, N)
                        if "final_obs" in infos and done.any():
                            for i in np.flatnonzero(done):
                                real_next[i] = gymnasium.spaces.flatten(single, infos["final_obs"][i])
                        batch = {"obs": flat_obs, "next_obs": real_next, "action": a, "env_ids": np.arange(N)}
                        bonus = np.asarray(self.intrinsic.compute(batch), dtype=np.float64)
                        if int_norm is not None:
                            bonus = int_norm(bonus)
                        np_int_rewards[step] = bonus
                        rollout_flat.append(flat_obs)
                        rollout_next_flat.append(real_next)
                        if done.any():
                            self.intrinsic.reset(np.flatnonzero(done))
                        flat_obs = flatten_batch(single, obs_next, N)
                    ep_returns += reward
                    ep_lengths += 1
                    for i in np.flatnonzero(done):
                        success = self._final_success(infos, i)
                        recent_returns.append(ep_returns[i])
                        recent_success.append(success)
                        ep_returns[i], ep_lengths[i] = 0.0, 0
                    obs = obs_next
                    next_done = done.astype(np.float32)

                obs_buf = {k: torch.as_tensor(np.stack([o[k] for o in rollout_obs]), device=dev)
                           for k in rollout_obs[0]} if isinstance(rollout_obs[0], dict) else \
                    torch.as_tensor(np.stack(rollout_obs), dtype=torch.float32, device=dev)
                with torch.no_grad():
                    if lstm_state is None:
                        _, _, _, next_value, next_int_value, _ = self.policy(_to_tensor_obs(obs, dev), entropy=False)
                    else:
                        (_, _, _, next_value, next_int_value, _), _ = self.policy.forward_sequence(
                            _to_tensor_obs(obs, dev), lstm_state, torch.from_numpy(next_done).to(dev)[None],
                            entropy=False)
                # GAE runs over T small rows: numpy does each row's arithmetic for a fraction of torch's dispatch.
                np_adv, np_returns = gae(np_rewards, np_values, np_dones, next_value.cpu().numpy(), next_done,
                                         cfg.gamma, cfg.gae_lambda)
                np_int_returns = np.zeros_like(np_returns)
                if self.intrinsic is not None:
                    if self.intrinsic.episodic_returns:  # E3B: intrinsic returns end with the episode
                        int_dones, int_last_done = np_dones, next_done
                    else:  # RND's recipe: intrinsic returns ignore episode ends
                        int_dones = np.zeros_like(np_dones)
                        int_last_done = int_dones[0]
                    int_adv, np_int_returns = gae(np_int_rewards, np_int_values, int_dones,
                                                  next_int_value.cpu().numpy(), int_last_done, cfg.int_gamma,
                                                  cfg.gae_lambda)
                    np_adv = cfg.ext_coef * np_adv + cfg.int_coef * int_adv
                actions, logprobs, dones, values, int_values, advantages, returns, int_returns = (
                    torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64 if x is np_actions else np.float32)).to(dev)
                    for x in (np_actions, np_logprobs, np_dones, np_values, np_int_values, np_adv, np_returns,
                              np_int_returns))

                stats = self._update(obs_buf, actions, logprobs, advantages, returns, values, int_returns, int_values,
                                     dones, start_state)
                if fast is not None:
                    fast.sync()
                if self.intrinsic is not None:
                    stats.update(self.intrinsic.update({"obs": np.concatenate(rollout_flat),
                                                        "next_obs": np.concatenate(rollout_next_flat),
                                                        "action": np_actions.reshape(-1)}))
                    stats["intrinsic_reward"] = float(np_int_rewards.mean())
                elapsed = time.perf_counter() - start
                stats.update(frames=self.global_step, fps=self.global_step / elapsed if elapsed else 0.0,
                             episode_return=float(np.mean(recent_returns)) if recent_returns else float("nan"),
                             success_rate=float(np.mean(recent_success)) if recent_success else float("nan"),
                             episodes=len(recent_success))
                history.append(stats)
                if log_dir is not None:
                    if writer is None:
                        writer = csv.DictWriter(log_file, fieldnames=list(stats))
                        writer.writeheader()
                    writer.writerow({k: stats.get(k) for k in writer.fieldnames})
                    log_file.flush()
                    if tensorboard is not None:
                        for k, v in stats.items():
                            if isinstance(v, float) and not np.isnan(v):
                                tensorboard.add_scalar(k, v, self.global_step)
                    if next_checkpoint is not None and self.global_step >= next_checkpoint:
                        self.save(Path(log_dir) / "checkpoints" / str(self.global_step))
                        next_checkpoint += checkpoint_every
                if bar is not None:
                    bar.update(cfg.batch_size)
                    bar.set_postfix(fps=f"{stats['fps']:.0f}", success=f"{stats['success_rate']:.2f}",
                                    ret=f"{stats['episode_return']:.2f}", refresh=False)
                if callback is not None and callback(stats) is False:
                    break
        finally:
            scope.close()
            envs.close()
            if bar is not None:
                bar.close()
            if log_dir is not None:
                log_file.close()
            if tensorboard is not None:
                tensorboard.close()
        return history

    @staticmethod
    def _final_success(infos: dict[str, Any], i: int) -> bool:
        final = infos.get("final_info")
        if isinstance(final, dict) and "success" in final:
            return bool(final["success"][i])
        if "success" in infos:
            return bool(infos["success"][i])
        return False

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

    def _update(self, obs: Any, actions: Any, logprobs: Any, advantages: Any, returns: Any, values: Any,
                int_returns: Any, int_values: Any, dones: Any = None, start_state: Any = None) -> dict[str, float]:
        cfg = self.config
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
                if self.intrinsic is not None:
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
        (path / "config.json").write_text(json.dumps({"env_id": self.env_id, "config": asdict(self.config),
                                                      "global_step": self.global_step}, indent=2))
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
