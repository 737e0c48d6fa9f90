"""Runtimes that run an agent's commands on a task's repository: a local sandbox, and Docker.

Both have one interface (:class:`Runtime`): ``start(repo_dir)``, ``run(command, timeout)`` ->
:class:`CommandResult`, ``read``/``write`` of files in the repository, ``close()``.

**LocalSandbox** (no Docker needed), per command:

* a throw-away copy of the repository in a fresh workspace folder (made at ``start``, deleted at
  ``close``); when sparsegym runs as root the workspace is a size-limited tmpfs (``disk_mb``), so
  filling it fails with "No space left on device" instead of filling the host's disk;
* Linux namespaces through ``unshare``: a new network namespace (no network: only a down loopback), a
  new mount namespace in which every mount is remounted read-only except the workspace (nothing is
  written outside it), and a new PID namespace (when the command ends, every process it started ends
  with it). As root, the command then runs with every capability dropped (``setpriv``: it cannot
  remount, unmount, configure the network or override file permissions); otherwise the user
  namespace maps the caller to root inside it;
* resource limits (``setrlimit``): CPU seconds, address space, file size; processes through a cgroup
  ``pids.max`` when running as root (``RLIMIT_NPROC`` does not bind root) and through
  ``RLIMIT_NPROC`` otherwise (it counts all of the calling user's processes, so the limit is set to
  the number running at the command's start plus ``max_processes``); and a wall-clock
  timeout that kills the whole process group;
* ``HOME`` and ``TMPDIR`` inside the workspace.

If ``unshare`` cannot create the namespaces here, :class:`LocalSandbox` raises :class:`SandboxError`
saying so (pass ``isolation="none"`` to run with resource limits only, on a machine you trust).

**DockerRuntime** runs the same commands in a task's image through the Docker SDK (extra ``swe``);
where no engine is reachable it raises at once and names the local sandbox.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from sparsegym.errors import SparseGymError

_PIDS_CGROUPS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
_SETUP = r"""
set -e
WS=$1; shift
awk '{print $2}' /proc/self/mounts | sort -u | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*) continue;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
mount --bind "$WS" "$WS"
mount -o remount,bind,rw "$WS"
cd "$WS/repo"
exec "$@"
"""


class SandboxError(SparseGymError, RuntimeError):
    """A runtime that cannot start or run here; the message says why and what to use instead."""


@dataclass
class CommandResult:
    output: str
    exit_code: int | None
    seconds: float
    timed_out: bool = False

    def render(self, limit: int = 10_000) -> str:
        """The output, its head and tail kept when long, and how it ended."""
        out = self.output
        if len(out) > limit:
            half = limit // 2
            out = out[:half] + f"\n<response clipped: {len(self.output) - limit} characters cut>\n" + out[-half:]
        if self.timed_out:
            return out + f"\n[Command killed: it ran past the {self.seconds:.0f} s limit]"
        return out + f"\n[Command finished with exit code {self.exit_code}]"


class Runtime:
    """What the SWE env needs from a runtime."""

    root: Path

    def start(self, repo_dir: str | Path) -> None: ...

    def run(self, command: str, timeout: float | None = None) -> CommandResult: ...

    def close(self) -> None: ...

    def path(self, rel: str) -> Path:
        """``rel`` inside the repository copy; refuses paths that leave it."""
        repo = (self.root / "repo").resolve()
        p = Path(rel).resolve() if rel.startswith("/") else (repo / rel).resolve()
        if p != repo and repo not in p.parents:
            raise SandboxError(f"path {rel!r} is outside the repository (paths are relative to its root)")
        return p


def _namespace_prefix(as_root: bool) -> list[str]:
    flags = ["--mount", "--net", "--pid", "--fork", "--mount-proc"]
    return ["unshare", *flags] if as_root else ["unshare", "--user", "--map-root-user", *flags]


def isolation_available() -> bool:
    """Whether ``unshare`` can create the sandbox's namespaces on this machine."""
    if shutil.which("unshare") is None:
        return False
    try:
        r = subprocess.run(_namespace_prefix(os.geteuid() == 0) + ["true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


class LocalSandbox(Runtime):
    """The local sandbox (module docstring). Limits: ``cpu_seconds`` per process, ``memory_mb`` of
    address space per process, ``max_processes``, ``max_file_mb`` per file, ``disk_mb`` for the
    workspace (root only), ``timeout`` seconds of wall clock per command (default)."""

    def __init__(self, *, cpu_seconds: int = 120, memory_mb: int = 4096, max_processes: int = 128,
                 max_file_mb: int = 64, disk_mb: int = 256, timeout: float = 120.0, isolation: str = "namespaces"):
        if isolation not in ("namespaces", "none"):
            raise ValueError(f"isolation must be 'namespaces' or 'none', got {isolation!r}")
        self.cpu_seconds, self.memory_mb, self.max_processes = cpu_seconds, memory_mb, max_processes
        self.max_file_mb, self.disk_mb, self.timeout, self.isolation = max_file_mb, disk_mb, timeout, isolation
        self.as_root = os.geteuid() == 0
        self._tmpfs = False
        self._cgroup: Path | None = None
        if isolation == "namespaces" and not isolation_available():
            raise SandboxError(
                "the local sandbox needs Linux namespaces (`unshare --mount --net --pid`, and "
                "`--user --map-root-user` when not root), which this machine does not allow; enable "
                "unprivileged user namespaces, use Docker (runtime='docker'), or pass isolation='none' "
                "to run with resource limits only"
            )

    def start(self, repo_dir: str | Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sparsegym-swe-"))
        if self.as_root and self.isolation == "namespaces":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0755", "tmpfs", str(self.root)],
                               capture_output=True)
            self._tmpfs = r.returncode == 0
        shutil.copytree(repo_dir, self.root / "repo", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        for d in (".home", ".tmp"):
            (self.root / d).mkdir()
        if self.as_root:
            self._cgroup = self._make_pids_cgroup()
        # Unmount, remove the cgroup and delete the workspace even when close() is never called.
        self._finalizer = weakref.finalize(self, _cleanup, self.root, self._tmpfs, self._cgroup)

    def _make_pids_cgroup(self) -> Path | None:
        """A cgroup capping the sandbox's processes at ``max_processes`` (root only; None if unavailable)."""
        for base in _PIDS_CGROUPS:
            if not os.path.isfile(os.path.join(base, "pids.max")) and not os.path.isfile(os.path.join(base, "cgroup.procs")):
                continue
            path = Path(base) / f"sparsegym-{os.getpid()}-{self.root.name}"
            try:
                path.mkdir()
                (path / "pids.max").write_text(str(self.max_processes))
                return path
            except OSError:
                try:
                    path.rmdir()
                except OSError:
                    pass
        return None

    @property
    def process_limit(self) -> str:
        """How the process cap is enforced here: ``cgroup``, ``rlimit`` or ``none``."""
        if self.as_root:
            return "cgroup" if self._cgroup is not None else "none"
        return "rlimit"

    def _nproc_limit(self) -> int:
        """RLIMIT_NPROC counts every process of the user: allow what runs now plus ``max_processes``."""
        if self.as_root:
            return self.max_processes  # not enforced for root; the cgroup caps the sandbox instead
        uid, count = os.getuid(), 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    count += os.stat(f"/proc/{pid}").st_uid == uid
                except OSError:
                    continue
        return count + self.max_processes

    def _limits(self) -> None:  # runs in the child before exec
        mb = 1024 * 1024
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_seconds, self.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (self.memory_mb * mb, self.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.max_file_mb * mb, self.max_file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NPROC, (self._nproc, self._nproc))
        if self._cgroup is not None:
            with open(self._cgroup / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        timeout = self.timeout if timeout is None else timeout
        # The Python running sparsegym (it has pytest) comes first on PATH, so test commands find it.
        path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
        env = {"PATH": path, "HOME": str(self.root / ".home"),
               "TMPDIR": str(self.root / ".tmp"), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "TZ": "UTC"}
        inner = ["bash", "-c", command]
        if self.isolation == "namespaces":
            if self.as_root:
                inner = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", *inner]
            argv = _namespace_prefix(self.as_root) + ["bash", "-c", _SETUP, "sandbox", str(self.root), *inner]
            cwd = "/"
        else:
            argv, cwd = inner, str(self.root / "repo")
        self._nproc = self._nproc_limit()
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=self._limits, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            self._kill(proc)
            out, _ = proc.communicate()
            timed_out = True
        self._kill(proc)  # anything it left behind in its process group
        text = out.decode("utf-8", errors="replace")
        seconds = timeout if timed_out else time.perf_counter() - start
        return CommandResult(text, None if timed_out else proc.returncode, seconds, timed_out)

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def disk_usage_mb(self) -> float:
        total = 0
        for p in self.root.rglob("*"):
            try:
                if p.is_file() and not p.is_symlink():
                    total += p.stat().st_size
            except OSError:
                continue
        return total / 1024 / 1024

    def close(self) -> None:
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        self._tmpfs, self._cgroup = False, None
        self.root = None  # type: ignore[assignment]


def _cleanup(root: Path, tmpfs: bool, cgroup: Path | None) -> None:
    if cgroup is not None:
        try:
            for pid in (cgroup / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.05)
            cgroup.rmdir()
        except OSError:
            pass
    if tmpfs:
        subprocess.run(["umount", "-l", str(root)], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


class DockerRuntime(Runtime):
    """Commands in a task's Docker image (SWE-Gym's image names: :func:`~.tasks.swegym_image`)."""

    def __init__(self, image: str, *, timeout: float = 120.0, workdir: str = "/testbed"):
        from sparsegym._deps import require

        docker = require("docker", "swe", "the Docker runtime")
        try:
            self.client = docker.from_env()
            self.client.ping()
        except Exception as exc:
            raise SandboxError(
                f"no Docker engine is reachable here ({type(exc).__name__}: {exc}); the local sandbox "
                "needs none: make the env with runtime='local'"
            ) from exc
        self.image, self.timeout, self.workdir = image, timeout, workdir
        self.container = None

    def start(self, repo_dir: str | Path | None = None) -> None:  # pragma: no cover - needs an engine
        self.container = self.client.containers.run(self.image, "tail -f /dev/null", detach=True,
                                                    network_disabled=True, working_dir=self.workdir)

    def run(self, command: str, timeout: float | None = None) -> CommandResult:  # pragma: no cover - needs an engine
        start = time.perf_counter()
        t = int(timeout or self.timeout)
        code, out = self.container.exec_run(["timeout", "-s", "KILL", str(t), "bash", "-c", command], workdir=self.workdir)
        timed_out = code == 137
        return CommandResult(out.decode("utf-8", errors="replace"), None if timed_out else code,
                             time.perf_counter() - start, timed_out)

    def close(self) -> None:  # pragma: no cover - needs an engine
        if self.container is not None:
            self.container.remove(force=True)
            self.container = None
