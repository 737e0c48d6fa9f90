"""Run identity: what a leaderboard run *is*, as a hash, so results are never mixed across runs.

A run's identity is the sha256 (hex; shown shortened to 12 digits) of a canonical JSON document, the
*spec*, with these fields:

* ``entry``: the agent entry point as given (``pkg.module:factory`` or ``path/agent.py[:factory]``);
* ``kwargs``: the factory's keyword arguments (canonical JSON: sorted keys, no whitespace), less those the
  factory declares in ``IDENTITY_IGNORES`` (names of arguments that say where it runs, not what it
  does: ``LLMAgent`` ignores its server's ``base_url``, ``api_key``, ``timeout``, ``max_concurrency``
  and ``cache``, so the same model served on another port resumes the same run);
* ``files``: ``{label: sha256}`` of every file the run depends on:

  - the ``model_files`` a submission declares (label: the path as written in the file);
  - the agent's own source file when the entry is a ``.py`` path (label: that path);
  - every string in ``kwargs`` (at any depth) that names an existing file, or a folder, whose files
    are then hashed one by one (label ``folder/relative/path``; names starting with ``.`` and
    ``__pycache__`` are skipped). Relative paths are tried against the current folder, as the
    factory will see them, then against the submission file's folder. So
    ``--agent-kwargs '{"path": "runs/ppo"}'`` hashes the checkpoint in ``runs/ppo``: a retrained
    checkpoint saved to the same folder is a different run;

* ``observation``: ``native`` or ``text`` (see :mod:`sparsegym.leaderboards.suites`), and ``view``:
  the text wrapper and its version for ``text`` (e.g. ``TextObservation/2``), else null (each episode
  also records its family's view and version, e.g. ``minigrid-text`` 1);
* ``sparsegym``: the installed sparsegym version.

Two runs with equal identities resume each other; a display name is bound to one identity.
Not covered: the code of an installed package named by a module entry point (only sparsegym's own
version is part of the spec); pin a package version in the kwargs or declare files if it matters.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsegym.errors import SparseGymError
from sparsegym.leaderboards.suites import OBSERVATIONS

#: A folder named by a kwargs value with more files than this is refused (hashing it would take long,
#: and it is more likely data than a model: name the checkpoint file or declare ``model_files``).
MAX_FOLDER_FILES = 10_000
#: Hex digits of an identity shown in messages, and the fewest appended to default agent names.
SHORT = 12
NAME_HASH = 8


class RunIdentityError(SparseGymError, ValueError):
    """A run that cannot be identified, or a name already bound to a different run."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _folder_files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def hash_path(label: str, path: Path) -> dict[str, str]:
    """``{label: sha256}`` for a file; ``{label/relative: sha256}`` for each file of a folder."""
    if path.is_file():
        return {label: sha256_file(path)}
    out = {}
    for i, f in enumerate(_folder_files(path)):
        if i >= MAX_FOLDER_FILES:
            raise RunIdentityError(
                f"agent kwargs value {label!r} names a folder with over {MAX_FOLDER_FILES} files; the run identity "
                "hashes the files of folders named in kwargs. Name the model file itself, or declare it in "
                "the submission's model_files"
            )
        if f.is_file():
            out[f"{label.rstrip('/')}/{f.relative_to(path).as_posix()}"] = sha256_file(f)
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def _existing(text: str, bases: Iterable[Path | None]) -> Path | None:
    if not text or len(text) > 4096 or "\n" in text or "\0" in text:
        return None
    for base in bases:
        path = Path(text) if base is None or Path(text).is_absolute() else base / text
        try:
            if path.is_file() or path.is_dir():
                return path
        except OSError:
            continue
    return None


def kwargs_files(agent_kwargs: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Hashes of the files and folders that string values of ``agent_kwargs`` name (module docstring)."""
    bases: list[Path | None] = [None] + ([Path(base_dir)] if base_dir is not None else [])
    out: dict[str, str] = {}
    for text in _strings(agent_kwargs):
        path = _existing(text, bases)
        if path is not None:
            out.update(hash_path(text, path))
    return out


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no whitespace, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True)


@dataclass(frozen=True)
class RunIdentity:
    """A run's spec (module docstring) and its sha256 ``digest``."""

    spec: dict[str, Any]
    digest: str

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RunIdentity:
        spec = json.loads(canonical(dict(spec)))
        return cls(spec, hashlib.sha256(canonical(spec).encode()).hexdigest())

    @property
    def short(self) -> str:
        return self.digest[:SHORT]

    def describe(self) -> str:
        s = self.spec
        kwargs = "not recorded" if s.get("kwargs") is None else _clip(canonical(s["kwargs"]))
        return (f"{self.short}: entry {s.get('entry')!r}, kwargs {kwargs}, {len(s.get('files') or {})} file(s), "
                f"observation {s.get('observation')}, sparsegym {s.get('sparsegym')}")

    def differences(self, other: Mapping[str, Any] | RunIdentity | None) -> list[str]:
        """What differs from ``other`` (a stored spec), one line per field, as ``stored -> this run``."""
        old = other.spec if isinstance(other, RunIdentity) else other
        if old is None:
            return ["the stored results carry no record of what ran"]
        new, lines = self.spec, []
        if old.get("entry") != new.get("entry"):
            lines.append(f"entry: {old.get('entry')!r} -> {new.get('entry')!r}")
        if old.get("kwargs") != new.get("kwargs"):
            before = ("not recorded (results stored before runs had identities)" if old.get("kwargs") is None
                      else _clip(canonical(old["kwargs"])))
            lines.append(f"kwargs: {before} -> {_clip(canonical(new.get('kwargs')))}")
        a, b = old.get("files") or {}, new.get("files") or {}
        changed = [f"{k} {a[k][:8]} -> {b[k][:8]}" for k in sorted(set(a) & set(b)) if a[k] != b[k]]
        changed += [f"{k} only in the stored run" for k in sorted(set(a) - set(b))]
        changed += [f"{k} new in this run ({b[k][:8]})" for k in sorted(set(b) - set(a))]
        if changed:
            lines.append("file hashes (sha256): " + "; ".join(changed[:6]) + ("; ..." if len(changed) > 6 else ""))
        for key, what in (("observation", "observation"), ("view", "text view"), ("sparsegym", "sparsegym version")):
            if old.get(key) != new.get(key):
                lines.append(f"{what}: {old.get(key)} -> {new.get(key)}")
        extra = sorted(set(old) - set(new))
        if extra:
            lines.append(f"the stored run also records {', '.join(extra)}: " + ", ".join(f"{k}={old[k]!r}" for k in extra))
        return lines or ["nothing in the spec (the stored identity was computed differently)"]


def _clip(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _view(observation: str) -> str | None:
    if observation != "text":
        return None
    from sparsegym.wrappers.text import TextObservation

    return f"TextObservation/{getattr(TextObservation, 'VERSION', 0)}"


def check_observation(observation: str) -> str:
    if observation not in OBSERVATIONS:
        raise RunIdentityError(f"unknown observation mode {observation!r}; use one of: {', '.join(OBSERVATIONS)}")
    return observation


def _ignored_kwargs(entry: str, base_dir: str | os.PathLike | None) -> frozenset[str]:
    """The kwargs an agent factory declares irrelevant to what it does (``IDENTITY_IGNORES``): an LLM agent's
    server address, key, timeouts and cache location."""
    try:
        from sparsegym.leaderboards.agent import load_factory

        return frozenset(getattr(load_factory(entry, base_dir), "IDENTITY_IGNORES", ()))
    except Exception:  # an entry that cannot load is reported by the evaluator, with its own message
        return frozenset()


def run_identity(entry: str, agent_kwargs: Mapping[str, Any] | None = None, *, observation: str = "native",
                 model_files: Mapping[str, str] | None = None,
                 base_dir: str | os.PathLike | None = None) -> RunIdentity:
    """The identity of running ``entry`` with ``agent_kwargs`` (see the module docstring).

    ``model_files`` are already-computed ``{path: sha256}`` (a :class:`Submission`'s); files named in
    the kwargs and a ``.py`` entry's source are hashed here.
    """
    import sparsegym

    kwargs = dict(agent_kwargs or {})
    ignored = sorted(k for k in kwargs if k in _ignored_kwargs(entry, base_dir))
    for k in ignored:  # where the agent talks to, not what it does (the factory says which: module docstring)
        kwargs.pop(k)
    try:
        kwargs = json.loads(canonical(kwargs))
    except (TypeError, ValueError) as exc:
        raise RunIdentityError(f"agent kwargs must be JSON values (strings, numbers, lists, mappings): {exc}") from None
    files = dict(model_files or {})
    target = entry.strip().partition(":")[0]
    if target.endswith(".py"):
        source = Path(target) if base_dir is None or Path(target).is_absolute() else Path(base_dir) / target
        if source.is_file():
            files[target] = sha256_file(source)
    files.update(kwargs_files(kwargs, base_dir))
    return RunIdentity.from_spec({
        "entry": entry, "kwargs": kwargs, "files": files, "observation": check_observation(observation),
        "view": _view(observation), "sparsegym": sparsegym.__version__,
    })


def legacy_identity(entry: str | None, details: Mapping[str, Any] | None, versions: Iterable[Mapping[str, Any]],
                    agent: str | None = None) -> RunIdentity:
    """The identity of results stored before runs had identities, from what the store kept.

    The same formula as :func:`run_identity` on the stored ``entry``, the ``details``' agent kwargs
    and model-file hashes (kwargs null where they were not recorded, as by ``sparsegym evaluate``),
    the native observation and the sparsegym version most of the rows were made with; so a
    submission stored by an older version resumes when it runs again unchanged. Rows with no
    submission record (``entry`` None) also record their ``agent`` name.
    """
    details = details or {}
    counts = Counter(str(v.get("sparsegym")) for v in versions if isinstance(v, Mapping) and v.get("sparsegym"))
    spec: dict[str, Any] = {
        "entry": entry,
        "kwargs": details.get("agent_kwargs") if isinstance(details.get("agent_kwargs"), dict) else None,
        "files": dict(details.get("model_files") or {}),
        "observation": "native", "view": None,
        "sparsegym": counts.most_common(1)[0][0] if counts else "unknown",
    }
    if entry is None:
        spec["agent"] = agent
    return RunIdentity.from_spec(spec)
