"""Errors raised by sparsegym. Each one names the problem and the fix."""

from __future__ import annotations

import gymnasium


class SparseGymError(Exception):
    """Base class of every error sparsegym raises on purpose."""


class ConfigError(SparseGymError, ValueError):
    """A bad argument, option or input value; the message names it, the values allowed and the fix."""


class MissingDependencyError(SparseGymError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, module: str, extra: str, what: str | None = None):
        self.module = module
        self.extra = extra
        subject = what or "this part of sparsegym"
        super().__init__(
            f"{subject} needs the optional dependency {module!r}, which is not installed. "
            f'Install it with: pip install "sparsegym[{extra}]"'
        )


class UnknownEnvError(SparseGymError, gymnasium.error.NameNotFound):
    """An env id that is not registered; the message lists the nearest registered ids."""

    def __init__(self, env_id: str, suggestions: list[str]):
        self.env_id = env_id
        self.suggestions = suggestions
        if suggestions:
            hint = "Did you mean: " + ", ".join(repr(s) for s in suggestions) + "?"
        else:
            hint = "No registered id is close."
        super().__init__(
            f"Unknown environment id {env_id!r}. {hint} "
            "Run `sparsegym list` (or sparsegym.list_envs()) to see every registered id."
        )


class InvalidActionError(SparseGymError, ValueError):
    """An action the env cannot take; the message lists the valid actions."""
