"""Shared bookkeeping of the benchmarks that keep one CSV row per run and resume from it: typed reading and
atomic writing (a run that is interrupted never leaves a half-written results file).

Import it as the scripts import ``_timing``: ``from _results_csv import read_rows, write_rows`` (the scripts run as
``python benchmarks/NAME.py``, so this folder is on ``sys.path``)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from pathlib import Path


def read_rows(path: Path, *, floats: Iterable[str] = (), ints: Iterable[str] = (),
              blank_is_nan: bool = False) -> list[dict]:
    """The rows of ``path`` (none when it does not exist yet), with the named columns converted; an empty
    float cell (or a column that older files lack) is NaN when ``blank_is_nan``, an error otherwise."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    floats, ints = tuple(floats), tuple(ints)
    for r in rows:
        for k in floats:
            r[k] = math.nan if blank_is_nan and r.get(k) in ("", None) else float(r[k])
        for k in ints:
            r[k] = int(r[k])
    return rows


def write_rows(path: Path, rows: Iterable[dict], fields: list[str],
               key: Callable[[dict], object] | None = None) -> None:
    """Write ``rows`` (sorted by ``key`` when given) to ``path`` through a temporary file and a rename."""
    rows = sorted(rows, key=key) if key is not None else list(rows)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
