"""Isolated agents: the pipe protocol (values, errors, the agent's prints) run as a plain subprocess here, and
(marked ``docker``) the real thing: agents in containers that try to read the store, another submission's
files and the network, and get nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sparsegym.leaderboards.isolation import check_isolation, decode, encode


def test_values_survive_the_pipe():
    value = {"image": np.arange(24, dtype=np.uint8).reshape(2, 3, 4), "mission": "go", 3: (1.5, np.int64(7)),
             "nested": [{"x": np.float32(0.25)}, None, True], "odd": {1, 2}}
    back = decode(json.loads(json.dumps(encode(value))))
    assert back["image"].dtype == np.uint8 and back["image"].shape == (2, 3, 4)
    assert np.array_equal(back["image"], value["image"])
    assert back["mission"] == "go" and back[3] == (1.5, 7) and back["nested"] == [{"x": 0.25}, None, True]
    assert back["odd"] == repr({1, 2})  # what cannot travel arrives as its repr, not as a crash


AGENT = textwrap.dedent("""
    class Agent:
        def __init__(self, env, mode="ok"):
            self.mode, self.n = mode, env.action_space.n
        def reset(self, seed):
            print("this print must not break the protocol")
            self.t = 0
        def act(self, obs, info):
            self.t += 1
            if self.mode == "raise":
                raise KeyError("boom")
            return int(obs["image"].sum() + self.t) % self.n
""")


def _server(tmp_path):
    (tmp_path / "agent.py").write_text(AGENT)
    env = dict(os.environ, SPARSEGYM_AGENT_DIR=str(tmp_path))
    return subprocess.Popen([sys.executable, "-m", "sparsegym.leaderboards.isolation"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)


def _ask(proc, request):
    proc.stdin.write(json.dumps(request) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def test_the_container_side_answers_build_reset_act_and_reports_errors(tmp_path):
    pytest.importorskip("minigrid")
    import sparsegym

    proc = _server(tmp_path)
    try:
        env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
        obs, info = env.reset(seed=0)
        assert _ask(proc, {"id": 1, "op": "build", "entry": "agent.py", "env_id": "sparsegym/MiniGrid-DoorKey-5x5-v0"}) \
            == {"ok": True, "id": 1}
        assert _ask(proc, {"id": 2, "op": "reset", "seed": 0}) == {"ok": True, "id": 2}
        reply = _ask(proc, {"id": 3, "op": "act", "obs": encode(obs), "info": encode(info)})
        assert reply == {"action": int(obs["image"].sum() + 1) % env.action_space.n, "id": 3}
        reply = _ask(proc, {"id": 4, "op": "build", "entry": "agent.py", "env_id": "sparsegym/MiniGrid-DoorKey-5x5-v0",
                            "kwargs": {"mode": "raise"}})
        _ask(proc, {"id": 5, "op": "reset", "seed": 0})
        reply = _ask(proc, {"id": 6, "op": "act", "obs": encode(obs), "info": encode(info)})
        assert reply == {"error": "KeyError: 'boom'", "id": 6}
        reply = _ask(proc, {"id": 7, "op": "build", "entry": "missing.py", "env_id": "sparsegym/MiniGrid-DoorKey-5x5-v0"})
        assert reply["error"].startswith("AgentLoadError: agent file") and "missing.py" in reply["error"]
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert "this print must not break the protocol" in proc.stderr.read()


def test_unknown_isolation_mode_is_refused_with_the_choices():
    from sparsegym.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown isolation 'vm'; use one of docker"):
        check_isolation("vm")


# -- against a real engine ------------------------------------------------------------------------------------

HOSTILE = textwrap.dedent("""
    import os, socket

    class Agent:
        def __init__(self, env, target="", how="file"):
            self.target, self.how = target, how
        def reset(self, seed):
            pass
        def act(self, obs, info):
            if self.how == "file":
                with open(self.target, "rb") as f:
                    f.read(16)
            elif self.how == "socket":
                host, port = self.target.rsplit(":", 1)
                socket.create_connection((host, int(port)), timeout=3).close()
            return 0
""")


@pytest.fixture(scope="module")
def agent_image():
    from sparsegym.leaderboards.isolation import IsolationError

    try:
        check_isolation("docker")
    except IsolationError as exc:
        if os.environ.get("SPARSEGYM_REQUIRE_DOCKER") == "1":
            pytest.fail(f"SPARSEGYM_REQUIRE_DOCKER=1 but {exc}")
        pytest.skip(str(exc))


@pytest.mark.docker
@pytest.mark.parametrize("how", ["store", "other-submission", "socket"])
def test_an_isolated_agent_gets_nothing_and_its_episodes_fail_with_the_reason(agent_image, tmp_path, how):
    import socketserver
    import threading

    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.store import ResultsStore
    from sparsegym.leaderboards.suites import Suite

    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    (mine / "agent.py").write_text(HOSTILE)
    (other / "secret_agent.py").write_text("SECRET = 1\n")
    db = tmp_path / "results.db"
    server = None
    if how == "store":
        kwargs = {"target": str(db), "how": "file"}
    elif how == "other-submission":
        kwargs = {"target": str(other / "secret_agent.py"), "how": "file"}
    else:  # a server on the host's loopback, which the agent could reach without isolation
        server = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        kwargs = {"target": f"127.0.0.1:{server.server_address[1]}", "how": "socket"}
        # the same agent in this process does reach it: the check can see an escape
        sys.path.insert(0, str(mine))
        try:
            import importlib

            mod = importlib.import_module("agent")
            assert mod.Agent(None, **kwargs).act(None, {}) == 0
        finally:
            sys.path.remove(str(mine))
            sys.modules.pop("agent", None)
    suite = Suite("iso", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=2, description="t", step_timeout=60)
    try:
        with ResultsStore(db) as store:
            result = evaluate("agent.py", suite, "test", store=store, progress=False, agent_kwargs=kwargs,
                              base_dir=mine, isolate="docker")
            rows = store.episodes(agent=result.agent)
    finally:
        if server is not None:
            server.shutdown()
    assert result.ran == 2 and result.failed == 2
    # inside, the host's files do not exist and its loopback is the container's own, where nothing listens
    expected = "ConnectionRefusedError" if how == "socket" else "FileNotFoundError"
    assert all(f"the isolated agent raised {expected}" in (r.error or "") for r in rows), [r.error for r in rows]
    assert not subprocess.run(["docker", "ps", "-aq", "--filter", "label=sparsegym.isolation"],
                              capture_output=True, text=True).stdout.strip()


@pytest.mark.docker
def test_an_isolated_random_agent_plays_like_an_inprocess_one(agent_image, tmp_path):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.store import ResultsStore
    from sparsegym.leaderboards.suites import Suite

    suite = Suite("iso2", ("sparsegym/MiniGrid-DoorKey-5x5-v0",), episodes=2, description="t")
    with ResultsStore(tmp_path / "r.db") as store:
        a = evaluate("sparsegym.baselines:RandomAgent", suite, "test", agent_name="inproc", store=store,
                     progress=False)
        b = evaluate("sparsegym.baselines:RandomAgent", suite, "test", agent_name="isolated", store=store,
                     progress=False, isolate="docker", base_dir=tmp_path)
        ra = sorted((r.seed, r.episode_return, r.length) for r in store.episodes(agent="inproc"))
        rb = sorted((r.seed, r.episode_return, r.length) for r in store.episodes(agent="isolated"))
    assert a.failed == b.failed == 0 and ra == rb
