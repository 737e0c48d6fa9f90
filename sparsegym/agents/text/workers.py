"""Ray rollout workers for the text trainers: the envs live in Ray actors, the policy stays here.

Stepping slow text envs (ALFWorld: tens of steps a second) is what limits collection, not the policy,
which chooses for every in-flight env in one batched call on the trainer's device. So a
:class:`RayEnvPool` spreads the trainer's ``num_envs`` envs over ``num_workers`` actors (env ``k`` on
actor ``k % num_workers``); at every turn :func:`~sparsegym.agents.text.rollout.collect` asks the
policy for all live episodes at once, as it does locally, and the actors step their envs in parallel.
Episodes, task seeds, groups and the policy's calls are exactly those of the local backend, so with
the same seeds and policy both give the same trajectories.

Each actor makes its envs with an :class:`EnvFactory` (an env id, ``gymnasium.make`` keyword
arguments and a wrapper stack, all plain data) or any function Ray can pickle.

Ray is started as the evaluator's Ray backend starts it: with ``RAY_ADDRESS`` set, the pool joins
that cluster (``ray start --head`` on one node, ``ray start --address=HEAD:6379`` on the others);
otherwise it starts a local Ray instance with ``num_workers`` CPUs, unless Ray is running already.

Examples:
    >>> from sparsegym.agents.text import TextRLTrainer                                          # doctest: +SKIP
    >>> trainer = TextRLTrainer("sparsegym/ALFWorld-v0", backend="ray", num_workers=4)            # doctest: +SKIP
    >>> trainer.learn(64)                                                                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import gymnasium

from sparsegym.agents.text.rollout import EnvPool, LocalEnvPool, StepResult
from sparsegym.errors import ConfigError

__all__ = ["EnvFactory", "RayEnvPool"]


@dataclass
class EnvFactory:
    """A picklable env maker: ``gymnasium.make(env, **make_kwargs)`` (or ``env()`` for a function),
    then the wrapper stack ``wrappers`` (:mod:`sparsegym.wrappers.stack`), innermost first."""

    env: str | Callable[[], gymnasium.Env]
    make_kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: list[Any] = field(default_factory=list)

    def __call__(self) -> gymnasium.Env:
        if isinstance(self.env, str):
            import sparsegym  # noqa: F401  (registers the ids in a fresh worker process)

            env = gymnasium.make(self.env, **self.make_kwargs)
        else:
            env = self.env()
        if self.wrappers:
            from sparsegym.wrappers.stack import apply_wrappers

            env = apply_wrappers(env, self.wrappers)
        return env


class _EnvWorker:
    """A Ray actor's body: ``count`` envs made by ``make_env``, reset and stepped by local index."""

    def __init__(self, make_env: Callable[[], gymnasium.Env], count: int):
        self.pool = LocalEnvPool([make_env() for _ in range(count)])

    def instructions(self) -> list[str]:
        return self.pool.instructions()

    def specs(self) -> list[Any]:
        return [getattr(env, "spec", None) for env in self.pool.envs]

    def reset_many(self, seeds: list[int]) -> list[tuple[Any, dict[str, Any]]]:
        return self.pool.reset_many(seeds)

    def step_many(self, actions: list[tuple[int, str]]) -> list[StepResult]:
        return self.pool.step_many(actions)

    def close(self) -> None:
        for env in self.pool.envs:
            env.close()


def _ray(num_cpus: int) -> Any:
    """Ray, started if it is not (see the module docstring)."""
    from sparsegym.utils.ray import start_ray

    return start_ray(num_cpus, "The Ray rollout workers (backend='ray')")


class RayEnvPool(EnvPool):
    """``num_envs`` envs made by ``make_env`` in ``num_workers`` Ray actors (at most one per env).

    Args:
        make_env: makes one env on a worker (an :class:`EnvFactory`, or any function Ray can pickle).
        num_envs: envs in all (episodes in flight at once).
        num_workers: actors; env ``k`` lives on actor ``k % num_workers``.
        cpus_per_worker: the CPUs Ray reserves for each actor.
    """

    def __init__(self, make_env: Callable[[], gymnasium.Env], num_envs: int, num_workers: int,
                 cpus_per_worker: float = 1.0):
        if num_envs < 1 or num_workers < 1:
            raise ConfigError(f"a Ray env pool needs num_envs >= 1 and num_workers >= 1, got {num_envs} and "
                              f"{num_workers}")
        self.ray = ray = _ray(num_workers)
        workers = min(num_workers, num_envs)
        have = float(ray.cluster_resources().get("CPU", 0.0))
        if have < workers * cpus_per_worker:
            raise ConfigError(f"{workers} Ray rollout workers need {workers * cpus_per_worker:g} CPUs and the Ray "
                              f"cluster has {have:g}: lower num_workers, or start Ray with more CPUs")
        self.num_envs, self.num_workers = num_envs, workers
        self._where = [(k % workers, k // workers) for k in range(num_envs)]  # env -> (actor, its local index)
        actor = ray.remote(num_cpus=cpus_per_worker, max_restarts=0)(_EnvWorker)
        counts = [sum(1 for w, _ in self._where if w == a) for a in range(workers)]
        self.actors = [actor.remote(make_env, n) for n in counts]
        per_actor = ray.get([a.instructions.remote() for a in self.actors])  # also waits for the envs to exist
        self._instructions = [per_actor[w][i] for w, i in self._where]
        per_actor = ray.get([a.specs.remote() for a in self.actors])
        self.specs = [per_actor[w][i] for w, i in self._where]

    def __len__(self) -> int:
        return self.num_envs

    def __iter__(self) -> Iterator[Any]:
        """Stand-ins of the envs that carry their ``spec`` (what callers read of a remote env)."""
        return iter([SimpleNamespace(spec=spec) for spec in self.specs])

    def instructions(self) -> list[str]:
        return list(self._instructions)

    def _scatter(self, items: Sequence[tuple[int, Any]], method: str) -> list[Any]:
        """Call ``method`` on every actor with its share of ``(env, item)`` pairs, in parallel; the
        answers come back in the order of ``items``."""
        shares: dict[int, list[tuple[int, Any]]] = {}
        order: list[tuple[int, int]] = []
        for k, item in items:
            w, i = self._where[k]
            order.append((w, len(shares.setdefault(w, []))))
            shares[w].append((i, item))
        refs = {w: getattr(self.actors[w], method).remote(share) for w, share in shares.items()}
        answers = dict(zip(refs, self.ray.get(list(refs.values()))))
        return [answers[w][j] for w, j in order]

    def reset_many(self, seeds: Sequence[int]) -> list[tuple[Any, dict[str, Any]]]:
        shares: dict[int, list[int]] = {}
        order: list[tuple[int, int]] = []
        for k, seed in enumerate(seeds):
            w, i = self._where[k]
            if i != len(shares.setdefault(w, [])):
                raise AssertionError("envs are reset from the first one on")
            order.append((w, i))
            shares[w].append(int(seed))
        refs = {w: self.actors[w].reset_many.remote(share) for w, share in shares.items()}
        answers = dict(zip(refs, self.ray.get(list(refs.values()))))
        return [answers[w][i] for w, i in order]

    def step_many(self, actions: Sequence[tuple[int, str]]) -> list[StepResult]:
        return self._scatter(actions, "step_many")

    def close(self) -> None:
        """Close the envs and end the actors (Ray itself keeps running)."""
        if not self.actors:
            return
        try:
            self.ray.get([a.close.remote() for a in self.actors])
        finally:
            for a in self.actors:
                self.ray.kill(a)
            self.actors = []
