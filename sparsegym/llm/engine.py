"""llama.cpp's C++ ``llama-server``, built from the llama-cpp-python source package and cached.

Why: llama-cpp-python's Python server decodes one request at a time per process, so concurrent requests
(an LLM agent playing many episodes at once) barely add throughput. llama.cpp's own ``llama-server`` has
parallel *slots* with continuous batching: the sequences of all in-flight requests are decoded together,
one batch per step, which is what makes many episodes in flight cheaper per token.
``LocalServer(engine="llama-server")`` (:mod:`sparsegym.llm.server`) runs the binary built here.

Build it once (about 6-7 minutes on 2 cores; needs cmake and a C++ compiler)::

    sparsegym serve --build-engine                      # pip downloads the sdist from PyPI
    sparsegym serve --build-engine --sdist llama_cpp_python-0.3.36.tar.gz   # or a file you have

or from Python:

>>> from sparsegym.llm.engine import build_llama_server           # doctest: +SKIP
>>> path = build_llama_server()        # ~/.cache/sparsegym/llama-server/0.3.36/llama-server   # doctest: +SKIP

What it does: ``pip download --no-deps --no-binary :all: llama-cpp-python==VERSION`` (PyPI's only
distribution of it is this sdist; llama.cpp's source is vendored inside it), extracts just
``vendor/llama.cpp``, configures CMake for a static, CPU-only build (no curl/OpenSSL, no tests, examples or
web UI download; ``-march=native`` unless ``native=False``), builds only the ``llama-server`` target and
copies the binary to ``sparsegym._cache.cache_dir("llama-server", VERSION)``, with ``build-info.json``
beside it. A binary already there is reused unless ``force=True``. The temporary build tree is deleted;
the build log stays next to the binary (``build.log``).

A native build uses the CPU features of the machine it was built on: copy the cache to another machine only
with ``native=False`` (``--no-native``). ``$SPARSEGYM_LLAMA_SERVER`` may name any llama-server binary to use
instead (:func:`find_llama_server`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from sparsegym._cache import cache_dir, cache_root
from sparsegym.errors import ConfigError, SparseGymError

__all__ = [
    "build_llama_server", "find_llama_server", "binary_path", "cmake_configure_args", "cmake_build_args",
    "check_toolchain", "extract_llama_cpp", "EngineError", "EngineBuildError", "EngineMissingError",
    "DEFAULT_VERSION", "BUILD_COMMAND", "BINARY_ENV",
]

DEFAULT_VERSION = "0.3.36"  # llama-cpp-python's version: the llama.cpp it vendors is the one the python engine runs
BINARY_NAME = "llama-server.exe" if os.name == "nt" else "llama-server"
BINARY_ENV = "SPARSEGYM_LLAMA_SERVER"
BUILD_COMMAND = "sparsegym serve --build-engine"
# Debian/Ubuntu packages that provide each tool the build needs.
DEBIAN_PACKAGES = {"cmake": "cmake", "c++": "g++", "cc": "gcc", "make": "make", "ninja": "ninja-build"}


class EngineError(SparseGymError):
    """Base class of the errors about the llama-server engine."""


class EngineBuildError(EngineError, RuntimeError):
    """The build could not run (missing tools, no source) or failed; the message says which and how to fix it."""


class EngineMissingError(EngineError, FileNotFoundError):
    """No built llama-server binary; the message gives the command that builds it."""


Log = Callable[[str], None]


def _print(line: str) -> None:
    print(line, flush=True)


# --- where the binary lives --------------------------------------------------------------------------------------

def binary_path(version: str = DEFAULT_VERSION) -> Path:
    """Where :func:`build_llama_server` puts the binary for ``version`` (it may not exist yet)."""
    return cache_root() / "llama-server" / version / BINARY_NAME


def find_llama_server(binary: str | os.PathLike | None = None, version: str = DEFAULT_VERSION) -> Path:
    """The llama-server binary to run: ``binary`` if given, else ``$SPARSEGYM_LLAMA_SERVER``, else the one
    :func:`build_llama_server` cached for ``version``. Raises :class:`EngineMissingError` naming the build
    command when there is none."""
    if binary is not None or os.environ.get(BINARY_ENV):
        given = Path(binary if binary is not None else os.environ[BINARY_ENV]).expanduser()
        source = "binary=" if binary is not None else f"${BINARY_ENV}"
        if not (given.is_file() and os.access(given, os.X_OK)):
            raise EngineMissingError(f"llama-server binary {str(given)!r} (from {source}) does not exist or is not "
                                     f"executable; build one with: {BUILD_COMMAND}")
        return given.resolve()
    path = binary_path(version)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    raise EngineMissingError(
        f"llama.cpp's llama-server (engine='llama-server') is not built yet: no {path}. Build it once with: "
        f"{BUILD_COMMAND} (about 6-7 minutes on 2 cores; needs cmake and a C++ compiler), or from Python: "
        f"sparsegym.llm.engine.build_llama_server(); or point ${BINARY_ENV} at a llama-server binary")


# --- the pieces of the build (pure functions: the tests check them) ------------------------------------------------

def cmake_configure_args(source: Path, build: Path, *, native: bool = True, generator: str | None = "Ninja",
                         extra: Sequence[str] = ()) -> list[str]:
    """Arguments of ``cmake`` (after the program name) that configure a CPU-only, static build of llama.cpp
    with the server and nothing optional: no tests, examples, unified app binary or web UI (the prebuilt UI
    would be downloaded at build time), no HTTPS (OpenSSL) and no curl."""
    args = ["-S", str(source), "-B", str(build)]
    if generator:
        args += ["-G", generator]
    args += [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DBUILD_SHARED_LIBS=OFF",        # one self-contained binary to copy into the cache
        "-DLLAMA_BUILD_COMMON=ON", "-DLLAMA_BUILD_TOOLS=ON", "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_APP=OFF",
        "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
        "-DLLAMA_FATAL_WARNINGS=OFF", "-DLLAMA_ALL_WARNINGS=OFF",
        "-DGGML_BACKEND_DL=OFF", "-DGGML_CUDA=OFF", "-DGGML_VULKAN=OFF", "-DGGML_METAL=OFF",
        f"-DGGML_NATIVE={'ON' if native else 'OFF'}",
        *extra,
    ]
    return args


def cmake_build_args(build: Path, jobs: int) -> list[str]:
    """Arguments of ``cmake`` that build only the ``llama-server`` target with ``jobs`` parallel jobs."""
    return ["--build", str(build), "--config", "Release", "--target", "llama-server", "--parallel", str(jobs)]


def check_toolchain(which: Callable[[str], str | None] = shutil.which) -> dict[str, str]:
    """The tools the build uses: ``{"cmake": path, "c++": path, "cc": path, "generator": "Ninja"|"Unix Makefiles"}``.

    Raises :class:`EngineBuildError` naming the Debian packages to install when one is missing.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for role, names in (("cmake", ["cmake"]), ("c++", ["c++", "g++", "clang++"]), ("cc", ["cc", "gcc", "clang"])):
        path = os.environ.get("CXX" if role == "c++" else "CC") if role != "cmake" else None
        path = (which(path) if path else None) or next((p for p in map(which, names) if p), None)
        if path:
            found[role] = path
        else:
            missing.append(role)
    ninja, make = which("ninja"), which("make")
    if ninja:
        found["generator"] = "Ninja"
    elif make:
        found["generator"] = "Unix Makefiles"
    else:
        missing.append("make")
    if missing:
        packages = " ".join(DEBIAN_PACKAGES[m] for m in missing)
        what = {"cmake": "cmake", "c++": "a C++ compiler", "cc": "a C compiler", "make": "a build tool (ninja or make)"}
        raise EngineBuildError(
            f"building llama-server needs {', '.join(what[m] for m in missing)}, not found on PATH. On "
            f"Debian/Ubuntu: sudo apt-get install -y {packages} (or build-essential cmake ninja-build); "
            "elsewhere install the equivalents, then run the build again")
    return found


def extract_llama_cpp(sdist: Path, dest: Path) -> Path:
    """Extract the ``vendor/llama.cpp`` folder of a llama-cpp-python sdist into ``dest``; return its path."""
    try:
        tar = tarfile.open(sdist)
    except (OSError, tarfile.TarError) as exc:
        raise EngineBuildError(f"cannot read the source package {str(sdist)!r}: {exc}") from exc
    with tar:
        members = []
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if len(parts) > 3 and parts[1:3] == ("vendor", "llama.cpp"):
                if m.name.startswith("/") or ".." in parts or m.issym() or m.islnk():
                    continue  # no absolute paths, no escapes, no links: a source tree needs none
                members.append(m)
        if not any(Path(m.name).parts[3:] == ("CMakeLists.txt",) for m in members):
            raise EngineBuildError(f"{str(sdist)!r} has no vendor/llama.cpp/CMakeLists.txt: is it llama-cpp-python's "
                                   "source package (llama_cpp_python-VERSION.tar.gz)?")
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, members=members, **kwargs)
        root = Path(members[0].name).parts[0]
    return dest / root / "vendor" / "llama.cpp"


def download_sdist(version: str, dest: Path, log: Log = _print) -> Path:
    """``pip download`` llama-cpp-python's source package (``--no-deps --no-binary :all:``) into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
           "-d", str(dest), f"llama-cpp-python=={version}"]
    log(f"sparsegym engine: downloading llama-cpp-python {version}'s source package with pip ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob("llama_cpp_python-*.tar.gz"))
    if proc.returncode != 0 or not found:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise EngineBuildError(f"pip could not download llama-cpp-python=={version}'s source ({' '.join(cmd)}):\n"
                               f"{tail}\nWithout network, pass the file: {BUILD_COMMAND} --sdist "
                               f"llama_cpp_python-{version}.tar.gz (build_llama_server(sdist=...))")
    return found[0]


# --- the build ---------------------------------------------------------------------------------------------------

def build_llama_server(version: str = DEFAULT_VERSION, jobs: int = 2, force: bool = False, *,
                       sdist: str | os.PathLike | None = None, native: bool = True,
                       cmake_args: Sequence[str] = (), log: Log | None = _print) -> Path:
    """Build llama.cpp's ``llama-server`` from llama-cpp-python's source package; return the cached binary.

    Args:
        version: the llama-cpp-python release whose vendored llama.cpp is built (and the cache folder's name).
        jobs: parallel compile jobs (about 1 GB of memory each for the largest files).
        force: rebuild even when the cache has a binary for ``version``.
        sdist: the ``llama_cpp_python-VERSION.tar.gz`` to build from; ``None`` downloads it with pip.
        native: optimise for this machine's CPU (``GGML_NATIVE``); ``False`` for a binary that runs on any
            x86-64/arm64 machine (slower).
        cmake_args: more ``-D`` options for the configure step.
        log: where progress lines go (``print`` by default; ``None`` for silence).

    Raises :class:`EngineBuildError` when a tool is missing (naming the Debian packages), the source cannot be
    had, or the build fails (with the last lines of the build log, which is kept).

    >>> from sparsegym.llm.engine import build_llama_server       # doctest: +SKIP
    >>> build_llama_server(sdist="llama_cpp_python-0.3.36.tar.gz", jobs=2)   # doctest: +SKIP
    PosixPath('/home/me/.cache/sparsegym/llama-server/0.3.36/llama-server')
    """
    say: Log = log or (lambda line: None)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ConfigError(f"build_llama_server: jobs must be a positive integer, not {jobs!r}")
    target = binary_path(version)
    if not force and target.is_file() and os.access(target, os.X_OK):
        say(f"sparsegym engine: llama-server {version} is already built: {target} (force=True / --force rebuilds)")
        return target
    tools = check_toolchain()
    if sdist is not None and not Path(sdist).is_file():
        raise EngineBuildError(f"the source package {str(sdist)!r} does not exist")
    out_dir = cache_dir("llama-server", version)
    log_path = out_dir / "build.log"
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sparsegym-llama-build-") as tmp:
        work = Path(tmp)
        src_pkg = Path(sdist).resolve() if sdist is not None else download_sdist(version, work, say)
        say(f"sparsegym engine: extracting vendor/llama.cpp from {src_pkg.name} ...")
        source = extract_llama_cpp(src_pkg, work / "src")
        build = work / "build"
        env = {**os.environ, "CC": tools["cc"], "CXX": tools["c++"]}
        configure = [tools["cmake"], *cmake_configure_args(source, build, native=native,
                                                            generator=tools["generator"], extra=cmake_args)]
        with open(log_path, "w", encoding="utf-8") as log_file:
            say(f"sparsegym engine: configuring ({tools['generator']}, {'native' if native else 'portable'} CPU "
                f"build; log: {log_path}) ...")
            _run_logged(configure, log_file, log_path, env, say, "configure")
            say(f"sparsegym engine: compiling llama-server with {jobs} job(s) (several minutes) ...")
            _run_logged([tools["cmake"], *cmake_build_args(build, jobs)], log_file, log_path, env, say, "build",
                        progress=True)
        built = next((p for p in (build / "bin" / BINARY_NAME, build / "bin" / "Release" / BINARY_NAME) if p.is_file()),
                     None)
        if built is None:
            raise EngineBuildError(f"the build finished but made no {BINARY_NAME} under {build / 'bin'}; "
                                   f"see {log_path}")
        partial = target.with_name(target.name + ".partial")
        shutil.copy2(built, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    seconds = time.monotonic() - t0
    info = {"llama_cpp_python": version, "native": native, "jobs": jobs, "build_seconds": round(seconds, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.machine(),
            "generator": tools["generator"], "cmake_args": list(cmake_args), "sdist": str(src_pkg.name)}
    (out_dir / "build-info.json").write_text(json.dumps(info, indent=1) + "\n")
    say(f"sparsegym engine: built {target} in {seconds / 60:.1f} min")
    return target


def _run_logged(cmd: list[str], log_file, log_path: Path, env: dict[str, str], say: Log, stage: str,
                progress: bool = False) -> None:
    """Run ``cmd``, its output into ``log_file``; with ``progress``, echo the build's ``[k/n]`` counter every
    10%. A failure raises :class:`EngineBuildError` with the log's last lines."""
    log_file.write("$ " + " ".join(cmd) + "\n")
    log_file.flush()
    tail: deque[str] = deque(maxlen=40)
    next_pct = 10
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            errors="replace", bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        log_file.write(line)
        tail.append(line.rstrip("\n"))
        if progress:
            pct = _progress(line)
            if pct is not None and pct >= next_pct:
                say(f"sparsegym engine: {stage} {pct}%")
                next_pct = (pct // 10 + 1) * 10
    code = proc.wait()
    log_file.flush()
    if code != 0:
        raise EngineBuildError(f"the llama-server {stage} step failed (exit {code}): {' '.join(cmd)}\n"
                               f"last lines of {log_path}:\n" + "\n".join(tail))


def _progress(line: str) -> int | None:
    """The percentage of a ninja ``[k/n] ...`` line or a make ``[ p%] ...`` line."""
    line = line.lstrip()
    if not line.startswith("["):
        return None
    head = line[1:line.find("]")] if "]" in line else ""
    try:
        if "/" in head:
            done, total = (int(x) for x in head.split("/", 1))
            return int(100 * done / total) if total else None
        if head.endswith("%"):
            return int(head[:-1])
    except ValueError:
        return None
    return None
