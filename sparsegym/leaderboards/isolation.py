"""Untrusted agents in a container: ``sparsegym evaluate/submit --isolate docker``.

A leaderboard that runs other people's agent code must not let it read the results store, other
submissions' files, or the network. With ``isolate="docker"`` the evaluator plays the env on the host as
always, but the agent runs in a container of the full image (``sparsegym:<version>``, see docs/docker.md):

* no network (``--network none``), no capabilities, ``no-new-privileges``, a non-root user, a read-only
  root with a small ``/tmp``, limits on memory and processes;
* the only host files it sees are its submission's folder (the folder of the YAML file, or ``base_dir``),
  mounted read-only at ``/agent`` and put on ``PYTHONPATH``; not the store, not other submissions.

The container runs ``python -m sparsegym.leaderboards.isolation``, which builds the agent from its entry
point for a copy of the episode's env made in the container (the factory reads its spaces; the episode
itself runs on the host) and then answers ``reset``/``act`` requests, one JSON object per line on its
stdin and stdout (arrays travel as base64). Anything the agent prints goes to stderr, so it cannot break
the protocol. On the host :class:`DockerAgent` stands in for the agent, so every backend, the per-step
timeout and the failure records work as for an agent in the same process: an agent that raises in the
container fails its episode with the exception's type and message; a container that dies fails it with
the end of its stderr. One container serves all the episodes of one (agent, env) pair in a worker and is
removed when the worker ends (or, if the worker is killed, by the next runtime of this host: the
containers carry a ``sparsegym.isolation`` label and the host's pid).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import numpy as np

from sparsegym.errors import ConfigError, SparseGymError

LABEL = "sparsegym.isolation"
ISOLATION_MODES = ("docker",)


class IsolationError(SparseGymError, RuntimeError):
    """The isolated agent could not be started, or its container stopped answering."""


# -- values over the pipe ------------------------------------------------------------------------------------

def encode(value: Any) -> Any:
    """A JSON-able form of observations, infos and actions: arrays become base64 with dtype and shape."""
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        return {"__ndarray__": base64.b64encode(arr.tobytes()).decode(), "dtype": arr.dtype.str, "shape": arr.shape}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__repr__": repr(value)}  # something the agent cannot use as such; it sees what it was


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "__ndarray__" in value:
            data = base64.b64decode(value["__ndarray__"])
            return np.frombuffer(data, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        if "__dict__" in value:
            return {decode(k): decode(v) for k, v in value["__dict__"]}
        if "__tuple__" in value:
            return tuple(decode(v) for v in value["__tuple__"])
        if "__repr__" in value:
            return value["__repr__"]
    return value


# -- the container's side ------------------------------------------------------------------------------------

def serve() -> int:
    """Answer requests on stdin until it closes (run inside the container)."""
    proto_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # the agent's prints must not reach the protocol's stream
    agent = None
    for line in sys.stdin:
        request = json.loads(line)
        rid = request.get("id")
        try:
            op = request["op"]
            if op == "build":
                from sparsegym.leaderboards.agent import build_agent
                from sparsegym.leaderboards.evaluator import make_env

                env, _ = make_env(request["env_id"], request.get("observation", "native"))
                agent = build_agent(request["entry"], env, request.get("kwargs") or {},
                                    os.environ.get("SPARSEGYM_AGENT_DIR", "/agent"))
                reply: dict[str, Any] = {"ok": True}
            elif op == "reset":
                agent.reset(request["seed"])
                reply = {"ok": True}
            elif op == "act":
                reply = {"action": encode(agent.act(decode(request["obs"]), decode(request["info"])))}
            elif op == "stats":
                stats = getattr(agent, "episode_stats", None)
                reply = {"stats": encode(stats() if callable(stats) else None)}
            else:
                reply = {"error": f"ValueError: unknown request {op!r}"}
        except Exception as exc:  # noqa: BLE001 - the agent's failure is the episode's record, not ours
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        reply["id"] = rid
        proto_out.write(json.dumps(reply) + "\n")
    return 0


# -- the host's side -----------------------------------------------------------------------------------------

def _remove(name: str, proc: subprocess.Popen) -> None:
    try:
        proc.stdin.close()
    except Exception:  # noqa: BLE001
        pass
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    _wait_gone(name)
    try:
        proc.kill()
    except Exception:  # noqa: BLE001
        pass


def _wait_gone(name: str, timeout: float = 60.0) -> None:
    """Wait until the engine no longer has container ``name``. Removal is asynchronous when the container's
    own ``--rm`` got there first (``rm -f`` then only says it is in progress), and on a ``vfs`` engine it
    takes seconds (the container's copy of the image is deleted), so without this wait a container would
    still be listed after ``close()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = subprocess.run(["docker", "inspect", "--type", "container", "--format", "{{.Id}}", name],
                               capture_output=True, text=True)
        if probe.returncode != 0:  # gone (or no engine to ask)
            return
        time.sleep(0.2)


def prune_stale(host: str | None = None) -> None:
    """Remove isolation containers whose host process is gone (it was killed before its finaliser ran)."""
    host = host or socket.gethostname()
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label={LABEL}", "--format",
                          '{{.Names}} {{.Label "sparsegym.host"}} {{.Label "sparsegym.pid"}}'],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == host and parts[2].isdigit():
            try:
                os.kill(int(parts[2]), 0)
            except ProcessLookupError:
                subprocess.run(["docker", "rm", "-f", parts[0]], capture_output=True)
            except PermissionError:
                pass


def default_image() -> str:
    from sparsegym import __version__

    return os.environ.get("SPARSEGYM_ISOLATE_IMAGE", f"sparsegym:{__version__}")


def check_isolation(mode: str | None, image: str | None = None) -> None:
    """Fail before any episode runs when ``mode`` is unknown, there is no engine, or the image is missing."""
    if mode is None:
        return
    if mode not in ISOLATION_MODES:
        raise ConfigError(f"unknown isolation {mode!r}; use one of {', '.join(ISOLATION_MODES)} (or none)")
    if shutil.which("docker") is None:
        raise IsolationError("--isolate docker needs the docker command and an engine; none is installed here "
                             "(as root: apt-get install -y docker.io, then dockerd &)")
    image = image or default_image()
    r = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if r.returncode != 0:
        if "Cannot connect" in r.stderr or "daemon" in r.stderr.lower() and "running" in r.stderr.lower():
            raise IsolationError(f"--isolate docker: no Docker engine answers ({r.stderr.strip()[:200]})")
        raise IsolationError(f"--isolate docker: the agent image {image!r} is not on this engine; build it with "
                             "`bash docker/build.sh sparsegym` (or name another with --isolate-image)")


class DockerAgent:
    """The host's stand-in for an agent running in a container (module docstring)."""

    def __init__(self, entry: str, env_id: str, *, kwargs: dict[str, Any] | None = None,
                 base_dir: str | os.PathLike | None = None, observation: str = "native", image: str | None = None,
                 memory_mb: int = 4096, max_processes: int = 256, start_timeout: float = 300.0):
        self.image = image or default_image()
        folder = Path(base_dir or os.getcwd()).resolve()
        target, sep, attr = entry.partition(":")
        if target.endswith(".py"):
            path = Path(target)
            path = (path if path.is_absolute() else folder / path).resolve()
            if folder != path.parent and folder not in path.parents:
                raise ConfigError(f"agent file {str(path)!r} is outside its submission folder {str(folder)!r}, the "
                                  "only folder an isolated agent can see")
            entry = "/agent/" + str(path.relative_to(folder)) + (sep + attr if sep else "")
        prune_stale()
        self.name = f"sparsegym-agent-{uuid.uuid4().hex[:12]}"
        argv = ["docker", "run", "-i", "--rm", "--name", self.name, "--network", "none", "--read-only",
                "--tmpfs", "/tmp:size=256m,mode=1777", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                "--user", "1000:1000", "--memory", f"{memory_mb}m", "--memory-swap", f"{memory_mb}m",
                "--pids-limit", str(max_processes), "-v", f"{folder}:/agent:ro", "-w", "/agent",
                "-e", "PYTHONPATH=/agent", "-e", "HOME=/tmp", "-e", "PYTHONDONTWRITEBYTECODE=1",
                "--label", f"{LABEL}=agent", "--label", f"sparsegym.host={socket.gethostname()}",
                "--label", f"sparsegym.pid={os.getpid()}",
                "--entrypoint", "python", self.image, "-m", "sparsegym.leaderboards.isolation"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self._finalizer = weakref.finalize(self, _remove, self.name, self.proc)
        self._stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True, name=f"{self.name}-stderr").start()
        self._next = 0
        self._call({"op": "build", "entry": entry, "kwargs": kwargs or {}, "env_id": env_id,
                    "observation": observation}, timeout=start_timeout)

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-40]

    def _call(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        if self.proc.poll() is not None:
            raise IsolationError(f"the agent's container has stopped (exit {self.proc.returncode}): "
                                 + "".join(self._stderr[-8:]).strip()[-800:])
        self._next += 1
        rid = request["id"] = self._next
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # replies to earlier requests (their caller timed out) are skipped
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if not ready:
                raise IsolationError(f"the agent's container did not answer {request['op']!r} within {timeout:g} s")
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                raise IsolationError(f"the agent's container exited (code {self.proc.returncode}): "
                                     + "".join(self._stderr[-8:]).strip()[-800:])
            reply = json.loads(line)
            if reply.get("id") == rid:
                break
        if "error" in reply:
            raise RuntimeError(f"the isolated agent raised {reply['error']}")
        return reply

    def reset(self, seed: int | None) -> None:
        self._call({"op": "reset", "seed": seed})

    def act(self, observation: Any, info: dict[str, Any]) -> Any:
        return decode(self._call({"op": "act", "obs": encode(observation), "info": encode(info)})["action"])

    def episode_stats(self) -> dict[str, Any] | None:
        try:
            return decode(self._call({"op": "stats"}, timeout=30)["stats"])
        except Exception:  # noqa: BLE001 - stats are optional
            return None

    def close(self) -> None:
        self._finalizer()


if __name__ == "__main__":
    raise SystemExit(serve())
