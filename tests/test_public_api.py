"""The public surface: every name a package exports, and every ``sparsegym`` name the docs mention, imports.

Package faces follow one pattern (``sparsegym._lazy.lazy_exports``: names in ``__all__``, modules
imported on first use), so this test walks every package, imports each ``__all__`` name, and then
resolves every dotted ``sparsegym.…`` name and every ``from sparsegym… import …`` line found in the
README and the docs pages.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import warnings
from pathlib import Path

import pytest

import sparsegym
from sparsegym.errors import SparseGymError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _packages() -> list[str]:
    names = ["sparsegym"]
    for info in pkgutil.walk_packages(sparsegym.__path__, "sparsegym."):
        if info.ispkg and ".data" not in info.name:
            names.append(info.name)
    return names


@pytest.mark.parametrize("package", _packages())
def test_every_exported_name_imports(package):
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    if exported is None:
        pytest.skip(f"{package} exports nothing by __all__")
    assert len(exported) == len(set(exported)), f"{package}.__all__ lists a name twice"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # exported names are current, not deprecated aliases
        for name in exported:
            assert getattr(module, name) is not None, f"{package}.{name}"
    assert set(exported) <= set(dir(module))


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        sparsegym.wrappers.Nope  # noqa: B018
    with pytest.raises(ImportError):
        exec("from sparsegym.intrinsic import Nope")


_DOTTED = re.compile(r"\bsparsegym(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FROM = re.compile(r"^\s*(?:>>>\s*)?from (sparsegym(?:\.[A-Za-z_][A-Za-z0-9_]*)*) import ([A-Za-z_][A-Za-z0-9_, ]*)", re.M)


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as exc:
            if exc.name and not dotted.startswith(exc.name):
                raise
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


# Names of the made-up family that docs/architecture.md builds to show how to add one.
HYPOTHETICAL = ("sparsegym.envs.corridor",)


def _mentions() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for page in DOCS:
        text = page.read_text()
        rel = str(page.relative_to(ROOT))
        for m in _DOTTED.finditer(text):
            name = m.group(0).rstrip(".")
            if name.split(".")[-1] in ("py", "md", "yml", "yaml", "json", "toml"):  # file names, not API
                continue
            found.setdefault(name, rel)
        for m in _FROM.finditer(text):
            for name in m.group(2).split(","):
                name = name.split(" as ")[0].strip()
                if name:
                    found.setdefault(f"{m.group(1)}.{name}", rel)
    return sorted((n, p) for n, p in found.items() if not n.startswith(HYPOTHETICAL))


def test_the_docs_mention_many_names():
    assert len(_mentions()) > 40


@pytest.mark.parametrize("name, page", _mentions())
def test_every_name_the_docs_mention_exists(name, page):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a page may show an old spelling on purpose
        try:
            _resolve(name)
        except (ImportError, AttributeError) as exc:
            pytest.fail(f"{page} mentions {name}, which does not exist: {exc}")


def test_every_error_sparsegym_raises_on_purpose_is_a_sparsegym_error():
    """Every exception class defined in the package derives from SparseGymError (so the CLI can tell a
    user's mistake, which it reports in one line, from a bug, which it must not hide)."""
    internal = {"sparsegym.leaderboards.evaluator.StepTimeout"}  # caught where raised, never surfaces
    offenders = []
    for package in _packages():
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__, package + "."):
            if info.ispkg or ".data" in info.name:
                continue
            try:
                module = importlib.import_module(info.name)
            except ImportError:
                continue
            for obj in vars(module).values():
                if (isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                        and f"{obj.__module__}.{obj.__name__}" not in internal and not issubclass(obj, SparseGymError)):
                    offenders.append(f"{obj.__module__}.{obj.__name__}")
    assert offenders == []
