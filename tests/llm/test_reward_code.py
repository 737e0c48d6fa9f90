"""LLM-written reward code without processes: the checker's rules, reading code out of replies, the critic's
verdicts, the statistics fed back, and the history file."""

from __future__ import annotations

import json

import pytest

from sparsegym.errors import ConfigError
from sparsegym.llm.reward_code import (
    RefinementHistory,
    RoundStats,
    best_round,
    extract_code,
    parse_verdict,
)
from sparsegym.llm.reward_sandbox import MAX_CODE_CHARS, check_code

GOOD = '''
"""Pays for holding the key."""
BONUS = {"key": 0.1}

def _held(state):
    return state.get("carrying") or ("", "")

def reward(prev_state, action, state):
    kind, color = _held(state)
    parts = {"key": BONUS["key"] if kind == "key" and prev_state["carrying"] is None else 0.0}
    parts["near"] = 0.01 * max(0, 3 - math.fabs(state["agent_pos"][0] - 3))
    names = sorted(o["type"] for o in state["objects"] if o["type"].startswith("k"))
    return parts if names else 0.0
'''


def test_good_code_passes():
    assert check_code(GOOD) == []


@pytest.mark.parametrize("body, refusal", [
    ("import os", "import statements are not allowed"),
    ("from os import path", "import statements are not allowed"),
    ("import math", "import statements are not allowed"),
    ("x = __import__('os')", "'__import__' is not allowed"),
    ("x = open('/etc/passwd').read()", "'open' is not allowed"),
    ("x = ().__class__.__bases__[0].__subclasses__()", "'__class__' is not allowed"),
    ("x = getattr(state, '__globals__')", "'getattr' is not allowed"),
    ("x = eval('1')", "'eval' is not allowed"),
    ("x = exec('1')", "'exec' is not allowed"),
    ("x = compile('1', 'f', 'exec')", "'compile' is not allowed"),
    ("x = globals()", "'globals' is not allowed"),
    ("x = vars()", "'vars' is not allowed"),
    ("x = type(state)", "'type' is not allowed"),
    ("x = '{0.__class__}'.format(state)", "attribute .format is not allowed"),
    ("x = (lambda: 0).__globals__", "'__globals__' is not allowed"),
    ("x = [g.gi_frame.f_back for g in [state]]", "attribute .gi_frame is not allowed"),
    ("x = state.__dict__", "'__dict__' is not allowed"),
    ("global y", "`global` is not allowed"),
    ("x = print(1)", "'print' is not allowed"),
    ("x = breakpoint()", "'breakpoint' is not allowed"),
])
def test_hostile_code_is_refused(body, refusal):
    code = f"def reward(prev_state, action, state):\n    {body}\n    return 0.0\n"
    problems = check_code(code)
    assert any(refusal in p for p in problems), problems


@pytest.mark.parametrize("code, refusal", [
    ("def other(a, b, c):\n    return 0\n", "no top-level function named 'reward'"),
    ("def reward(state):\n    return 0\n", "must take three positional arguments"),
    ("while True:\n    pass\ndef reward(a, b, c):\n    return 0\n", "top-level While statement"),
    ("class C:\n    pass\ndef reward(a, b, c):\n    return 0\n", "classes are not allowed"),
    ("def reward(a, b, c):\n    yield 1\n", "generators"),
    ("def reward(a, b, c):\n    with a as f:\n        return 0\n", "`with` is not allowed"),
    ("def reward(a, b, c)\n    return 0\n", "syntax error at line 1"),
    ("def __init__(a, b, c):\n    return 0\n", "'__init__' is not allowed"),
    ("x = 1\n" * (MAX_CODE_CHARS // 6 + 1), "at most"),
])
def test_malformed_code_is_refused(code, refusal):
    problems = check_code(code)
    assert any(refusal in p for p in problems), problems


FUNCTION = "def reward(prev_state, action, state):\n    return 0.1\n"


@pytest.mark.parametrize("reply", [
    f"Here is the code:\n```python\n{FUNCTION}```\nIt pays 0.1 every step.",
    f"```py\nimport math\n{FUNCTION}```",
    f"First try:\n```python\ndef helper():\n    return 0\n```\nFinal:\n```python\n{FUNCTION}```",
    f"Sure! The function below pays a bonus.\n\n{FUNCTION}\nThis should help the agent learn.",
    f"```python\n{FUNCTION}",  # the reply was cut before the closing fence
    f"```\n{FUNCTION}```",
])
def test_code_is_read_out_of_replies(reply):
    code = extract_code(reply)
    assert check_code(code) == [] and code.strip() == FUNCTION.strip()


def test_helpers_around_a_bare_function_are_kept_and_prose_is_dropped():
    reply = ("Reflection: the key component never fired.\n\nSCALE = 0.1\n\ndef reward(prev_state, action, state):\n"
             "    return SCALE * _bump(state)\n\ndef _bump(state):\n    return 1.0\n\nThat is all.\n")
    code = extract_code(reply)
    assert code.startswith("SCALE = 0.1") and "def _bump" in code and "That is all" not in code
    assert check_code(code) == []


@pytest.mark.parametrize("reply, verdict", [
    ("VERDICT: OK", "OK"),
    ("**Verdict:** REVISE\n- reads state['goal'], which does not exist", "REVISE"),
    ("OK, this function is fine.", "OK"),
    ("revise: it can be farmed by toggling the door", "REVISE"),
    ("I have no opinion.", "UNCLEAR"),
])
def test_critic_verdicts_are_parsed(reply, verdict):
    assert parse_verdict(reply)[0] == verdict


def test_revise_notes_are_what_follows_the_verdict():
    assert parse_verdict("VERDICT: REVISE\n- pays for turning")[1] == "- pays for turning"


def test_round_stats_describe_success_components_and_errors():
    stats = RoundStats(episodes=4, steps=100, success_rate=0.25, mean_length=25.0, mean_return=0.2, mean_bonus=0.3,
                       nonzero_fraction=0.12, parts={"key": {"fired": 0.04, "mean_per_episode": 0.1}}, calls=100,
                       errors={"exception": 2}, error_examples=[("KeyError: 'goal'", 2)], max_steps=250)
    text = stats.describe()
    assert "success rate: 0.25 over 4 episodes" in text and 'component "key": non-zero on 4.0% of steps' in text
    assert "2 of 100 calls failed" in text and "KeyError: 'goal'" in text and "the limit is 250" in text
    assert RoundStats.from_dict(json.loads(json.dumps(stats.as_dict()))) == stats


def test_best_round_prefers_success_then_return_then_the_earliest():
    def rnd(i, success, ret):
        return {"round": i, "stats": {"success_rate": success, "mean_return": ret}}

    assert best_round([rnd(1, 0.5, 0.1), rnd(2, 0.5, 0.3), rnd(3, 0.2, 0.9)])["round"] == 2
    assert best_round([rnd(1, 0.5, 0.1), rnd(2, 0.5, 0.1)])["round"] == 1
    assert best_round([]) is None


def test_history_is_written_atomically_and_resumed_only_for_its_task(tmp_path):
    path = tmp_path / "runs" / "history.json"
    history = RefinementHistory(path, key={"task": "a"})
    history.append({"round": 1, "code": "x", "stats": {"success_rate": 0.0, "mean_return": 0.0}})
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temporary file left
    again = RefinementHistory(path, key={"task": "a"})
    assert again.rounds == history.rounds
    with pytest.raises(ConfigError, match="not of {'task': 'b'}; pass another path"):
        RefinementHistory(path, key={"task": "b"})
    path.write_text("{oops")
    with pytest.raises(ConfigError, match="not a refinement history"):
        RefinementHistory(path, key={"task": "a"})
