"""The Docker runtime of the software-repair env: each episode in its own locked-down container.

What a container gets (one per episode, made at ``start`` and removed at ``close``):

* no network (``network_mode="none"``), no Linux capabilities (``cap_drop=ALL``), ``no-new-privileges``;
  commands run as a non-root user (the image's uid 1000, or the caller's uid where sparsegym does not run
  as root), the container's own idle process as root without capabilities, out of the commands' reach;
* a read-only root file system; writable are only the workspace, mounted at ``/testbed``, and a small
  ``/tmp`` (tmpfs, also ``$HOME``);
* limits: memory (swap included), processes (a pids cgroup: a fork bomb gets "Resource temporarily
  unavailable"), CPU (``nano_cpus``), the size of any one file (``ulimit -f``), and the workspace's size
  (as root the workspace is a tmpfs of ``disk_mb``: filling it gets "No space left on device");
* a wall-clock limit per command: ``timeout -s KILL`` inside the container, which kills the command's
  process group, and a guard outside: a command still running ``grace`` seconds later gets the container
  restarted, which kills every process in it and keeps the workspace; after each command, whatever it
  left running in the background (``cmd &``, ``setsid``) is killed, as the local sandbox does.

The workspace is a folder on the host (like the local sandbox's), so the env's file actions (view, create,
str_replace, ...) read and write it directly. For a task with a repository folder (the shipped tasks, and
tasks made by :mod:`.maker`) the folder is copied there; for a task whose image already holds the
repository at ``/testbed`` (SWE-bench/SWE-Gym images, or one built by :func:`.images.build_task_image`) the
image's ``/testbed`` is copied out once per episode.

Containers never outlive their runtime: ``close`` removes them, a finaliser does so at garbage collection and
interpreter exit (so Ctrl-C is covered), and each new runtime removes the containers that earlier
processes on this host left when they were killed (labels ``sparsegym.runtime``, ``sparsegym.pid`` and
``sparsegym.host`` say whose a container is).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from sparsegym.envs.swe.sandbox import WORKDIR, CommandResult, Runtime, SandboxError, pid_alive

LABEL = "sparsegym.runtime"
#: The uid/gid commands run as in the container where sparsegym runs as root (the images' ``agent``).
CONTAINER_UID = 1000


class ImageNotFoundError(SandboxError):
    """The image a task needs is not on this engine and could not be pulled; the message says how to get it."""


def docker_client(client: Any = None) -> Any:
    """A Docker SDK client that answers, or a :class:`SandboxError` saying there is no engine and what to use."""
    if client is not None:
        return client
    from sparsegym._deps import require

    docker = require("docker", "swe", "the Docker runtime")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the daemon means the same to the user
        raise SandboxError(
            f"no Docker engine is reachable here ({type(exc).__name__}: {exc}); start one (as root: "
            "'apt-get install -y docker.io' then 'dockerd &'), or use the local sandbox, which needs none: "
            "runtime='local'"
        ) from exc
    return client


def prune_stale_containers(client: Any) -> list[str]:
    """Remove the runtime containers that processes of this host left behind when they died (killed
    before their finalisers ran); returns their names."""
    host = socket.gethostname()
    removed = []
    for c in client.containers.list(all=True, filters={"label": [LABEL]}):
        labels = c.labels or {}
        try:
            pid = int(labels.get("sparsegym.pid", "0"))
        except ValueError:
            continue
        if labels.get("sparsegym.host") == host and pid and not pid_alive(pid):
            try:
                c.remove(force=True)
                removed.append(c.name)
            except Exception:  # noqa: BLE001 - already gone
                pass
    return removed


def _cleanup(client: Any, container_id: str | None, root: Path | None, tmpfs: bool) -> None:
    if container_id is not None:
        try:
            client.api.remove_container(container_id, force=True)
        except Exception:  # noqa: BLE001 - already removed, or the engine is gone
            pass
    if root is not None:
        if tmpfs:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


class DockerRuntime(Runtime):
    """Commands of one episode in a fresh, locked-down container (module docstring).

    Args:
        image: the image to run (:func:`.images.image_for_task` picks one per task).
        timeout: wall-clock seconds per command (default for :meth:`run`).
        memory_mb: memory of the container, swap included.
        max_processes: processes and threads at once (pids limit).
        cpus: CPUs' worth of time.
        max_file_mb: size of any one file a command writes.
        disk_mb: size of the workspace (enforced where sparsegym runs as root: a tmpfs) and of ``/tmp``.
        grace: seconds past ``timeout`` after which the guard restarts the container.
        pull: try to pull an image that is not present (a registry's image; sparsegym's own are built).
        client: a Docker SDK client (default: from the environment).
    """

    def __init__(self, image: str, *, timeout: float = 120.0, memory_mb: int = 2048, max_processes: int = 256,
                 cpus: float = 1.0, max_file_mb: int = 64, disk_mb: int = 256, grace: float = 10.0,
                 pull: bool = True, client: Any = None):
        self.client = docker_client(client)
        self.image, self.timeout = image, timeout
        self.memory_mb, self.max_processes, self.cpus = memory_mb, max_processes, cpus
        self.max_file_mb, self.disk_mb, self.grace, self.pull = max_file_mb, disk_mb, grace, pull
        self.as_root = os.geteuid() == 0
        self.user = f"{CONTAINER_UID}:{CONTAINER_UID}" if self.as_root else f"{os.getuid()}:{os.getgid()}"
        self.container: Any = None
        self.root: Path = None  # type: ignore[assignment]
        self._tmpfs = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparsegym-docker-exec")
        self._lock = threading.Lock()

    # -- image -------------------------------------------------------------------------------------
    def ensure_image(self) -> None:
        """The image is present, pulled, or :class:`ImageNotFoundError` names it and how to get it."""
        from sparsegym.envs.swe.images import ensure_image

        ensure_image(self.image, client=self.client, pull=self.pull)

    # -- episode -----------------------------------------------------------------------------------
    def start(self, repo_dir: str | Path | None = None) -> None:
        """Make the workspace (a copy of ``repo_dir``, or of the image's ``/testbed``) and the container."""
        from sparsegym.envs.swe.images import copy_out_testbed

        self.ensure_image()
        prune_stale_containers(self.client)
        self.root = Path(tempfile.mkdtemp(prefix="sparsegym-swe-docker-"))
        if self.as_root:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0755", "tmpfs",
                                str(self.root)], capture_output=True)
            self._tmpfs = r.returncode == 0
        self._finalizer = weakref.finalize(self, _cleanup, self.client, None, self.root, self._tmpfs)
        repo = self.root / "repo"
        if repo_dir is not None:
            shutil.copytree(repo_dir, repo, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        else:
            copy_out_testbed(self.client, self.image, repo)
        if self.as_root:
            for base, dirs, files in os.walk(repo):
                for name in dirs + files:
                    os.lchown(os.path.join(base, name), CONTAINER_UID, CONTAINER_UID)
            os.chown(repo, CONTAINER_UID, CONTAINER_UID)
        from docker.types import Ulimit

        fsize = self.max_file_mb * 1024 * 1024
        # Created, then started: a container that cannot start is still known, and removed with the workspace.
        # pid 1 is docker's init (it reaps what commands leave behind) and its child `sleep` keeps the container
        # up; both run as root without capabilities, so the commands' user cannot signal them, and after each
        # command "kill every process of mine" (kill -9 -1) leaves exactly those two.
        self.container = self.client.containers.create(
            self.image, ["sleep", "infinity"], user="0:0", working_dir=WORKDIR,
            network_mode="none", read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=f"{self.memory_mb}m", memswap_limit=f"{self.memory_mb}m", pids_limit=self.max_processes,
            nano_cpus=int(self.cpus * 1e9), ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize)],
            tmpfs={"/tmp": f"size={self.disk_mb}m,mode=1777"},
            volumes={str(repo): {"bind": WORKDIR, "mode": "rw"}},
            environment={"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                         "PYTHONHASHSEED": "0", "TZ": "UTC"},
            labels={LABEL: "swe", "sparsegym.pid": str(os.getpid()), "sparsegym.host": socket.gethostname()},
            init=True,
        )
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, self.client, self.container.id, self.root, self._tmpfs)
        try:
            self.container.start()
        except Exception as exc:
            self.close()
            raise SandboxError(f"the container of image {self.image!r} could not start: {exc}") from exc

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        if self.container is None:
            raise SandboxError("the container is not running: call start() first")
        t = max(1, int(round(self.timeout if timeout is None else timeout)))
        start = time.perf_counter()
        argv = ["timeout", "-s", "KILL", str(t), "bash", "-c", command]
        future = self._pool.submit(self.container.exec_run, argv, workdir=WORKDIR, user=self.user)
        restarted = False
        try:
            code, out = future.result(timeout=t + self.grace)
        except FutureTimeout:
            # Something outlived `timeout` and holds the output open: restart the container (every process
            # in it dies; the workspace is a host folder and stays).
            with self._lock:
                self.container.restart(timeout=0)
                restarted = True
            try:
                code, out = future.result(timeout=30)
            except FutureTimeout:
                code, out = None, b""
        seconds = time.perf_counter() - start
        if not restarted:
            self._kill_leftovers()
        text = (out or b"").decode("utf-8", errors="replace")
        # `timeout -s KILL` exits 137 when it killed the command; a command killed otherwise (by the memory
        # limit) also gives 137, but well before the limit.
        timed_out = restarted or (code == 137 and seconds >= t - 0.5)
        return CommandResult(text, None if timed_out else code, float(t) if timed_out else seconds, timed_out)

    def _kill_leftovers(self) -> None:
        """Kill what the command left running (``cmd &``, ``setsid``): every process of the container's user
        but pid 1, as the local sandbox kills the command's process group. The engine stops waiting for a
        finished command's output after about two seconds, so such a process does not hold ``run`` up."""
        try:
            self.container.exec_run(["kill", "-9", "-1"], user=self.user)
        except Exception:  # noqa: BLE001 - nothing left, or the container is being restarted
            pass

    def close(self) -> None:
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()
        self.container = None
        self._tmpfs = False
        self.root = None  # type: ignore[assignment]

    def __del__(self) -> None:  # the pool's thread must not keep a dead runtime alive
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)

