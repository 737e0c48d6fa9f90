"""The results store: one row per episode, in SQLite by default or PostgreSQL for a shared server.

Where it lives:

* default: ``$SPARSEGYM_HOME/results.db``, else ``$XDG_DATA_HOME/sparsegym/results.db``, else
  ``~/.local/share/sparsegym/results.db``;
* ``--db PATH`` (or ``ResultsStore("path/to/results.db")``): an SQLite file;
* ``--db postgresql://USER:PASSWORD@HOST:5432/DBNAME``: a PostgreSQL database (needs
  ``pip install "sparsegym[postgres]"``; the tables are created on first use).

Tables:

* ``submissions``: one row per agent *name*: the entry point, free-form ``details`` (authors,
  kwargs, model files, metadata), and the run ``identity`` the name is bound to with its
  ``identity_spec`` (what went into the hash: :mod:`sparsegym.leaderboards.identity`);
* ``episodes``: one row per (agent name, suite, split, env id, seed) with the run ``identity`` on
  every row, the return, success, length, wall seconds, error and ``versions`` (packages, and the
  observation mode and text view the agent saw).

Each episode row is inserted and committed on its own: a run that is killed keeps every finished
episode, and a run started again with the same identity skips them (``INSERT ... ON CONFLICT DO
NOTHING``, which SQLite >= 3.24 and PostgreSQL both speak). The SQL uses only types both engines share.

Migration: a store written before runs had identities is upgraded in place when opened (SQLite
under ``BEGIN IMMEDIATE``, PostgreSQL under an advisory lock, so concurrent openers are safe): the
``identity`` columns are added, and rows without an identity get a *legacy identity* computed from
the stored entry and details (:func:`sparsegym.leaderboards.identity.legacy_identity`). Old episodes
stay readable and ranked; an old submission run again unchanged has the same identity and resumes.
Rows that an older sparsegym writes into an upgraded store are filled the same way on the next open.
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
from sparsegym.leaderboards.identity import legacy_identity

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS submissions (
        agent TEXT PRIMARY KEY,
        entry TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        identity TEXT,
        identity_spec TEXT
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
        identity TEXT,
        progression DOUBLE PRECISION,
        agent_stats TEXT,
        PRIMARY KEY (agent, suite, split, env_id, seed)
    )""",
)
#: Columns added since the first schema: (table, column, type). Opening an older store adds them.
_ADDED_COLUMNS = (("submissions", "identity", "TEXT"), ("submissions", "identity_spec", "TEXT"),
                  ("episodes", "identity", "TEXT"), ("episodes", "progression", "DOUBLE PRECISION"),
                  ("episodes", "agent_stats", "TEXT"))
_EPISODE_COLUMNS = ("agent", "suite", "split", "env_id", "seed", "episode_return", "success", "length",
                    "wall_seconds", "error", "versions", "created_at", "identity", "progression", "agent_stats")
#: PostgreSQL advisory-lock key that serializes schema upgrades ("sgym" in ASCII).
_PG_LOCK = 0x73_67_79_6D


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
    identity: str | None = None  # sha256 of what ran (sparsegym.leaderboards.identity)
    progression: float | None = None  # how far the episode got, in [0, 1] (sparsegym.envs.progress); None: not recorded
    agent_stats: dict[str, Any] | None = None  # what the agent reported (LLM agents: calls, tokens, invalid replies, ...)

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
        self._migrate()

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

    def _columns(self, table: str) -> set[str]:
        return {d[0].lower() for d in self._execute(f"SELECT * FROM {table} WHERE 1 = 0").description}

    def _migrate(self) -> None:
        """Add missing columns and give rows without an identity their legacy one (module docstring)."""
        if all(c in self._columns(t) for t, c, _ in _ADDED_COLUMNS) and not self._has_unidentified():
            self._conn.commit()  # end the reads' transaction (PostgreSQL would otherwise hold its locks)
            return
        try:
            if self.kind == "sqlite":
                self._conn.execute("BEGIN IMMEDIATE")  # one writer at a time; others wait (timeout 30 s)
            else:
                self._execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))
            for table, column, kind in _ADDED_COLUMNS:
                if column not in self._columns(table):  # checked again under the lock
                    self._execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self._fill_identities()
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def _has_unidentified(self) -> bool:
        return any(self._execute(f"SELECT 1 FROM {t} WHERE identity IS NULL LIMIT 1").fetchone()
                   for t in ("submissions", "episodes"))

    def _fill_identities(self) -> None:
        versions: dict[str, list[dict]] = {}
        for agent, raw in self._execute("SELECT agent, versions FROM episodes WHERE identity IS NULL").fetchall():
            try:
                versions.setdefault(agent, []).append(json.loads(raw))
            except (TypeError, ValueError):
                versions.setdefault(agent, [])
        subs = self._execute("SELECT agent, entry, details, identity FROM submissions").fetchall()
        bound = {}
        for agent, entry, details, identity in subs:
            if identity is None:
                try:
                    details = json.loads(details)
                except (TypeError, ValueError):
                    details = {}
                ident = legacy_identity(entry, details if isinstance(details, dict) else {}, versions.get(agent, []))
                self._execute("UPDATE submissions SET identity = ?, identity_spec = ? WHERE agent = ?",
                              (ident.digest, json.dumps(ident.spec, sort_keys=True), agent))
                identity = ident.digest
            bound[agent] = identity
        for agent, rows in versions.items():
            identity = bound.get(agent) or legacy_identity(None, None, rows, agent=agent).digest
            self._execute("UPDATE episodes SET identity = ? WHERE agent = ? AND identity IS NULL", (identity, agent))

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
            json.dumps(record.versions, sort_keys=True), float(record.created_at), record.identity,
            None if record.progression is None else float(record.progression),
            None if record.agent_stats is None else json.dumps(record.agent_stats, sort_keys=True),
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

    def done_keys(self, agent: str, suite: str, split: str, identity: str | None = None) -> set[tuple[str, int]]:
        """(env id, seed) of every stored episode of a run (of that identity, when given)."""
        where, params = self._where(agent=agent, suite=suite, split=split, identity=identity)
        cur = self._execute("SELECT env_id, seed FROM episodes" + where, params)
        return {(row[0], int(row[1])) for row in cur.fetchall()}

    def episodes(self, suite: str | None = None, split: str | None = None, agent: str | None = None,
                 identity: str | None = None) -> list[EpisodeRecord]:
        where, params = self._where(suite=suite, split=split, agent=agent, identity=identity)
        sql = f"SELECT {', '.join(_EPISODE_COLUMNS)} FROM episodes{where} ORDER BY agent, env_id, seed"
        out = []
        for row in self._execute(sql, params).fetchall():
            d = dict(zip(_EPISODE_COLUMNS, row))
            d["success"] = bool(d["success"])
            d["seed"] = int(d["seed"])
            d["versions"] = json.loads(d["versions"])
            d["agent_stats"] = json.loads(d["agent_stats"]) if d["agent_stats"] else None
            out.append(EpisodeRecord(**d))
        return out

    def delete_run(self, agent: str, suite: str | None = None, split: str | None = None) -> int:
        where, params = self._where(agent=agent, suite=suite, split=split)
        cur = self._execute("DELETE FROM episodes" + where, params)
        self._conn.commit()
        return cur.rowcount

    # -- submissions ------------------------------------------------------------------------------

    def get_submission(self, agent: str) -> dict[str, Any] | None:
        """What the name ``agent`` stands for: entry, details, created_at, identity and identity_spec."""
        row = self._execute("SELECT entry, details, created_at, identity, identity_spec FROM submissions WHERE agent = ?",
                            (agent,)).fetchone()
        if row is None:
            return None
        return {"agent": agent, "entry": row[0], "details": json.loads(row[1]), "created_at": row[2],
                "identity": row[3], "identity_spec": json.loads(row[4]) if row[4] else None}

    def run_identities(self, agent: str) -> set[str | None]:
        """Every identity stored under the name ``agent``: its submission's and its episodes'."""
        sub = self.get_submission(agent)
        found = {row[0] for row in self._execute("SELECT DISTINCT identity FROM episodes WHERE agent = ?", (agent,))}
        return found | ({sub["identity"]} if sub is not None else set())

    def put_submission(self, agent: str, entry: str, details: dict[str, Any], identity: str | None = None,
                       identity_spec: dict[str, Any] | None = None) -> None:
        """Record (or update) what an agent name stands for, and the run identity it is bound to."""
        try:
            self._execute("DELETE FROM submissions WHERE agent = ?", (agent,))
            self._execute("INSERT INTO submissions (agent, entry, details, created_at, identity, identity_spec) "
                          "VALUES (?, ?, ?, ?, ?, ?)",
                          (agent, entry, json.dumps(details, sort_keys=True), time.time(), identity,
                           json.dumps(identity_spec, sort_keys=True) if identity_spec is not None else None))
            self._conn.commit()
        except Exception:
            self._conn.rollback()
            raise

    def agents(self, suite: str | None = None, split: str | None = None) -> list[str]:
        where, params = self._where(suite=suite, split=split)
        return sorted(row[0] for row in self._execute("SELECT DISTINCT agent FROM episodes" + where, params).fetchall())
