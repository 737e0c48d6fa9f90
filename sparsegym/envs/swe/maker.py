"""The offline task maker: bugs injected by AST mutation, kept only when the tests tell them apart.

For a local Python repository and its test command:

1. run the tests on the clean repository (in the local sandbox) and record which pass;
2. list every mutation site of the library's source files (:mod:`.mutate`; test files excluded) and try
   them in a seeded random order: apply one, run the tests, restore the file;
3. keep the mutation as a task when at least one test that passed now fails (FAIL_TO_PASS) and at
   least one still passes (PASS_TO_PASS), as SWE-smith validates its procedural bugs;
4. write the task in the SWE-bench format: the gold ``patch`` is the reverse of the bug (a unified
   diff), ``bug_patch`` the bug itself, and the problem statement is written from the failing tests
   (their names and the first failure's message), with no LLM.

``sparsegym swe make-tasks REPO --test-cmd "python -m pytest -rA" --out tasks.jsonl`` runs it.
"""

from __future__ import annotations

import difflib
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsegym.envs.swe.mutate import Mutation, mutations
from sparsegym.envs.swe.sandbox import LocalSandbox


def _is_test_file(rel: Path) -> bool:
    return rel.name.startswith("test") or "tests" in rel.parts or rel.name == "conftest.py" or "docs" in rel.parts


def _failure_excerpt(log: str, test_id: str, max_lines: int = 25) -> str:
    name = test_id.split("::")[-1]
    m = re.search(r"^_{3,} " + re.escape(name) + r" _{3,}$", log, re.M)
    if not m:
        return ""
    rest = log[m.end():].lstrip("\n")
    end = re.search(r"^(_{3,} \S.* _{3,}|={3,} .* ={3,})$", rest, re.M)
    lines = (rest[: end.start()] if end else rest).rstrip().splitlines()
    return "\n".join(lines[-max_lines:])


def problem_statement(repo: str, f2p: list[str], log: str) -> str:
    shown = f2p[:8]
    more = f"\n... and {len(f2p) - len(shown)} more" if len(f2p) > len(shown) else ""
    excerpt = _failure_excerpt(log, f2p[0])
    text = (f"Something in {repo} broke: {len(f2p)} test(s) that used to pass now fail.\n\n"
            "Failing tests:\n" + "\n".join(f"- {t}" for t in shown) + more)
    if excerpt:
        text += f"\n\nThe first failure:\n```\n{excerpt}\n```"
    return text + "\n\nFix the library code (not the tests) so that these tests pass again without breaking the others."


@dataclass
class MakerReport:
    repo: str
    sites: int = 0
    tried: int = 0
    kept: int = 0
    seconds: float = 0.0
    tasks: list[dict[str, Any]] = field(default_factory=list)


def _statuses(log: str) -> dict[str, str]:
    from sparsegym.envs.swe.env import parse_test_statuses

    return parse_test_statuses(log)


def make_tasks(repo_dir: str | Path, test_cmd: str, *, repo_name: str | None = None, max_tasks: int = 20,
               max_tries: int = 200, seed: int = 0, timeout: float = 120.0, repo_field: str | None = None,
               per_file_cap: int | None = None) -> MakerReport:
    """Make up to ``max_tasks`` validated tasks from ``repo_dir`` (module docstring)."""
    start = time.perf_counter()
    repo_dir = Path(repo_dir).resolve()
    name = repo_name or repo_dir.name
    report = MakerReport(repo=name)
    sources = sorted(p for p in repo_dir.rglob("*.py") if not _is_test_file(p.relative_to(repo_dir)))
    sites: list[Mutation] = []
    for p in sources:
        rel = str(p.relative_to(repo_dir))
        try:
            found = list(mutations(p.read_text(), rel))
        except SyntaxError:
            continue
        sites += found[:per_file_cap] if per_file_cap else found
    report.sites = len(sites)
    rng = random.Random(seed)
    rng.shuffle(sites)
    sb = LocalSandbox(timeout=timeout)
    sb.start(repo_dir)
    try:
        before = _statuses(sb.run(test_cmd).output)
        passed = {t for t, s in before.items() if s == "PASSED"}
        if not passed:
            raise RuntimeError(f"no test passes on the clean {name} with {test_cmd!r}: check the command")
        for m in sites[:max_tries]:
            if report.kept >= max_tasks:
                break
            target = sb.root / "repo" / m.path
            clean = target.read_text()
            try:
                buggy = m.apply(clean)
            except SyntaxError:
                continue
            report.tried += 1
            target.write_text(buggy)
            result = sb.run(test_cmd.replace("--tb=no", "") + " --tb=short")
            target.write_text(clean)
            after = _statuses(result.output)
            f2p = sorted(t for t in passed if after.get(t) != "PASSED")
            p2p = sorted(t for t in passed if after.get(t) == "PASSED")
            if result.timed_out or not f2p or not p2p:
                continue
            report.kept += 1
            bug = "".join(difflib.unified_diff(clean.splitlines(True), buggy.splitlines(True), f"a/{m.path}", f"b/{m.path}"))
            gold = "".join(difflib.unified_diff(buggy.splitlines(True), clean.splitlines(True), f"a/{m.path}", f"b/{m.path}"))
            report.tasks.append({
                "instance_id": f"sparsegym__{name}-{report.kept:04d}", "repo": f"sparsegym/{name}",
                "base_commit": "", "patch": gold, "test_patch": "", "bug_patch": bug,
                "problem_statement": problem_statement(name, f2p, result.output),
                "FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p, "version": "", "created_at": "",
                "repo_dir": repo_field or name, "test_cmd": test_cmd,
                "bug": {"path": m.path, "operator": m.operator, "line": m.line, "end_line": m.end_line,
                        "new_lines": list(m.new_lines), "description": m.description},
            })
    finally:
        sb.close()
    report.seconds = time.perf_counter() - start
    return report


def write_jsonl(tasks: list[dict[str, Any]], out: str | Path) -> None:
    out = Path(out)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    tmp.replace(out)
