"""sparsegym.llm.engine (building llama.cpp's llama-server) and LocalServer(engine="llama-server").

Without a compiler run: the CMake command lines, the toolchain and download errors, extraction from the sdist,
the cache reuse, a build driven by a stand-in ``cmake``, and the supervisor on a stand-in llama-server binary.
Marked ``llm_server``: the real binary (built by ``sparsegym serve --build-engine``) on the real SmolLM2 model;
skipped, with the build command as the reason, where it has not been built. Structure only, never exact text.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from server_http import http_get as _get  # noqa: E402  (tests/llm/server_http.py)
from server_http import http_post as _post  # noqa: E402
from server_http import process_gone as _gone  # noqa: E402

from sparsegym import cli
from sparsegym.errors import ConfigError, SparseGymError
from sparsegym.llm import engine
from sparsegym.llm import server as srv_mod
from sparsegym.llm.engine import (
    BUILD_COMMAND,
    EngineBuildError,
    EngineMissingError,
    build_llama_server,
    check_toolchain,
    cmake_build_args,
    cmake_configure_args,
    extract_llama_cpp,
    find_llama_server,
)
from sparsegym.llm.server import LocalServer, PortBusyError, ServerStartError


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSEGYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(engine.BINARY_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture
def sdist(tmp_path):
    """A tiny stand-in for llama_cpp_python-X.tar.gz: a vendor/llama.cpp tree, other files, and a member that
    tries to escape the extraction folder."""
    path = tmp_path / "llama_cpp_python-9.9.9.tar.gz"
    files = {"llama_cpp_python-9.9.9/pyproject.toml": "x",
             "llama_cpp_python-9.9.9/vendor/llama.cpp/CMakeLists.txt": "project(x)",
             "llama_cpp_python-9.9.9/vendor/llama.cpp/tools/server/main.cpp": "int main(){}",
             "llama_cpp_python-9.9.9/vendor/llama.cpp/../../../evil.txt": "no"}
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


# --- the build's pieces -----------------------------------------------------------------------------------------

def test_configure_args_build_a_static_cpu_server_and_nothing_else(tmp_path):
    args = cmake_configure_args(tmp_path / "src", tmp_path / "b", generator="Ninja")
    assert args[:6] == ["-S", str(tmp_path / "src"), "-B", str(tmp_path / "b"), "-G", "Ninja"]
    flags = dict(a[2:].split("=", 1) for a in args if a.startswith("-D"))
    assert flags["LLAMA_BUILD_SERVER"] == "ON" and flags["CMAKE_BUILD_TYPE"] == "Release"
    assert flags["BUILD_SHARED_LIBS"] == "OFF"  # one self-contained binary to cache
    for off in ("LLAMA_BUILD_TESTS", "LLAMA_BUILD_EXAMPLES", "LLAMA_CURL", "LLAMA_OPENSSL", "LLAMA_USE_PREBUILT_UI",
                "LLAMA_BUILD_UI", "GGML_CUDA"):
        assert flags[off] == "OFF", off
    assert flags["GGML_NATIVE"] == "ON"
    portable = cmake_configure_args(tmp_path, tmp_path, native=False, generator=None, extra=["-DGGML_AVX2=ON"])
    assert "-DGGML_NATIVE=OFF" in portable and "-G" not in portable and portable[-1] == "-DGGML_AVX2=ON"


def test_build_args_build_only_the_server_target(tmp_path):
    assert cmake_build_args(tmp_path, 3) == ["--build", str(tmp_path), "--config", "Release", "--target",
                                             "llama-server", "--parallel", "3"]


def _which(available: set[str]):
    return lambda name: f"/usr/bin/{name}" if name in available else None


def test_toolchain_prefers_ninja_and_falls_back_to_make(monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    tools = check_toolchain(_which({"cmake", "g++", "gcc", "ninja", "make"}))
    assert tools == {"cmake": "/usr/bin/cmake", "c++": "/usr/bin/g++", "cc": "/usr/bin/gcc", "generator": "Ninja"}
    assert check_toolchain(_which({"cmake", "c++", "cc", "make"}))["generator"] == "Unix Makefiles"


@pytest.mark.parametrize("available, packages", [
    ({"g++", "gcc", "ninja"}, "cmake"),
    ({"cmake", "ninja"}, "g++ gcc"),
    ({"cmake", "g++", "gcc"}, "make"),
])
def test_missing_tools_name_the_debian_packages(monkeypatch, available, packages):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    with pytest.raises(EngineBuildError) as info:
        check_toolchain(_which(available))
    msg = str(info.value)
    assert f"apt-get install -y {packages}" in msg and "build-essential" in msg
    assert isinstance(info.value, SparseGymError)


def test_extract_takes_only_vendor_llama_cpp_and_refuses_escapes(sdist, tmp_path):
    root = extract_llama_cpp(sdist, tmp_path / "x")
    assert root == tmp_path / "x" / "llama_cpp_python-9.9.9" / "vendor" / "llama.cpp"
    assert (root / "CMakeLists.txt").read_text() == "project(x)" and (root / "tools/server/main.cpp").is_file()
    assert not (tmp_path / "x" / "llama_cpp_python-9.9.9" / "pyproject.toml").exists()
    assert not list(tmp_path.rglob("evil.txt"))


def test_extract_rejects_other_archives(tmp_path):
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("pkg/setup.py")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(EngineBuildError, match="no vendor/llama.cpp/CMakeLists.txt"):
        extract_llama_cpp(other, tmp_path / "x")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(EngineBuildError, match="cannot read"):
        extract_llama_cpp(tmp_path / "junk.tar.gz", tmp_path / "y")


def test_a_cached_binary_is_reused_without_building(cache, monkeypatch, capsys):
    target = engine.binary_path("1.2.3")
    target.parent.mkdir(parents=True)
    _executable(target, "#!/bin/sh\n")
    monkeypatch.setattr(engine, "check_toolchain", lambda: pytest.fail("must not build"))
    assert build_llama_server("1.2.3") == target
    assert target == cache / "llama-server" / "1.2.3" / "llama-server"
    assert "already built" in capsys.readouterr().out
    assert find_llama_server(version="1.2.3") == target


def test_no_binary_names_the_build_command(cache, tmp_path, monkeypatch):
    with pytest.raises(EngineMissingError) as info:
        find_llama_server(version="1.2.3")
    assert BUILD_COMMAND in str(info.value) and "build_llama_server()" in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    monkeypatch.setenv(engine.BINARY_ENV, str(tmp_path / "nope"))
    with pytest.raises(EngineMissingError, match=r"\$SPARSEGYM_LLAMA_SERVER"):
        find_llama_server()
    exe = _executable(tmp_path / "my-llama-server", "#!/bin/sh\n")
    monkeypatch.setenv(engine.BINARY_ENV, str(exe))
    assert find_llama_server() == exe.resolve()


def test_bad_arguments(cache, tmp_path):
    with pytest.raises(ConfigError, match="jobs"):
        build_llama_server(jobs=0)
    with pytest.raises(EngineBuildError, match="does not exist"):
        build_llama_server("0.0.1", sdist=tmp_path / "missing.tar.gz")


def test_a_failed_download_says_how_to_build_offline(tmp_path, monkeypatch):
    def failing_pip(cmd, **kw):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-binary" in cmd and cmd[-1] == "llama-cpp-python==0.3.36"
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found\n")

    monkeypatch.setattr(engine.subprocess, "run", failing_pip)
    with pytest.raises(EngineBuildError) as info:
        engine.download_sdist("0.3.36", tmp_path, log=lambda line: None)
    assert "No matching distribution" in str(info.value) and "--sdist" in str(info.value)


# A stand-in cmake: configure writes a marker; the build prints ninja-style progress, then (unless told to fail)
# writes bin/llama-server.
FAKE_CMAKE = textwrap.dedent('''\
    #!{python}
    import os, sys
    args = sys.argv[1:]
    if args[0] == "-S":
        build = args[args.index("-B") + 1]
        os.makedirs(build, exist_ok=True)
        print("-- Configuring done", flush=True)
        sys.exit(0)
    build = args[args.index("--build") + 1]
    for i in range(1, 11):
        print(f"[{{i}}/10] Building CXX object thing{{i}}.o", flush=True)
    if os.environ.get("FAKE_FAIL"):
        print("server.cpp:12: error: something broke", flush=True)
        sys.exit(2)
    os.makedirs(os.path.join(build, "bin"), exist_ok=True)
    with open(os.path.join(build, "bin", "llama-server"), "w") as f:
        f.write("#!/bin/sh\\necho fake\\n")
''')


@pytest.fixture
def fake_toolchain(tmp_path, monkeypatch):
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    _executable(bindir / "cmake", FAKE_CMAKE.format(python=sys.executable))
    for tool in ("c++", "cc", "ninja"):
        _executable(bindir / tool, "#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("CXX", raising=False)
    return bindir


def test_a_build_installs_the_binary_with_its_build_info(cache, sdist, fake_toolchain):
    lines: list[str] = []
    path = build_llama_server("9.9.9", jobs=1, sdist=sdist, native=False, log=lines.append)
    assert path == cache / "llama-server" / "9.9.9" / "llama-server" and os.access(path, os.X_OK)
    info = json.loads((path.parent / "build-info.json").read_text())
    assert info["llama_cpp_python"] == "9.9.9" and info["native"] is False and info["build_seconds"] >= 0
    log = (path.parent / "build.log").read_text()
    assert "-DGGML_NATIVE=OFF" in log and "--target llama-server" in log
    assert any("compiling" in line for line in lines) and any(line.endswith("100%") for line in lines)


def test_a_failed_build_raises_with_the_log_tail(cache, sdist, fake_toolchain, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(EngineBuildError) as info:
        build_llama_server("9.9.9", sdist=sdist, log=None)
    msg = str(info.value)
    assert "build step failed (exit 2)" in msg and "server.cpp:12: error: something broke" in msg
    assert str(cache / "llama-server" / "9.9.9" / "build.log") in msg
    assert not engine.binary_path("9.9.9").exists()


def test_cli_build_engine_builds_and_exits(monkeypatch, capsys):
    seen = {}

    def fake_build(version, jobs, force, sdist, native):
        seen.update(version=version, jobs=jobs, force=force, sdist=sdist, native=native)
        return Path("/cache/llama-server")

    monkeypatch.setattr(engine, "build_llama_server", fake_build)
    assert cli.main(["serve", "--build-engine", "--jobs", "4", "--no-native", "--sdist", "x.tar.gz"]) == 0
    assert seen == {"version": "0.3.36", "jobs": 4, "force": False, "sdist": "x.tar.gz", "native": False}
    assert "/cache/llama-server" in capsys.readouterr().out


# --- LocalServer(engine="llama-server") without the real binary ---------------------------------------------------

@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "policy.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_engine_command_has_slots_batching_and_per_slot_context(model_file, tmp_path):
    exe = _executable(tmp_path / "llama-server", "#!/bin/sh\n")
    srv = LocalServer(model_file, engine="llama-server", binary=exe, port=8124, n_ctx=1024, parallel=8, threads=2,
                      extra_args=["--cache-reuse", "64"])
    cmd = srv.command()
    head, args = cmd[:cmd.index("--")], cmd[cmd.index("--") + 1:]
    assert cmd[0] == sys.executable and head[head.index("--engine-binary") + 1] == str(exe.resolve())
    assert head[head.index("--port") + 1] == "8124"
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs["--model"] == str(model_file.resolve()) and pairs["--alias"] == "policy"
    assert pairs["--ctx-size"] == str(1024 * 8) and pairs["--parallel"] == "8"
    assert pairs["--threads"] == pairs["--threads-batch"] == "2"
    assert {"--cont-batching", "--no-kv-unified", "--no-webui"} <= set(args) and args[-2:] == ["--cache-reuse", "64"]


def test_engine_defaults_and_choices(model_file, tmp_path):
    srv = LocalServer(model_file, engine="llama-server")
    assert srv.parallel == 16 and srv.threads == srv_mod._cpu_count()
    assert (LocalServer(model_file).parallel, LocalServer(model_file).threads) == (4, 1)  # python: as before
    with pytest.raises(ConfigError, match="engine"):
        LocalServer(engine="vllm")
    args = cli.build_parser().parse_args(["serve", "--engine", "llama-server", "--parallel", "8"])
    assert (args.engine, args.parallel, args.threads, args.build_engine) == ("llama-server", 8, None, False)


def test_engine_without_a_binary_says_how_to_build_it(cache, model_file, capsys):
    with pytest.raises(EngineMissingError, match=BUILD_COMMAND):
        LocalServer(model_file, engine="llama-server").start()
    assert cli.main(["serve", "--engine", "llama-server", "--model", str(model_file)]) == 2
    assert BUILD_COMMAND in capsys.readouterr().err


# A stand-in llama-server: /health answers 503 for FAKE_LOADING_S seconds, then 200; /v1/models lists the alias;
# it starts a sleeping grandchild so that stopping must reach the whole process group.
FAKE_ENGINE = textwrap.dedent('''\
    #!{python}
    import argparse, json, os, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    p = argparse.ArgumentParser()
    p.add_argument("--alias"); p.add_argument("--host"); p.add_argument("--port", type=int)
    args, _ = p.parse_known_args()
    if os.environ.get("FAKE_CRASH"):
        print("fake llama-server: failed to load model", flush=True); sys.exit(1)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}\\n")
    ready_at = time.monotonic() + float(os.environ.get("FAKE_LOADING_S", "0.5"))
    class H(BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        def do_GET(self):
            if self.path == "/health":
                loading = time.monotonic() < ready_at
                with open(os.environ["FAKE_PIDS"] + ".health", "a") as f:
                    f.write("503\\n" if loading else "200\\n")
                self.reply(503 if loading else 200, {{"status": "loading" if loading else "ok"}})
            else:
                self.reply(200, {{"object": "list", "data": [{{"id": args.alias, "object": "model"}}]}})
        def log_message(self, *a):
            pass
    ThreadingHTTPServer((args.host, args.port), H).serve_forever()
''')


@pytest.fixture
def fake_engine(tmp_path, monkeypatch, model_file):
    exe = _executable(tmp_path / "llama-server", FAKE_ENGINE.format(python=sys.executable))
    monkeypatch.setenv("FAKE_PIDS", str(tmp_path / "pids.txt"))

    def pids() -> list[int]:
        path = tmp_path / "pids.txt"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def health() -> list[str]:
        path = tmp_path / "pids.txt.health"
        return path.read_text().split() if path.exists() else []

    return exe, model_file, pids, health


def test_engine_waits_for_health_then_stop_kills_the_group(fake_engine):
    exe, model, pids, health = fake_engine
    with LocalServer(model, engine="llama-server", binary=exe, parallel=4, ready_timeout=30) as srv:
        assert srv.alive() and srv.binary == exe.resolve()
        assert _get(srv.base_url + "/models")["data"][0]["id"] == "policy"
        assert health()[0] == "503" and health()[-1] == "200"  # it waited through the loading phase
        assert len(pids()) == 2
        port, leader = srv.port, srv.pid
        assert "engine='llama-server'" in repr(srv)
    assert all(_gone(p) for p in [leader, *pids()])
    assert srv_mod.port_is_free("127.0.0.1", port)


def test_engine_crash_and_busy_port(fake_engine, monkeypatch):
    exe, model, pids, _ = fake_engine
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(PortBusyError):
            LocalServer(model, engine="llama-server", binary=exe, port=s.getsockname()[1]).start()
    monkeypatch.setenv("FAKE_CRASH", "1")
    with pytest.raises(ServerStartError, match="failed to load model") as info:
        LocalServer(model, engine="llama-server", binary=exe, ready_timeout=30).start()
    assert "exited with code 1" in str(info.value)


# --- the real llama-server on SmolLM2 ------------------------------------------------------------------------------

def _built_engine():
    """The user's built llama-server, looked up at import: the session's fixtures point sparsegym's cache
    at a temporary folder, so the real tests pass this path explicitly."""
    try:
        return find_llama_server()
    except EngineMissingError:
        return None


REAL_BINARY = _built_engine()


def _real_engine_missing() -> str | None:
    if REAL_BINARY is None:
        return f"needs the llama-server engine; build it with: {BUILD_COMMAND} (or python -m sparsegym.cli serve " \
               "--build-engine)"
    try:
        srv_mod.default_model_path()
    except srv_mod.ModelNotFoundError:
        return f"needs the SmolLM2 model: {srv_mod.INSTALL_MODEL}"
    return None


real = pytest.mark.skipif(_real_engine_missing() is not None, reason=_real_engine_missing() or "")


@pytest.fixture(scope="module")
def engine_server():
    with LocalServer(engine="llama-server", binary=REAL_BINARY, parallel=8, n_ctx=1024, ready_timeout=120) as srv:
        yield srv


@pytest.mark.llm_server
@real
def test_real_engine_models_and_health(engine_server):
    assert [m["id"] for m in _get(engine_server.base_url + "/models")["data"]] == ["smollm2"]
    assert _get(engine_server.base_url[:-3] + "/health")["status"] == "ok"
    assert engine_server.env()["SPARSEGYM_LLM_MODEL"] == "smollm2"


@pytest.mark.llm_server
@real
def test_real_engine_chat_and_completions(engine_server):
    out = _post(engine_server.base_url + "/chat/completions", {
        "model": engine_server.model, "max_tokens": 16, "temperature": 0, "seed": 0,
        "messages": [{"role": "user", "content": "Name a colour."}]})
    choice, usage = out["choices"][0], out["usage"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length") and 0 < usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    out = _post(engine_server.base_url + "/completions", {
        "model": engine_server.model, "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0})
    assert out["choices"][0]["text"] and 0 < out["usage"]["completion_tokens"] <= 4


@pytest.mark.llm_server
@real
def test_real_engine_reuses_a_shared_prompt_head_and_the_client_counts_it(engine_server):
    """LLMAgent puts the instructions first in every request so llama.cpp's prompt cache skips them; the
    client reads how many prompt tokens the server reused (usage.prompt_tokens_details.cached_tokens)."""
    pytest.importorskip("openai")
    from sparsegym.llm import LLMClient

    system = {"role": "system", "content": "You play a text adventure. " * 20 + "Answer with one command."}
    with LLMClient(engine_server.base_url, engine_server.model, cache=False) as client:
        first = client.chat([system, {"role": "user", "content": "You are in a kitchen. What do you do?"}],
                            max_tokens=4, temperature=0)
        second = client.chat([system, {"role": "user", "content": "You are in a garden. What do you do?"}],
                             max_tokens=4, temperature=0)
    assert second.usage.prompt_tokens > 100
    # the whole system turn (over 100 tokens) came from the cache; the new user turn was computed
    assert 100 < second.usage.cached_prompt_tokens < second.usage.prompt_tokens
    assert first.usage.cached_prompt_tokens < second.usage.cached_prompt_tokens


@pytest.mark.llm_server
@real
@pytest.mark.parametrize("form", ["json_object", "json_schema"])
def test_real_engine_constrains_to_the_enum(engine_server, form):
    actions = ["take coin", "go north", "open door"]
    schema = {"type": "object", "properties": {"action": {"type": "string", "enum": actions}}, "required": ["action"]}
    fmt = ({"type": "json_object", "schema": schema} if form == "json_object"  # what LLMAgent(constrained=True) sends
           else {"type": "json_schema", "json_schema": {"name": "act", "schema": schema}})
    for seed in range(3):
        out = _post(engine_server.base_url + "/chat/completions", {
            "model": engine_server.model, "max_tokens": 24, "temperature": 1.0, "seed": seed, "response_format": fmt,
            "messages": [{"role": "user", "content": "You see a coin. Choose an action: " + ", ".join(actions)}]})
        assert json.loads(out["choices"][0]["message"]["content"])["action"] in actions


@pytest.mark.llm_server
@real
def test_real_engine_answers_eight_concurrent_requests(engine_server):
    body = {"model": engine_server.model, "max_tokens": 12, "temperature": 0.7,
            "messages": [{"role": "user", "content": "Tell me about doors."}]}
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda i: _post(engine_server.base_url + "/chat/completions", {**body, "seed": i}),
                             range(8)))
    assert len(outs) == 8
    for out in outs:
        assert out["choices"][0]["message"]["content"].strip() and 0 < out["usage"]["completion_tokens"] <= 12


@pytest.mark.llm_server
@real
def test_real_engine_serves_the_sparsegym_client(engine_server, monkeypatch):
    pytest.importorskip("openai")
    from sparsegym.llm import LLMClient

    for key, value in engine_server.env().items():
        monkeypatch.setenv(key, value)
    client = LLMClient(cache=False)
    assert client.models() == ["smollm2"]
    result = client.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, n=2, seed=0, temperature=0.7)
    assert len(result.texts) == 2 and all(result.texts) and result.model == "smollm2"


@pytest.mark.llm_server
@real
def test_real_engine_runs_a_constrained_llm_agent(engine_server, tmp_path):
    pytest.importorskip("openai")
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.store import ResultsStore
    from sparsegym.leaderboards.suites import Suite

    suite = Suite("smoke", ("sparsegym/MiniGrid-MultiRoom-N2-S4-v0",), episodes=2, description="t", step_timeout=120)
    kwargs = {"base_url": engine_server.base_url, "model": engine_server.model, "cache": False, "constrained": True,
              "history": 4}  # prompts well inside the slot's 1024 tokens: a reply cut by a full context is no test
    with ResultsStore(tmp_path / "results.db") as store:
        result = evaluate("sparsegym.agents:LLMAgent", suite, "test", store=store, progress=False, observation="text",
                          agent_kwargs=kwargs, backend="async", workers=2)
        assert (result.ran, result.failed) == (2, 0)
        rows = store.episodes(agent=result.agent)
        assert all(r.length > 0 and r.agent_stats["invalid_replies"] == 0 for r in rows)


@pytest.mark.llm_server
@real
def test_real_engine_stop_frees_the_port_and_leaves_no_process():
    srv = LocalServer(engine="llama-server", binary=REAL_BINARY, parallel=2, n_ctx=512, ready_timeout=120).start()
    port, leader = srv.port, srv.pid
    assert _get(srv.base_url + "/models")["data"][0]["id"] == "smollm2"
    srv.stop()
    assert _gone(leader) and srv_mod.port_is_free("127.0.0.1", port)
    assert subprocess.run(["pgrep", "-g", str(leader)], capture_output=True).stdout.strip() == b""


@pytest.mark.llm_server
@real
def test_llm_eval_benchmark_empties_the_prompt_cache_between_rounds(tmp_path):
    """benchmarks/llm_eval.py starts each round with every slot emptied, so a round cannot reuse the prompts
    of the round before (they replay the same seeds)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "llm_eval.py"
    spec = importlib.util.spec_from_file_location("llm_eval_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    body = {"model": "smollm2", "max_tokens": 2, "temperature": 0,
            "messages": [{"role": "user", "content": "Describe a quiet library in one sentence. " * 5}]}
    with LocalServer(engine="llama-server", binary=REAL_BINARY, parallel=2, n_ctx=512, ready_timeout=120,
                     extra_args=["--slot-save-path", str(tmp_path)]) as server:
        url = server.base_url + "/chat/completions"
        _post(url, body)
        assert _post(url, body)["usage"]["prompt_tokens_details"]["cached_tokens"] > 20  # the slot kept it
        bench.clear_prompt_cache(server)
        assert _post(url, body)["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
