"""Health checks for registered envs: Gymnasium's env checker, seeded determinism, a random rollout,
and sparsegym's info contract. Used by ``sparsegym check`` and by the test-suite."""

from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from gymnasium.utils.env_checker import check_env

from sparsegym.envs.registry import get_entry

#: Longest random rollout we wait for before declaring that an env never ends.
ROLLOUT_CAP = 100_000


@dataclass
class CheckResult:
    env_id: str
    ok: bool = True
    env_checker: bool = False
    deterministic: bool = False
    rollout_ended: bool = False
    contract: bool = False
    rollout_steps: int = 0
    steps_per_second: float = 0.0
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


def _contract_problem(reward: float, info: dict[str, Any]) -> str | None:
    if "success" not in info:
        return "info has no 'success' key"
    comps = info.get("reward_components")
    if not isinstance(comps, dict) or "extrinsic" not in comps:
        return "info['reward_components'] lacks 'extrinsic'"
    total = sum(float(v) for v in comps.values())
    if abs(total - float(reward)) > 1e-6:
        return f"reward {reward} differs from the sum of info['reward_components'] ({total})"
    return None


def _trajectory(env_id: str, seed: int, steps: int, kwargs: dict[str, Any]) -> list[tuple]:
    env = gymnasium.make(env_id, **kwargs)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out: list[tuple] = [(obs, 0.0, False, False)]
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        out.append((obs, float(r), bool(term), bool(trunc)))
        if term or trunc:
            obs, _ = env.reset()
            out.append((obs, 0.0, False, False))
    env.close()
    return out


def check_env_id(
    env_id: str,
    seed: int = 0,
    determinism_steps: int = 50,
    env_kwargs: dict[str, Any] | None = None,
) -> CheckResult:
    """Run every check on ``env_id`` and return what passed; never raises for a failing env."""
    kwargs = dict(env_kwargs or {})
    result = CheckResult(env_id)
    try:
        get_entry(env_id)
    except Exception as exc:  # unknown id: nothing else can run
        result.fail(str(exc))
        return result

    # 1. Gymnasium's own checker, on the env itself (not through make's wrappers).
    try:
        env = gymnasium.make(env_id, **kwargs)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=True)
        relevant = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
        if relevant:
            result.fail("env checker warned: " + " | ".join(relevant))
        else:
            result.env_checker = True
        env.close()
    except Exception as exc:
        result.fail(f"env checker failed: {type(exc).__name__}: {exc}")

    # 2. The same seed gives the same first observations, rewards and ends.
    try:
        a = _trajectory(env_id, seed, determinism_steps, kwargs)
        b = _trajectory(env_id, seed, determinism_steps, kwargs)
        mismatch = next((i for i, (x, y) in enumerate(zip(a, b)) if not all(_same(u, v) for u, v in zip(x, y))), None)
        if mismatch is None and len(a) == len(b):
            result.deterministic = True
        else:
            result.fail(f"not deterministic: two runs with seed {seed} differ at step {mismatch}")
    except Exception as exc:
        result.fail(f"determinism check failed: {type(exc).__name__}: {exc}")

    # 3. A random rollout reaches termination or truncation; the info contract holds on every step.
    try:
        env = gymnasium.make(env_id, **kwargs)
        env.action_space.seed(seed + 1)
        _, info = env.reset(seed=seed + 1)
        problem = _contract_problem(0.0, info)
        steps, ended = 0, False
        start = time.perf_counter()
        while steps < ROLLOUT_CAP:
            _, reward, term, trunc, info = env.step(env.action_space.sample())
            steps += 1
            problem = problem or _contract_problem(float(reward), info)
            if term or trunc:
                ended = True
                break
        elapsed = time.perf_counter() - start
        env.close()
        result.rollout_steps = steps
        result.steps_per_second = steps / elapsed if elapsed > 0 else float("inf")
        result.rollout_ended = ended
        if not ended:
            result.fail(f"random rollout did not end within {ROLLOUT_CAP} steps")
        if problem:
            result.fail(f"info contract: {problem}")
        else:
            result.contract = True
    except Exception as exc:
        result.fail(f"random rollout failed: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}")
    return result
