"""A software-repair env (SWE-Gym style): fix a repository so its failing tests pass, then submit.

Actions (one per step; the first word names it, file contents follow on the next lines):

``run <shell command>``
    Run a command in the repository (``bash -c``), within the per-command time limit.
``view <path> [<first line> <last line>]``
    Show a file with line numbers (``cat -n`` style), or a folder's files two levels deep.
``create <path>`` + newline + contents
    Create a file; refused when it exists.
``str_replace <path>`` + newline + ``<<<<<<< OLD`` / old text / ``=======`` / new text / ``>>>>>>> NEW``
    Replace the old text, which must occur exactly once.
``insert <path> <line>`` + newline + text
    Insert the text after line ``<line>`` (0: at the top).
``undo <path>``
    Revert the last edit of that file.
``submit``
    End the episode and grade the repository.

Grading (on ``submit``): the test files are restored to the task's version (agents' edits to tests do
not count), the task's test command runs, and each test's status is read from pytest's ``-rA``
summary. ``resolved`` means every FAIL_TO_PASS and PASS_TO_PASS test passes (a missing test counts as
failed). The reward is 1.0 when resolved (``reward="resolved"``, default) or the fraction of those tests
that pass (``reward="fraction"``). ``info["outcome"]`` climbs a ladder, ``no_submit`` (0) <
``empty_patch`` (1) < ``tests_fail`` (2) < ``resolved`` (3), with the level in ``info["outcome_level"]``:
``GatedReward(env, threshold=3, outcome=outcome_level)`` pays step rewards only to resolved episodes.

Tasks: ``reset(seed=s)`` plays task ``s % len(tasks)`` (so a suite's consecutive seeds cover every task
once), ``options={"task": index or instance_id}`` a chosen one, an unseeded reset one drawn from the env's
RNG.

Sandbox violations: a command that runs past its time limit, or whose output shows the sandbox
stopping it (no network, a read-only file system outside the workspace, the process cap, the disk
quota, the file-size limit), ends the episode (truncated) with ``info["violation"]`` saying what
happened; ``end_on_violation=False`` lets the episode go on.

Observations: command output with its exit code, clipped to its first and last 5,000 characters when
longer. Runtimes: the local sandbox (default; :mod:`.sandbox`: bubblewrap, an unprivileged user, a
seccomp filter, no network, nothing of the host's files; the repository is the working directory,
``/testbed``, and file actions take paths relative to it or absolute under it) or Docker
(``runtime="docker"``).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from sparsegym.envs.swe.docker_runtime import DockerRuntime, docker_client
from sparsegym.envs.swe.mutate import Mutation
from sparsegym.envs.swe.sandbox import LocalSandbox, Runtime, SandboxError
from sparsegym.envs.swe.tasks import SWETask, load_tasks
from sparsegym.envs.text_env import TextEnv
from sparsegym.errors import ConfigError

OUTCOMES = ("no_submit", "empty_patch", "tests_fail", "resolved")
#: What a command's output shows when the sandbox stopped something; such a command ends the episode.
VIOLATIONS = (
    ("Network is unreachable", "tried to reach the network (the sandbox has none)"),
    ("Temporary failure in name resolution", "tried to reach the network (the sandbox has none)"),
    ("Read-only file system", "tried to write outside its workspace"),
    ("Resource temporarily unavailable", "hit the process limit (unbounded forking)"),
    ("No space left on device", "filled the workspace's disk quota"),
    ("File size limit exceeded", "wrote a file over the size limit"),
)
ACTIONS = ("run", "view", "create", "str_replace", "insert", "undo", "submit")
_STATUS = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS|SKIPPED)\s+(\S+)", re.M)


def data_dir() -> Path:
    """The shipped tasks and the projects they come from."""
    return Path(str(resources.files("sparsegym.envs.swe") / "data"))


def outcome_level(info: dict[str, Any], extrinsic_return: float = 0.0) -> float:
    """The outcome ladder's level (0-3) of a finished episode: an ``outcome`` for ``GatedReward``."""
    return float(info.get("outcome_level", 0))


def parse_test_statuses(log: str) -> dict[str, str]:
    """Test id -> status from pytest's ``-rA`` summary lines (``PASSED tests/x.py::test_y``)."""
    return {m.group(2): m.group(1) for m in _STATUS.finditer(log)}


def grade(task: SWETask, statuses: dict[str, str]) -> tuple[bool, float]:
    """``(resolved, fraction passing)`` over FAIL_TO_PASS + PASS_TO_PASS (missing = failed)."""
    wanted = task.FAIL_TO_PASS + task.PASS_TO_PASS
    ok = [statuses.get(t) in ("PASSED", "XFAIL") for t in wanted]
    return all(ok), (sum(ok) / len(ok) if ok else 1.0)


def apply_bug(repo: Path, task: SWETask) -> None:
    """Put a maker task's bug into a repository copy (its stored mutation; the file keeps its owner)."""
    bug = task.extra.get("bug")
    if not bug:
        return
    m = Mutation(bug["path"], bug["operator"], bug["line"], bug["end_line"], tuple(bug["new_lines"]), bug["description"])
    target = repo / m.path
    target.write_text(m.apply(target.read_text()))


class SWEEnv(TextEnv):
    """Software repair (module docstring).

    Args:
        tasks: a SWE-bench/SWE-Gym ``.json``/``.jsonl`` file, or ``"shipped"`` (the tasks in
            ``sparsegym/envs/swe/data/tasks.jsonl``, made by :mod:`.maker` from vendored projects).
        runtime: ``local`` (the sandbox) or ``docker`` (a locked-down container per episode, in the task's
            image: :func:`~.images.image_for_task`; needs an engine and the image, see docs/docker.md).
        reward: ``resolved`` (0/1) or ``fraction`` (share of F2P+P2P tests passing).
        command_timeout: seconds of wall clock per command and for grading.
        sandbox: keyword arguments of :class:`~.sandbox.LocalSandbox`: limits, and ``isolation``
            (``"strict"`` by default; ``"no-seccomp"`` or ``"none"`` are weaker modes chosen by name).
        docker: keyword arguments of :class:`~.docker_runtime.DockerRuntime` (``runtime="docker"``): limits
            (``memory_mb``, ``max_processes``, ``cpus``, ``max_file_mb``, ``disk_mb``), ``pull``.
    """

    rules = (
        "You are a software engineer fixing a bug in a Python repository (your working directory, /testbed) "
        "so that its failing tests pass without breaking the others. Actions, one per reply: run <shell "
        "command>; view <path> [<first line> <last line>]; create <path> then the contents on the next lines; "
        "str_replace <path> then <<<<<<< OLD / old text / ======= / new text / >>>>>>> NEW; insert <path> <line> "
        "then the text; undo <path>; submit (grades the repository and ends the episode).")
    complete_actions = False  # actions are verbs with free-text arguments
    reply_tokens = 512  # an edit holds a file's text: LLMAgent's default budget here (32 fits a game command)
    #: Constrained decoding (``LLMAgent(constrained=True)``) allows the one-line actions: ``submit``, ``run``
    #: with a shell command, ``view`` with a path (and a line range), ``undo`` with a path. The editing actions
    #: carry file text on later lines, which a JSON-schema pattern cannot ask of every server alike
    #: (llama.cpp's converter applies it to the JSON text, others to the decoded string), so a constrained
    #: agent edits through ``run`` (``sed``, ``python -c``); the JSON string also rules out double quotes
    #: and backslashes in its commands.
    action_pattern = r'^(submit|run [^"\\\n ][^"\\\n]*|view [^"\\\n ]+( [0-9]+ [0-9]+)?|undo [^"\\\n ]+)$'

    collapse_whitespace = False

    def __init__(self, tasks: str | os.PathLike = "shipped", runtime: str = "local", reward: str = "resolved",
                 command_timeout: float = 60.0, sandbox: dict[str, Any] | None = None,
                 docker: dict[str, Any] | None = None, end_on_violation: bool = True,
                 render_mode: str | None = None, max_observation_length: int = 12000, strict_actions: bool = False):
        super().__init__(render_mode=render_mode, max_observation_length=max_observation_length, max_action_length=100_000,
                         strict_actions=strict_actions)
        if reward not in ("resolved", "fraction"):
            raise ConfigError(f"reward must be 'resolved' or 'fraction', got {reward!r}")
        if runtime not in ("local", "docker"):
            raise ConfigError(f"runtime must be 'local' or 'docker', got {runtime!r}")
        path = data_dir() / "tasks.jsonl" if str(tasks) == "shipped" else Path(tasks)
        self.tasks = load_tasks(path)
        if not self.tasks:
            raise ConfigError(f"{path} holds no tasks")
        self.task_root = path.parent
        self.runtime_kind, self.reward_mode, self.command_timeout = runtime, reward, command_timeout
        self.sandbox_kwargs = dict(sandbox or {})
        self.docker_kwargs = dict(docker or {})
        self.end_on_violation = end_on_violation
        if runtime == "docker":
            docker_client()  # fails at once, naming the local sandbox, where there is no engine
        else:
            LocalSandbox(**self.sandbox_kwargs)  # fails at once, naming what is missing, where it cannot run
        self.rt: Runtime | None = None
        self.task: SWETask | None = None

    # -- episodes ----------------------------------------------------------------------------------
    def _repo_source(self, task: SWETask) -> Path:
        if not task.repo_dir:
            raise SandboxError(f"task {task.instance_id} has no local repository (repo_dir); use runtime='docker'")
        return (self.task_root / task.repo_dir).resolve()

    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        self._close_runtime()
        if options and "task" in options:
            key = options["task"]
            matches = [t for i, t in enumerate(self.tasks) if key in (i, t.instance_id)]
            if not matches:
                raise ConfigError(f"no task {key!r}: give an index below {len(self.tasks)} or an instance_id")
            self.task = matches[0]
        elif self.reset_seed is not None:  # consecutive seeds cover every task once
            self.task = self.tasks[int(self.reset_seed) % len(self.tasks)]
        else:
            self.task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        if self.runtime_kind == "docker":
            from sparsegym.envs.swe.images import image_for_task

            self.rt = DockerRuntime(image_for_task(self.task), timeout=self.command_timeout, **self.docker_kwargs)
            try:
                self.rt.start(self._repo_source(self.task) if self.task.repo_dir else None)
            except BaseException:
                self._close_runtime()
                raise
            if self.task.repo_dir:
                apply_bug(self.rt.root / "repo", self.task)
        else:
            self.rt = LocalSandbox(timeout=self.command_timeout, **self.sandbox_kwargs)
            self.rt.start(self._repo_source(self.task))
            apply_bug(self.rt.root / "repo", self.task)
        self._start = self._snapshot()
        self._history: dict[str, list[str | None]] = {}
        self.submitted = False
        text = (f"Repository {self.task.repo} ({self.task.instance_id}).\n\n{self.task.problem_statement}\n\n"
                f"Actions: run <command> | view <path> [start end] | create <path>\\n<content> | "
                f"str_replace <path>\\n<<<<<<< OLD\\n...\\n=======\\n...\\n>>>>>>> NEW | insert <path> <line>\\n<text> | "
                f"undo <path> | submit\n\nFiles:\n{self._listing('.')}")
        return text, self._info("no_submit")

    def _info(self, outcome: str) -> dict[str, Any]:
        return {"admissible_actions": list(ACTIONS), "outcome": outcome, "outcome_level": OUTCOMES.index(outcome),
                "instance_id": self.task.instance_id if self.task else None, "success": outcome == "resolved"}

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.rt is None or self.task is None:
            raise RuntimeError("call reset() before step()")
        if self.submitted:
            info = self._info(self._outcome)
            info["action_error"] = "The episode is over (submitted); call reset()."
            return info["action_error"], 0.0, True, False, info
        head, _, body = action.partition("\n")
        verb, _, rest = head.strip().partition(" ")
        rest = rest.strip()
        try:
            if verb == "submit":
                return self._submit()
            if verb == "run":
                if not rest:
                    raise ConfigError("run needs a command: run <shell command>")
                result = self.rt.run(rest + (("\n" + body) if body else ""), timeout=self.command_timeout)
                out = result.render()
                violation = self._violation(result)
                if violation and self.end_on_violation:
                    info = self._info("no_submit")
                    info["violation"] = violation
                    return out + f"\n[Sandbox: the episode ends: the command {violation}]", 0.0, False, True, info
            elif verb == "view":
                out = self._view(rest)
            elif verb == "create":
                out = self._create(rest, body)
            elif verb == "str_replace":
                out = self._str_replace(rest, body)
            elif verb == "insert":
                out = self._insert(rest, body)
            elif verb == "undo":
                out = self._undo(rest)
            else:
                raise ConfigError(f"unknown action {verb!r}; use one of: {', '.join(ACTIONS)}")
        except (ValueError, SandboxError, OSError) as exc:
            info = self._info("no_submit")
            info["action_error"] = str(exc)
            return f"Error: {exc}", 0.0, False, False, info
        return out, 0.0, False, False, self._info("no_submit")

    def _violation(self, result: Any) -> str | None:
        if result.timed_out:
            return f"ran past its {self.command_timeout:g} s limit and was killed"
        for marker, what in VIOLATIONS:
            if marker in result.output:
                return what
        return None

    # -- file actions ------------------------------------------------------------------------------
    def _listing(self, rel: str) -> str:
        base = self.rt.path(rel)
        repo = self.rt.path(".")
        if base.is_file():
            raise ConfigError(f"{rel} is a file")
        out = []
        for p in sorted(base.rglob("*")):
            depth = len(p.relative_to(base).parts)
            if depth <= 2 and "__pycache__" not in p.parts and not p.name.startswith("."):
                out.append(str(p.relative_to(repo)) + ("/" if p.is_dir() else ""))
        return "\n".join(out)

    def _view(self, rest: str) -> str:
        parts = rest.split()
        if not parts:
            raise ConfigError("view needs a path: view <path> [start end]")
        p = self.rt.path(parts[0])
        if p.is_dir():
            return self._listing(parts[0])
        if not p.is_file():
            raise ConfigError(f"{parts[0]} does not exist")
        lines = p.read_text(errors="replace").splitlines()
        lo, hi = 1, len(lines)
        if len(parts) == 3:
            lo, hi = int(parts[1]), int(parts[2])
        return "\n".join(f"{i:6d}\t{lines[i - 1]}" for i in range(max(1, lo), min(len(lines), hi) + 1))

    def _remember(self, rel: str, p: Path) -> None:
        self._history.setdefault(str(p), []).append(p.read_text() if p.exists() else None)

    def _create(self, rest: str, body: str) -> str:
        if not rest:
            raise ConfigError("create needs a path: create <path> then the contents on the next lines")
        p = self.rt.path(rest)
        if p.exists():
            raise ConfigError(f"{rest} exists; use str_replace or insert to change it")
        self._remember(rest, p)
        self.rt.write_file(p, body if body.endswith("\n") or not body else body + "\n")
        return f"Created {rest} ({len(body.splitlines())} lines)."

    def _str_replace(self, rest: str, body: str) -> str:
        m = re.match(r"<<<<<<< OLD\n(.*?)\n?=======\n(.*?)\n?>>>>>>> NEW\s*$", body, re.S)
        if not rest or m is None:
            raise ConfigError("str_replace needs: str_replace <path>, then <<<<<<< OLD / old text / ======= / new text / >>>>>>> NEW")
        p = self.rt.path(rest)
        if not p.is_file():
            raise ConfigError(f"{rest} does not exist")
        text, old, new = p.read_text(), m.group(1), m.group(2)
        count = text.count(old)
        if count != 1:
            raise ConfigError(f"the old text occurs {count} times in {rest}; it must occur exactly once")
        self._remember(rest, p)
        self.rt.write_file(p, text.replace(old, new, 1))
        line = text[: text.index(old)].count("\n") + 1
        return f"Edited {rest} at line {line}."

    def _insert(self, rest: str, body: str) -> str:
        parts = rest.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ConfigError("insert needs: insert <path> <line>, then the text on the next lines")
        p = self.rt.path(parts[0])
        if not p.is_file():
            raise ConfigError(f"{parts[0]} does not exist")
        lines = p.read_text().splitlines(keepends=True)
        at = int(parts[1])
        if not 0 <= at <= len(lines):
            raise ConfigError(f"line {at} is outside 0..{len(lines)}")
        self._remember(parts[0], p)
        new = body if body.endswith("\n") else body + "\n"
        self.rt.write_file(p, "".join(lines[:at]) + new + "".join(lines[at:]))
        return f"Inserted {len(new.splitlines())} lines after line {at} of {parts[0]}."

    def _undo(self, rest: str) -> str:
        p = self.rt.path(rest)
        stack = self._history.get(str(p))
        if not stack:
            raise ConfigError(f"no edit of {rest} to undo")
        prev = stack.pop()
        if prev is None:
            p.unlink()
        else:
            self.rt.write_file(p, prev)
        return f"Reverted the last edit of {rest}."

    # -- grading -----------------------------------------------------------------------------------
    def _snapshot(self) -> dict[str, str]:
        repo = self.rt.path(".")
        out = {}
        for p in repo.rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts:
                try:
                    out[str(p.relative_to(repo))] = p.read_text()
                except (UnicodeDecodeError, OSError):
                    continue
        return out

    def patch(self) -> str:
        """The agent's changes so far, as a unified diff against the task's starting state."""
        now = self._snapshot()
        out = []
        for name in sorted(set(self._start) | set(now)):
            a, b = self._start.get(name), now.get(name)
            if a != b:
                out += difflib.unified_diff((a or "").splitlines(True), (b or "").splitlines(True),
                                            f"a/{name}", f"b/{name}")
        return "".join(out)

    def _submit(self) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.submitted = True
        diff = self.patch()
        if not diff:
            outcome, resolved, fraction, log = "empty_patch", False, 0.0, ""
            statuses: dict[str, str] = {}
        else:
            self._restore_tests()
            result = self.rt.run(self.task.test_cmd or "python -m pytest -rA -p no:cacheprovider",
                                 timeout=self.command_timeout)
            log = result.output
            statuses = parse_test_statuses(log)
            resolved, fraction = grade(self.task, statuses)
            if result.timed_out:
                resolved = False
            outcome = "resolved" if resolved else "tests_fail"
        self._outcome = outcome
        reward = (1.0 if resolved else 0.0) if self.reward_mode == "resolved" else fraction
        info = self._info(outcome)
        info.update({"patch": diff, "tests_passing_fraction": fraction, "test_statuses": statuses})
        summary = (f"Submitted. Outcome: {outcome}; {fraction:.0%} of the task's tests pass.")
        return summary, float(reward), True, False, info

    def _restore_tests(self) -> None:
        """Test files as the task ships them (an agent cannot pass by editing tests); for an instance whose
        repository comes from its image, as the episode began, then the instance's ``test_patch`` applied
        (as SWE-bench's harness does before grading)."""
        repo = self.rt.path(".")
        if self.task.repo_dir:
            src = self._repo_source(self.task)
            for p in src.rglob("*.py"):
                rel = p.relative_to(src)
                if _is_test_file(rel):
                    self.rt.copy_file(p, repo / rel)
            return
        for name, text in self._start.items():
            if name.endswith(".py") and _is_test_file(Path(name)):
                self.rt.write_file(repo / name, text)
        if self.task.test_patch:
            self.rt.write_file(repo / ".sparsegym-test.patch", self.task.test_patch)
            self.rt.run("git apply --whitespace=nowarn .sparsegym-test.patch; rm -f .sparsegym-test.patch",
                        timeout=self.command_timeout)

    def _close_runtime(self) -> None:
        if self.rt is not None:
            self.rt.close()
            self.rt = None

    def close(self) -> None:
        self._close_runtime()
        super().close()


def _is_test_file(rel: Path) -> bool:
    return rel.name.startswith("test") or "tests" in rel.parts or rel.name == "conftest.py"


def make_swe(**kwargs: Any) -> SWEEnv:
    """Factory registered for the ``sparsegym/SWE-*`` ids (kwargs: :class:`SWEEnv`)."""
    return SWEEnv(**kwargs)


def python_for_tests() -> str:
    """The Python the sandbox's test commands use (the one running sparsegym, which has pytest)."""
    return sys.executable
