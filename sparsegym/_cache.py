"""Where sparsegym keeps files it makes on first use (generated games, built indexes).

``$SPARSEGYM_CACHE`` if set, else ``$SPARSEGYM_HOME/cache``, else ``$XDG_CACHE_HOME/sparsegym``, else
``~/.cache/sparsegym``. Everything under it can be deleted at any time; it is remade on demand.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("SPARSEGYM_CACHE"):
        return Path(os.environ["SPARSEGYM_CACHE"]).expanduser()
    if os.environ.get("SPARSEGYM_HOME"):
        return Path(os.environ["SPARSEGYM_HOME"]).expanduser() / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "sparsegym"


def cache_dir(*parts: str) -> Path:
    """``cache_root()/parts...``, created if missing."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
