"""Shared timing loop of the benchmarks (run them as scripts: `python benchmarks/NAME.py`)."""

from __future__ import annotations

import contextlib
import io
import time

import gymnasium
import numpy as np


def time_steps(env: gymnasium.Env, actions: np.ndarray, seed: int) -> float:
    """Seconds per step of ``env`` over ``actions`` (resetting at episode ends), stdout silenced (BabyAI's
    level generator prints every rejected sample)."""
    with contextlib.redirect_stdout(io.StringIO()):
        env.reset(seed=seed)
        start = time.perf_counter()
        for a in actions:
            _, _, term, trunc, _ = env.step(int(a))
            if term or trunc:
                env.reset()
        elapsed = time.perf_counter() - start
    return elapsed / len(actions)
