"""Imitation from demonstrations, as in "Using Offline Data to Speed-up Reinforcement Learning in
Procedurally Generated Environments" (Andres, Schafer, Albrecht and Christianos, 2023): behaviour
cloning to pre-train a policy, and a behaviour-cloning loss added to PPO's while it trains
(``PPOConfig(demos=..., bc_coef=...)``).

Demonstrations are the ``.npz`` files of :func:`sparsegym.baselines.write_demonstrations` (the oracle)
or any file with the same arrays: ``observations`` (flattened, ``gymnasium.spaces.flatten`` layout),
``actions`` and ``episode_starts``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym.agents.networks import torch
from sparsegym.errors import ConfigError
from sparsegym.utils.spaces import unflatten_batch  # noqa: F401  (kept importable from here)


def load_demonstrations(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"demonstration file {str(path)!r} does not exist "
                                "(write one with sparsegym.baselines.write_demonstrations)")
    data = np.load(path)
    missing = [k for k in ("observations", "actions") if k not in data]
    if missing:
        raise ConfigError(f"{path} lacks the arrays {missing}; a demonstration file needs observations and actions")
    return {k: data[k] for k in data.files}


class DemoSampler:
    """Minibatches of (observation, action) from a demonstration file, on the agent's device."""

    def __init__(self, demos: dict[str, np.ndarray] | str | Path, space: gymnasium.Space, device: Any, seed: int = 0):
        demos = load_demonstrations(demos) if isinstance(demos, (str, Path)) else demos
        obs = unflatten_batch(space, np.asarray(demos["observations"], dtype=np.float32))
        self.obs = {k: torch.as_tensor(v, device=device) for k, v in obs.items()} if isinstance(obs, dict) \
            else torch.as_tensor(obs, device=device)
        self.actions = torch.as_tensor(np.asarray(demos["actions"]), dtype=torch.long, device=device)
        self.size = len(self.actions)
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> tuple[Any, Any]:
        idx = torch.as_tensor(self.rng.integers(0, self.size, size=n), device=self.actions.device)
        obs = {k: v[idx] for k, v in self.obs.items()} if isinstance(self.obs, dict) else self.obs[idx]
        return obs, self.actions[idx]


def bc_loss(policy: Any, obs: Any, actions: Any) -> Any:
    """Cross-entropy of the demonstrated actions under the policy."""
    _, logprob, _, _, _, _ = policy(obs, actions)
    return -logprob.mean()


def behaviour_cloning(agent: Any, demos: dict[str, np.ndarray] | str | Path, epochs: int = 20, batch_size: int = 256,
                      learning_rate: float = 1e-3) -> list[float]:
    """Pre-train ``agent.policy`` (a :class:`~sparsegym.agents.PPO`) to imitate ``demos``; returns the
    mean loss of each epoch."""
    sampler = DemoSampler(demos, agent.observation_space, agent.device, agent.config.seed)
    optimizer = torch.optim.Adam(agent.policy.parameters(), lr=learning_rate)
    losses = []
    steps = max(1, sampler.size // batch_size)
    for _ in range(epochs):
        epoch = []
        for _ in range(steps):
            obs, actions = sampler.sample(batch_size)
            loss = bc_loss(agent.policy, obs, actions)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch.append(loss.item())
        losses.append(float(np.mean(epoch)))
    return losses
