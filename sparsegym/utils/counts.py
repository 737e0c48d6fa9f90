"""Visit counts: how often each key (a state, a cell) was seen, in one table or one per env."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable


class VisitCounts:
    """Visit-count tables.

    With ``per_env=False`` every env shares one table (global counts, persistent); with
    ``per_env=True`` each env has its own, which :meth:`clear` empties (episodic counts).

    Examples:
        >>> counts = VisitCounts(per_env=True)
        >>> [counts.add("s", env=0), counts.add("s", env=0), counts.add("s", env=1)]
        [1, 2, 1]
        >>> counts.clear([0]); counts.add("s", env=0)
        1
    """

    def __init__(self, per_env: bool = False):
        self.per_env = bool(per_env)
        self._tables: dict[int, Counter] = {}

    def table(self, env: int = 0) -> Counter:
        """The table that ``env`` counts in (the shared one without ``per_env``)."""
        key = int(env) if self.per_env else 0
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = Counter()
        return table

    def add(self, key: Hashable, env: int = 0) -> int:
        """Count one visit of ``key`` by ``env``; returns the count after it."""
        table = self.table(env)
        table[key] += 1
        return table[key]

    def count(self, key: Hashable, env: int = 0) -> int:
        return self.table(env)[key]

    def clear(self, envs: Iterable[int] | None = None) -> None:
        """Forget the tables of ``envs`` (per-env counts), or every count (``envs=None``). Shared
        counts are only cleared by ``clear()`` without envs."""
        if envs is None:
            self._tables.clear()
        elif self.per_env:
            for env in envs:
                self._tables.pop(int(env), None)
