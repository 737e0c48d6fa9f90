"""PPO in one file, CleanRL style: the script is told nothing but an env id.

    python examples/cleanrl_style_ppo.py --env-id sparsegym:sparsegym/MiniGrid-DoorKey-5x5-Image-v0

``sparsegym:<id>`` is Gymnasium's ``module:id`` syntax: ``gymnasium.make`` imports ``sparsegym`` (which
registers its ids) and then makes the id, so this file never imports sparsegym itself, as a script
written for any Gymnasium env would not. Like CleanRL's ``ppo.py`` it sizes its network from
``envs.single_observation_space.shape`` and ``envs.single_action_space.n``. That is why sparsegym
registers Box-observation variants (``...-Image-v0`` for MiniGrid and BabyAI, ``...-Glyphs-v0`` for
NetHack and MiniHack): the plain ids observe a ``Dict`` (image and direction), whose ``shape`` is None,
and this script (like CleanRL's) then fails while building its network with
``TypeError: empty(): argument 'size' ...``. ``tests/test_cleanrl_style.py`` runs both cases.

Each PPO update prints one line; the last line reads
``done: global_step=... episodes=... mean_return=... success_rate=...`` over the episodes finished.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn


@dataclass
class Config:
    env_id: str = "sparsegym:sparsegym/MiniGrid-DoorKey-5x5-Image-v0"  # Gymnasium id ("module:id" imports module)
    total_timesteps: int = 50_000  # environment steps, summed over the vector's envs
    num_envs: int = 4  # envs stepped in lockstep (SyncVectorEnv)
    seed: int = 1  # seeds the envs (seed, seed+1, ...), numpy and torch
    num_steps: int = 128  # steps per env per rollout; a rollout is num_envs * num_steps transitions
    learning_rate: float = 2.5e-4  # Adam step size, annealed linearly to 0
    gamma: float = 0.99  # discount
    gae_lambda: float = 0.95  # GAE's bias/variance trade-off
    num_minibatches: int = 4  # minibatches per epoch
    update_epochs: int = 4  # passes over each rollout
    clip_coef: float = 0.2  # PPO's ratio clip
    ent_coef: float = 0.01  # entropy bonus weight
    vf_coef: float = 0.5  # value loss weight
    max_grad_norm: float = 0.5  # global gradient-norm clip
    hidden: int = 64  # width of the two hidden layers


def parse_args() -> Config:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env-id", default=Config.env_id)
    p.add_argument("--total-timesteps", type=int, default=Config.total_timesteps)
    p.add_argument("--num-envs", type=int, default=Config.num_envs)
    p.add_argument("--seed", type=int, default=Config.seed)
    a = p.parse_args()
    return Config(env_id=a.env_id, total_timesteps=a.total_timesteps, num_envs=a.num_envs, seed=a.seed)


def layer(n_in: int, n_out: int, gain: float = np.sqrt(2)) -> nn.Linear:
    lin = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(lin.weight, gain)
    nn.init.zeros_(lin.bias)
    return lin


class Agent(nn.Module):
    """Two small MLP heads over the flattened observation, scaled to [0, 1] by the Box's upper bound."""

    def __init__(self, envs: gym.vector.VectorEnv, hidden: int):
        super().__init__()
        space = envs.single_observation_space
        # As in CleanRL: the input size is the product of the observation's shape. A Dict space has
        # shape None, so nn.Linear fails right here on a Dict id.
        n_in = np.array(space.shape).prod()
        n_actions = envs.single_action_space.n
        self.critic = nn.Sequential(layer(n_in, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(), layer(hidden, 1, 1.0))
        self.actor = nn.Sequential(layer(n_in, hidden), nn.Tanh(), layer(hidden, hidden), nn.Tanh(),
                                   layer(hidden, n_actions, 0.01))
        high = np.broadcast_to(np.asarray(space.high, dtype=np.float32), space.shape).reshape(-1)
        self.register_buffer("scale", torch.as_tensor(1.0 / np.maximum(high, 1.0)))

    def _x(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.reshape(obs.shape[0], -1).float() * self.scale

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self._x(obs)).squeeze(-1)

    def act(self, obs: torch.Tensor, action: torch.Tensor | None = None):
        x = self._x(obs)
        dist = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(x).squeeze(-1)


def main() -> None:
    cfg = parse_args()
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    # Same-step autoreset: a step that ends an episode returns the next episode's first observation,
    # so every stored transition is a real one (the ended episode's info is in infos["final_info"]).
    envs = gym.make_vec(cfg.env_id, num_envs=cfg.num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP})
    assert isinstance(envs.single_action_space, gym.spaces.Discrete), "this PPO needs a discrete action space"
    agent = Agent(envs, cfg.hidden)
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=1e-5)

    n, e = cfg.num_steps, cfg.num_envs
    batch = n * e
    minibatch = batch // cfg.num_minibatches
    num_updates = max(1, cfg.total_timesteps // batch)
    obs_buf = torch.zeros((n, e, *envs.single_observation_space.shape))
    act_buf = torch.zeros((n, e), dtype=torch.long)
    logp_buf, rew_buf, done_buf, val_buf = (torch.zeros((n, e)) for _ in range(4))

    next_obs = torch.as_tensor(envs.reset(seed=cfg.seed)[0])
    next_done = torch.zeros(e)
    running = np.zeros(e)  # return of each env's current episode
    returns: list[float] = []  # returns of the finished episodes
    successes: list[bool] = []
    global_step, start = 0, time.time()

    for update in range(1, num_updates + 1):
        for g in optimizer.param_groups:
            g["lr"] = cfg.learning_rate * (1.0 - (update - 1) / num_updates)

        # -- rollout ---------------------------------------------------------------------------------
        for t in range(n):
            global_step += e
            obs_buf[t], done_buf[t] = next_obs, next_done
            with torch.no_grad():
                action, logp, _, value = agent.act(next_obs)
            act_buf[t], logp_buf[t], val_buf[t] = action, logp, value
            obs, reward, term, trunc, infos = envs.step(action.numpy())
            rew_buf[t] = torch.as_tensor(reward, dtype=torch.float32)
            ended = np.logical_or(term, trunc)
            running += reward
            for i in np.flatnonzero(ended):
                returns.append(float(running[i]))
                final = infos.get("final_info", {})
                successes.append(bool(final.get("success", np.zeros(e, bool))[i]))
                running[i] = 0.0
            # Truncation is treated as termination (no bootstrap from the final observation), as
            # CleanRL's ppo.py does.
            next_obs, next_done = torch.as_tensor(obs), torch.as_tensor(ended, dtype=torch.float32)

        # -- advantages (GAE) ------------------------------------------------------------------------
        with torch.no_grad():
            next_value = agent.value(next_obs)
            adv = torch.zeros((n, e))
            last = torch.zeros(e)
            for t in reversed(range(n)):
                not_done = 1.0 - (next_done if t == n - 1 else done_buf[t + 1])
                v_next = next_value if t == n - 1 else val_buf[t + 1]
                delta = rew_buf[t] + cfg.gamma * v_next * not_done - val_buf[t]
                last = delta + cfg.gamma * cfg.gae_lambda * not_done * last
                adv[t] = last
            ret = adv + val_buf

        # -- PPO update ------------------------------------------------------------------------------
        b_obs = obs_buf.reshape(batch, *envs.single_observation_space.shape)
        b_act, b_logp, b_adv, b_ret = act_buf.reshape(-1), logp_buf.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        for _ in range(cfg.update_epochs):
            for idx in torch.randperm(batch).split(minibatch):
                _, logp, entropy, value = agent.act(b_obs[idx], b_act[idx])
                log_ratio = logp - b_logp[idx]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                mb_adv = b_adv[idx]
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                pg_loss = torch.max(-mb_adv * ratio, -mb_adv * ratio.clamp(1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
                v_loss = 0.5 * ((value - b_ret[idx]) ** 2).mean()
                loss = pg_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
                optimizer.step()

        recent = returns[-20:]
        print(f"update {update}/{num_updates} global_step={global_step} sps={int(global_step / (time.time() - start))} "
              f"episodes={len(returns)} recent_return={np.mean(recent) if recent else float('nan'):.3f} "
              f"value_loss={v_loss.item():.4f} policy_loss={pg_loss.item():.4f} approx_kl={approx_kl.item():.4f}",
              flush=True)

    envs.close()
    mean_return = float(np.mean(returns)) if returns else float("nan")
    success_rate = float(np.mean(successes)) if successes else float("nan")
    print(f"done: global_step={global_step} episodes={len(returns)} mean_return={mean_return:.3f} "
          f"success_rate={success_rate:.2f}")


if __name__ == "__main__":
    main()
