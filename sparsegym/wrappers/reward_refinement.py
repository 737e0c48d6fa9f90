"""Feedback rounds for LLM-written reward code: write, train, measure, revise (Eureka's outer loop).

Eureka (Ma et al. 2023, arXiv 2310.12931) trains with each round's reward function and shows the model
what happened ("reward reflection": success, and how each reward component behaved); Auto MC-Reward
(Li et al. 2023, arXiv 2312.09238) summarises the trajectories for its designer model in the same
spirit; Text2Reward (Xie et al. 2023, arXiv 2309.11489) improves its code from feedback on the agent.
:func:`refine_reward_code` runs that loop for ``rounds`` rounds on one env:

1. the model writes a version (the first from the task alone; later ones from the previous version,
   its statistics and a line for each earlier round), checked and optionally reviewed
   (:class:`~sparsegym.llm.reward_code.RewardCodeWriter`);
2. ``train_fn(make_env, round_index)`` trains an agent on envs wrapped with that version
   (:class:`~sparsegym.wrappers.llm_reward_code.LLMRewardCode`) and returns a policy;
3. :func:`measure_reward_code` plays ``episodes`` seeded episodes with it and records the task's success,
   lengths and return, the bonus per episode, how often each component fired and the code's errors;
4. the round is appended to the JSON history (:class:`~sparsegym.llm.reward_code.RefinementHistory`),
   written atomically, so a rerun with the same file skips finished rounds.

Every version is kept with what was measured of it; the result names the best (highest success rate,
then task return). The default ``train_fn`` trains nothing (a random policy measures the code), which
is cheap and tests the plumbing; pass a real trainer for Eureka's loop, e.g. a short PPO run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.llm.reward_code import RefinementHistory, RewardCodeWriter, RewardTask, RoundStats, client_for
from sparsegym.wrappers.llm_reward_code import LLMRewardCode

__all__ = ["RefinementResult", "measure_reward_code", "refine_reward_code"]

#: ``train_fn(make_env, round_index) -> policy``: a policy is an agent with ``act(observation, info)``
#: (and optionally ``reset(seed)``), a callable ``policy(observation, info) -> action``, or None (random).
TrainFn = Callable[[Callable[[], gymnasium.Env], int], Any]


@dataclass
class RefinementResult:
    """Every round's record (as in the history file) and the best one."""

    rounds: list[dict[str, Any]]
    best: dict[str, Any] | None
    path: Path | None

    @property
    def best_code(self) -> str | None:
        return None if self.best is None else self.best["code"]


def _find(env: gymnasium.Env) -> LLMRewardCode:
    inner: Any = env
    while isinstance(inner, gymnasium.Wrapper):
        if isinstance(inner, LLMRewardCode):
            return inner
        inner = inner.env
    raise ConfigError("make_env must return an env wrapped with LLMRewardCode (at any depth)")


def _acting(policy: Any, env: gymnasium.Env, rng: np.random.Generator) -> Callable[[Any, dict[str, Any]], Any]:
    if policy is None:
        space = env.action_space
        if isinstance(space, gymnasium.spaces.Discrete):
            return lambda obs, info: int(space.start + rng.integers(space.n))
        return lambda obs, info: space.sample()
    act = getattr(policy, "act", None)
    if callable(act):
        return act
    if callable(policy):
        return policy
    raise ConfigError(f"train_fn must return an agent with act(observation, info), a callable policy or None, "
                      f"got {type(policy).__name__}")


def measure_reward_code(make_env: Callable[[], gymnasium.Env], policy: Any = None, episodes: int = 10,
                        seed: int = 0, max_steps: int = 100_000) -> RoundStats:
    """Play ``episodes`` episodes (seeds ``seed``, ``seed + 1``, ...) with ``policy`` on ``make_env()``
    and return what was measured: the task's success rate, lengths and return, and the reward code's
    bonus, components and errors."""
    if episodes < 1:
        raise ConfigError(f"episodes must be at least 1, got {episodes}")
    env = make_env()
    wrapper = _find(env)
    act = _acting(policy, env, np.random.default_rng(seed))
    successes, lengths, returns = [], [], []
    try:
        for episode in range(episodes):
            if hasattr(policy, "reset") and callable(policy.reset):
                policy.reset(seed + episode)
            obs, info = env.reset(seed=seed + episode)
            total, length, done = 0.0, 0, False
            while not done and length < max_steps:
                obs, _, terminated, truncated, info = env.step(act(obs, info))
                total += float(info.get("reward_components", {}).get("extrinsic", 0.0))
                length += 1
                done = terminated or truncated
            successes.append(bool(info.get("success", False)))
            lengths.append(length)
            returns.append(total)
        wrapper.tally.end_episode()
        tally = wrapper.tally
        steps = max(1, tally.steps)
        n = len(tally.episode_bonus) or 1
        parts = {name: {"fired": tally.parts_fired[name] / steps, "mean_per_episode": tally.parts_sum[name] / n}
                 for name in tally.parts_sum}
        spec_steps = getattr(getattr(env, "spec", None), "max_episode_steps", None) or getattr(
            env.unwrapped, "max_steps", None)
        return RoundStats(
            episodes=episodes, steps=tally.steps, success_rate=float(np.mean(successes)),
            mean_length=float(np.mean(lengths)), mean_return=float(np.mean(returns)),
            mean_bonus=float(np.mean(tally.episode_bonus)) if tally.episode_bonus else 0.0,
            nonzero_fraction=tally.nonzero_steps / steps, parts=parts, calls=tally.steps,
            errors=dict(tally.error_kinds), error_examples=tally.error_messages.most_common(3),
            max_steps=spec_steps)
    finally:
        env.close()


def refine_reward_code(env: str | Callable[[], gymnasium.Env], client: Any = None, *, rounds: int = 3,
                       train_fn: TrainFn | None = None, episodes: int = 10, path: str | Path | None = None,
                       seed: int = 0, coef: float = 1.0, task: str | None = None, critic: bool = False,
                       base_url: str | None = None, model: str | None = None, temperature: float = 0.0,
                       max_tokens: int = 1500, timeout: float = 1.0, memory_mb: int = 256,
                       clip: float | tuple[float, float] = 1.0, isolation: str = "auto",
                       make_kwargs: dict[str, Any] | None = None) -> RefinementResult:
    """Run ``rounds`` rounds of write-train-measure-revise (module docstring) and return every round and the best.

    Args:
        env: a registered id (made with ``sparsegym.make(env, **make_kwargs)``) or a zero-argument factory.
        client: an :class:`~sparsegym.llm.LLMClient`; None makes one for ``base_url``/``model``.
        rounds: how many versions to write and measure in all (finished rounds in ``path`` count).
        train_fn: ``train_fn(make_env, round_index) -> policy`` (see :data:`TrainFn`); None: no training, a
            random policy measures each version.
        episodes: evaluation episodes per round, seeded ``seed``, ``seed + 1``, ... in every round.
        path: the JSON history; an existing one for the same task is resumed. None keeps it in memory.
        coef: :class:`LLMRewardCode`'s, for every env of the loop; so are ``timeout``, ``memory_mb``,
            ``clip`` and ``isolation``.
        task: the prompt's task text; ``critic``, ``temperature`` and ``max_tokens`` are the writer's settings.
    """
    if rounds < 1:
        raise ConfigError(f"rounds must be at least 1, got {rounds}")
    if isinstance(env, str):
        import sparsegym

        env_id, kwargs = env, dict(make_kwargs or {})

        def make_base() -> gymnasium.Env:
            return sparsegym.make(env_id, **kwargs)
    elif callable(env):
        make_base = env
    else:
        raise ConfigError(f"env must be an env id or a zero-argument factory, got {type(env).__name__}")
    low_high = (-float(clip), float(clip)) if isinstance(clip, (int, float)) else (float(clip[0]), float(clip[1]))
    probe = make_base()
    try:
        reward_task = RewardTask.from_env(probe, task, clip=low_high, timeout=float(timeout))
    finally:
        probe.close()
    history = RefinementHistory(path, key={"task": reward_task.name, "function": reward_task.function})
    writer = RewardCodeWriter(client_for(client, base_url, model), temperature=temperature, seed=seed,
                              max_tokens=max_tokens, critic=critic)
    for index in range(len(history.rounds), rounds):
        started = time.perf_counter()
        draft = writer.write(reward_task, previous=history.rounds or None)

        def make_env(code: str = draft.code) -> gymnasium.Env:
            return LLMRewardCode(make_base(), code=code, coef=coef, timeout=timeout, memory_mb=memory_mb,
                                 clip=low_high, isolation=isolation)

        policy = train_fn(make_env, index) if train_fn is not None else None
        stats = measure_reward_code(make_env, policy, episodes=episodes, seed=seed)
        history.append({
            "round": index + 1, "version": draft.version, "code": draft.code, "problems": draft.problems,
            "critic": draft.critic, "prompt": draft.messages[1]["content"], "replies": draft.replies,
            "stats": stats.as_dict(), "seconds": round(time.perf_counter() - started, 3),
        })
    return RefinementResult(rounds=list(history.rounds), best=history.best(), path=history.path)
