"""Where ALFWorld data lives, and the one safe way to import the ``alfworld`` package.

Importing ``alfworld.info`` creates ``$ALFWORLD_DATA`` (default ``~/.cache/alfworld``) as a side effect.
:func:`import_alfworld` sets that variable first, to sparsegym's own cache folder, unless the user has
already set it; a user's value is never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from sparsegym._cache import cache_root
from sparsegym._deps import require


def sparsegym_cache() -> Path:
    """sparsegym's cache folder (:func:`sparsegym._cache.cache_root`: ``$SPARSEGYM_CACHE``, else
    ``$SPARSEGYM_HOME/cache``, else ``$XDG_CACHE_HOME/sparsegym``, else ``~/.cache/sparsegym``)."""
    return cache_root()


def games_cache() -> Path:
    """Folder of generated ALFWorld games: ``<sparsegym cache>/alfworld/games``."""
    return sparsegym_cache() / "alfworld" / "games"


def import_alfworld() -> ModuleType:
    """Import ``alfworld`` (extra ``text``) without letting it create ``~/.cache/alfworld``."""
    os.environ.setdefault("ALFWORLD_DATA", str(sparsegym_cache() / "alfworld" / "alfworld_data"))
    require("textworld", "text", "ALFWorld envs")
    return require("alfworld", "text", "ALFWorld envs")


def package_file(*parts: str) -> Path:
    """A file shipped inside the installed ``alfworld`` package (domain, grammar, layouts)."""
    alfworld = import_alfworld()
    return Path(alfworld.__file__).parent.joinpath(*parts)
