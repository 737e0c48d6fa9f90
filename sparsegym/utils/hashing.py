"""Stable digests of observations, for counting states and keying archive cells.

Two observations get the same digest exactly when their bytes are equal (and, for dicts, their keys),
so a digest stands for exact equality at 16 bytes a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import Any

import numpy as np

DIGEST_SIZE = 16


def digest(data: bytes) -> bytes:
    """A 16-byte BLAKE2b digest of ``data``."""
    return hashlib.blake2b(data, digest_size=DIGEST_SIZE).digest()


def observation_digest(observation: Any) -> Hashable:
    """A key for one observation: text stays itself; a dict hashes its arrays in key order; anything
    else hashes its array bytes (dtype as given).

    >>> observation_digest({"a": np.zeros(2), "b": 1}) == observation_digest({"b": 1, "a": np.zeros(2)})
    True
    """
    if isinstance(observation, str):
        return observation
    if isinstance(observation, dict):
        return digest(b"".join(np.ascontiguousarray(observation[k]).tobytes() for k in sorted(observation)))
    return digest(np.ascontiguousarray(observation).tobytes())


def row_digests(rows: Any) -> list[bytes]:
    """One digest per row of a ``(B, D)`` batch of flat observations (numpy or torch), taken on the
    rows as float32, so the same state flattened on two paths gets the same key."""
    if hasattr(rows, "detach"):
        rows = rows.detach().cpu().numpy()
    rows = np.ascontiguousarray(np.asarray(rows, dtype=np.float32))
    return [digest(row.tobytes()) for row in rows.reshape(len(rows), -1)]
