"""Reference agents for the software-repair env: the gold patch (a ceiling) and doing nothing (a floor).

Both follow the leaderboard agent protocol and are built from the env (``GoldPatchAgent(env)``); the
gold agent reads the task's ``patch`` from the env, never from ``info``.
"""

from __future__ import annotations

from typing import Any

_EOF = "SPARSEGYM_PATCH_END"


class GoldPatchAgent:
    """Applies the task's gold patch with ``patch -p1``, then submits."""

    def __init__(self, env: Any, **_: Any):
        self.env = env
        self._step = 0

    def reset(self, seed: int | None = None) -> None:
        self._step = 0

    def act(self, observation: str, info: dict[str, Any]) -> str:
        self._step += 1
        if self._step == 1:
            patch = self.env.unwrapped.task.patch
            return f"run patch -p1 --batch --forward <<'{_EOF}'\n{patch}{_EOF}"
        return "submit"


class SubmitAtOnceAgent:
    """Submits the untouched repository (the empty patch): resolves nothing."""

    def __init__(self, env: Any = None, **_: Any):
        pass

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return "submit"
