"""Submission files: a small YAML (or JSON) document naming an agent and the suite it plays.

    name: my-agent                 # required: letters, digits, '.', '_', '-'
    authors: [Ada, Grace]          # required: a name or a list of names
    agent: my_pkg.agents:make      # required: entry point (see sparsegym.leaderboards.agent)
    suite: smoke                   # required: a suite from `sparsegym suites`
    agent_kwargs: {temperature: 0} # optional: passed to the factory
    model_files: [weights.pt]      # optional: must exist; their sha256 is stored with the results
    metadata: {url: ..., notes: ...}  # optional: free-form, stored with the results
    observation: text              # optional: native or text (default: the suite's; see suites)

Every problem is reported with the field it concerns.

The run's identity (:mod:`sparsegym.leaderboards.identity`) covers the agent entry, its kwargs, the
sha256 of each model file (and of files or folders a kwargs value names, and of the agent's ``.py``
file), the observation mode and the sparsegym version; ``name`` is the display name bound to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsegym._deps import require
from sparsegym.errors import SparseGymError
from sparsegym.leaderboards.identity import sha256_file
from sparsegym.leaderboards.suites import OBSERVATIONS, get_suite

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
REQUIRED = ("name", "authors", "agent", "suite")
OPTIONAL = ("agent_kwargs", "model_files", "metadata", "observation")


class SubmissionError(SparseGymError, ValueError):
    """A malformed submission; the message names the file and the field."""


@dataclass
class Submission:
    name: str
    authors: list[str]
    agent: str
    suite: str
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    model_files: dict[str, str] = field(default_factory=dict)  # path -> sha256
    metadata: dict[str, Any] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)
    observation: str | None = None  # None: the suite's default

    def record(self) -> dict[str, Any]:
        """What the results store keeps about the submission."""
        out = {"authors": self.authors, "agent_kwargs": self.agent_kwargs, "model_files": self.model_files,
               "metadata": self.metadata}
        if self.observation is not None:
            out["observation"] = self.observation
        return out


def _sha256(path: Path) -> str:
    return sha256_file(path)


def parse_submission(data: Any, source: str = "<submission>", base_dir: Path | None = None) -> Submission:
    """Validate a decoded submission document."""
    base_dir = base_dir or Path.cwd()

    def bad(field_name: str, problem: str) -> SubmissionError:
        return SubmissionError(f"{source}: field {field_name!r}: {problem}")

    if not isinstance(data, dict):
        raise SubmissionError(f"{source}: a submission must be a mapping of fields ({', '.join(REQUIRED)}), got {type(data).__name__}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise bad(unknown[0], f"unknown field; allowed fields: {', '.join(REQUIRED + OPTIONAL)}")
    for key in REQUIRED:
        if key not in data or data[key] in (None, "", []):
            raise bad(key, "is required")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad("name", f"{name!r} must be 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit")
    authors = data["authors"]
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, list) or not all(isinstance(a, str) and a.strip() for a in authors):
        raise bad("authors", "must be a name or a list of names")
    if not isinstance(data["agent"], str):
        raise bad("agent", "must be an entry point string like 'package.module:factory' or 'agent.py'")
    suite = data["suite"]
    try:
        get_suite(str(suite))
    except ValueError as exc:
        raise bad("suite", str(exc)) from None
    kwargs = data.get("agent_kwargs") or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise bad("agent_kwargs", "must be a mapping of keyword arguments")
    files = data.get("model_files") or []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list):
        raise bad("model_files", "must be a path or a list of paths")
    hashes = {}
    for f in files:
        path = Path(f) if Path(f).is_absolute() else base_dir / f
        if not path.is_file():
            raise bad("model_files", f"{str(f)!r} does not exist (paths are relative to the submission file)")
        hashes[str(f)] = _sha256(path)
    observation = data.get("observation")
    if observation is not None and observation not in OBSERVATIONS:
        raise bad("observation", f"{observation!r} must be one of: {', '.join(OBSERVATIONS)}")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise bad("metadata", "must be a mapping")
    try:
        json.dumps(metadata)
        json.dumps(kwargs)
    except TypeError as exc:
        raise bad("metadata", f"must hold plain values (strings, numbers, lists, mappings): {exc}") from None
    return Submission(name, authors, data["agent"], str(suite), dict(kwargs), hashes, dict(metadata), base_dir,
                      observation)


def load_submission(path: str | Path) -> Submission:
    """Read and validate a submission file (``.yaml``/``.yml`` needs PyYAML; ``.json`` needs nothing)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"submission file {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SubmissionError(f"{path}: not valid JSON: {exc}") from None
    else:
        yaml = require("yaml", "leaderboard", "Reading YAML submissions")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SubmissionError(f"{path}: not valid YAML: {exc}") from None
    return parse_submission(data, str(path), path.resolve().parent)
