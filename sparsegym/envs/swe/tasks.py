"""Software-repair task instances in the SWE-bench / SWE-Gym format, loaded and validated.

An instance is a JSON object with (all strings unless noted): ``instance_id`` ("owner__repo-PR"),
``repo`` ("owner/name"), ``base_commit``, ``patch`` (the gold fix as a unified diff), ``test_patch``,
``problem_statement``, ``FAIL_TO_PASS`` and ``PASS_TO_PASS`` (test ids: a list, or a JSON-encoded list
as in SWE-bench's Hugging Face data), and optionally ``hints_text``, ``created_at``, ``version`` (str or
int), ``environment_setup_commit`` (SWE-Gym has none; the base commit is used).

sparsegym's offline tasks (made by :mod:`.maker`) add ``repo_dir`` (a project folder shipped in
``sparsegym/envs/swe/data/repos``), ``bug_patch`` (the diff that puts the bug in) and ``test_cmd``.

:func:`load_tasks` reads ``.json`` (a list, or one object) or ``.jsonl`` files and raises
:class:`TaskFormatError` naming the file, the line or index, and the field for anything malformed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sparsegym.errors import SparseGymError

REQUIRED = ("instance_id", "repo", "base_commit", "patch", "problem_statement", "FAIL_TO_PASS", "PASS_TO_PASS")


class TaskFormatError(SparseGymError, ValueError):
    """A task file or instance that does not follow the SWE-bench / SWE-Gym format."""


@dataclass
class SWETask:
    instance_id: str
    repo: str
    base_commit: str
    patch: str
    problem_statement: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    test_patch: str = ""
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    repo_dir: str = ""
    bug_patch: str = ""
    test_cmd: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def setup_commit(self) -> str:
        return self.environment_setup_commit or self.base_commit

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        return {**extra, **d}


def _test_list(value: Any, where: str, name: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise TaskFormatError(f"{where}: {name} is a string but not a JSON-encoded list ({exc})") from exc
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise TaskFormatError(f"{where}: {name} must be a list of test ids (or a JSON-encoded list), got {type(value).__name__}")
    return value


def parse_task(obj: Any, where: str) -> SWETask:
    """One instance from its JSON object; ``where`` names it in errors (file and line)."""
    if not isinstance(obj, dict):
        raise TaskFormatError(f"{where}: an instance must be a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise TaskFormatError(f"{where}: missing field(s) {missing} (required: {list(REQUIRED)})")
    for key in ("instance_id", "repo", "base_commit", "patch", "problem_statement", "test_patch", "hints_text",
                "created_at", "environment_setup_commit", "repo_dir", "bug_patch", "test_cmd"):
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            raise TaskFormatError(f"{where}: field {key!r} must be a string, got {type(obj[key]).__name__}")
    if not obj["instance_id"].strip():
        raise TaskFormatError(f"{where}: field 'instance_id' is empty")
    if "/" not in obj["repo"]:
        raise TaskFormatError(f"{where}: field 'repo' must look like 'owner/name', got {obj['repo']!r}")
    version = obj.get("version", "")
    if version is None:
        version = ""
    if not isinstance(version, (str, int, float)):
        raise TaskFormatError(f"{where}: field 'version' must be a string or a number")
    known = {f for f in SWETask.__dataclass_fields__ if f != "extra"}
    return SWETask(
        **{k: (obj.get(k) or "") for k in known - {"FAIL_TO_PASS", "PASS_TO_PASS", "version"}},
        FAIL_TO_PASS=_test_list(obj["FAIL_TO_PASS"], where, "FAIL_TO_PASS"),
        PASS_TO_PASS=_test_list(obj["PASS_TO_PASS"], where, "PASS_TO_PASS"),
        version=str(version),
        extra={k: v for k, v in obj.items() if k not in known},
    )


def load_tasks(path: str | Path) -> list[SWETask]:
    """Every instance of a ``.json`` or ``.jsonl`` file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise TaskFormatError(f"task file {str(path)!r} does not exist")
    text = path.read_text()
    tasks: list[SWETask] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFormatError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            tasks.append(parse_task(obj, f"{path}:{n}"))
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFormatError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        items = data if isinstance(data, list) else [data]
        tasks = [parse_task(obj, f"{path}[{i}]") for i, obj in enumerate(items)]
    ids = [t.instance_id for t in tasks]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise TaskFormatError(f"{path}: duplicate instance_id(s) {dupes[:5]}")
    return tasks


def swegym_image(instance_id: str) -> str:
    """The Docker image SWE-Gym's OpenHands harness uses for an instance.

    >>> swegym_image("getmoto__moto-5752")
    'xingyaoww/sweb.eval.x86_64.getmoto_s_moto-5752'
    """
    return "xingyaoww/sweb.eval.x86_64." + instance_id.lower().replace("__", "_s_")


def swebench_image(instance_id: str, arch: str = "x86_64") -> str:
    """The SWE-bench harness's evaluation image name (registry form: "__" becomes "_1776_").

    >>> swebench_image("django__django-11099")
    'swebench/sweb.eval.x86_64.django_1776_django-11099'
    """
    return f"swebench/sweb.eval.{arch}." + instance_id.lower().replace("__", "_1776_")
