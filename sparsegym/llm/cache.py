"""A response cache for LLM calls: one SQLite file, safe to share between threads and processes.

**Key.** ``sha256`` of the canonical request (JSON with sorted keys) plus the sample index: endpoint
(``chat``/``completions``), model, messages or prompt, temperature, max_tokens, seed, stop,
response_format, logprobs, top_logprobs and extra_body (where servers take other sampling options). The
server's URL is not part of it, so the same model behind another URL or port reuses the answers.

**Reuse rule** (applied by :class:`sparsegym.llm.LLMClient`). A cached sample is served only when the
request is *deterministic*: temperature 0, or a seed given (sample ``i`` of a seeded call is the request
with seed ``seed + i``). Sampled requests without a seed are written too, keyed by sample index, but read
back only when the client was made with ``cache_nondeterministic=True`` (to replay an experiment); otherwise
each call draws fresh samples and overwrites the stored ones.

**Storage.** Table ``responses(key, value, model, endpoint, created)``, WAL journal, one connection per
thread, a busy timeout for other processes; every write is one transaction (atomic). Delete the file at
any time: it is remade on first use. ``sparsegym llm cache stats`` and ``sparsegym llm cache clear``
look at and empty the default one.

>>> import tempfile, pathlib
>>> from sparsegym.llm import ResponseCache
>>> cache = ResponseCache(pathlib.Path(tempfile.mkdtemp()) / "responses.sqlite")
>>> key = ResponseCache.key({"endpoint": "chat", "model": "m", "input": "hi", "temperature": 0.0}, index=0)
>>> cache.get(key) is None
True
>>> cache.put(key, {"text": "hello", "finish_reason": "stop"})
>>> cache.get(key)["text"]
'hello'
>>> stats = cache.stats()
>>> stats["entries"], stats["hits"], stats["misses"]
(1, 1, 1)
>>> cache.clear()
1
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError

SCHEMA_VERSION = 1  # part of every key: a change to what a key means bumps it, and old entries are never served

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    model TEXT,
    endpoint TEXT,
    created REAL NOT NULL
)
"""


def default_path() -> Path:
    """``sparsegym._cache.cache_dir("llm") / "responses.sqlite"`` (honours ``$SPARSEGYM_CACHE``)."""
    from sparsegym._cache import cache_dir

    return cache_dir("llm") / "responses.sqlite"


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, unicode kept: equal requests give equal text."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"an LLM request must be JSON data (dicts, lists, strings, numbers) to be sent and "
                          f"cached: {exc}") from exc


class ResponseCache:
    """LLM responses by request key, in a SQLite file (see the module's docs for the key and reuse rule).

    Args:
        path: the SQLite file (made with its folder if missing); None for :func:`default_path`.
    """

    _shared: dict[str, ResponseCache] = {}
    _shared_lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path).expanduser().resolve() if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.hits = 0  # lookups answered, by this object, in this process
        self.misses = 0  # lookups not answered
        with self._write() as conn:
            conn.execute(_SCHEMA)

    @classmethod
    def shared(cls, path: str | os.PathLike[str] | None = None) -> ResponseCache:
        """One object per file in this process (so clients that share a file share its hit counters)."""
        resolved = str(Path(path).expanduser().resolve() if path is not None else default_path())
        with cls._shared_lock:
            cache = cls._shared.get(resolved)
            if cache is None:
                cache = cls._shared[resolved] = cls(resolved)
            return cache

    @staticmethod
    def key(request: Mapping[str, Any], index: int = 0) -> str:
        """The key of sample ``index`` of ``request`` (a JSON-able mapping of everything that shapes the answer)."""
        text = canonical_json({"v": SCHEMA_VERSION, "request": request, "sample": int(index)})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- connections ------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():  # a forked child opens its own
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._connections.append(conn)
        return conn

    class _Transaction:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb) -> None:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _write(self) -> ResponseCache._Transaction:
        return self._Transaction(self._conn())

    # -- reading and writing ----------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None (counted as a hit or a miss)."""
        return self.get_many([key])[key]

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Each key's stored value or None, read in one query."""
        keys = list(keys)
        found: dict[str, dict[str, Any]] = {}
        if keys:
            marks = ",".join("?" * len(keys))
            rows = self._conn().execute(f"SELECT key, value FROM responses WHERE key IN ({marks})", keys).fetchall()
            found = {k: json.loads(v) for k, v in rows}
        with self._lock:
            self.hits += sum(k in found for k in keys)
            self.misses += sum(k not in found for k in keys)
        return {k: found.get(k) for k in keys}

    def put(self, key: str, value: Mapping[str, Any], *, model: str | None = None, endpoint: str | None = None) -> None:
        """Store (or replace) one value, atomically."""
        self.put_many({key: value}, model=model, endpoint=endpoint)

    def put_many(self, items: Mapping[str, Mapping[str, Any]], *, model: str | None = None,
                 endpoint: str | None = None) -> None:
        """Store (or replace) several values in one transaction: all of them or none."""
        now = time.time()
        rows = [(k, canonical_json(dict(v)), model, endpoint, now) for k, v in items.items()]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany("INSERT OR REPLACE INTO responses (key, value, model, endpoint, created) "
                             "VALUES (?, ?, ?, ?, ?)", rows)

    def __contains__(self, key: str) -> bool:
        return self._conn().execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    # -- housekeeping -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``path``, ``entries``, ``bytes`` (the file with its WAL on disk), and this object's ``hits`` and
        ``misses`` in this process."""
        size = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        with self._lock:
            hits, misses = self.hits, self.misses
        return {"path": str(self.path), "entries": len(self), "bytes": size, "hits": hits, "misses": misses}

    def clear(self) -> int:
        """Delete every entry (and give the space back to the disk); returns how many there were."""
        with self._write() as conn:
            removed = conn.execute("DELETE FROM responses").rowcount
        conn = self._conn()
        try:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:  # another process is reading: the space comes back later
            pass
        return int(removed)

    def close(self) -> None:
        """Close every connection this object opened (it reopens on next use)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"
