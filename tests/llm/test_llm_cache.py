"""ResponseCache: keys, SQLite storage shared by threads and processes, stats/clear, and the CLI."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sparsegym import cli
from sparsegym.errors import ConfigError
from sparsegym.llm import ResponseCache
from sparsegym.llm.cache import default_path

REQUEST = {"endpoint": "chat", "model": "m", "input": [{"role": "user", "content": "hi"}], "temperature": 0.0,
           "max_tokens": 16, "seed": None}


def test_keys_are_canonical_and_per_sample():
    same = dict(reversed(list(REQUEST.items())))
    assert ResponseCache.key(REQUEST, 0) == ResponseCache.key(same, 0)
    assert ResponseCache.key(REQUEST, 0) != ResponseCache.key(REQUEST, 1)
    assert ResponseCache.key(REQUEST, 0) != ResponseCache.key({**REQUEST, "max_tokens": 17}, 0)
    assert ResponseCache.key(REQUEST, 0) != ResponseCache.key({**REQUEST, "temperature": 0.1}, 0)
    assert len(ResponseCache.key(REQUEST)) == 64
    with pytest.raises(ConfigError, match="JSON"):
        ResponseCache.key({"x": {1, 2}})


def test_put_get_stats_clear(tmp_path):
    cache = ResponseCache(tmp_path / "sub" / "r.sqlite")
    keys = [ResponseCache.key(REQUEST, i) for i in range(3)]
    assert cache.get_many(keys) == dict.fromkeys(keys)
    cache.put_many({k: {"text": f"t{i}", "finish_reason": "stop"} for i, k in enumerate(keys[:2])}, model="m", endpoint="chat")
    assert [v and v["text"] for v in cache.get_many(keys).values()] == ["t0", "t1", None]
    cache.put(keys[0], {"text": "replaced"})
    assert cache.get(keys[0]) == {"text": "replaced"} and keys[2] not in cache and len(cache) == 2
    stats = cache.stats()
    assert stats["entries"] == 2 and stats["bytes"] > 0 and stats["path"] == str(tmp_path / "sub" / "r.sqlite")
    assert (stats["hits"], stats["misses"]) == (3, 4)
    assert cache.clear() == 2 and len(cache) == 0 and cache.get(keys[0]) is None


def test_the_file_is_in_wal_mode(tmp_path):
    cache = ResponseCache(tmp_path / "r.sqlite")
    cache.put("k", {"text": "x"})
    with sqlite3.connect(tmp_path / "r.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_default_path_is_under_the_sparsegym_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARSEGYM_CACHE", str(tmp_path))
    assert default_path() == tmp_path / "llm" / "responses.sqlite"
    assert ResponseCache().path == default_path()
    assert ResponseCache.shared(tmp_path / "a.sqlite") is ResponseCache.shared(str(tmp_path / "a.sqlite"))


def test_threads_write_and_read_together(tmp_path):
    cache = ResponseCache(tmp_path / "r.sqlite")
    errors = []

    def work(t: int) -> None:
        try:
            for i in range(40):
                key = f"{t}-{i}"
                cache.put(key, {"text": key})
                assert cache.get(key) == {"text": key}
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 240


_WRITER = """
import sys
from sparsegym.llm import ResponseCache
cache = ResponseCache(sys.argv[1])
for i in range(60):
    cache.put_many({f"{sys.argv[2]}-{i}-{j}": {"text": str(j)} for j in range(3)})
"""


def test_processes_write_together(tmp_path):
    path = tmp_path / "r.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(p)]) for p in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert len(ResponseCache(path)) == 3 * 60 * 3


def test_cli_stats_and_clear(tmp_path, capsys):
    path = tmp_path / "r.sqlite"
    assert cli.main(["llm", "cache", "stats", "--path", str(path)]) == 0
    assert "no cache file yet" in capsys.readouterr().out and not path.exists()
    cache = ResponseCache(path)
    cache.put_many({"a": {"text": "1"}, "b": {"text": "2"}})
    assert cli.main(["llm", "cache", "stats", "--path", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 2 and Path(stats["path"]) == path
    assert cli.main(["llm", "cache", "stats", "--path", str(path)]) == 0
    assert "2 responses" in capsys.readouterr().out
    assert cli.main(["llm", "cache", "clear", "--path", str(path)]) == 0
    assert "removed 2" in capsys.readouterr().out and len(cache) == 0


def test_cli_uses_the_default_cache(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SPARSEGYM_CACHE", str(tmp_path))
    ResponseCache().put("a", {"text": "1"})
    assert cli.main(["llm", "cache", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 1
    out = subprocess.run([sys.executable, "-m", "sparsegym.cli", "llm", "cache", "clear"], capture_output=True,
                         text=True, env={**__import__("os").environ, "SPARSEGYM_CACHE": str(tmp_path)}, timeout=120)
    assert out.returncode == 0 and "removed 1" in out.stdout
