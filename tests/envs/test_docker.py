"""The software-repair env's Docker runtime against a real engine and sparsegym's runtime image: verdicts as in
the local sandbox, the escapes the sandbox is tested on, no leaked containers, images built for instances,
and the errors for missing images.

Marked ``docker`` (out of the default run): ``pytest -m docker tests/envs/test_docker.py`` after
``bash docker/build.sh swe`` on a machine with an engine. Without an engine or the image the tests skip and
say which; with ``SPARSEGYM_REQUIRE_DOCKER=1`` (CI sets it where it started an engine) they fail instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import gymnasium
import pytest

pytestmark = pytest.mark.docker

docker = pytest.importorskip("docker")

from sparsegym.envs.swe.docker_runtime import LABEL, DockerRuntime, ImageNotFoundError  # noqa: E402
from sparsegym.envs.swe.env import data_dir  # noqa: E402
from sparsegym.envs.swe.images import build_task_image, ensure_image, image_for_task, runtime_image  # noqa: E402
from sparsegym.envs.swe.tasks import load_tasks  # noqa: E402


def _unavailable(reason: str) -> None:
    if os.environ.get("SPARSEGYM_REQUIRE_DOCKER") == "1":
        pytest.fail(f"SPARSEGYM_REQUIRE_DOCKER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def client():
    try:
        c = docker.from_env()
        c.ping()
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"no Docker engine is reachable ({type(exc).__name__})")
    try:
        c.images.get(runtime_image())
    except docker.errors.ImageNotFound:
        _unavailable(f"the runtime image {runtime_image()} is missing: bash docker/build.sh swe")
    return c


def _ours(client) -> list:
    return client.containers.list(all=True, filters={"label": [LABEL]})


@pytest.fixture
def env(client):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", runtime="docker", command_timeout=20)
    yield e
    e.close()
    assert not _ours(client), "a container outlived env.close()"


def _hostile(env, command, seed=0):
    env.reset(seed=seed)
    return env.step(f"run {command}")


# -- verdicts ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 12])  # one task of each shipped project (inflection, semver)
def test_gold_patch_resolves_and_the_unfixed_repository_fails(env, seed, play_gold):
    r, info = play_gold(env, seed)
    assert r == 1.0 and info["outcome"] == "resolved" and info["patch"]
    env.reset(seed=seed)
    env.step("run echo '# touched' >> README.md" if seed == 0 else "run echo '# touched' >> README.rst")
    _, r, term, _, info = env.step("submit")
    assert term and r == 0.0 and info["outcome"] == "tests_fail"
    assert any(s != "PASSED" for s in info["test_statuses"].values())


def test_commands_run_as_a_non_root_user_without_capabilities_or_network(env):
    env.reset(seed=0)
    obs, *_ = env.step("run id -u; grep CapEff /proc/self/status; cat /sys/class/net/*/address 2>/dev/null | wc -l; "
                       "pwd; python -c 'import pytest; print(pytest.__version__)'")
    lines = obs.splitlines()
    assert lines[0] == "1000" and "0000000000000000" in lines[1]
    assert lines[3] == "/testbed" and lines[4][0].isdigit()


@pytest.mark.slow
def test_gold_resolves_and_bug_fails_every_shipped_task(client, play_gold):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", runtime="docker", command_timeout=60)
    n = len(load_tasks(data_dir() / "tasks.jsonl"))
    try:
        for seed in range(n):
            r, info = play_gold(e, seed)
            assert r == 1.0, (seed, info.get("test_statuses"))
            e.reset(seed=seed)
            e.step("run true")
            _, r, _, _, info = e.step("submit")  # an empty patch is not graded: edit something harmless
            assert r == 0.0
    finally:
        e.close()


# -- escapes -------------------------------------------------------------------------------------------------

def test_network_is_off(env):
    obs, r, term, trunc, info = _hostile(env, "python -c \"import urllib.request as u; u.urlopen('http://1.1.1.1', timeout=3)\"")
    assert trunc and not term and "network" in info["violation"]


def test_writes_outside_the_workspace_fail_and_the_host_is_untouched(env, tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    obs, *_ = _hostile(env, f"echo hacked > {sentinel}; ls {tmp_path}")
    assert sentinel.read_text() == "original"
    assert f"ls: cannot access '{tmp_path}': No such file or directory" in obs  # the host's folders are not there
    obs, r, term, trunc, info = _hostile(env, "echo hacked > /usr/sparsegym-sentinel")
    assert trunc and "outside its workspace" in info["violation"]
    assert not os.path.exists("/usr/sparsegym-sentinel")


def test_the_hosts_files_cannot_be_read(env, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-token")
    # The host's temp folder (where the secret is) and home are not the container's: no path leads to it.
    obs, *_ = _hostile(env, f"cat {secret}; grep -rls s3cr3t /tmp /root /home /etc /var /opt /mnt /srv; echo end")
    assert "No such file or directory" in obs and "s3cr3t-token" not in obs and obs.rstrip().endswith(
        "[Command finished with exit code 0]")


def test_a_command_that_runs_forever_is_killed(client):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", runtime="docker", command_timeout=2)
    try:
        obs, r, term, trunc, info = _hostile(e, "sleep 4321")
        assert trunc and "ran past its 2 s limit" in info["violation"] and "[Command killed" in obs
    finally:
        e.close()


def test_what_a_command_leaves_running_is_killed(client):
    rt = DockerRuntime(runtime_image(), timeout=3, grace=2)
    rt.start(data_dir() / "repos" / "inflection")
    try:
        t = time.perf_counter()
        result = rt.run("setsid sleep 600 & sleep 300 & echo started")
        assert result.output.strip() == "started" and not result.timed_out and time.perf_counter() - t < 30
        left = rt.run("ps -eo user=,stat=,comm= | grep -c sleep").output.strip()
        assert left == "1"  # only the container's own idle `sleep` (root's) is left: no process, no zombie
        result = rt.run("sleep 100")
        assert result.timed_out and result.exit_code is None and result.seconds == 3.0
        assert (rt.root / "repo" / "inflection").is_dir()
    finally:
        rt.close()


def test_a_fork_bomb_is_contained(env):
    obs, r, term, trunc, info = _hostile(env, "bash -c ':(){ :|:& };:'; sleep 1; echo done")
    assert trunc and "process limit" in info["violation"]


def test_filling_the_disk_is_stopped(env):
    obs, r, term, trunc, info = _hostile(env, "for i in $(seq 20); do head -c 50M /dev/zero > fill$i || break; done")
    assert trunc and ("disk quota" in info["violation"] or "size limit" in info["violation"])


# -- containers never outlive their episode ------------------------------------------------------------------

def test_one_container_per_episode_removed_at_reset_and_close(client, env):
    env.reset(seed=0)
    first = _ours(client)
    assert len(first) == 1 and first[0].status == "running"
    env.reset(seed=1)
    second = _ours(client)
    assert len(second) == 1 and second[0].id != first[0].id


_SCRIPT = textwrap.dedent("""
    import sys, time, gymnasium, sparsegym
    env = gymnasium.make("sparsegym/SWE-Mutation-v0", runtime="docker")
    env.reset(seed=0)
    print("ready", flush=True)
    if sys.argv[1] == "crash":
        raise RuntimeError("the agent crashed")
    time.sleep(600)
""")


@pytest.mark.parametrize("how", ["crash", "ctrl-c", "sigkill"])
def test_no_container_is_leaked_when_the_process_dies(client, tmp_path, how):
    script = tmp_path / "episode.py"
    script.write_text(_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "crash" if how == "crash" else "wait"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    assert len(_ours(client)) == 1
    if how == "ctrl-c":
        proc.send_signal(signal.SIGINT)
    elif how == "sigkill":
        proc.kill()
    proc.wait(timeout=120)
    if how == "sigkill":  # no finaliser ran: the next runtime of this host removes what the dead process left
        assert len(_ours(client)) == 1
        rt = DockerRuntime(runtime_image())
        rt.start(data_dir() / "repos" / "inflection")
        assert [c.id for c in _ours(client)] == [rt.container.id]
        rt.close()
    assert not _ours(client)


# -- images --------------------------------------------------------------------------------------------------

def test_a_missing_image_names_itself_and_how_to_get_it(client):
    with pytest.raises(ImageNotFoundError, match=r"'sparsegym-swe:0\.0\.0-none'.*built locally.*docker/build.sh swe"):
        ensure_image("sparsegym-swe:0.0.0-none", client=client)
    with pytest.raises(ImageNotFoundError, match=r"'example\.invalid/no-such-image:1' is not on this engine and "
                                                 r"pulling it failed.*build_task_image"):
        ensure_image("example.invalid/no-such-image:1", client=client)


def test_a_swe_gym_instance_without_its_image_gets_a_named_error_not_an_api_error(client, tmp_path):
    task = json.loads((data_dir() / "tasks.jsonl").read_text().splitlines()[0])
    task.pop("repo_dir")
    task["instance_id"] = "sparsegym__no-image-0001"
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps(task) + "\n")
    e = gymnasium.make("sparsegym/SWE-Gym-v0", tasks=str(f), docker={"pull": False})
    with pytest.raises(ImageNotFoundError, match="xingyaoww/sweb.eval.x86_64.sparsegym_s_no-image-0001"):
        e.reset(seed=0)
    e.close()
    assert not _ours(client)


def test_an_instance_image_built_here_plays_like_a_registry_image(client, tmp_path):
    """SWE-Gym's path without a registry: an image with the repository at /testbed, built from a checkout
    (a shipped project stands in), named in the instance's "image" field; the runtime copies /testbed out."""
    tasks = load_tasks(data_dir() / "tasks.jsonl")
    task = tasks[0]
    checkout = tmp_path / "checkout"
    import shutil

    from sparsegym.envs.swe.env import apply_bug

    shutil.copytree(data_dir() / task.repo_dir, checkout)
    apply_bug(checkout, task)  # the "base commit": the repository with the bug in it
    image = build_task_image(task, checkout, tag="sparsegym-task-test-inflection:1")
    try:
        record = {**task.to_dict(), "image": image, "instance_id": "sparsegym__built-0001"}
        record.pop("repo_dir")
        assert image_for_task(load_tasks_from(record, tmp_path)) == image
        f = tmp_path / "tasks.jsonl"
        f.write_text(json.dumps(record) + "\n")
        e = gymnasium.make("sparsegym/SWE-Gym-v0", tasks=str(f), command_timeout=60)
        try:
            obs, info = e.reset(seed=0)
            assert "inflection" in obs
            from sparsegym.baselines.swe_agents import GoldPatchAgent

            agent = GoldPatchAgent(e)
            agent.reset(0)
            while True:
                obs, r, term, trunc, info = e.step(agent.act(obs, info))
                if term or trunc:
                    break
            assert r == 1.0 and info["outcome"] == "resolved"
        finally:
            e.close()
    finally:
        client.images.remove(image, force=True)


def load_tasks_from(record, tmp_path):
    f = tmp_path / "one.jsonl"
    f.write_text(json.dumps(record) + "\n")
    return load_tasks(f)[0]
