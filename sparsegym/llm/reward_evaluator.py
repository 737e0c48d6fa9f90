"""Run checked, LLM-written reward code in a separate, limited process: :class:`RewardCodeEvaluator`.

The reward code of Text2Reward (Xie et al. 2023, arXiv 2309.11489), Eureka (Ma et al. 2023, arXiv
2310.12931) and Auto MC-Reward (Li et al. 2023, arXiv 2312.09238) is a program a language model wrote;
this module is where such a program runs, so that a broken or hostile one costs a zero bonus and an
error message, never the training run.

Layers, outermost first:

1. **The checker** (:func:`sparsegym.llm.reward_sandbox.check_code`): before anything runs, the code's
   syntax tree is walked and refused if it imports, uses a name or attribute that starts with ``__``,
   uses an attribute outside a short whitelist, calls ``open``/``eval``/``exec``/``getattr``/... or
   defines classes or generators. Refused code never reaches the worker.
2. **The worker process**: one long-lived ``python -I -S`` process per evaluator (no site packages, no
   environment variables read, only the standard library), which runs the code with a whitelisted
   ``__builtins__``, under ``RLIMIT_AS`` (``memory_mb``), no file writes and no new file descriptors.
3. **Time**: each call has ``timeout`` seconds; past it the parent kills the worker (and a timer in
   the worker ends it too, should the parent be gone) and starts a new one for the next call.
4. **bubblewrap** (``isolation="bwrap"``, the default ``"auto"`` uses it where it works): the worker
   runs in new user, mount, PID, network, IPC and UTS namespaces, as an unprivileged user inside, with a
   read-only root that holds only ``/usr``, the Python install and a minimal ``/dev``: no home folders,
   no project files, no sockets and no network, even if the checker and builtins whitelist were escaped.

What this does **not** give you: layers 1-3 are a Python-level whitelist plus resource limits, which is
not a security boundary (an escape through an interpreter bug would run with your user's rights);
only layer 4 is an operating-system boundary, and unlike the software-task sandbox
(:mod:`sparsegym.envs.swe.sandbox`) it loads no seccomp filter and sets no process-count limit (the
code can start no process without an escape). Without bubblewrap (``isolation="rlimits"``, or
``"auto"`` where ``bwrap`` is missing or user namespaces are disabled) run code only from models and
people you would let run code on the machine. Results are checked in the parent: a call must return a
finite number (or a dict of named finite numbers), clipped to ``clip``.

>>> with RewardCodeEvaluator("def reward(prev_state, action, state):\\n    return 0.5 * state['n']") as ev:
...     ev({"n": 0}, 0, {"n": 1}).value, ev({"n": 0}, 0, {"n": 9}).value   # clipped to [-1, 1]
(0.5, 1.0)
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import warnings
import weakref
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError, SparseGymError
from sparsegym.llm.reward_sandbox import FUNCTION_NAME, check_code

ISOLATION_MODES = ("auto", "bwrap", "rlimits")
_SOURCE = Path(__file__).with_name("reward_sandbox.py")
_INNER_ID = 65534  # "nobody" inside the sandbox's user namespace
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_MAX_REPLY = 1 << 16


class RewardSandboxError(SparseGymError, RuntimeError):
    """The worker cannot be started as asked (e.g. ``isolation="bwrap"`` where bubblewrap cannot run)."""


@dataclass(frozen=True)
class Evaluation:
    """One call's outcome: ``value`` (clipped; 0.0 on any failure), the named ``parts`` when the code
    returned a dict, and on failure the ``error`` message and its ``kind`` (``"refused"``,
    ``"exception"``, ``"timeout"``, ``"memory"``, ``"crash"``, ``"bad_value"``, ``"not_finite"``,
    ``"bad_state"``, ``"protocol"``)."""

    value: float
    parts: dict[str, float] | None = None
    error: str | None = None
    kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plain(value: Any) -> Any:
    """``value`` as plain Python data (numpy scalars and arrays become numbers and lists), or TypeError."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [plain(v) for v in sorted(value, key=repr)]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return plain(tolist())
    for kind in (bool, int, float, str):  # subclasses (IntEnum, numpy's float64)
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"a state may hold only plain data (numbers, str, lists, tuples, dicts), got {type(value).__name__}")


def _python() -> tuple[str, list[str]]:
    """The interpreter the worker runs (the real file behind a venv's link) and the folders it needs."""
    exe = os.path.realpath(sys.executable)
    found: list[str] = []
    for p in (os.path.dirname(os.path.dirname(exe)), sys.base_prefix, sys.base_exec_prefix):
        p = os.path.realpath(p)
        if p in ("/", "/usr") or p.startswith("/usr/") or not os.path.isdir(p) or p in found:
            continue
        found.append(p)
    return exe, [p for p in found if not any(q != p and p.startswith(q + "/") for q in found)]


def _bwrap_prefix() -> list[str]:
    """bubblewrap's command line up to the worker's own: new namespaces, a read-only root of /usr and
    the Python install, an unprivileged user, no network."""
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--new-session", "--uid", str(_INNER_ID), "--gid", str(_INNER_ID), "--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_LINKS:
        host = "/" + name
        if os.path.islink(host):
            argv += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            argv += ["--ro-bind", host, host]
    for path in _python()[1]:
        argv += ["--ro-bind", path, path]
    return [*argv, "--dev", "/dev", "--chdir", "/", "--remount-ro", "/", "--"]


@lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """Why the worker cannot run under bubblewrap here (None when it can); probed once per process."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (`bwrap`) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    exe = _python()[0]
    try:
        r = subprocess.run([*_bwrap_prefix(), exe, "-I", "-S", "-c", "import json, math, resource, signal"],
                           capture_output=True, text=True, timeout=30, env={"LANG": "C.UTF-8"}, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap did not run: {exc}"
    if r.returncode != 0:
        return ("bubblewrap cannot create the worker's namespaces here (unprivileged user namespaces disabled, "
                f"or a container without them?): {r.stderr.strip()[:300]}")
    return None


def resolve_isolation(isolation: str) -> str:
    """``"bwrap"`` or ``"rlimits"`` for ``isolation``: ``"auto"`` is bwrap where it runs, else rlimits (warned once)."""
    if isolation not in ISOLATION_MODES:
        raise ConfigError(f"isolation must be one of {', '.join(map(repr, ISOLATION_MODES))}, got {isolation!r}")
    if isolation == "rlimits":
        return "rlimits"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if isolation == "bwrap":
        raise RewardSandboxError(f"isolation='bwrap' cannot run here: {problem}. Install bubblewrap, or choose "
                                 "isolation='rlimits' by name (a Python-level whitelist and resource limits only: "
                                 "for code you trust on a machine you trust)")
    _warn_once(problem)
    return "rlimits"


@lru_cache(maxsize=1)
def _warn_once(problem: str) -> None:
    warnings.warn(f"LLM reward code runs without bubblewrap ({problem}): only the checker, a builtins whitelist "
                  "and resource limits stand between it and this machine; pass isolation='rlimits' to silence "
                  "this warning, or install bubblewrap", RuntimeWarning, stacklevel=4)


class _Worker:
    """One worker process and the bytes it has sent that were not yet read."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env={"LANG": "C.UTF-8"}, cwd="/", start_new_session=True)
        self.buffer = b""

    def send(self, payload: bytes) -> bool:
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def read_line(self, deadline: float) -> bytes | None:
        """The next line, or None on timeout or end of output (see :attr:`alive`)."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or len(self.buffer) > _MAX_REPLY:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def stderr_tail(self) -> str:
        try:
            fd = self.proc.stderr.fileno()
            if select.select([fd], [], [], 0)[0]:
                return os.read(fd, 4096).decode("utf-8", "replace").strip().splitlines()[-1][:200]
        except (OSError, IndexError, ValueError):
            pass
        return ""

    def kill(self) -> None:
        _kill(self.proc)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass


class RewardCodeEvaluator:
    """Call ``code``'s ``reward(prev_state, action, state)`` in a limited worker process (module docstring).

    Args:
        code: the Python source defining ``function``.
        function: the name of the function to call.
        timeout: seconds one call may take; past them the worker is killed and restarted.
        memory_mb: the worker's address-space limit (``RLIMIT_AS``), the interpreter included.
        clip: results are clipped to ``[-clip, clip]`` (a number) or to ``(low, high)``.
        isolation: ``"auto"`` (bubblewrap where it runs, else rlimits with a warning), ``"bwrap"``
            (required: an error where it cannot run) or ``"rlimits"`` (no bubblewrap, chosen by name).
        load_timeout: seconds to start the worker and run the code's top level.

    Code the checker refuses starts no worker: every call returns 0.0 with the refusal as its error.
    Code whose top level fails to load (an exception, or a time or memory overrun) is not tried again:
    every later call returns 0.0 with that error.
    :attr:`counts` tallies calls and failures by kind, :attr:`restarts` the workers started after the first.
    """

    def __init__(self, code: str, *, function: str = FUNCTION_NAME, timeout: float = 1.0, memory_mb: int = 256,
                 clip: float | tuple[float, float] = 1.0, isolation: str = "auto", load_timeout: float = 10.0):
        if not timeout or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if memory_mb < 32:
            raise ConfigError(f"memory_mb must be at least 32 (the interpreter itself needs ~20 MB), got {memory_mb!r}")
        low, high = (-float(clip), float(clip)) if isinstance(clip, (int, float)) else (float(clip[0]), float(clip[1]))
        if not low <= high:
            raise ConfigError(f"clip must give low <= high, got {clip!r}")
        self.code, self.function, self.timeout, self.memory_mb = code, function, float(timeout), int(memory_mb)
        self.clip, self.load_timeout = (low, high), float(load_timeout)
        problems = check_code(code, function)
        self.refused: str | None = "; ".join(problems) if problems else None
        self.isolation = resolve_isolation(isolation) if self.refused is None else "none"
        self.counts: Counter[str] = Counter()
        self.restarts = -1
        self.load_error: str | None = None
        self._worker: _Worker | None = None
        self._finalizer: weakref.finalize | None = None

    # -- the worker --------------------------------------------------------------------------------
    def _argv(self) -> list[str]:
        config = {"memory_mb": self.memory_mb, "call_seconds": self.timeout + 0.5, "function": self.function,
                  "load_seconds": self.load_timeout}
        exe = _python()[0]
        inner = [exe, "-I", "-S", "-c", _SOURCE.read_text(), json.dumps(config)]
        return [*_bwrap_prefix(), *inner] if self.isolation == "bwrap" else inner

    def _start(self) -> Evaluation | None:
        """Start a worker and load the code; an Evaluation describing the failure, or None."""
        self.restarts += 1
        try:
            worker = _Worker(self._argv())
        except OSError as exc:  # no interpreter or bwrap to start: every later call would fail the same way
            self.load_error = f"crash: could not start the worker: {exc}"
            return Evaluation(0.0, error=f"could not start the worker: {exc}", kind="crash")
        self._worker = worker
        self._finalizer = weakref.finalize(self, _kill, worker.proc)
        answer = self._exchange(("load", self.code), self.load_timeout)
        if isinstance(answer, Evaluation):
            self.load_error = f"{answer.kind}: {answer.error}"
            return Evaluation(0.0, error=f"loading the code failed: {answer.error}", kind=answer.kind)
        if not answer.get("ok"):
            self._stop()
            self.load_error = f"{answer.get('kind')}: {answer.get('error')}"
            return Evaluation(0.0, error=f"loading the code failed: {answer.get('error')}",
                              kind=str(answer.get("kind") or "exception"))
        return None

    def _stop(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def _exchange(self, message: tuple, seconds: float) -> dict[str, Any] | Evaluation:
        """Send ``message`` and read the answer; on a timeout or a dead worker, stop it and say why."""
        worker = self._worker
        assert worker is not None
        deadline = time.monotonic() + seconds
        line = worker.read_line(deadline) if worker.send(repr(message).encode() + b"\n") else None
        if line is not None:
            try:
                answer = json.loads(line)
                if isinstance(answer, dict):
                    return answer
            except ValueError:
                pass
            self._stop()
            return Evaluation(0.0, error="the worker answered garbage", kind="protocol")
        alive = worker.proc.poll() is None
        code = worker.proc.returncode
        tail = "" if alive else worker.stderr_tail()
        self._stop()
        if alive or code == -signal.SIGALRM:
            return Evaluation(0.0, error=f"timed out after {seconds:g} s (the worker was restarted)", kind="timeout")
        detail = f" ({tail})" if tail else ""
        kind = "memory" if "MemoryError" in tail else "crash"
        return Evaluation(0.0, error=f"the worker died with exit status {code}{detail} (it was restarted)", kind=kind)

    # -- calls ----------------------------------------------------------------------------------------
    def __call__(self, prev_state: Any, action: Any, state: Any) -> Evaluation:
        """The bonus of one transition; never raises for anything the code does."""
        self.counts["calls"] += 1
        result = self._call(prev_state, action, state)
        if result.error is not None:
            self.counts["errors"] += 1
            self.counts[result.kind or "exception"] += 1
        return result

    def _call(self, prev_state: Any, action: Any, state: Any) -> Evaluation:
        if self.refused is not None:
            return Evaluation(0.0, error=f"refused: {self.refused}", kind="refused")
        if self.load_error is not None:  # the code's top level failed once: it would fail again
            kind, _, error = self.load_error.partition(": ")
            return Evaluation(0.0, error=f"loading the code failed: {error}", kind=kind)
        try:
            message = ("call", plain(prev_state), plain(action), plain(state))
        except TypeError as exc:
            return Evaluation(0.0, error=str(exc), kind="bad_state")
        if self._worker is None or self._worker.proc.poll() is not None:
            failure = self._start()
            if failure is not None:
                return failure
        answer = self._exchange(message, self.timeout)
        if isinstance(answer, Evaluation):
            return answer
        if not answer.get("ok"):
            return Evaluation(0.0, error=str(answer.get("error")), kind=str(answer.get("kind") or "exception"))
        value, parts = answer.get("value"), answer.get("parts")
        if not isinstance(value, (int, float)) or not math.isfinite(value) or (
                parts is not None and not all(isinstance(v, (int, float)) and math.isfinite(v) for v in parts.values())):
            return Evaluation(0.0, error=f"returned a value that is not finite: {value!r}", kind="not_finite")
        low, high = self.clip
        return Evaluation(min(high, max(low, float(value))), parts=parts)

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id (of bubblewrap, under ``isolation="bwrap"``), or None when none runs."""
        return self._worker.proc.pid if self._worker is not None and self._worker.proc.poll() is None else None

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        self._stop()

    def __enter__(self) -> RewardCodeEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
