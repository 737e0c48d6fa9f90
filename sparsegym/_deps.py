"""Lazy imports of optional dependencies with errors that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from sparsegym.errors import MissingDependencyError


def require(module: str, extra: str, what: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``sparsegym[extra]``.

    Only a missing top-level package is turned into the friendly error; an ImportError raised
    *inside* an installed package (a real bug or a broken install) propagates unchanged.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing and missing != module.split(".")[0]:
            raise
        raise MissingDependencyError(module, extra, what) from exc
