"""stable-baselines3 baselines on sparsegym ids (``pip install "sparsegym[sb3]"``).

Defaults follow the RL Zoo's MiniGrid settings for PPO (8 envs, 128 steps, 10 epochs, batch 64,
gae lambda 0.95, gamma 0.99, entropy 0.0, learning rate 2.5e-4) and SB3's own for A2C and DQN; SB3
reads sparsegym's Dict observations with ``MultiInputPolicy``. ``SB3Agent`` wraps a trained model in
the leaderboard agent protocol.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym._deps import require
from sparsegym.errors import ConfigError

ALGOS = ("ppo", "a2c", "dqn", "recurrent-ppo")
DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 128, "batch_size": 64, "n_epochs": 10, "gae_lambda": 0.95, "gamma": 0.99,
            "ent_coef": 0.0, "learning_rate": 2.5e-4, "clip_range": 0.2},
    "a2c": {},
    "dqn": {"buffer_size": 100_000, "learning_starts": 1_000, "exploration_fraction": 0.3},
    "recurrent-ppo": {"n_steps": 128, "batch_size": 128, "n_epochs": 10},
}


def _algo_class(algo: str) -> Any:
    if algo not in ALGOS:
        raise ConfigError(f"unknown SB3 algorithm {algo!r}; use one of {', '.join(ALGOS)}")
    if algo == "recurrent-ppo":
        return require("sb3_contrib", "sb3", "RecurrentPPO").RecurrentPPO
    sb3 = require("stable_baselines3", "sb3", "stable-baselines3 baselines")
    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algo]


def train_sb3(algo: str, env_id: str, total_steps: int, seed: int = 0, n_envs: int = 8, out: str | Path | None = None,
              device: str = "auto", progress: bool = False, **hyper: Any) -> tuple[Any, list[dict[str, float]]]:
    """Train an SB3 model on ``env_id``; log rollouts to ``out/progress.csv`` and save ``out/model.zip``."""
    import sparsegym  # noqa: F401

    cls = _algo_class(algo)
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    n = 1 if algo == "dqn" else n_envs
    venv = make_vec_env(lambda: gymnasium.make(env_id), n_envs=n, seed=seed)
    policy = "MultiInputLstmPolicy" if algo == "recurrent-ppo" else "MultiInputPolicy"
    if not isinstance(venv.observation_space, gymnasium.spaces.Dict):
        policy = policy.replace("MultiInput", "Mlp")
    model = cls(policy, venv, seed=seed, device=device, verbose=0, **{**DEFAULTS[algo], **hyper})
    history: list[dict[str, float]] = []

    class Log(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.successes: list[bool] = []
            self.returns: list[float] = []
            self.current = np.zeros(n)

        def _on_step(self) -> bool:
            self.current += self.locals["rewards"]
            for i, done in enumerate(self.locals["dones"]):
                if done:
                    self.successes.append(bool(self.locals["infos"][i].get("success", False)))
                    self.returns.append(float(self.current[i]))
                    self.current[i] = 0.0
            return True

        def _on_rollout_end(self) -> None:
            recent_s, recent_r = self.successes[-100:], self.returns[-100:]
            history.append({"frames": float(self.num_timesteps),
                            "success_rate": float(np.mean(recent_s)) if recent_s else float("nan"),
                            "episode_return": float(np.mean(recent_r)) if recent_r else float("nan")})

    model.learn(total_timesteps=total_steps, callback=Log(), progress_bar=progress)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        model.save(out / "model.zip")
        with open(out / "progress.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["frames", "success_rate", "episode_return"])
            writer.writeheader()
            writer.writerows(history)
    return model, history


class SB3Agent:
    """A saved SB3 model as a leaderboard agent: ``agent: sparsegym.baselines.sb3:SB3Agent`` with
    ``agent_kwargs: {path: runs/.../model.zip, algo: ppo}``."""

    def __init__(self, env: gymnasium.Env, path: str | Path, algo: str = "ppo", deterministic: bool = True):
        self.model = _algo_class(algo).load(str(path), device="cpu")
        self.deterministic = deterministic
        self._state = None

    def reset(self, seed: int | None = None) -> None:
        self._state = None
        if seed is not None:
            self.model.set_random_seed(int(seed))

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        action, self._state = self.model.predict(observation, state=self._state, deterministic=self.deterministic)
        return int(action)
