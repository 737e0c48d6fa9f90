"""The agent protocol a leaderboard runs, and loading agents from entry-point strings.

An agent has ``reset(seed)``, called at the start of every episode with the episode's seed, and
``act(observation, info) -> action``. A *factory* builds one from the env it will play
(``factory(env, **agent_kwargs)``): a class works as its own factory.

Entry points:

* ``package.module:factory``: an importable module and an attribute of it;
* ``path/to/agent.py:factory``: a Python file (relative paths resolve against the submission file's
  folder); ``path/to/agent.py`` alone uses ``make_agent``, or else ``Agent``, from that file.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import gymnasium

from sparsegym.errors import SparseGymError

DEFAULT_FILE_FACTORIES = ("make_agent", "Agent")


@runtime_checkable
class Agent(Protocol):
    def reset(self, seed: int | None) -> None: ...

    def act(self, observation: Any, info: dict[str, Any]) -> Any: ...


class AgentLoadError(SparseGymError, ValueError):
    """An agent entry point that cannot be loaded; the message says what to change."""


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise AgentLoadError(f"agent file {str(path)!r} does not exist")
    # Keyed by path *and* content, so an edited file is imported afresh in a long-lived process.
    key = str(path.resolve()).encode() + b"\0" + path.read_bytes()
    name = "sparsegym_agent_" + hashlib.sha1(key).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AgentLoadError(f"cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def load_factory(entry: str, base_dir: str | Path | None = None) -> Callable[..., Agent]:
    """The callable named by ``entry`` (see the module docstring)."""
    if not isinstance(entry, str) or not entry.strip():
        raise AgentLoadError("agent entry point must be a non-empty string like 'package.module:factory' or 'agent.py'")
    target, _, attr = entry.strip().partition(":")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        module = _load_file(path)
        candidates = (attr,) if attr else DEFAULT_FILE_FACTORIES
    else:
        if not attr:
            raise AgentLoadError(f"agent entry point {entry!r} needs ':factory' after the module (e.g. {target}:make_agent)")
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise AgentLoadError(f"cannot import module {target!r} of agent entry point {entry!r}: {exc}") from exc
        candidates = (attr,)
    for name in candidates:
        factory = getattr(module, name, None)
        if factory is not None:
            if not callable(factory):
                raise AgentLoadError(f"{name!r} in {target!r} is not callable")
            return factory
    exported = getattr(module, "__all__", None)  # a lazy package face lists its names without loading them
    public = sorted(exported) if exported is not None else sorted(
        n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
    raise AgentLoadError(
        f"{target!r} has no {' or '.join(repr(c) for c in candidates)}; callables defined there: {', '.join(public) or 'none'}"
    )


def check_agent_kwargs(factory: Callable[..., Any], entry: str, agent_kwargs: dict[str, Any] | None) -> None:
    """Raise :class:`AgentLoadError` when ``factory(env, **agent_kwargs)`` cannot bind: a keyword the factory
    does not take (with the nearest it does, and all it takes) or a required one missing. Called before any
    episode runs, so a typo in a submission's ``agent_kwargs`` is one error, not a failed record per episode.
    A factory that takes ``**kwargs``, or whose signature Python cannot read, is left to its call."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    kwargs = dict(agent_kwargs or {})
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown: list[str] = []
    else:
        unknown = [k for k in kwargs if k not in params or params[k].kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_POSITIONAL)]
    takes = [n for i, (n, p) in enumerate(params.items())
             if i > 0 and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    name = getattr(factory, "__qualname__", None) or repr(factory)
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, takes, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise AgentLoadError(
            f"agent_kwargs of {entry!r}: {name} takes no {', '.join(hints)}; it takes "
            f"{', '.join(takes) or 'only the env'}")
    try:
        sig.bind(None, **kwargs)  # the env comes first
    except TypeError as exc:
        raise AgentLoadError(f"agent_kwargs of {entry!r} do not fit {name}{sig}: {exc}") from None


def build_agent(entry: str, env: gymnasium.Env, agent_kwargs: dict[str, Any] | None = None,
                base_dir: str | Path | None = None) -> Agent:
    """Load ``entry``, build the agent for ``env`` and check it follows the protocol."""
    factory = load_factory(entry, base_dir)
    agent = factory(env, **(agent_kwargs or {}))
    missing = [m for m in ("reset", "act") if not callable(getattr(agent, m, None))]
    if missing:
        raise AgentLoadError(
            f"the agent built by {entry!r} ({type(agent).__name__}) lacks {' and '.join(missing)}(); "
            "an agent needs reset(seed) and act(observation, info)"
        )
    return agent
