"""One pattern for every package face: public names listed once, their modules imported on first use.

    __all__, __getattr__, __dir__ = lazy_exports(__name__, {"PPO": ".ppo", "gae": ".advantages"})

``__all__`` lists the names, ``from package import Name`` and ``package.Name`` import the named module
when first asked, and an unknown name raises the usual ``AttributeError``. ``tests/test_public_api.py``
imports every name of every package's ``__all__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``names``: public name -> module (``".sub"`` relative to ``package``, or absolute), optionally
    ``"module:attribute"`` when the attribute's name differs from the public one, or ``"module:*"`` for
    the module itself (a subpackage)."""
    table = dict(names)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = target.partition(":")
        imported = importlib.import_module(module, package)
        return imported if attr == "*" else getattr(imported, attr or name)

    def __dir__() -> list[str]:
        return sorted(set(table) | set(vars(sys.modules[package])))

    return list(table), __getattr__, __dir__
