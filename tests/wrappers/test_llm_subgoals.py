"""LLM subgoals (Words as Beacons) and LLM credit (CALM): parsing, bonuses, caching, labels, evaluation.

The "LLM" is a ScriptedLLMServer on loopback: replies fixed by each test, or the MiniGrid scripted annotator
(rules from the prompt's text, chosen noise).
"""

import math
import warnings

import pytest

pytest.importorskip("minigrid")
pytest.importorskip("openai")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import sparsegym  # noqa: E402
from sparsegym.envs.minigrid import subgoals as sg  # noqa: E402
from sparsegym.envs.minigrid.annotator import MODEL_NAME, ScriptedAnnotator  # noqa: E402
from sparsegym.llm.subgoal_prompts import (  # noqa: E402
    ReplyParseError,
    parse_flags,
    parse_string_list,
    parse_subgoal_list,
    parse_times,
)
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402
from sparsegym.wrappers import LLMSubgoalCredit, LLMSubgoals  # noqa: E402
from sparsegym.wrappers.llm_credit import evaluate_credit  # noqa: E402
from sparsegym.wrappers.llm_subgoals import LLMSubgoalsCacheMiss  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"
SOLUTION = [1, 3, 2, 2, 1, 5, 2, 2, 1, 2, 2]  # seed 0: key picked up at step 2, door opened at step 6, goal at 11
T_MAX = 250  # DoorKey-5x5's max_steps
KEY_THEN_DOOR = '[{"type": "picked_up", "object": "key", "color": "yellow"}, {"type": "opened_door", "color": "yellow"}]'


def _play(env, actions, seed=0):
    _, info = env.reset(seed=seed)
    rewards, infos = [], []
    for a in actions:
        _, r, term, trunc, info = env.step(a)
        assert r == pytest.approx(sum(info["reward_components"].values()))  # the components contract
        rewards.append(r)
        infos.append(info)
        if term or trunc:
            break
    return rewards, infos


def _server(reply):
    return ScriptedLLMServer(reply=lambda request: reply() if callable(reply) else reply, models=["scripted-model"])


# -- parsing ---------------------------------------------------------------------------------------------

PARSE_TABLE = [
    (KEY_THEN_DOOR, ["picked up yellow key", "opened yellow door"]),
    ("Sure, here is the plan:\n```json\n" + KEY_THEN_DOOR + "\n```\nThe agent then reaches the goal.",
     ["picked up yellow key", "opened yellow door"]),
    ("First note [1]: keys open doors.\n[{'type': 'instruction', 'text': 'pick up the yellow key'},"
     " {'type': 'reached_position', 'pos': [3, 3],}]\nGood luck!", ["pick up the yellow key", "reached (3, 3)"]),
    ('<think>maybe [the key]?</think>{"subgoals": [{"type": "adjacent_to", "object": "goal"}]}', ["next to goal"]),
    ("[]", []),
]
PARSE_ERRORS = [
    "The agent should pick up the key and open the door.",  # no JSON at all
    '[{"type": "teleport", "to": [1, 1]}]',  # a type the format does not have
    '[{"type": "picked_up", "object": "sword"}]',  # an object MiniGrid does not have
    '[{"type": "reached_position", "pos": [3]}]',  # a malformed position
    "[1, 2, 3]",  # not subgoal objects
]


@pytest.mark.parametrize("reply, names", PARSE_TABLE)
def test_real_looking_replies_parse_into_subgoals(reply, names):
    spec = parse_subgoal_list(reply)
    assert [s.name for s in sg.from_spec(spec)] == names if spec else names == []


@pytest.mark.parametrize("reply", PARSE_ERRORS)
def test_unusable_replies_are_errors_that_say_why(reply):
    with pytest.raises((ReplyParseError, sparsegym.ConfigError)):
        sg.from_spec(parse_subgoal_list(reply))


@pytest.mark.parametrize("reply", PARSE_ERRORS[:2])
def test_an_unusable_reply_is_recorded_and_the_level_has_no_subgoals(tmp_path, reply):
    with _server(reply) as server:
        env = LLMSubgoals(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model",
                          cache=tmp_path / "a.sqlite")
        rewards, infos = _play(env, SOLUTION)
    assert "invalid subgoal reply" in infos[0]["llm_subgoals_error"]
    assert env.stats["invalid_levels"] == 1 and env.subgoals == []
    assert all("llm_subgoals" not in i["reward_components"] for i in infos)
    assert rewards[-1] == pytest.approx(1 - 0.9 * len(SOLUTION) / T_MAX)  # the task's own reward, untouched


def test_labels_parse_from_dicts_lists_and_python_literals():
    names = ["pick up the key", "open the door", "go to the goal"]
    assert parse_flags('{"pick up the key": true, "Open the door.": "no"}', names) == {
        "pick up the key": True, "open the door": False}
    assert parse_flags("Answer: {'2': True, 'fly to the moon': True}", names) == {"open the door": True}
    assert parse_flags('["go to the goal"]', names) == {"go to the goal": True}
    assert parse_times('```\n{"pick up the key": 3, "open the door": [7], "go to the goal": null}\n```', names) == {
        "pick up the key": [3], "open the door": [7]}
    assert parse_string_list('{"steps": ["pick up the key", "open the door"]}') == ["pick up the key", "open the door"]
    with pytest.raises(ReplyParseError):  # an object's keys are not subgoals
        parse_string_list('{"type": "list", "milestones": "pick up the key, then open the door"}')
    with pytest.raises(ReplyParseError):
        parse_flags('{"fly to the moon": true}', names)
    with pytest.raises(ReplyParseError):
        parse_times('{"pick up the key": "soon"}', names)


# -- Words as Beacons' bonus ------------------------------------------------------------------------------

def test_bonus_is_alpha_times_one_minus_steps_since_the_last_subgoal_over_t_max(tmp_path):
    with _server(KEY_THEN_DOOR) as server:
        env = LLMSubgoals(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model", alpha=0.2,
                          cache=tmp_path / "a.sqlite")
        rewards, infos = _play(env, SOLUTION)
    bonus = {t + 1: i["reward_components"]["llm_subgoals"] for t, i in enumerate(infos) if "llm_subgoals" in i["reward_components"]}
    assert bonus == pytest.approx({2: 0.2 * (1 - 2 / T_MAX), 6: 0.2 * (1 - 4 / T_MAX)})
    assert infos[-1]["subgoals_achieved"] == ["picked up yellow key", "opened yellow door"]
    assert infos[-1]["reward_components"]["extrinsic"] == pytest.approx(1 - 0.9 * 11 / T_MAX)
    assert infos[-1]["llm_subgoal"] is None and infos[0]["llm_subgoal"] == "picked up yellow key"


def test_only_the_current_subgoal_pays(tmp_path):
    door_then_key = '[{"type": "opened_door", "color": "yellow"}, {"type": "picked_up", "object": "key"}]'
    with _server(door_then_key) as server:
        env = LLMSubgoals(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model",
                          cache=tmp_path / "a.sqlite")
        _, infos = _play(env, SOLUTION)
    paid = {t + 1: i["reward_components"].get("llm_subgoals") for t, i in enumerate(infos)}
    assert paid[2] is None  # the key, picked up before the door (the current subgoal) opened: nothing
    assert paid[6] == pytest.approx(0.2 * (1 - 6 / T_MAX))
    assert paid[7] == pytest.approx(0.2 * (1 - 1 / T_MAX))  # the key, still held, now the current subgoal


def test_a_warm_cache_makes_no_request_and_needs_no_server(tmp_path):
    store = tmp_path / "answers.sqlite"
    with _server(KEY_THEN_DOOR) as server:
        env = LLMSubgoals(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model", cache=store)
        for seed in range(3):
            env.reset(seed=seed)
        assert server.count("/v1/chat/completions") == 3
        server.reset_counts()
        again = LLMSubgoals(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model", cache=store)
        for seed in range(3):
            again.reset(seed=seed)
        assert server.count() == 0 and again.stats["cache_hits"] == 3
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_env(again, skip_render_check=True)
    offline = LLMSubgoals(sparsegym.make(DOORKEY5), cache=store)  # no client: deployment
    for seed in range(3):
        _, info = offline.reset(seed=seed)
        assert info["llm_subgoals"] == ["picked up yellow key", "opened yellow door"]
    assert offline.stats["cache_hits"] == 3


def test_a_cold_cache_without_a_client_names_the_fix(tmp_path):
    env = LLMSubgoals(sparsegym.make(DOORKEY5), cache=tmp_path / "empty.sqlite")
    with pytest.raises(LLMSubgoalsCacheMiss, match=r"client=LLMClient\(\.\.\.\) or base_url="):
        env.reset(seed=0)


def test_oracle_plan_needs_no_llm_and_passes_check_env():
    env = LLMSubgoals(sparsegym.make(DOORKEY5), plan="oracle")
    _, info = env.reset(seed=0)
    assert info["llm_subgoals"] == ["picked up yellow key", "opened yellow door at (2, 1)"]
    rewards, infos = _play(env, SOLUTION)
    assert infos[-1]["subgoals_achieved"] == info["llm_subgoals"] and infos[-1]["success"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=True)


def test_scripted_annotator_plans_from_the_level_text(tmp_path):
    with ScriptedLLMServer(reply=ScriptedAnnotator(noise=0.0), models=[MODEL_NAME]) as server:
        env = LLMSubgoals(sparsegym.make("sparsegym/MiniGrid-ObstructedMaze-1Dlh-v0"), base_url=server.base_url,
                          model=MODEL_NAME, cache=tmp_path / "a.sqlite")
        _, info = env.reset(seed=0)
    assert info["llm_subgoals"][0] == "next to grey box"  # the box that holds the key, first
    assert info["llm_subgoals"][1:3] in (["picked up purple key", "opened purple door at (5, 4)"],
                                         ["pick up the purple key", "opened purple door at (5, 4)"],
                                         ["picked up purple key", "open the purple door"],
                                         ["pick up the purple key", "open the purple door"])


# -- CALM ------------------------------------------------------------------------------------------------

def test_count_bonus_is_min_max_normalised_within_zero_and_beta(tmp_path):
    beta = 0.1
    with ScriptedLLMServer(reply=ScriptedAnnotator(), models=[MODEL_NAME]) as server:
        env = LLMSubgoalCredit(sparsegym.make(DOORKEY5), base_url=server.base_url, model=MODEL_NAME, beta=beta,
                               blocking=True, cache=tmp_path / "a.sqlite")
        _, first = _play(env, SOLUTION)
        requests = env.stats["requests"]
        _play(env, SOLUTION[:2])  # the key pickup once more: its count is 2, the others' 1
        _, third = _play(env, SOLUTION)
        assert env.stats["requests"] == requests  # repeated transitions are answered from memory
        assert env.reset(seed=0)[1]["llm_credit_subgoals"] == ["pick up the key", "open the door", "go to the goal"]
    paid = lambda infos: {t + 1: i["reward_components"]["llm_credit"] for t, i in enumerate(infos)  # noqa: E731
                          if "llm_credit" in i["reward_components"]}
    assert paid(first) == pytest.approx({2: beta, 6: beta, 11: beta})
    assert paid(third) == pytest.approx({2: beta, 6: beta * 2 / 3, 11: beta * 2 / 3})
    assert all(0 <= v <= beta for v in paid(third).values())
    assert third[-1]["reward_components"]["extrinsic"] == pytest.approx(1 - 0.9 * 11 / T_MAX)


def test_trajectory_labels_arrive_after_the_episode_and_pay_later(tmp_path):
    with ScriptedLLMServer(reply=ScriptedAnnotator(), models=[MODEL_NAME]) as server:
        env = LLMSubgoalCredit(sparsegym.make(DOORKEY5), base_url=server.base_url, model=MODEL_NAME,
                               mode="trajectory", window=4, record=True, cache=tmp_path / "a.sqlite")
        _, first = _play(env, SOLUTION)
        env.flush()
        _, second = _play(env, SOLUTION)
        env.flush()
    assert all("llm_credit" not in i["reward_components"] for i in first[:-1])
    assert {t + 1 for t, i in enumerate(second) if "llm_credit" in i["reward_components"]} == {2, 6, 11}
    result = evaluate_credit(env.credit_records())
    assert result["all"]["precision"] == 1.0 and result["all"]["recall"] == 1.0
    assert set(result["kinds"]) == {"picked up key", "opened door", "reached goal"}


def test_noisy_labels_lose_recall_and_bad_replies_are_counted(tmp_path):
    noisy = ScriptedAnnotator(noise=1.0)
    with ScriptedLLMServer(reply=noisy, models=[noisy.model_name]) as server:
        env = LLMSubgoalCredit(sparsegym.make(DOORKEY5), base_url=server.base_url, model=noisy.model_name,
                               blocking=True, record=True, cache=tmp_path / "a.sqlite")
        _play(env, SOLUTION)
    assert evaluate_credit(env.credit_records())["all"]["recall"] == 0.0
    with _server("no idea") as server:
        env = LLMSubgoalCredit(sparsegym.make(DOORKEY5), base_url=server.base_url, model="scripted-model",
                               subgoals=["pick up the key"], blocking=True, record=True, cache=False)
        _, infos = _play(env, SOLUTION)
    assert env.stats["label_errors"] >= 1 and all("llm_credit" not in i["reward_components"] for i in infos)
    assert any(r["error"] and "invalid label reply" in r["error"] for r in env.credit_records())


def test_precision_and_recall_on_a_hand_made_example():
    records = [
        {"predicted": ["picked up key"], "true": ["picked up key"]},  # tp key
        {"predicted": ["picked up key", "opened door"], "true": ["opened door"]},  # fp key, tp door
        {"predicted": [], "true": ["opened door"]},  # fn door
        {"predicted": ["other"], "true": []},  # fp other
        {"predicted": [], "true": []},
    ]
    result = evaluate_credit(records)
    assert result["kinds"]["picked up key"] == {"tp": 1, "fp": 1, "fn": 0, "precision": 0.5, "recall": 1.0,
                                                "f1": pytest.approx(2 / 3)}
    assert result["kinds"]["opened door"]["precision"] == 1.0 and result["kinds"]["opened door"]["recall"] == 0.5
    assert math.isnan(result["kinds"]["other"]["recall"])
    assert (result["all"]["tp"], result["all"]["fp"], result["all"]["fn"]) == (2, 2, 1)
    assert result["all"]["precision"] == 0.5 and result["all"]["recall"] == pytest.approx(2 / 3)
    assert result["transitions"] == 5
