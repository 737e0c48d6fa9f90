"""Runtimes that run an agent's commands on a task's repository: a local sandbox, and Docker.

Both have one interface (:class:`Runtime`): ``start(repo_dir)``, ``run(command, timeout)`` ->
:class:`CommandResult`, file access to the repository (``path``, ``write_file``, ``copy_file``),
``close()``.

The local sandbox
=================
An agent that explores will try whatever a shell lets it try, so :class:`LocalSandbox` runs each
command with least privilege. It uses bubblewrap (https://github.com/containers/bubblewrap;
``bwrap``, the sandbox Flatpak is built on; Debian/Ubuntu: ``apt-get install bubblewrap``) for the
namespaces, the file-system view, the user mapping and the seccomp filter, rather than namespace code
of our own. What a command gets, in the default ``isolation="strict"``:

**What it can see.** A root file system made for the sandbox, not the host's: ``/usr`` (and the
``/bin``, ``/lib*`` links into it) and the Python install running sparsegym (its venv and base
prefix, so the task's tests find pytest), all read-only; the dynamic loader's cache and Debian's
``/etc/alternatives``; a synthetic ``/etc/passwd``, ``/etc/group`` and ``/etc/hosts``; the task's
repository, writable, at ``/testbed`` (its working directory); a writable ``HOME``
(``/home/sandbox``) and ``/tmp``, both private to the episode and inside its workspace; a minimal
``/dev`` (null, zero, random, urandom, tty, pts, shm) and its own ``/proc``. Nothing else of the
host: not ``/root`` or ``/home``, not caches or the results store, not other tasks' workspaces, not
``/run``, ``/var/run`` or any other socket directory, not ``/sys``. Directories that exist only to
lead to a bound path (``/root`` when Python was installed by pyenv under it) are execute-only
(``--x``): they can be passed through but not listed. The root is read-only, so nothing can be
created next to them.

**Who it runs as.** An unprivileged user: uid/gid 1000 ("sandbox") inside a new user namespace,
which is, on the host, the calling user when sparsegym runs as a normal user, and the dedicated
unprivileged uid/gid :data:`SANDBOX_UID` (no account, owns nothing outside the workspace) when it
runs as root. No capabilities, ``no_new_privs`` set (set-uid binaries do not raise privileges), a
new session (no terminal to inject input into), no further user namespaces.

**What it can call.** A seccomp filter (:mod:`.seccomp`) refuses mount and friends, ptrace and
cross-process memory access, unshare/setns and namespace flags of clone, bpf, perf, keyring calls,
module loading, io_uring, device-node creation and the terminal-injection ioctl.

**What it can reach.** Its own network namespace: no interfaces but a down loopback, so no TCP/UDP
and no abstract Unix sockets of the host; host Unix socket files are not in its file system.

**What it can use.** Resource limits, per command: CPU seconds, address space, file size (setrlimit);
processes (a cgroup's ``pids.max`` when running as root and a pids cgroup is writable, and
``RLIMIT_NPROC`` for the sandbox's uid in both cases); the workspace's size (as root: the workspace
is a tmpfs of ``disk_mb``, so filling it fails with "No space left on device"; as a normal user there
is no mount privilege, so only the per-file limit applies); and a wall-clock timeout that kills
every process the command started (its PID namespace ends with it).

Root vs normal user: the guarantees are the same but for the two differences named above (the host
uid, and the workspace quota that only root can mount). Running as root, bubblewrap is started as
:data:`SANDBOX_UID` through ``setpriv``; paths of the Python install that this uid cannot reach (a
pyenv under ``/root``) are first bind-mounted to a reachable place inside a private mount namespace
that only this command sees.

Weaker modes, by name only. If bubblewrap is missing, user namespaces are disabled, or libseccomp is
unavailable, the sandbox refuses to start, naming what is missing, the Docker runtime as the
alternative, and the weaker modes a user may choose: ``isolation="no-seccomp"`` (everything but the
system-call filter) and ``isolation="none"`` (resource limits only: for code you trust on a machine
you trust). The report of what each hostile command got in each mode is kept in
``benchmarks/results/sandbox_attacks.md`` (``python benchmarks/sandbox_attacks.py``).

**DockerRuntime** (:mod:`.docker_runtime`) runs the same commands in a locked-down container per episode
through the Docker SDK (extra ``swe``); where no engine is reachable it raises at once and names the local
sandbox.
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
import warnings
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sparsegym.envs.swe import seccomp
from sparsegym.errors import ConfigError, SparseGymError

#: Host uid and gid of sandboxed commands when sparsegym runs as root: no account has it, so it owns
#: nothing but the workspaces it is given (override with ``LocalSandbox(sandbox_uid=...)``).
SANDBOX_UID = 2_147_000_000
#: Where the repository appears inside the sandbox (SWE-bench's convention), and the user's home.
WORKDIR = "/testbed"
HOME = "/home/sandbox"
ISOLATION_MODES = ("strict", "no-seccomp", "none")
_INNER_ID = 1000  # uid and gid inside the sandbox
_PIDS_CGROUPS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup")
# Host files the sandbox needs from /etc: the loader's cache and config, and Debian's alternatives
# (/usr/bin/awk -> /etc/alternatives/awk -> mawk). Nothing else: /etc holds credentials on many hosts.
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime")
_SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Bind-mounts the staged Python paths (root only) in the private mount namespace of `unshare`, then
# runs the rest of the command line: $1 = number of pairs, then the pairs, then the command.
_STAGE = r"""
set -e
n=$1; shift
while [ "$n" -gt 0 ]; do mount --rbind "$1" "$2"; shift 2; n=$((n - 1)); done
exec "$@"
"""


class SandboxError(SparseGymError, RuntimeError):
    """A runtime that cannot start or run here; the message says why and what to use instead."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


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
    #: Where the repository appears to commands (``/testbed``); paths under it name repository files.
    workdir: str = WORKDIR

    def start(self, repo_dir: str | Path) -> None: ...

    def run(self, command: str, timeout: float | None = None) -> CommandResult: ...

    def close(self) -> None: ...

    def path(self, rel: str) -> Path:
        """``rel`` inside the repository copy (relative, or absolute under ``/testbed``); refuses paths
        that leave it."""
        repo = (self.root / "repo").resolve()
        if rel == self.workdir or rel.startswith(self.workdir + "/"):
            rel = rel[len(self.workdir):].lstrip("/") or "."
        p = Path(rel).resolve() if rel.startswith("/") else (repo / rel).resolve()
        if p != repo and repo not in p.parents:
            raise SandboxError(f"path {rel!r} is outside the repository (paths are relative to its root, "
                               f"or absolute under {self.workdir})")
        return p

    def write_file(self, path: Path, text: str) -> None:
        """Write a repository file from the host side (creating its folders), owned by the sandbox's user."""
        new = [d for d in reversed(path.parents) if not d.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self._own([*new, path])

    def copy_file(self, src: Path, path: Path) -> None:
        """Copy a host file into the repository, owned by the sandbox's user."""
        new = [d for d in reversed(path.parents) if not d.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, path)
        self._own([*new, path])

    def _own(self, paths: list[Path]) -> None:
        """Give host-created files to the sandbox's user (only needed where it differs from ours)."""


def _python_paths() -> list[str]:
    """The folders of the running Python install (venv and base prefix) that are not under /usr."""
    found: list[str] = []
    exe_prefix = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
    for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix, exe_prefix):
        p = os.path.realpath(p)
        if p == "/" or p == "/usr" or p.startswith("/usr/") or not os.path.isdir(p):
            continue
        if p not in found:
            found.append(p)
    # Keep only outermost folders (a venv inside the base prefix needs no bind of its own).
    return [p for p in found if not any(q != p and p.startswith(q + "/") for q in found)]


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``['/a', '/a/b']`` (the folders bubblewrap creates to reach a bind)."""
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _setpriv_prefix(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--"]


@lru_cache(maxsize=8)
def _probe(mode: str, uid: int) -> tuple[str, ...]:
    """What this machine lacks for ``mode`` (cached per process): empty when the sandbox can run."""
    if mode == "none":
        return ()
    missing: list[str] = []
    if shutil.which("bwrap") is None:
        missing.append("bubblewrap (`bwrap`) is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                       "Fedora: dnf install bubblewrap)")
    as_root = os.geteuid() == 0
    if as_root and shutil.which("setpriv") is None:
        missing.append("`setpriv` (util-linux) is not installed")
    if as_root and shutil.which("unshare") is None:
        missing.append("`unshare` (util-linux) is not installed")
    if mode == "strict":
        problem = seccomp.available()
        if problem:
            missing.append(f"no seccomp filter can be built: {problem}")
    if not missing:
        argv = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--ro-bind", "/usr", "/usr", *_system_links(), "--proc", "/proc", "--dev", "/dev", "true"]
        if as_root:
            argv = _setpriv_prefix(uid) + argv
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/",
                               env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
            if r.returncode != 0:
                missing.append("bubblewrap cannot create the sandbox's namespaces here (unprivileged user "
                               f"namespaces disabled, or a container without them?): {r.stderr.strip()}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            missing.append(f"bubblewrap did not run: {exc}")
    return tuple(missing)


def _system_links() -> list[str]:
    """``/bin``, ``/lib``, ... as the host has them: symlinks into /usr (merged /usr) or read-only binds."""
    out: list[str] = []
    for name in _SYSTEM_LINKS:
        host = "/" + name
        if os.path.islink(host):
            out += ["--symlink", os.readlink(host), host]
        elif os.path.isdir(host):
            out += ["--ro-bind", host, host]
    return out


def isolation_available(mode: str = "strict") -> bool:
    """Whether the local sandbox can run in ``mode`` on this machine."""
    return not _probe(_mode(mode), SANDBOX_UID)


def isolation_problems(mode: str = "strict") -> list[str]:
    """What this machine lacks for the local sandbox in ``mode`` (empty when it can run)."""
    return list(_probe(_mode(mode), SANDBOX_UID))


def _mode(isolation: str) -> str:
    if isolation == "namespaces":  # the name of the default before bubblewrap
        warnings.warn("isolation='namespaces' is now isolation='strict' (bubblewrap, an unprivileged user "
                      "and a seccomp filter)", DeprecationWarning, stacklevel=3)
        return "strict"
    if isolation not in ISOLATION_MODES:
        raise ConfigError(f"isolation must be one of {', '.join(repr(m) for m in ISOLATION_MODES)}, got {isolation!r}")
    return isolation


class LocalSandbox(Runtime):
    """The local sandbox (module docstring).

    Args:
        cpu_seconds: CPU time per process.
        memory_mb: address space per process.
        max_processes: processes (and threads) the command may have at once.
        max_file_mb: size of any one file it writes.
        disk_mb: size of the workspace (as root only; see the module docstring).
        timeout: wall-clock seconds per command (default for :meth:`run`).
        isolation: ``"strict"`` (default), or a weaker mode chosen by name: ``"no-seccomp"``, ``"none"``.
        sandbox_uid: the host uid/gid of sandboxed commands when running as root.
    """

    def __init__(self, *, cpu_seconds: int = 120, memory_mb: int = 4096, max_processes: int = 128,
                 max_file_mb: int = 64, disk_mb: int = 256, timeout: float = 120.0, isolation: str = "strict",
                 sandbox_uid: int = SANDBOX_UID):
        isolation = _mode(isolation)
        self.cpu_seconds, self.memory_mb, self.max_processes = cpu_seconds, memory_mb, max_processes
        self.max_file_mb, self.disk_mb, self.timeout, self.isolation = max_file_mb, disk_mb, timeout, isolation
        self.as_root = os.geteuid() == 0
        self.sandbox_uid = sandbox_uid
        self._tmpfs = False
        self._cgroup: Path | None = None
        self._stages: list[tuple[str, str]] = []
        missing = _probe(isolation, sandbox_uid)
        if missing:
            weaker = "'no-seccomp' (no system-call filter) or 'none'" if isolation == "strict" else "'none'"
            raise SandboxError(
                f"the local sandbox (isolation={isolation!r}) cannot run on this machine: " + "; ".join(missing)
                + ". Use the Docker runtime instead (runtime='docker': needs a Docker engine and an image for the "
                "tasks, see docker/Dockerfile.swe), or, on a machine "
                f"and with code you trust, opt into a weaker mode by name: sandbox={{'isolation': {weaker}}} "
                "(see sparsegym.envs.swe.sandbox for what each mode enforces)"
            )

    @property
    def isolated(self) -> bool:
        return self.isolation != "none"

    @property
    def host_uid(self) -> int:
        """The host uid sandboxed commands run as."""
        return self.sandbox_uid if (self.as_root and self.isolated) else os.geteuid()

    # -- workspace ---------------------------------------------------------------------------------
    def start(self, repo_dir: str | Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="sparsegym-swe-"))
        if self.as_root:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.disk_mb}m,mode=0711", "tmpfs", str(self.root)],
                               capture_output=True)
            self._tmpfs = r.returncode == 0
        os.chmod(self.root, 0o711)  # the sandbox's user passes through to its own folders
        shutil.copytree(repo_dir, self.root / "repo", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
        for d in (".home", ".tmp"):
            (self.root / d).mkdir()
        if self.isolated:
            self._write_etc()
            if self.as_root:
                for i, src in enumerate(_python_paths()):
                    stage = self.root / ".stage" / str(i)
                    stage.mkdir(parents=True)
                    self._stages.append((src, str(stage)))
        if self.as_root and self.isolated:
            uid = self.sandbox_uid
            for d in (self.root / "repo", self.root / ".home", self.root / ".tmp"):
                os.chown(d, uid, uid)
                for base, dirs, files in os.walk(d):
                    for name in dirs + files:
                        os.lchown(os.path.join(base, name), uid, uid)
        if self.as_root:
            self._cgroup = self._make_pids_cgroup()
        # Unmount, remove the cgroup and delete the workspace even when close() is never called.
        self._finalizer = weakref.finalize(self, _cleanup, self.root, self._tmpfs, self._cgroup)

    def _write_etc(self) -> None:
        etc = self.root / ".etc"
        etc.mkdir()
        (etc / "passwd").write_text(f"sandbox:x:{_INNER_ID}:{_INNER_ID}:sandbox:{HOME}:/bin/bash\n"
                                    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
        (etc / "group").write_text(f"sandbox:x:{_INNER_ID}:\nnogroup:x:65534:\n")
        (etc / "hosts").write_text("127.0.0.1 localhost sandbox\n::1 localhost\n")
        for f in etc.iterdir():
            f.chmod(0o644)
        etc.chmod(0o755)

    def _own(self, paths: list[Path]) -> None:
        if self.as_root and self.isolated:
            for p in paths:
                os.lchown(p, self.sandbox_uid, self.sandbox_uid)

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
        """How the process cap is enforced here: ``cgroup+rlimit``, ``rlimit`` or ``none``."""
        if self.as_root and not self.isolated:
            return "cgroup" if self._cgroup is not None else "none"  # RLIMIT_NPROC does not bind root
        return "cgroup+rlimit" if self._cgroup is not None else "rlimit"

    def _nproc_limit(self) -> int:
        """RLIMIT_NPROC counts every process of the uid: allow what runs now plus ``max_processes``."""
        uid, count = self.host_uid, 0
        if uid == 0:
            return self.max_processes  # not enforced for root; the cgroup caps the sandbox instead
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

    # -- commands ----------------------------------------------------------------------------------
    def _bwrap_argv(self, inner: list[str], seccomp_fd: int | None) -> list[str]:
        """The bubblewrap command line: the sandbox's file system, user, namespaces and filter."""
        a = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
             "--uid", str(_INNER_ID), "--gid", str(_INNER_ID), "--hostname", "sandbox",
             "--ro-bind", "/usr", "/usr", *_system_links()]
        etc = self.root / ".etc"
        for name in ("passwd", "group", "hosts"):
            a += ["--ro-bind", str(etc / name), f"/etc/{name}"]
        for name in _ETC_FILES:
            a += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        python = _python_paths()
        staged = dict(self._stages)
        a += ["--bind", str(self.root / "repo"), WORKDIR, "--bind", str(self.root / ".home"), HOME,
              "--bind", str(self.root / ".tmp"), "/tmp", "--proc", "/proc", "--dev", "/dev"]
        # Python after the private folders, so that an install under one of them (a venv in /tmp) is
        # mounted on top of it rather than hidden by it; those folders are never made pass-through.
        for p in python:
            a += ["--ro-bind", staged.get(p, p), p]
        private = {"/usr", "/home", "/tmp", HOME, WORKDIR}
        passages = sorted({d for p in python for d in _ancestors(p + "/x")} - private - set(python))
        for d in passages:  # folders that only lead to the Python install: pass through, never list
            a += ["--chmod", "0111", d]
        a += ["--remount-ro", "/", "--chdir", WORKDIR]
        if seccomp_fd is not None:
            a += ["--seccomp", str(seccomp_fd)]
        a += ["--", *inner]
        if self.as_root:
            a = _setpriv_prefix(self.sandbox_uid) + a
            if self._stages:
                pairs = [x for src, stage in self._stages for x in (src, stage)]
                a = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _STAGE, "stage",
                     str(len(self._stages)), *pairs, *a]
        return a

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        timeout = self.timeout if timeout is None else timeout
        # The Python running sparsegym (it has pytest) comes first on PATH, so test commands find it.
        path = os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"])
        env = {"PATH": path, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
               "PYTHONHASHSEED": "0", "TZ": "UTC"}
        inner = ["bash", "-c", command]
        fds: tuple[int, ...] = ()
        seccomp_fd = None
        if self.isolated:
            env.update(HOME=HOME, TMPDIR="/tmp", USER="sandbox")
            if self.isolation == "strict":
                seccomp_fd = os.memfd_create("sparsegym-seccomp", 0)
                os.write(seccomp_fd, seccomp.filter_program())
                os.lseek(seccomp_fd, 0, os.SEEK_SET)
                fds = (seccomp_fd,)
            argv, cwd = self._bwrap_argv(inner, seccomp_fd), "/"
            env["PATH"] = env["PATH"] + os.pathsep + "/usr/sbin:/sbin"  # for setpriv/unshare on the way in
        else:
            env.update(HOME=str(self.root / ".home"), TMPDIR=str(self.root / ".tmp"))
            argv, cwd = inner, str(self.root / "repo")
        self._nproc = self._nproc_limit()
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, preexec_fn=self._limits, start_new_session=True,
                                    pass_fds=fds)
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)
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
