"""LLMRewardCode: a scripted model's reward code on MiniGrid (and NetHack), hostile code refused or stopped
without harming the run, the worker's isolation, the critic, and the refinement loop with its history."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import textwrap
import time
import warnings

import pytest

pytest.importorskip("minigrid")
pytest.importorskip("openai")

import gymnasium  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

import sparsegym  # noqa: E402
from sparsegym.llm import LLMClient  # noqa: E402
from sparsegym.llm import reward_evaluator as rev  # noqa: E402
from sparsegym.llm.reward_evaluator import RewardCodeEvaluator, RewardSandboxError  # noqa: E402
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402
from sparsegym.wrappers import LLMRewardCode, refine_reward_code  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"
SOLUTION = [1, 3, 2, 2, 1, 5, 2, 2, 1, 2, 2]  # seed 0: turn, pick up the key, ..., toggle the door (5), ... goal
ISOLATION = "bwrap" if rev.bwrap_problem() is None else "rlimits"
MODES = ["rlimits"] + (["bwrap"] if ISOLATION == "bwrap" else [])
CHAT = "/v1/chat/completions"

KEY_AND_DOOR = '''
def _door_open(state):
    return any(o["type"] == "door" and o["state"] == "open" for o in state["objects"])

def reward(prev_state, action, state):
    got_key = prev_state["carrying"] is None and state["carrying"] == ("key", "yellow")
    opened = _door_open(state) and not _door_open(prev_state)
    return {"key": 0.1 if got_key else 0.0, "door": 0.2 if opened else 0.0}
'''


def _reply(code: str, prose: str = "Here is a reward function.") -> str:
    return f"{prose}\n```python\n{code.strip()}\n```\nIt pays for the key and the door."


def _chat_prompts(server: ScriptedLLMServer) -> list[str]:
    return [r["json"]["messages"][-1]["content"] for r in server.requests if r["path"] == CHAT]


def _run(env, actions, seed=0):
    env.reset(seed=seed)
    out = []
    for a in actions:
        _, reward, terminated, truncated, info = env.step(a)
        out.append((reward, info))
        if terminated or truncated:
            break
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# -- a model's code on MiniGrid ---------------------------------------------------------------------------

def test_scripted_models_code_pays_its_own_component_and_leaves_extrinsic_alone():
    with ScriptedLLMServer(reply=lambda request: _reply(KEY_AND_DOOR)) as server:
        env = LLMRewardCode(sparsegym.make(DOORKEY5), LLMClient(server.base_url, cache=False), isolation=ISOLATION)
        prompt = _chat_prompts(server)[0]
    assert "agent_pos: tuple (x, y)" in prompt and "use the key to open the door" in prompt
    assert "def reward(prev_state, action, state)" in prompt and "3 = pick up" in prompt
    assert env.code.strip() == KEY_AND_DOOR.strip() and env.draft.valid and len(env.version) == 12
    recorded = env.spec.additional_wrappers[-1].kwargs
    assert recorded["code"] == env.code and recorded["client"] is None  # re-made from its spec, it asks no model
    plain = [(r, i["reward_components"]["extrinsic"]) for r, i in _run(sparsegym.make(DOORKEY5), SOLUTION)]
    steps = _run(env, SOLUTION)
    bonuses = [info["reward_components"]["llm_reward_code"] for _, info in steps]
    assert bonuses == pytest.approx([0, 0.1, 0, 0, 0, 0.2, 0, 0, 0, 0, 0])
    assert [info["reward_components"]["extrinsic"] for _, info in steps] == [e for _, e in plain]
    assert plain[-1][1] > 0 and steps[-1][1]["success"]
    for reward, info in steps:
        assert reward == pytest.approx(sum(info["reward_components"].values()))
        assert "reward_code_error" not in info
    assert steps[1][1]["reward_code_parts"] == {"key": 0.1, "door": 0.0}
    assert env.tally.nonzero_steps == 2 and env.tally.parts_fired == {"key": 1, "door": 1}
    pid = env.evaluator.worker_pid
    env.close()
    assert pid is not None and not _alive(pid)


def test_check_env_passes_on_a_wrapped_env_with_given_code():
    env = LLMRewardCode(sparsegym.make(DOORKEY5), code=KEY_AND_DOOR, isolation=ISOLATION, coef=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)
    env.close()


def test_the_wrapper_works_from_a_stack_of_data():
    from sparsegym.wrappers.stack import apply_wrappers

    env = apply_wrappers(sparsegym.make(DOORKEY5), [{"wrapper": "LLMRewardCode", "code": KEY_AND_DOOR,
                                                     "isolation": ISOLATION}])
    assert _run(env, SOLUTION[:2])[1][1]["reward_components"]["llm_reward_code"] == pytest.approx(0.1)
    env.close()


# -- hostile code -----------------------------------------------------------------------------------------

REFUSED = {
    "import": "import os\ndef reward(p, a, s):\n    return 1.0\n",
    "__import__": "def reward(p, a, s):\n    return __import__('os').getpid()\n",
    "open": "def reward(p, a, s):\n    return len(open('/etc/passwd').read())\n",
    "__class__": "def reward(p, a, s):\n    return len(().__class__.__bases__[0].__subclasses__())\n",
    "getattr": "def reward(p, a, s):\n    return getattr(reward, '__globals__')\n",
    "format": "def reward(p, a, s):\n    return len('{0.__class__}'.format(p))\n",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_code_is_refused_before_it_runs_and_the_env_keeps_stepping(name):
    env = LLMRewardCode(sparsegym.make(DOORKEY5), code=REFUSED[name], isolation=ISOLATION)
    steps = _run(env, SOLUTION)
    assert steps[-1][1]["success"]  # the episode ran to the end
    for reward, info in steps:
        assert info["reward_components"]["llm_reward_code"] == 0.0
        assert info["reward_code_error"].startswith("refused: ")
        assert reward == info["reward_components"]["extrinsic"]
    assert env.evaluator.worker_pid is None and env.evaluator.counts["refused"] == len(steps)
    env.close()


RUNTIME = {  # name: (code body, error kind, text in the error)
    "infinite loop": ("while True:\n    pass", "timeout", "timed out"),
    "huge list": ("return len([0] * 10**10)", "memory", "MemoryError"),
    "huge string": ("return len('x' * 10**11)", "memory", "MemoryError"),
    "growing list": ("x = []\nwhile True:\n    x.append(' ' * 10**7)", "memory", ""),  # ~0.1 s here; CI once took > 0.5 s
    "a string": ("return 'lots'", "bad_value", "returned a str"),
    "NaN": ("return float('nan')", "not_finite", "not finite"),
    "infinity": ("return {'a': math.inf}", "not_finite", "not finite"),
    "bad component": ("return {'a': 'b'}", "bad_value", "str names to numbers"),
    "raising": ("return 1 / 0", "exception", "ZeroDivisionError"),
    "recursion": ("return reward(p, a, s)", "exception", "RecursionError"),
    "missing key": ("return s['nope']", "exception", "KeyError"),
}


@pytest.mark.parametrize("isolation", MODES)
def test_code_that_misbehaves_at_run_time_is_stopped_and_later_calls_work(isolation):
    branches = "\n".join(f"    if s['case'] == {name!r}:\n{textwrap.indent(body, ' ' * 8)}"
                         for name, (body, _, _) in RUNTIME.items())
    code = f"def reward(p, a, s):\n{branches}\n    return 0.25\n"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limit_before = resource.getrlimit(resource.RLIMIT_AS)
    # The timeout is generous so that "growing list" reaches the memory limit before it even on a loaded CI
    # machine (it takes ~0.1 s alone; one CI run under load took over 0.5 s and was timed out instead).
    timeout = 2.0
    with RewardCodeEvaluator(code, timeout=timeout, memory_mb=192, isolation=isolation) as ev:
        assert ev({}, 0, {"case": "fine"}).value == 0.25
        for name, (_, kind, text) in RUNTIME.items():
            pid = ev.worker_pid
            started = time.monotonic()
            result = ev({}, 0, {"case": name})
            assert (result.value, result.kind) == (0.0, kind), (name, result)
            assert text in result.error, (name, result)
            assert time.monotonic() - started < timeout + 5
            good = ev({}, 0, {"case": "fine"})
            assert good.value == 0.25 and good.ok, (name, good)
            if kind == "timeout":  # killed and replaced
                assert not _alive(pid) and ev.worker_pid != pid
        assert ev.restarts >= 1 and ev.counts["timeout"] == 1
        assert ev.counts["errors"] == len(RUNTIME)
    # The worker's limits and allocations stayed in the worker.
    assert resource.getrlimit(resource.RLIMIT_AS) == limit_before
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 100_000  # KiB


def test_a_loop_inside_an_episode_costs_one_zero_bonus_and_the_episode_goes_on():
    code = ("def reward(p, a, s):\n    if p['carrying'] is None and s['carrying'] is not None:\n"
            "        while True:\n            pass\n    return 0.01\n")
    env = LLMRewardCode(sparsegym.make(DOORKEY5), code=code, timeout=0.5, isolation=ISOLATION)
    steps = _run(env, SOLUTION)
    assert steps[-1][1]["success"]
    errors = [i for i, (_, info) in enumerate(steps) if "reward_code_error" in info]
    assert errors == [1] and "timed out" in steps[1][1]["reward_code_error"]
    assert [info["reward_components"]["llm_reward_code"] for _, info in steps[2:]] == [0.01] * (len(steps) - 2)
    assert env.evaluator.restarts == 1
    env.close()


@pytest.mark.parametrize("top, text", [
    ("X = [0] * 10**10", "MemoryError"),
    ("X = 1 // 0", "ZeroDivisionError"),
])
def test_code_whose_top_level_fails_is_not_retried(top, text):
    with RewardCodeEvaluator(f"{top}\ndef reward(p, a, s):\n    return 1\n", isolation=ISOLATION) as ev:
        first, second = ev({}, 0, {}), ev({}, 0, {})
    assert first.value == second.value == 0.0 and text in first.error and text in second.error
    assert ev.restarts == 0


def test_clipping_and_a_non_plain_state():
    with RewardCodeEvaluator("def reward(p, a, s):\n    return s['v']\n", clip=(-0.5, 2.0), isolation=ISOLATION) as ev:
        assert [ev({}, 0, {"v": v}).value for v in (-3, 1.5, 9)] == [-0.5, 1.5, 2.0]
        bad = ev({}, 0, {"v": object()})
    assert bad.kind == "bad_state" and "plain data" in bad.error


@pytest.mark.skipif(ISOLATION != "bwrap", reason="bubblewrap cannot run here")
def test_the_bwrap_worker_sees_neither_project_files_nor_the_network():
    exe = rev._python()[0]
    probe = ("import os, socket, json\n"
             "s = socket.socket()\n"
             "try:\n    s.connect(('1.1.1.1', 53)); net = True\nexcept OSError:\n    net = False\n"
             f"print(json.dumps([os.path.exists({os.getcwd()!r}), os.path.exists('/etc/passwd'), "
             "os.path.exists('/home'), net, os.getuid()]))")
    out = subprocess.run([*rev._bwrap_prefix(), exe, "-I", "-S", "-c", probe], capture_output=True, text=True,
                         timeout=30, env={"LANG": "C.UTF-8"}, cwd="/")
    assert json.loads(out.stdout) == [False, False, False, False, 65534]


def test_required_bwrap_that_cannot_run_is_a_clear_error_and_auto_warns(monkeypatch):
    monkeypatch.setattr(rev, "bwrap_problem", lambda: "bubblewrap (`bwrap`) is not installed")
    rev._warn_once.cache_clear()
    with pytest.raises(RewardSandboxError, match="Install bubblewrap, or choose isolation='rlimits'"):
        RewardCodeEvaluator("def reward(p, a, s):\n    return 1\n", isolation="bwrap")
    with pytest.warns(RuntimeWarning, match="runs without bubblewrap"):
        ev = RewardCodeEvaluator("def reward(p, a, s):\n    return 1\n", isolation="auto")
    assert ev.isolation == "rlimits"
    rev._warn_once.cache_clear()


# -- writing: repairs and the critic ----------------------------------------------------------------------

def test_refused_code_is_sent_back_once_and_the_critic_can_ask_for_a_rewrite():
    farmable = "def reward(prev_state, action, state):\n    return 0.1 if action == 0 else 0.0\n"

    def reply(request):
        last = request["messages"][-1]["content"]
        if "refused by the checker" in last:
            return _reply(farmable)
        if last.startswith("Review a reward function"):
            return "VERDICT: REVISE\n- it pays for turning left, which an agent can repeat forever"
        if last.startswith("A reviewer found these problems"):
            return _reply(KEY_AND_DOOR)
        return _reply("import os\n" + farmable)

    with ScriptedLLMServer(reply=reply) as server:
        env = LLMRewardCode(sparsegym.make(DOORKEY5), LLMClient(server.base_url, cache=False), critic=True,
                            isolation=ISOLATION)
        prompts = _chat_prompts(server)
    assert len(prompts) == 4 and "import statements are not allowed" in prompts[1]
    assert "repeat forever" in prompts[3]
    assert env.draft.critic == {"verdict": "REVISE", "notes": "- it pays for turning left, which an agent can "
                                "repeat forever", "revised": True}
    assert env.code.strip() == KEY_AND_DOOR.strip()
    env.close()


def test_a_model_that_never_writes_valid_code_gives_a_zero_bonus_with_the_refusal():
    with ScriptedLLMServer(reply=lambda request: "I cannot write code today.") as server:
        env = LLMRewardCode(sparsegym.make(DOORKEY5), LLMClient(server.base_url, cache=False), isolation=ISOLATION)
    assert not env.draft.valid and server.count(CHAT) == 2 and "holds no code defining reward" in env.draft.problems[0]
    reward, info = _run(env, [1])[0]
    assert reward == 0.0 and info["reward_code_error"].startswith("refused: ")
    env.close()


# -- refinement -------------------------------------------------------------------------------------------

VERSIONS = [
    "def reward(prev_state, action, state):\n    return {'turn': 0.01 if action == 0 else 0.0}\n",
    KEY_AND_DOOR,
    "def reward(prev_state, action, state):\n    return {'key': 0.1 if state['carrying'] else 0.0}\n",
    "def reward(prev_state, action, state):\n    return 0.0\n",
]


class _Solver:
    """Plays DoorKey-5x5 seed 0's solution (and turns left on other seeds)."""

    def reset(self, seed):
        self.plan = list(SOLUTION) if seed == 0 else []

    def act(self, observation, info):
        return self.plan.pop(0) if self.plan else 0


def _refinement_server():
    def reply(request):
        prompt = request["messages"][-1]["content"]
        for k in (4, 3, 2):
            if f"This is round {k}." in prompt:
                return _reply(VERSIONS[k - 1], "Reflection: the turn component is farmed.")
        return _reply(VERSIONS[0])

    return ScriptedLLMServer(reply=reply)


def _train(make_env, round_index):
    """A stand-in for training: round 2's code 'trains' a solver; the others a policy that only turns."""
    env = make_env()
    env.close()
    return _Solver() if round_index == 1 else (lambda observation, info: 0)


def test_refinement_feeds_statistics_back_keeps_every_version_and_resumes(tmp_path):
    path = tmp_path / "refine.json"
    with _refinement_server() as server:
        client = LLMClient(server.base_url, cache=False)
        result = refine_reward_code(DOORKEY5, client, rounds=3, train_fn=_train, episodes=2, path=path,
                                    isolation=ISOLATION)
        prompts = _chat_prompts(server)
        assert len(prompts) == 3
        assert "This is round 2." in prompts[1] and VERSIONS[0].strip() in prompts[1]
        assert "success rate: 0.00 over 2 episodes" in prompts[1] and "(the limit is 250)" in prompts[1]
        assert 'component "turn": non-zero on 100.0% of steps' in prompts[1]  # it turned left all along
        assert "round 1 (version" in prompts[2] and "success rate 0.00" in prompts[2]
        assert "success rate: 0.50 over 2 episodes" in prompts[2] and 'component "key"' in prompts[2]

        saved = json.loads(path.read_text())
        assert [r["round"] for r in saved["rounds"]] == [1, 2, 3]
        assert [r["code"].strip() for r in saved["rounds"]] == [v.strip() for v in VERSIONS[:3]]
        assert [r["stats"]["success_rate"] for r in saved["rounds"]] == [0.0, 0.5, 0.0]
        assert saved["rounds"][1]["stats"]["parts"]["key"]["fired"] > 0
        assert result.best["round"] == 2 and result.best_code.strip() == KEY_AND_DOOR.strip()

        again = refine_reward_code(DOORKEY5, client, rounds=3, train_fn=_train, episodes=2, path=path,
                                   isolation=ISOLATION)
        assert server.count(CHAT) == 3 and again.rounds == result.rounds  # nothing redone
        more = refine_reward_code(DOORKEY5, client, rounds=4, train_fn=_train, episodes=2, path=path,
                                  isolation=ISOLATION)
        assert server.count(CHAT) == 4 and len(more.rounds) == 4
        assert "This is round 4." in _chat_prompts(server)[-1]
        assert "The best version so far is round 2's" in _chat_prompts(server)[-1]
    assert more.best["round"] == 2


# -- NetHack ----------------------------------------------------------------------------------------------

def test_nethack_state_and_a_bonus_on_moving():
    pytest.importorskip("nle")
    pytest.importorskip("minihack")
    from sparsegym.envs.nethack.symbolic import SCHEMA, symbolic_state

    code = ("def reward(prev_state, action, state):\n"
            "    moved = (state['x'], state['y']) != (prev_state['x'], prev_state['y'])\n"
            "    return {'moved': 0.05 if moved else 0.0, 'deep': 0.0 if state['depth'] == 1 else 1.0}\n")
    env = LLMRewardCode(sparsegym.make("sparsegym/MiniHack-Room-5x5-v0"), code=code, isolation=ISOLATION)
    obs, _ = env.reset(seed=0)
    state = symbolic_state(env, obs)
    assert state["around"][2][2] == "@" and state["depth"] == 1 and state["hp"] > 0
    for field in state:
        assert f"{field}" in SCHEMA, field
    positions = [(state["x"], state["y"])]
    for action in (0, 1, 2, 3, 0, 1, 2, 3):
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
        now = symbolic_state(env, obs)
        positions.append((now["x"], now["y"]))
        expected = 0.05 if positions[-1] != positions[-2] else 0.0
        assert info["reward_components"]["llm_reward_code"] == pytest.approx(expected)
        assert "reward_code_error" not in info
    assert len(set(positions)) > 1
    env.close()


def test_nethack_blstats_names_match_nle():
    nethack = pytest.importorskip("nle.nethack")
    from sparsegym.envs.nethack.symbolic import BLSTATS

    upstream = {"x": "X", "y": "Y", "strength": "STR25", "dexterity": "DEX", "constitution": "CON",
                "intelligence": "INT", "wisdom": "WIS", "charisma": "CHA", "score": "SCORE", "hp": "HP",
                "max_hp": "HPMAX", "depth": "DEPTH", "gold": "GOLD", "energy": "ENE", "max_energy": "ENEMAX",
                "armor_class": "AC", "experience_level": "XP", "experience_points": "EXP", "time": "TIME",
                "hunger": "HUNGER", "encumbrance": "CAP", "dungeon_number": "DNUM", "dungeon_level": "DLEVEL"}
    assert BLSTATS == {name: getattr(nethack, f"NLE_BL_{key}") for name, key in upstream.items()}


def test_minigrid_schema_documents_every_field():
    from sparsegym.envs.minigrid.symbolic import SCHEMA, symbolic_state

    env = sparsegym.make(DOORKEY5)
    obs, _ = env.reset(seed=0)
    for field in symbolic_state(env, obs):
        assert f"- {field}" in SCHEMA or f", {field}" in SCHEMA, field


def test_an_env_without_a_documented_state_is_a_clear_error():
    from sparsegym.envs.family import FamilyFeatureError

    with pytest.raises(FamilyFeatureError, match="provides no documented symbolic state"):
        LLMRewardCode(sparsegym.make("sparsegym/DynLinBandit-Rho03-v0"), code=KEY_AND_DOOR)
    with pytest.raises(FamilyFeatureError, match="belongs to none"):
        LLMRewardCode(gymnasium.make("CartPole-v1"), code=KEY_AND_DOOR)
