"""A lean synchronous vector env for the trainers: Gymnasium's ``SyncVectorEnv`` semantics in
``SAME_STEP`` autoreset mode, minus the per-step info merging.

Gymnasium's ``SyncVectorEnv`` merges every key of every env's info dict into batched arrays on every
step (recursively, so sparsegym's nested ``reward_components`` and the ``mission`` string each cost a
few object arrays). A trainer reads one key of it: whether an episode that just ended was a success.
On MiniGrid that merging costs about a quarter of what the env step itself costs
(``benchmarks/ppo_throughput.py`` measures the trainer with either vectorizer).

:class:`LeanSyncVectorEnv` steps the same envs in the same order with the same autoreset rule (an env
whose episode ends is reset within the same ``step``; the returned observation is the reset one) and
returns batched observations, rewards, terminations and truncations exactly as ``SyncVectorEnv``
does. Its infos hold only what the trainers read, in ``SyncVectorEnv``'s layout:

* ``success`` / ``_success``: each env's ``info["success"]`` (False where the env does not report it);
* when an episode ends: ``final_obs`` / ``_final_obs`` (an object array, None where no episode ended)
  and ``final_info`` with that episode's last ``success``;
* ``state_key`` (and in ``final_info``), when the envs report one
  (:class:`sparsegym.wrappers.StateKeyInfo`; what intrinsic count modules read).

Pass ``PPOConfig(vectorization="sync")`` for Gymnasium's own vectorizer with full infos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from sparsegym.errors import ConfigError


class LeanSyncVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` envs stepped one after another in this process (see the module docstring)."""

    metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}

    def __init__(self, env_fns: Sequence[Callable[[], gymnasium.Env]]):
        if not env_fns:
            raise ConfigError("LeanSyncVectorEnv needs at least one env constructor")
        self.envs = [fn() for fn in env_fns]
        self.num_envs = len(self.envs)
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        for i, env in enumerate(self.envs[1:], 1):
            if env.observation_space != first.observation_space or env.action_space != first.action_space:
                raise ConfigError(f"env {i} has different spaces from env 0; a vector env needs identical spaces")
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.spec = first.spec
        self.render_mode = first.render_mode
        space = self.single_observation_space
        # Dict-of-array and array spaces are written key by key; anything else goes through Gymnasium.
        if isinstance(space, gymnasium.spaces.Dict) and all(
                isinstance(s, (gymnasium.spaces.Box, gymnasium.spaces.Discrete, gymnasium.spaces.MultiBinary,
                               gymnasium.spaces.MultiDiscrete)) for s in space.spaces.values()):
            self._layout = {k: (s.shape, s.dtype) for k, s in space.spaces.items()}
        elif isinstance(space, (gymnasium.spaces.Box, gymnasium.spaces.Discrete, gymnasium.spaces.MultiBinary,
                                gymnasium.spaces.MultiDiscrete)):
            self._layout = (space.shape, space.dtype)
        else:
            self._layout = None

    def _batch(self, observations: list[Any]) -> Any:
        n, layout = self.num_envs, self._layout
        if isinstance(layout, dict):
            out = {}
            for key, (shape, dtype) in layout.items():
                arr = np.empty((n, *shape), dtype=dtype)
                for i, o in enumerate(observations):
                    arr[i] = o[key]
                out[key] = arr
            return out
        if layout is not None:
            arr = np.empty((n, *layout[0]), dtype=layout[1])
            for i, o in enumerate(observations):
                arr[i] = o
            return arr
        return concatenate(self.single_observation_space, observations,
                           create_empty_array(self.single_observation_space, n))

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None):
        if seed is None or isinstance(seed, int):
            seeds = [None] * self.num_envs if seed is None else [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ConfigError(f"reset got {len(seeds)} seeds for {self.num_envs} envs; pass one per env")
        observations, success = [], np.zeros(self.num_envs, dtype=bool)
        keys = None
        for i, (env, s) in enumerate(zip(self.envs, seeds)):
            obs, info = env.reset(seed=s, options=options)
            observations.append(obs)
            success[i] = bool(info.get("success", False))
            if "state_key" in info:
                keys = np.full(self.num_envs, None, dtype=object) if keys is None else keys
                keys[i] = info["state_key"]
        infos = {"success": success, "_success": np.ones(self.num_envs, dtype=bool)}
        if keys is not None:
            infos["state_key"], infos["_state_key"] = keys, np.ones(self.num_envs, dtype=bool)
        return self._batch(observations), infos

    def step(self, actions: Any):
        n = self.num_envs
        observations = []
        rewards = np.zeros(n, dtype=np.float64)
        terminations = np.zeros(n, dtype=bool)
        truncations = np.zeros(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        final_obs = final_success = keys = final_keys = None
        for i, env in enumerate(self.envs):
            obs, reward, terminated, truncated, info = env.step(actions[i])
            rewards[i], terminations[i], truncations[i] = reward, terminated, truncated
            won = bool(info.get("success", False))
            if terminated or truncated:
                if final_obs is None:
                    final_obs = np.full(n, None, dtype=object)
                    final_success = np.zeros(n, dtype=bool)
                final_obs[i], final_success[i] = obs, won
                if "state_key" in info:
                    final_keys = np.full(n, None, dtype=object) if final_keys is None else final_keys
                    final_keys[i] = info["state_key"]
                obs, info = env.reset()
                won = bool(info.get("success", False))
            if "state_key" in info:
                keys = np.full(n, None, dtype=object) if keys is None else keys
                keys[i] = info["state_key"]
            observations.append(obs)
            success[i] = won
        infos: dict[str, Any] = {"success": success, "_success": np.ones(n, dtype=bool)}
        if keys is not None:
            infos["state_key"], infos["_state_key"] = keys, np.ones(n, dtype=bool)
        if final_obs is not None:
            ended = terminations | truncations
            infos["final_obs"], infos["_final_obs"] = final_obs, ended
            infos["final_info"] = {"success": final_success, "_success": ended}
            if final_keys is not None:
                infos["final_info"]["state_key"] = final_keys
            infos["_final_info"] = ended
        return self._batch(observations), rewards, terminations, truncations, infos

    def close_extras(self, **kwargs: Any) -> None:
        for env in getattr(self, "envs", ()):  # also when __init__ failed half-way
            env.close()


def make_lean_vec(env_id: str, num_envs: int, wrap: Callable[[gymnasium.Env], gymnasium.Env] | None = None,
                  **env_kwargs: Any) -> LeanSyncVectorEnv:
    """``num_envs`` copies of ``gymnasium.make(env_id, **env_kwargs)`` (each passed through ``wrap``
    when given) in a :class:`LeanSyncVectorEnv`."""
    import sparsegym  # noqa: F401  (registers the ids)

    def make() -> gymnasium.Env:
        env = gymnasium.make(env_id, **env_kwargs)
        return env if wrap is None else wrap(env)

    return LeanSyncVectorEnv([make for _ in range(num_envs)])
