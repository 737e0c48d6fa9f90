"""The results store: one row per episode, in SQLite by default or PostgreSQL for a shared server.

Where it lives:

* default: ``$SPARSEGYM_HOME/results.db``, else ``$XDG_DATA_HOME/sparsegym/results.db``, else
  ``~/.local/share/sparsegym/results.db``;
* ``--db PATH`` (or ``ResultsStore("path/to/results.db")``): an SQLite file;
* ``--db postgresql://USER:PASSWORD@HOST:5432/DBNAME``: a PostgreSQL database (needs
  ``pip install "sparsegym[postgres]"``; the tables are created on first use).

Each episode row is inserted and committed on its own, keyed by (agent, suite, split, env id,
seed): a run that is killed keeps every finished episode, and a run started again skips them
(``INSERT ... ON CONFLICT DO NOTHING``, which SQLite >= 3.24 and PostgreSQL both speak). The SQL
uses only types both engines share.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sparsegym._deps import require

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submissions (
        agent TEXT PRIMARY KEY,
        entry TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS episodes (
        agent TEXT NOT NULL,
        suite TEXT NOT NULL,
        split TEXT NOT NULL,
        env_id TEXT NOT NULL,
        seed BIGINT NOT NULL,
        episode_return DOUBLE PRECISION NOT NULL,
        success INTEGER NOT NULL,
        length INTEGER NOT NULL,
        wall_seconds DOUBLE PRECISION NOT NULL,
        error TEXT,
        versions TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (agent, suite, split, env_id, seed)
    )""",
)
_EPISODE_COLUMNS = ("agent", "suite", "split", "env_id", "seed", "episode_return", "success", "length",
                    "wall_seconds", "error", "versions", "created_at")


@dataclass
class EpisodeRecord:
    """One finished (or failed) episode."""

    agent: str
    suite: str
    split: str
    env_id: str
    seed: int
    episode_return: float
    success: bool
    length: int
    wall_seconds: float
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, int]:
        return (self.env_id, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_db_path() -> Path:
    if os.environ.get("SPARSEGYM_HOME"):
        return Path(os.environ["SPARSEGYM_HOME"]) / "results.db"
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "sparsegym" / "results.db"


class ResultsStore:
    """Episode records and submissions. ``ResultsStore()`` opens the default SQLite file."""

    def __init__(self, location: str | os.PathLike | None = None):
        location = str(location) if location is not None else str(default_db_path())
        self.location = location
        if location.startswith(("postgresql://", "postgres://")):
            psycopg = require("psycopg", "postgres", "A PostgreSQL results store")
            self._conn = psycopg.connect(location)
            self._param = "%s"
            self.kind = "postgresql"
        else:
            path = Path(location.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._param = "?"
            self.kind = "sqlite"
        for statement in _SCHEMA:
            self._execute(statement)
        self._conn.commit()

    # -- low level --------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql if self._param == "?" else sql.replace("?", self._param)

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        cur = self._conn.cursor()
        cur.execute(self._sql(sql), tuple(params))
        return cur

    @staticmethod
    def _where(**filters: Any) -> tuple[str, list[Any]]:
        """`` WHERE a = ? AND b = ?`` for the filters that are not None (or ``""``), and their values."""
        given = {k: v for k, v in filters.items() if v is not None}
        if not given:
            return "", []
        return " WHERE " + " AND ".join(f"{k} = ?" for k in given), list(given.values())

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- episodes ---------------------------------------------------------------------------------

    def add_episode(self, record: EpisodeRecord) -> bool:
        """Insert and commit one record; False if that episode was already stored."""
        values = (
            record.agent, record.suite, record.split, record.env_id, int(record.seed), float(record.episode_return),
            int(bool(record.success)), int(record.length), float(record.wall_seconds), record.error,
            json.dumps(record.versions, sort_keys=True), float(record.created_at),
        )
        placeholders = ", ".join("?" for _ in _EPISODE_COLUMNS)
        try:
            cur = self._execute(
                f"INSERT INTO episodes ({', '.join(_EPISODE_COLUMNS)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
                values,
            )
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise
        return cur.rowcount == 1

    def done_keys(self, agent: str, suite: str, split: str) -> set[tuple[str, int]]:
        """(env id, seed) of every stored episode of a run."""
        cur = self._execute("SELECT env_id, seed FROM episodes WHERE agent = ? AND suite = ? AND split = ?",
                            (agent, suite, split))
        return {(row[0], int(row[1])) for row in cur.fetchall()}

    def episodes(self, suite: str | None = None, split: str | None = None, agent: str | None = None) -> list[EpisodeRecord]:
        where, params = self._where(suite=suite, split=split, agent=agent)
        sql = f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM episodes{where} ORDER BY agent, env_id, seed"
        out = []
        for row in self._execute(sql, params).fetchall():
            d = dict(zip(_EPISODE_COLUMNS, row))
            d["success"] = bool(d["success"])
            d["seed"] = int(d["seed"])
            d["versions"] = json.loads(d["versions"])
            out.append(EpisodeRecord(**d))
        return out

    def delete_run(self, agent: str, suite: str | None = None, split: str | None = None) -> int:
        where, params = self._where(agent=agent, suite=suite, split=split)
        cur = self._execute("DELETE FROM episodes" + where, params)
        self._conn.commit()
        return cur.rowcount

    # -- submissions ------------------------------------------------------------------------------

    def get_submission(self, agent: str) -> dict[str, Any] | None:
        row = self._execute("SELECT entry, details, created_at FROM submissions WHERE agent = ?", (agent,)).fetchone()
        if row is None:
            return None
        return {"agent": agent, "entry": row[0], "details": json.loads(row[1]), "created_at": row[2]}

    def put_submission(self, agent: str, entry: str, details: dict[str, Any]) -> None:
        """Record (or update) what an agent name stands for."""
        try:
            self._execute("DELETE FROM submissions WHERE agent = ?", (agent,))
            self._execute("INSERT INTO submissions (agent, entry, details, created_at) VALUES (?, ?, ?, ?)",
                          (agent, entry, json.dumps(details, sort_keys=True), time.time()))
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def agents(self, suite: str | None = None, split: str | None = None) -> list[str]:
        where, params = self._where(suite=suite, split=split)
        return sorted(row[0] for row in self._execute("SELECT DISTINCT agent FROM episodes" + where, params).fetchall())
