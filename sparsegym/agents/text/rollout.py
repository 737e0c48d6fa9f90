"""Group rollouts: ``group_size`` episodes from each task seed, played by a text policy over a list of
envs, as :class:`Trajectory` records.

Episodes that share a task seed start from the same state (the env is reset with that seed, so a
text env picks the same game and the same initial observation), which is what group-relative
advantages compare. The envs play in lockstep waves: each wave resets up to ``len(envs)`` episodes,
then at every turn the policy chooses for all unfinished episodes in one batched call and the envs
step one after another, in a fixed order. With a seeded ``generator`` a collection is reproducible.

Every env of the list must be the same task (the same id and keyword arguments); one env is enough,
more only batch the policy's calls. Instead of a list, ``envs`` may be an :class:`EnvPool` whose envs
live elsewhere (:class:`~sparsegym.agents.text.workers.RayEnvPool`: Ray actors that step them in
parallel); the episodes, the policy's calls and so the trajectories are the same either way.

Examples:
    >>> import gymnasium as gym, sparsegym, torch
    >>> from sparsegym.agents.text.policy import UniformPolicy
    >>> from sparsegym.agents.text.rollout import collect
    >>> envs = [gym.make("sparsegym/TextWorld-CoinCollector-L5-v0", game_seed=0)]   # doctest: +SKIP
    >>> trajs = collect(envs, UniformPolicy(), task_seeds=[7], group_size=4,
    ...                 generator=torch.Generator().manual_seed(0))                    # doctest: +SKIP
    >>> [t.task_seed for t in trajs], len(trajs[0].turns) == len(trajs[0].rewards)  # doctest: +SKIP
    ([7, 7, 7, 7], True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from sparsegym.agents.text.policy import Choice, TextPolicy, Turn, torch
from sparsegym.errors import ConfigError

__all__ = ["EnvPool", "LocalEnvPool", "Trajectory", "collect", "env_instructions", "summarize"]


@dataclass
class Trajectory:
    """One episode: what the policy saw and chose at each turn, and what the env answered."""

    task_seed: int  # the seed the env was reset with (the task)
    group: int  # index of the task's group in the collection
    turns: list[Turn] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)  # the env's reward after each turn
    invalid: list[bool] = field(default_factory=list)  # whether the env refused each turn's action (info["action_error"])
    terminated: bool = False
    truncated: bool = False
    success: bool = False  # info["success"] at the episode's end

    @property
    def length(self) -> int:
        return len(self.turns)

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))

    @property
    def dones(self) -> list[bool]:
        """Whether the episode had ended after each turn (True only at the last turn of an ended one)."""
        ended = self.terminated or self.truncated
        return [ended and t == self.length - 1 for t in range(self.length)]

    @property
    def invalid_actions(self) -> int:
        return int(sum(self.invalid))

    @property
    def train_rewards(self) -> list[float]:
        """The env's rewards plus each choice's ``extra["format_penalty"]`` (0 when absent): what the
        trainers learn from."""
        return [r + float(c.extra.get("format_penalty", 0.0)) for r, c in zip(self.rewards, self.choices)]

    @property
    def train_return(self) -> float:
        return float(sum(self.train_rewards))


def env_instructions(env: gymnasium.Env) -> str:
    """The env's ``instructions()`` (text envs and text views have it), or ``""``."""
    try:
        return str(env.get_wrapper_attr("instructions")())
    except AttributeError:
        return ""


#: One env step's answer: ``(observation, reward, terminated, truncated, info)``.
StepResult = tuple[Any, float, bool, bool, dict[str, Any]]


class EnvPool:
    """Envs that :func:`collect` plays, addressed by index: ``reset_many`` resets envs ``0..len(seeds)-1``
    with those seeds, ``step_many`` steps the listed envs (each once) and answers in the same order."""

    def __len__(self) -> int:
        raise NotImplementedError

    def instructions(self) -> list[str]:
        raise NotImplementedError

    def reset_many(self, seeds: Sequence[int]) -> list[tuple[Any, dict[str, Any]]]:
        raise NotImplementedError

    def step_many(self, actions: Sequence[tuple[int, str]]) -> list[StepResult]:
        raise NotImplementedError

    def close(self) -> None:
        """Close the envs."""


class LocalEnvPool(EnvPool):
    """Envs of this process, stepped one after another in the order asked."""

    def __init__(self, envs: Sequence[gymnasium.Env]):
        self.envs = list(envs)

    def __len__(self) -> int:
        return len(self.envs)

    def instructions(self) -> list[str]:
        return [env_instructions(env) for env in self.envs]

    def reset_many(self, seeds: Sequence[int]) -> list[tuple[Any, dict[str, Any]]]:
        return [env.reset(seed=int(seed)) for env, seed in zip(self.envs, seeds)]

    def step_many(self, actions: Sequence[tuple[int, str]]) -> list[StepResult]:
        return [self.envs[i].step(action) for i, action in actions]

    def close(self) -> None:
        for env in self.envs:
            env.close()


def collect(envs: Sequence[gymnasium.Env] | EnvPool, policy: TextPolicy, task_seeds: Sequence[int], group_size: int, *,
            generator: torch.Generator | None = None, sample: bool = True,
            max_turns: int | None = None) -> list[Trajectory]:
    """Play ``group_size`` episodes from each of ``task_seeds`` (module docstring); the trajectories
    come back grouped: those of ``task_seeds[g]`` are ``[g * group_size, (g + 1) * group_size)``.

    ``max_turns`` truncates episodes the env does not end itself (a registered id already has a step
    limit). An env's ``info["admissible_actions"]`` become each turn's ``actions``."""
    pool = envs if isinstance(envs, EnvPool) else LocalEnvPool(envs)
    if len(pool) == 0:
        raise ConfigError("collect needs at least one env")
    if group_size < 1:
        raise ConfigError(f"group_size must be at least 1, got {group_size}")
    episodes = [(g, int(seed)) for g, seed in enumerate(task_seeds) for _ in range(group_size)]
    instructions = pool.instructions()
    out: list[Trajectory] = []
    for start in range(0, len(episodes), len(pool)):
        wave = episodes[start:start + len(pool)]
        out += _play_wave(pool, instructions, policy, wave, generator, sample, max_turns)
    return out


def _play_wave(pool: EnvPool, instructions: list[str], policy: TextPolicy,
               wave: list[tuple[int, int]], generator: torch.Generator | None, sample: bool,
               max_turns: int | None) -> list[Trajectory]:
    trajs = [Trajectory(seed, group) for group, seed in wave]
    histories: list[list[tuple[str, str]]] = [[] for _ in wave]
    states: list[dict | None] = [None for _ in wave]  # each episode's Choice.extra["state"], for its next Turn
    current: list[tuple[str, dict[str, Any]]] = pool.reset_many([seed for _, seed in wave])
    live = list(range(len(wave)))
    while live:
        turns = [Turn(current[i][0], list(current[i][1].get("admissible_actions") or []), list(histories[i]),
                      instructions[i], states[i]) for i in live]
        choices = policy.act(turns, sample=sample, generator=generator)
        still = []
        results = pool.step_many([(i, choice.action) for i, choice in zip(live, choices)])
        for i, turn, choice, result in zip(live, turns, choices, results):
            obs, reward, terminated, truncated, info = result
            traj = trajs[i]
            traj.turns.append(turn)
            traj.choices.append(choice)
            traj.rewards.append(float(reward))
            traj.invalid.append(bool(info.get("action_error")))
            histories[i].append((turn.observation, choice.action))
            states[i] = choice.extra.get("state")
            current[i] = (obs, info)
            if max_turns is not None and traj.length >= max_turns and not terminated:
                truncated = True
            if terminated or truncated:
                traj.terminated, traj.truncated = bool(terminated), bool(truncated and not terminated)
                traj.success = bool(info.get("success", False))
            else:
                still.append(i)
        live = still
    return trajs


def summarize(trajectories: Sequence[Trajectory]) -> dict[str, float]:
    """Means over a collection: success, return, length, invalid actions per episode."""
    if not trajectories:
        return {}
    return {"batch_success": float(np.mean([t.success for t in trajectories])),
            "batch_return": float(np.mean([t.episode_return for t in trajectories])),
            "episode_length": float(np.mean([t.length for t in trajectories])),
            "invalid_actions": float(np.mean([t.invalid_actions for t in trajectories]))}
