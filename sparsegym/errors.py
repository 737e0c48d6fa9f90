"""Errors raised by sparsegym. Each one names the problem and the fix."""

from __future__ import annotations

import gymnasium


class SparseGymError(Exception):
    """Base class of every error sparsegym raises on purpose."""


class ServiceUnavailableError(SparseGymError):
    """A service the agent needs (an LLM server, ...) cannot be reached, does not answer in time, or does not
    serve what was asked for. It says nothing about the agent's play, and every later episode would fail the
    same way, so an evaluation stops at the first one (:class:`EvaluationStoppedError`) instead of storing a
    failed episode that a resumed run would then skip. Agents raise a subclass (the LLM client's
    :class:`~sparsegym.llm.errors.LLMUnreachableError`, for one) and let it propagate."""


class EvaluationStoppedError(SparseGymError, RuntimeError):
    """An evaluation stopped because a service its agent needs is unavailable (:class:`ServiceUnavailableError`).
    The episodes finished before it are stored; nothing is stored for the episode that stopped it, so running
    the same evaluation again resumes there. ``cause`` is the service's error and ``result`` the
    :class:`~sparsegym.leaderboards.evaluator.EvaluationResult` up to the stop."""

    def __init__(self, agent: str, where: str, cause: str, result: object = None):
        self.agent, self.where, self.cause, self.result = agent, where, cause, result
        ran = getattr(result, "ran", None)
        stored = f" ({ran} episode{'s' if ran != 1 else ''} of this run stored before it)" if ran is not None else ""
        super().__init__(
            f"the evaluation of {agent!r} stopped at {where}{stored}: {cause}. Nothing was stored for that episode: "
            "fix the cause, then run the same evaluation again to resume where it stopped")

    def __reduce__(self):
        return type(self), (self.agent, self.where, self.cause, None)


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
