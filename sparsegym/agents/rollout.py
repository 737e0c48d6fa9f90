"""Rollout pieces of the on-policy trainers: the buffer a rollout fills, the actors that choose its
actions, and the episode statistics it reports.

Buffers live in numpy while stepping (a numpy row write costs a fraction of a torch index
assignment, and there are several per step) and go to the device once per rollout.

Actors have one interface, ``actor(obs, next_done) -> (actions, logprobs, values, int_values)`` as
numpy arrays, so the rollout loop is the same for every policy:

* :class:`NumpyActor`: a flat-MLP policy sampled from a numpy copy of itself
  (:class:`~sparsegym.agents.networks.NumpyRolloutPolicy`), the CPU fast path;
* :class:`TorchActor`: the torch policy, feed-forward or with its LSTM state carried from step to
  step (cleared where ``next_done`` marks an episode start).
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import numpy as np

from sparsegym.agents.networks import ActorCritic, NumpyRolloutPolicy, torch


def _to_tensor_obs(obs: Any, device: Any) -> Any:
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v), device=device) for k, v in obs.items()}
    return torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device)


class RolloutBuffer:
    """``(T, N)`` arrays of one rollout, time-major (``dones[t]``: ``obs[t]`` starts an episode)."""

    def __init__(self, num_steps: int, num_envs: int):
        shape = (num_steps, num_envs)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.logprobs, self.rewards, self.int_rewards, self.dones, self.values, self.int_values = (
            np.zeros(shape, dtype=np.float32) for _ in range(6))
        self.obs: list[Any] = []

    def obs_tensor(self, device: Any) -> Any:
        """The rollout's observations stacked to ``(T, N, ...)`` on ``device`` (a dict for Dict spaces)."""
        if isinstance(self.obs[0], dict):
            return {k: torch.as_tensor(np.stack([o[k] for o in self.obs]), device=device) for k in self.obs[0]}
        return torch.as_tensor(np.stack(self.obs), dtype=torch.float32, device=device)


class EpisodeStats:
    """Returns and successes of the last ``window`` finished episodes, over a vector env."""

    def __init__(self, num_envs: int, window: int = 100):
        self.returns, self.successes = deque(maxlen=window), deque(maxlen=window)
        self._running = np.zeros(num_envs)

    def step(self, rewards: np.ndarray, done: np.ndarray, infos: dict[str, Any]) -> None:
        self._running += rewards
        for i in np.flatnonzero(done):
            self.returns.append(self._running[i])
            self.successes.append(final_success(infos, i))
            self._running[i] = 0.0

    def summary(self) -> dict[str, float]:
        return {"episode_return": float(np.mean(self.returns)) if self.returns else float("nan"),
                "success_rate": float(np.mean(self.successes)) if self.successes else float("nan"),
                "episodes": len(self.successes)}


def final_success(infos: dict[str, Any], i: int) -> bool:
    """Whether env ``i``'s episode that just ended was a success (``final_info`` of a SAME_STEP vector
    env, else the step's own ``success``)."""
    final = infos.get("final_info")
    if isinstance(final, dict) and "success" in final:
        return bool(final["success"][i])
    if "success" in infos:
        return bool(infos["success"][i])
    return False


class NumpyActor:
    """The CPU fast path: actions from a numpy copy of a flat-MLP policy (re-synced after updates);
    bootstrap values from the torch policy (the same function)."""

    def __init__(self, policy: ActorCritic, device: Any, seed: int):
        self.policy, self.device = policy, device
        self.copy = NumpyRolloutPolicy(policy, seed=seed)

    def __call__(self, obs: Any, next_done: np.ndarray) -> tuple[np.ndarray, ...]:
        return self.copy(obs)

    def start_state(self) -> None:
        return None

    @torch.no_grad()
    def bootstrap(self, obs: Any, next_done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t_obs = _to_tensor_obs(obs, self.device)
        dummy = torch.zeros(len(next_done), dtype=torch.long, device=self.device)  # values only: no sampling
        _, _, _, value, int_value, _ = self.policy(t_obs, dummy, entropy=False)
        return value.cpu().numpy(), int_value.cpu().numpy()

    def sync(self) -> None:
        self.copy.sync()

    @staticmethod
    def blas_scope() -> contextlib.AbstractContextManager:
        """numpy's BLAS would start its own threads for the rollout's small products and fight torch's
        threads for the cores (at width 256 that halves training speed); one is enough."""
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional: only speed depends on it
            return contextlib.nullcontext()
        return threadpool_limits(limits=1, user_api="blas")


class TorchActor:
    """The torch policy, sampling with its own generator; with an LSTM core, the recurrent state is
    carried across steps and rollouts (and the state at a rollout's start is kept for the update)."""

    def __init__(self, policy: ActorCritic, device: Any, num_envs: int, seed: int):
        self.policy, self.device = policy, device
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.state = policy.initial_state(num_envs, device)

    def __call__(self, obs: Any, next_done: np.ndarray) -> tuple[np.ndarray, ...]:
        t_obs = _to_tensor_obs(obs, self.device)
        if self.state is None:
            with torch.inference_mode():
                action, logprob, _, value, int_value, _ = self.policy(t_obs, generator=self.generator, entropy=False)
        else:  # the LSTM state is reused by the update, so no inference-mode tensors here
            with torch.no_grad():
                (action, logprob, _, value, int_value, _), self.state = self.policy.forward_sequence(
                    t_obs, self.state, torch.as_tensor(next_done, device=self.device)[None], generator=self.generator,
                    entropy=False)
        return action.cpu().numpy(), logprob.cpu().numpy(), value.cpu().numpy(), int_value.cpu().numpy()

    def start_state(self) -> Any:
        """A copy of the recurrent state (None without an LSTM)."""
        return None if self.state is None else (self.state[0].clone(), self.state[1].clone())

    @torch.no_grad()
    def bootstrap(self, obs: Any, next_done: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t_obs = _to_tensor_obs(obs, self.device)
        dummy = torch.zeros(len(next_done), dtype=torch.long, device=self.device)  # values only: no sampling
        if self.state is None:
            _, _, _, value, int_value, _ = self.policy(t_obs, dummy, entropy=False)
        else:
            (_, _, _, value, int_value, _), _ = self.policy.forward_sequence(
                t_obs, self.state, torch.as_tensor(next_done, device=self.device)[None], dummy, entropy=False)
        return value.cpu().numpy(), int_value.cpu().numpy()

    def sync(self) -> None:
        return None

    @staticmethod
    def blas_scope() -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()
