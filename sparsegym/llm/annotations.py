"""Answers an LLM gave about an env, kept by what they depend on, so a run needs no LLM once they are in.

The LLM subgoal wrappers ask a model about things that do not change from run to run: the subgoals of
one level (Words as Beacons queries each level once, offline, and keeps the answer), the decomposition of
one mission (CALM). :class:`AnnotationStore` keeps each answer under the fields it depends on (the kind of
question, the env id, the level or mission, the model, the prompt version) in a SQLite file, by default
``sparsegym._cache.cache_dir("llm") / "annotations.sqlite"`` (so ``$SPARSEGYM_CACHE`` moves it). It is
separate from the client's response cache (:mod:`sparsegym.llm.cache`), which keys raw requests: this one
is what lets a wrapper run with no client at all.

>>> import tempfile, pathlib
>>> store = AnnotationStore(pathlib.Path(tempfile.mkdtemp()) / "annotations.sqlite")
>>> store.get(kind="subgoals", env="e", level="abc", model="m", prompt="v1") is None
True
>>> store.put({"spec": []}, kind="subgoals", env="e", level="abc", model="m", prompt="v1")
>>> store.get(kind="subgoals", env="e", level="abc", model="m", prompt="v1")
{'spec': []}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.llm.cache import ResponseCache


def default_path() -> Path:
    """``cache_dir("llm") / "annotations.sqlite"`` (honours ``$SPARSEGYM_CACHE``)."""
    from sparsegym._cache import cache_dir

    return cache_dir("llm") / "annotations.sqlite"


class AnnotationStore:
    """LLM answers by the fields they depend on: in memory, and in a SQLite file unless ``cache`` is False.

    Args:
        cache: True for :func:`default_path`, a path for another file, a :class:`ResponseCache` to share,
            or False/None to keep answers in memory only (for this object's life).
    """

    def __init__(self, cache: bool | str | os.PathLike[str] | ResponseCache | None = True):
        if cache is True:
            self.file: ResponseCache | None = ResponseCache.shared(default_path())
        elif cache is False or cache is None:
            self.file = None
        elif isinstance(cache, ResponseCache):
            self.file = cache
        elif isinstance(cache, (str, os.PathLike)):
            self.file = ResponseCache.shared(cache)
        else:
            raise ConfigError(f"cache must be True, False, None, a path or a ResponseCache, got {cache!r}")
        self._memory: dict[str, dict[str, Any]] = {}

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None when answers live in memory only."""
        return self.file.path if self.file is not None else None

    @staticmethod
    def key(**fields: Any) -> str:
        """The key of an answer: a digest of its fields (JSON data)."""
        return ResponseCache.key({"annotation": fields})

    def get(self, **fields: Any) -> dict[str, Any] | None:
        """The answer stored under ``fields``, or None."""
        key = self.key(**fields)
        value = self._memory.get(key)
        if value is None and self.file is not None:
            value = self.file.get(key)
            if value is not None:
                self._memory[key] = value
        return value

    def put(self, value: dict[str, Any], **fields: Any) -> None:
        """Store ``value`` (JSON data) under ``fields``, in memory and in the file (atomically)."""
        key = self.key(**fields)
        self._memory[key] = dict(value)
        if self.file is not None:
            self.file.put(key, value, model=str(fields.get("model")), endpoint=str(fields.get("kind", "annotation")))

    def __repr__(self) -> str:
        return f"AnnotationStore({str(self.path) if self.path else 'memory'!r})"


__all__ = ["AnnotationStore", "default_path"]
