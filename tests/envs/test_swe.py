"""Software repair: the task format, mutations, the task maker, the env's actions and grading, the
shipped tasks, and the sandbox against hostile commands."""

from __future__ import annotations

import json
import os
import textwrap

import gymnasium
import pytest

from sparsegym.envs.swe.env import OUTCOMES, data_dir, grade, outcome_level, parse_test_statuses
from sparsegym.envs.swe.mutate import mutations
from sparsegym.envs.swe.sandbox import SandboxError, isolation_available
from sparsegym.envs.swe.tasks import TaskFormatError, load_tasks, swegym_image

INSTANCE = {"instance_id": "octo__demo-1", "repo": "octo/demo", "base_commit": "abc123", "patch": "--- a\n+++ b\n",
            "problem_statement": "it breaks", "FAIL_TO_PASS": ["t.py::test_a"], "PASS_TO_PASS": ["t.py::test_b"]}


# -- task format ---------------------------------------------------------------------------------------------

def test_loads_lists_and_json_encoded_lists(tmp_path):
    swebench_style = {**INSTANCE, "instance_id": "octo__demo-2", "FAIL_TO_PASS": '["t.py::test_a"]',
                      "PASS_TO_PASS": "[]", "version": 3.1, "environment_setup_commit": "def456", "extra_key": 1}
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps(INSTANCE) + "\n\n" + json.dumps(swebench_style) + "\n")
    a, b = load_tasks(f)
    assert a.FAIL_TO_PASS == b.FAIL_TO_PASS == ["t.py::test_a"] and b.PASS_TO_PASS == []
    assert a.setup_commit == "abc123" and b.setup_commit == "def456" and b.version == "3.1"
    assert b.extra == {"extra_key": 1} and b.to_dict()["extra_key"] == 1
    j = tmp_path / "tasks.json"
    j.write_text(json.dumps([INSTANCE]))
    assert load_tasks(j)[0].instance_id == "octo__demo-1"


@pytest.mark.parametrize("change, message", [
    ({"FAIL_TO_PASS": None}, r"tasks.jsonl:1: FAIL_TO_PASS must be a list"),
    ({"FAIL_TO_PASS": "[not json"}, r"tasks.jsonl:1: FAIL_TO_PASS is a string but not a JSON-encoded list"),
    ({"repo": "demo"}, r"tasks.jsonl:1: field 'repo' must look like 'owner/name'"),
    ({"patch": 5}, r"tasks.jsonl:1: field 'patch' must be a string"),
])
def test_malformed_instances_name_file_line_and_field(tmp_path, change, message):
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps({**INSTANCE, **change}) + "\n")
    with pytest.raises(TaskFormatError, match=message):
        load_tasks(f)


def test_missing_fields_bad_json_and_duplicates(tmp_path):
    f = tmp_path / "tasks.jsonl"
    f.write_text(json.dumps(INSTANCE) + "\n" + json.dumps({k: v for k, v in INSTANCE.items() if k != "patch"}) + "\n")
    with pytest.raises(TaskFormatError, match=r"tasks.jsonl:2: missing field\(s\) \['patch'\]"):
        load_tasks(f)
    f.write_text("{oops\n")
    with pytest.raises(TaskFormatError, match=r"tasks.jsonl:1: not valid JSON"):
        load_tasks(f)
    f.write_text((json.dumps(INSTANCE) + "\n") * 2)
    with pytest.raises(TaskFormatError, match="duplicate instance_id"):
        load_tasks(f)
    with pytest.raises(TaskFormatError, match="does not exist"):
        load_tasks(tmp_path / "nope.jsonl")


def test_image_names():
    assert swegym_image("Project-MONAI__MONAI-1234") == "xingyaoww/sweb.eval.x86_64.project-monai_s_monai-1234"


def test_grading_rule():
    statuses = parse_test_statuses("PASSED t.py::test_a\nFAILED t.py::test_b - boom\nXFAIL t.py::test_c\n")
    assert statuses == {"t.py::test_a": "PASSED", "t.py::test_b": "FAILED", "t.py::test_c": "XFAIL"}
    from sparsegym.envs.swe.tasks import SWETask

    task = SWETask("i", "o/r", "", "", "", ["t.py::test_a", "t.py::test_c"], ["t.py::test_b", "t.py::missing"])
    assert grade(task, statuses) == (False, 0.5)  # a missing test counts as failed
    task.PASS_TO_PASS = []
    assert grade(task, statuses) == (True, 1.0)


# -- mutations -----------------------------------------------------------------------------------------------

SOURCE = textwrap.dedent('''\
    def f(xs, n):
        if not xs:
            return 0
        total = 0
        for x in xs:
            if x == n and x > 1:
                total = total + x
        return max(total, n)
''')


def test_every_operator_edits_one_site_and_compiles():
    found = {}
    for m in mutations(SOURCE, "m.py"):
        found.setdefault(m.operator, []).append(m)
        m.apply(SOURCE)  # compiles
    assert set(found) == {"flip_compare", "flip_binop", "drop_if", "drop_return", "off_by_one", "swap_args"}
    flip = next(m for m in found["flip_compare"] if "x == n" in m.description)
    assert flip.apply(SOURCE).splitlines()[5] == "        if x != n and x > 1:"
    assert any(m.apply(SOURCE).splitlines()[5] == "        if x == n or x > 1:" for m in found["flip_binop"])
    assert found["swap_args"][0].apply(SOURCE).splitlines()[-1] == "    return max(n, total)"
    drop = next(m for m in found["drop_return"] if m.line == 3)
    assert drop.apply(SOURCE).splitlines()[2] == "        pass"
    one = next(m for m in found["off_by_one"] if m.line == 4)
    assert one.apply(SOURCE).splitlines()[3] == "    total = 1"
    last_return = [m for m in found["drop_return"] if m.line == 8]
    assert not last_return  # a function's final return is left alone


# -- the task maker ------------------------------------------------------------------------------------------

needs_sandbox = pytest.mark.skipif(not isolation_available(), reason="the local sandbox (bubblewrap) cannot run here")


@needs_sandbox
def test_maker_keeps_only_bugs_that_some_tests_catch_and_some_survive(tmp_path):
    from sparsegym.envs.swe.maker import make_tasks

    repo = tmp_path / "tiny"
    repo.mkdir()
    (repo / "tiny.py").write_text("def add(a, b):\n    return a + b\n\n\ndef unused(x):\n    return x * 3\n")
    (repo / "test_tiny.py").write_text(
        "from tiny import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n")
    report = make_tasks(repo, "python -m pytest -rA -p no:cacheprovider -q --tb=no test_tiny.py", max_tasks=10, max_tries=50)
    assert report.sites == 3 and report.tried == 3  # `+` flip, `*` flip, constant 3 -> 4
    assert report.kept == 1  # only `a + b` -> `a - b`: test_add fails, test_add_zero still passes
    task = report.tasks[0]
    assert task["FAIL_TO_PASS"] == ["test_tiny.py::test_add"] and task["PASS_TO_PASS"] == ["test_tiny.py::test_add_zero"]
    assert "-    return a - b" in task["patch"] and "+    return a + b" in task["patch"]
    assert "test_tiny.py::test_add" in task["problem_statement"] and "assert" in task["problem_statement"]


# -- the env -------------------------------------------------------------------------------------------------

@pytest.fixture()
def env():
    if not isolation_available():
        pytest.skip("the local sandbox (bubblewrap) cannot run here")
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", command_timeout=20)
    yield e
    e.close()


def test_shipped_suite_has_enough_validated_tasks_from_real_projects():
    tasks = load_tasks(data_dir() / "tasks.jsonl")
    assert len(tasks) >= 20
    assert {t.repo for t in tasks} == {"sparsegym/inflection", "sparsegym/semver"}
    for t in tasks:
        assert t.FAIL_TO_PASS and t.PASS_TO_PASS and t.patch and t.bug_patch
        assert (data_dir() / t.repo_dir).is_dir()
    assert (data_dir() / "repos" / "inflection" / "LICENSE").is_file()
    assert (data_dir() / "repos" / "semver" / "LICENSE.txt").is_file()


def test_reset_shows_the_problem_and_edits_work(env):
    obs, info = env.reset(seed=0)
    task = env.unwrapped.task
    assert task.problem_statement in obs and "Actions: run <command>" in obs
    assert info["outcome"] == "no_submit" and info["outcome_level"] == 0
    path = task.extra["bug"]["path"]
    out, *_ = env.step(f"view {path} 1 3")
    assert out.splitlines()[0].strip().startswith("1")
    out, *_, info = env.step("create notes.txt\nhello\nworld")
    assert out == "Created notes.txt (2 lines)." and info["action_error"] is None
    out, *_, info = env.step("create notes.txt\nagain")
    assert "exists" in info["action_error"]
    out, *_ = env.step("insert notes.txt 1\nmiddle")
    assert env.unwrapped.rt.path("notes.txt").read_text() == "hello\nmiddle\nworld\n"
    out, *_ = env.step("str_replace notes.txt\n<<<<<<< OLD\nmiddle\n=======\nMIDDLE\n>>>>>>> NEW")
    assert "Edited notes.txt at line 2" in out
    env.step("undo notes.txt")
    assert env.unwrapped.rt.path("notes.txt").read_text() == "hello\nmiddle\nworld\n"
    out, *_ = env.step("run cat notes.txt | wc -l")
    assert out.startswith("3") and "[Command finished with exit code 0]" in out
    for bad, msg in [("fly away", "unknown action 'fly'"), ("view /etc/passwd", "outside the repository"),
                     ("str_replace notes.txt\nno markers", "str_replace needs"), ("run", "run needs a command")]:
        out, r, term, trunc, info = env.step(bad)
        assert msg in info["action_error"] and not term and not trunc and r == 0.0


def test_outcome_ladder_and_gated_reward(env, play_gold):
    from sparsegym.wrappers import GatedReward

    _, info = env.reset(seed=1)
    out, r, term, _, info = env.step("submit")
    assert term and r == 0.0 and info["outcome"] == "empty_patch" and outcome_level(info) == 1
    env.reset(seed=1)
    path = env.unwrapped.task.extra["bug"]["path"]
    env.step(f"run echo '# touched' >> {path}")
    *_, info = env.step("submit")
    assert info["outcome"] == "tests_fail" and info["outcome_level"] == 2 and info["patch"]
    r, info = play_gold(env, 1)
    assert r == 1.0 and info["outcome"] == "resolved" and info["outcome_level"] == OUTCOMES.index("resolved")
    gated = GatedReward(gymnasium.make("sparsegym/SWE-Mutation-v0"), threshold=3, outcome=outcome_level)
    gated.reset(seed=2)
    *_, info = gated.step("submit")
    assert info["outcome_level"] == 1


def test_editing_tests_does_not_help(env):
    env.reset(seed=3)
    task = env.unwrapped.task
    test_file = task.FAIL_TO_PASS[0].split("::")[0]
    env.step(f"run printf 'def test_nothing():\\n    pass\\n' > {test_file}")
    *_, info = env.step("submit")
    assert info["outcome"] == "tests_fail"  # the task's test files were restored before grading


@pytest.mark.parametrize("seed", [0, 7, 12, 20])
def test_gold_patch_resolves_and_grading_is_repeatable(env, seed, play_gold):
    r1, info1 = play_gold(env, seed)
    r2, info2 = play_gold(env, seed)
    assert r1 == r2 == 1.0 and info1["test_statuses"] == info2["test_statuses"]


@pytest.mark.parametrize("seed", [4, 15])
def test_the_unfixed_repository_fails_its_tests(env, seed):
    env.reset(seed=seed)
    task = env.unwrapped.task
    result = env.unwrapped.rt.run(task.test_cmd)
    resolved, fraction = grade(task, parse_test_statuses(result.output))
    assert not resolved and fraction < 1.0


@pytest.mark.slow
def test_gold_resolves_and_bug_fails_every_shipped_task(play_gold):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0")
    n = len(e.unwrapped.tasks)
    for seed in range(n):
        r, info = play_gold(e, seed)
        assert r == 1.0, e.unwrapped.task.instance_id
        e.reset(seed=seed)
        task = e.unwrapped.task
        assert not grade(task, parse_test_statuses(e.unwrapped.rt.run(task.test_cmd).output))[0]


def test_fraction_reward(env):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", reward="fraction")
    e.reset(seed=0)
    path = e.unwrapped.task.extra["bug"]["path"]
    e.step(f"run echo '# touched' >> {path}")
    _, r, _, _, info = e.step("submit")
    assert r == pytest.approx(info["tests_passing_fraction"]) and 0.0 < r < 1.0
    e.close()


# -- the sandbox against hostile commands --------------------------------------------------------------------

def _hostile(env, command, seed=0):
    env.reset(seed=seed)
    return env.step(f"run {command}")


def _leftovers(marker):
    """Host processes whose command line contains ``marker`` literally."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmd:
            found.append(pid)
    return found


def test_network_is_off(env):
    obs, r, term, trunc, info = _hostile(env, "python -c \"import urllib.request as u; u.urlopen('http://1.1.1.1', timeout=3)\"")
    assert trunc and not term and "network" in info["violation"]
    assert "[Sandbox: the episode ends" in obs


def test_writes_outside_the_workspace_fail_and_the_host_is_untouched(env, tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    # The host's folders are not in the sandbox at all: the write finds no such folder.
    obs, r, term, trunc, info = _hostile(env, f"echo hacked > {sentinel}; rm -f {sentinel}")
    assert "No such file or directory" in obs and sentinel.read_text() == "original"
    # What the sandbox does show outside the workspace is read-only, and trying ends the episode.
    obs, r, term, trunc, info = _hostile(env, "echo hacked > /usr/sparsegym-sentinel")
    assert trunc and "outside its workspace" in info["violation"]
    assert not os.path.exists("/usr/sparsegym-sentinel")


def test_a_command_that_runs_forever_is_killed(env):
    e = gymnasium.make("sparsegym/SWE-Mutation-v0", command_timeout=2)
    obs, r, term, trunc, info = _hostile(e, "sleep 4321")
    assert trunc and "ran past its 2 s limit" in info["violation"] and "[Command killed" in obs
    assert not _leftovers("sleep 4321")
    e.close()


def test_a_fork_bomb_is_contained(env):
    obs, r, term, trunc, info = _hostile(env, "bash -c ':(){ :|:& };:'; sleep 1; echo done")
    assert trunc and "process limit" in info["violation"]
    assert not _leftovers(":(){ :|:& };:")


def test_filling_the_disk_is_stopped(env):
    obs, r, term, trunc, info = _hostile(env, "for i in $(seq 20); do head -c 50M /dev/zero > fill$i || break; done")
    assert trunc and ("disk quota" in info["violation"] or "size limit" in info["violation"])
    st = os.statvfs("/")
    assert st.f_bavail * st.f_frsize > 0


def test_the_docker_runtime_says_at_once_that_there_is_no_engine(monkeypatch, tmp_path):
    pytest.importorskip("docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # no daemon there, engine or not
    with pytest.raises(SandboxError, match="no Docker engine is reachable.*runtime='local'"):
        gymnasium.make("sparsegym/SWE-Gym-v0", tasks=str(data_dir() / "tasks.jsonl"))


@needs_sandbox
def test_cli_make_tasks_then_play_them(tmp_path, capsys):
    from sparsegym import cli

    repo = tmp_path / "tiny"
    repo.mkdir()
    (repo / "tiny.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "test_tiny.py").write_text(
        "from tiny import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n")
    out = tmp_path / "made" / "tasks.jsonl"
    out.parent.mkdir()
    rc = cli.main(["swe", "make-tasks", str(repo), "--test-cmd",
                   "python -m pytest -rA -p no:cacheprovider -q --tb=no test_tiny.py", "--out", str(out)])
    assert rc == 0 and "1 kept" in capsys.readouterr().out
    env = gymnasium.make("sparsegym/SWE-Mutation-v0", tasks=str(out))
    obs, _ = env.reset(seed=0)
    assert "test_tiny.py::test_add" in obs
    env.step("str_replace tiny.py\n<<<<<<< OLD\na - b\n=======\na + b\n>>>>>>> NEW")
    _, r, term, _, info = env.step("submit")
    assert term and r == 1.0 and info["outcome"] == "resolved"
    env.close()
