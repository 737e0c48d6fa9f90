"""LLMAgent (sparsegym.agents.llm): reply parsing, the prompt, constrained decoding, invalid replies, and
leaderboard runs against a scripted OpenAI-compatible server (the real local server: tests/llm)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("openai")

import sparsegym  # noqa: E402
from sparsegym.agents.llm import LLMAgent, parse_command, parse_reply  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402
from sparsegym.wrappers import TextObservation  # noqa: E402

GRID = ["turn left", "turn right", "go forward", "pick up", "drop", "toggle", "done"]
ALF = ["go to countertop 1", "go to fridge 1", "take apple 1 from countertop 1", "open fridge 1", "look", "inventory"]

# (reply, style, actions, expected): replies as small models and large ones really write them.
REPLIES = [
    ("go forward", "naive", GRID, "go forward"),
    ("Go forward.", "naive", GRID, "go forward"),
    ("GO FORWARD", "naive", GRID, "go forward"),
    ('"turn left"', "naive", GRID, "turn left"),
    ("`pick up`", "naive", GRID, "pick up"),
    ("**toggle**", "naive", GRID, "toggle"),
    ("1. turn right", "naive", GRID, "turn right"),
    ("- drop", "naive", GRID, "drop"),
    ("Action: done", "naive", GRID, "done"),
    ("I will go forward", "naive", GRID, "go forward"),
    ("The key is in front of me, so I should pick up", "naive", GRID, "pick up"),
    ("turn left\n", "naive", GRID, "turn left"),
    ("  go   forward  ", "naive", GRID, "go forward"),
    ("fly", "naive", GRID, None),
    ("", "naive", GRID, None),
    ("   ", "naive", GRID, None),
    ("I'm not sure what to do here.", "naive", GRID, None),
    ("The door is locked; I need the key first.\nACTION: turn right", "cot", GRID, "turn right"),
    ("Thinking: go forward would hit a wall.\nAction: turn left", "cot", GRID, "turn left"),
    ("Let me think. turn left, then go forward.", "cot", GRID, "go forward"),
    ("Reasoning about it... <action>pick up</action>", "tagged", GRID, "pick up"),
    ("<|ACTION|>toggle<|END|>", "tagged", GRID, "toggle"),
    ("take apple 1 from countertop 1", "naive", ALF, "take apple 1 from countertop 1"),
    ("I should go to fridge 1 and open it", "naive", ALF, "go to fridge 1"),
    ("Open fridge 1.", "naive", ALF, "open fridge 1"),
    ("search[red shoes size 9]", "naive", ["search[<query>]"], "search[red shoes size 9]"),
    ("I'll search[cheap blue mug] now", "naive", ["search[<query>]"], "search[cheap blue mug]"),
    ("click[buy now]", "naive", ["click[buy now]", "click[< prev]"], "click[buy now]"),
    ("search[]", "naive", ["search[<query>]"], None),
    ("run pytest -q", "naive", [], "run pytest -q"),
    ("play 0.25 0.9", "naive", ["play <x1> <x2>"], "play 0.25 0.9"),
    ("I choose: play 0.1 0.75.", "naive", ["play <x1> <x2>"], "play 0.1 0.75"),
    ("something else", "naive", ["play <x1> <x2>"], None),
]


@pytest.mark.parametrize("reply, style, actions, expected", REPLIES)
def test_parse_reply(reply, style, actions, expected):
    assert parse_reply(reply, actions, style) == expected


SWE_VERBS = ["run", "view", "create", "str_replace", "insert", "undo", "submit"]
# (reply, style, expected): how small models write commands for an env of verbs with free syntax.
COMMANDS = [
    ("run pytest -q", "naive", "run pytest -q"),
    ("Run pytest -q", "naive", "run pytest -q"),
    ("submit", "naive", "submit"),
    ("Submit.", "naive", "submit"),
    ("`view calc.py 1 20`", "naive", "view calc.py 1 20"),
    ("$ run ls", "naive", "run ls"),
    ("- undo calc.py", "naive", "undo calc.py"),
    ("Action: view setup.py", "naive", "view setup.py"),
    ("Let me look first.\n```\nview calc.py\n```\nThen I will fix it.", "naive", "view calc.py"),
    ("```bash\nrun python -m pytest\n```", "naive", "run python -m pytest"),
    ("create hello.py\nprint('hi')\n\nprint('bye')\n\n", "naive", "create hello.py\nprint('hi')\n\nprint('bye')"),
    ("```\nstr_replace calc.py\n<<<<<<< OLD\na - b\n=======\na + b\n>>>>>>> NEW\n```", "naive",
     "str_replace calc.py\n<<<<<<< OLD\na - b\n=======\na + b\n>>>>>>> NEW"),
    ("You can run the following command to run the action:\n```\npython3 -m pytest -v\n```", "naive", None),
    ("You have at most 50 steps.", "naive", None),
    ("1. Run; view; create; str_replace; undo; submit", "naive", None),  # the verbs listed back
    ("Run: pytest", "naive", None),
    ("", "naive", None),
    ("The add function subtracts; I should run the tests.\nACTION: run pytest -q tests/test_calc.py", "cot",
     "run pytest -q tests/test_calc.py"),
    ("First, view the file.\nACTION: create fix.py\nx = 1", "cot", "create fix.py\nx = 1"),
    ("I think it's fixed. <action>submit</action>", "tagged", "submit"),
    ("view calc.py is what I would do", "cot", "view calc.py is what I would do"),  # no ACTION line: the whole reply
]


@pytest.mark.parametrize("reply, style, expected", COMMANDS)
def test_parse_command(reply, style, expected):
    assert parse_command(reply, SWE_VERBS, style) == expected


def _last_body(server):
    return [r for r in server.requests if r["path"].endswith("/chat/completions")][-1]["json"]


def _minigrid():
    return TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))


def test_the_prompt_follows_balrog():
    env = _minigrid()
    with ScriptedLLMServer(reply=lambda r: "go forward") as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, history=2)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        for _ in range(4):
            obs, *_, info = env.step(agent.act(obs, info))
        msgs = _last_body(server)["messages"]
        systems = {r["json"]["messages"][0]["content"] for r in server.requests if r["path"].endswith("/chat/completions")}
    roles = [m["role"] for m in msgs]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]  # instructions, 2 past turns, now
    first, last = msgs[0]["content"], msgs[-1]["content"]
    assert first.startswith("You are an agent in a grid world.") and "- go forward: move one step" in first
    assert "You have at most 250 steps." in first and msgs[1]["content"].startswith("Observation:\nMission:")
    assert last.startswith("Current observation:\nMission: use the key")
    assert len(systems) == 1  # the same system turn on every request (a server's prompt cache keeps it)
    assert "Valid actions: turn left; turn right; go forward; pick up; drop; toggle; done" in last
    assert "Answer with exactly one of the valid actions and nothing else." in last
    assert [m["content"] for m in msgs if m["role"] == "assistant"] == ["go forward", "go forward"]  # history 2


def test_a_prompt_that_overflows_the_context_drops_old_turns_for_the_rest_of_the_episode():
    env = _minigrid()
    with ScriptedLLMServer(reply=lambda r: "go forward") as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, history=8)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        for _ in range(3):
            obs, *_, info = env.step(agent.act(obs, info))
        size = len(_last_body(server)["messages"])  # system + 2 past turns (4 messages) + now
        # from now on, the server holds prompts of about this size and no more
        from sparsegym.llm.testing import count_tokens

        server.context_limit = count_tokens(_last_body(server)) + 5
        for _ in range(4):
            obs, *_, info = env.step(agent.act(obs, info))
        msgs = _last_body(server)["messages"]
    stats = agent.episode_stats()
    assert size == 6 and stats["context_trims"] >= 1 and stats["calls"] == 7
    assert len(msgs) < 2 + 2 * 7  # fewer past turns than the 7 played (history 8 would show them all)
    assert msgs[0]["role"] == "system" and msgs[-1]["content"].startswith("Current observation:")
    # with no past turn left to drop, the error stands (nothing is hidden)
    with ScriptedLLMServer(reply=lambda r: "go forward", context_limit=5) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        from sparsegym.llm.errors import ContextTooLongError

        with pytest.raises(ContextTooLongError, match="context"):
            agent.act(obs, info)


def test_an_observation_that_overflows_alone_is_cut_in_the_middle_until_it_fits():
    """A long page or file view: with no past turn to drop, the observation is halved (head and tail kept,
    the cut marked) until the prompt fits; the episode goes on and each halving is a context trim."""
    from sparsegym.llm.testing import count_tokens

    env = _minigrid()
    long_obs = "start " + " ".join(f"w{i}" for i in range(2000)) + " end"
    with ScriptedLLMServer(reply=lambda r: "go forward") as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, history=2)
        agent.reset(0)
        _, info = env.reset(seed=0)
        full = count_tokens({"messages": agent.messages(long_obs, info)})
        server.context_limit = full // 3  # about a third of the observation fits
        assert agent.act(long_obs, info) == "go forward"
        sent = _last_body(server)["messages"][-1]["content"]
        stats = agent.episode_stats()
        assert stats["context_trims"] == 2  # halved twice: a quarter of it fits under a third
        assert "start w0 w1" in sent and "w1999 end" in sent and "characters cut to fit the model's context" in sent
        assert len(sent) < len(long_obs) // 3
        assert agent.act("a short observation", info) == "go forward"  # a short one is sent whole
        assert "a short observation" in _last_body(server)["messages"][-1]["content"]
        agent.reset(1)  # a new episode starts uncut
        assert agent._observation_cap is None


def test_an_invalid_reply_plays_the_default_action_with_feedback():
    env = _minigrid()
    replies = iter(["let's dance", "turn left"])
    with ScriptedLLMServer(reply=lambda r: next(replies)) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        assert agent.act(obs, info) == "done"  # MiniGrid's view: "done" changes nothing
        obs, *_, info = env.step("done")
        assert agent.act(obs, info) == "turn left"
        assert "named no valid action, so 'done' was played" in _last_body(server)["messages"][-1]["content"]
    stats = agent.episode_stats()
    assert stats["invalid_replies"] == 1 and stats["calls"] == 2 and stats["requests"] == 2
    assert stats["prompt_tokens"] > 0 and stats["completion_tokens"] > 0


def test_the_instructions_lead_every_request_so_a_prefix_cache_reuses_them():
    """The instructions are the system turn of every request: a server's prompt cache skips them, and the
    episode's stats count the prompt tokens it reused."""
    from sparsegym.llm.testing import prompt_words

    env = _minigrid()
    with ScriptedLLMServer(reply=lambda r: "turn left", prompt_cache=True) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, history=0)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        for _ in range(3):
            assert agent.act(obs, info) == "turn left"
            obs, *_, info = env.step("turn left")
        instructions = len(prompt_words({"messages": _last_body(server)["messages"][:1]}))
    stats = agent.episode_stats()
    assert stats["calls"] == 3 and instructions > 50
    assert 2 * instructions <= stats["cached_prompt_tokens"] < stats["prompt_tokens"]


def test_cot_replies_without_their_action_line_and_cut_replies_are_counted():
    env = _minigrid()
    replies = iter(["I see a wall.\nACTION: turn left",   # formatted
                    "turn right",                          # a bare action: played, but not the cot format
                    "The room is dark and the key is " + "very " * 40 + "far",  # no action, and cut at 16 tokens
                    "hmm"])                                # neither an action nor the format
    with ScriptedLLMServer(reply=lambda r: next(replies)) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, prompt="cot", max_tokens=16)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        played = []
        for _ in range(4):
            played.append(agent.act(obs, info))
            obs, *_, info = env.step(played[-1])
    assert played == ["turn left", "turn right", "done", "done"]
    stats = agent.episode_stats()
    assert stats["unformatted_replies"] == 3 and stats["truncated_replies"] == 1 and stats["invalid_replies"] == 2
    agent.reset(1)  # a new episode starts from zero
    assert agent.episode_stats()["unformatted_replies"] == 0 and agent.episode_stats()["truncated_replies"] == 0


def test_constrained_decoding_sends_the_admissible_actions_as_an_enum():
    env = _minigrid()
    with ScriptedLLMServer(reply=lambda r: json.dumps({"reasoning": "the key", "action": "pick up"})) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, prompt="cot", constrained=True)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        assert agent.act(obs, info) == "pick up"
        fmt = _last_body(server)["response_format"]
    assert fmt["type"] == "json_object" and fmt["schema"]["required"] == ["reasoning", "action"]
    assert fmt["schema"]["properties"]["action"]["enum"] == GRID
    assert agent.episode_stats()["unformatted_replies"] == 0  # the grammar gave the format: no ACTION line expected


def test_few_shot_shows_the_oracle_solving_another_episode():
    env = _minigrid()
    with ScriptedLLMServer(reply=lambda r: "toggle") as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, prompt="few-shot")
        agent.reset(0)
        obs, info = env.reset(seed=0)
        agent.act(obs, info)
        first = _last_body(server)["messages"][0]["content"]
    assert "Here is an example of an episode played well:" in first
    assert "Action: pick up" in first and "(The episode ended with the task done.)" in first


def test_a_native_env_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="Submit with `observation: text`"):
        LLMAgent(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), base_url="http://127.0.0.1:9/v1")


def test_text_native_envs_get_their_instructions_and_the_game_answers_invalid_replies():
    pytest.importorskip("textworld")
    env = sparsegym.make("sparsegym/TextWorld-TreasureHunter-L10-v0")
    with ScriptedLLMServer(reply=lambda r: "dance with the dragon") as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        action = agent.act(obs, info)
        first = _last_body(server)["messages"][0]["content"]
    assert first.startswith("You are playing a text adventure.") and "You have at most" in first
    assert action == "dance with the dragon" and agent.episode_stats()["invalid_replies"] == 1
    obs, r, term, trunc, info = env.step(action)
    assert info["invalid_actions"] in (0, 1)  # the game's own contract decides; nothing raised


def test_continuous_bandits_are_constrained_to_numbers_and_get_their_syntax_prompt():
    import re

    env = TextObservation(sparsegym.make("sparsegym/DynLinBandit-Continuous-Rho07-v0"))
    for constrained in (True, False):
        with ScriptedLLMServer(reply=lambda r: "play 0.3 0.6") as server:
            agent = LLMAgent(env, base_url=server.base_url, cache=False, constrained=constrained)
            agent.reset(0)
            obs, info = env.reset(seed=0)
            assert agent.act(obs, info) == "play 0.3 0.6"
            body = _last_body(server)
        last = body["messages"][-1]["content"]
        assert "Action forms: play <x1> <x2>" in last and "in the syntax described" in last
        assert body["max_tokens"] == 32  # a one-line command: the style's own budget
        if not constrained:
            assert body.get("response_format") is None
            continue
        action = body["response_format"]["schema"]["properties"]["action"]
        pattern = env.get_wrapper_attr("view").action_pattern
        assert action == {"type": "string", "pattern": pattern}
        assert [bool(re.fullmatch(pattern, s)) for s in ("play 0.3 0.6", "play 0 1", "play .25 1.0")] == [True] * 3
        assert [bool(re.fullmatch(pattern, s)) for s in ("play 0.3", "play 2 0.5", "play 0.3 0.6 0.1", "play x y",
                                                         "play <x1> <x2>")] == [False] * 5
    obs, r, *_ = env.step("play 0.3 0.6")
    assert "Last round you played (0.30, 0.60)" in obs


def test_software_repair_replies_are_parsed_as_commands_counted_and_constrained_to_one_line_actions():
    """The software env lists verbs with free syntax: a reply's command is read from its first line that
    begins with a verb (chatter around it dropped), a reply with none is counted invalid and sent as it is
    (the env answers with its error), and constrained decoding sends the env's pattern of one-line actions."""
    import re

    from sparsegym.envs.swe.env import SWEEnv
    from sparsegym.envs.swe.sandbox import isolation_available

    if not isolation_available():
        pytest.skip("the local sandbox (bubblewrap) cannot run here")
    env = sparsegym.make("sparsegym/SWE-Mutation-v0", command_timeout=20)
    replies = iter(["Let me see the files.\n```\nview LICENSE 1 3\n```\nThen I will fix it.",
                    "You can run the following command to run the action:\n```\npython3 -m pytest\n```",
                    '{"action": "run ls"}'])
    try:
        with ScriptedLLMServer(reply=lambda r: next(replies)) as server:
            agent = LLMAgent(env, base_url=server.base_url, cache=False)
            agent.reset(0)
            obs, info = env.reset(seed=0)
            first = agent.act(obs, info)
            assert _last_body(server).get("response_format") is None
            assert _last_body(server)["max_tokens"] == 512  # the env's reply budget: edits carry file text
            obs, _, _, _, info = env.step(first)
            assert first == "view LICENSE 1 3" and obs.splitlines()[0].lstrip().startswith("1")
            second = agent.act(obs, info)
            assert agent.episode_stats()["invalid_replies"] == 1  # no line begins with a verb
            obs, _, _, _, info = env.step(second)
            assert obs.startswith("Error: unknown action 'You'") and info["action_error"]
            constrained = LLMAgent(env, base_url=server.base_url, cache=False, constrained=True, max_tokens=32)
            assert constrained.max_tokens == 32  # a budget the user sets stands
            constrained.reset(0)
            assert constrained.act(obs, info) == "run ls"
            action = _last_body(server)["response_format"]["schema"]["properties"]["action"]
    finally:
        env.close()
    assert action == {"type": "string", "pattern": SWEEnv.action_pattern}
    ok = ("submit", "run pytest -q", "run sed -i s/a - b/a + b/ calc.py", "view calc.py", "view calc.py 1 20",
          "undo calc.py")
    bad = ("run", "view", "create calc.py", 'run echo "hi"', "str_replace calc.py", "look around", "view a b")
    assert all(re.fullmatch(SWEEnv.action_pattern, a) for a in ok)
    assert not any(re.fullmatch(SWEEnv.action_pattern, a) for a in bad)
    assert constrained.episode_stats()["invalid_replies"] == 0


def test_a_wrapper_that_fills_in_templates_makes_the_search_page_constrained():
    from sparsegym.wrappers import InstructionSearch

    def first_reply_format(env):
        with ScriptedLLMServer(reply=lambda r: '{"action": "x"}') as server:
            agent = LLMAgent(env, base_url=server.base_url, cache=False, constrained=True)
            agent.reset(0)
            obs, info = env.reset(seed=0)
            agent.act(obs, info)
            return _last_body(server).get("response_format"), info["admissible_actions"]

    fmt, actions = first_reply_format(InstructionSearch(sparsegym.make("sparsegym/WebShop-Train-v1")))
    assert actions[0].startswith("search[i am looking for")
    assert fmt["schema"]["properties"]["action"] == {"type": "string", "enum": actions}


def test_webshop_is_constrained_page_by_page():
    """The search page's form becomes a pattern to fill, a results page's clicks an enum; the prompt says
    "Action forms" on the first and "Valid actions" on the second (the decision is made per step)."""
    import re

    env = sparsegym.make("sparsegym/WebShop-Train-v1")
    replies = iter(['{"action": "search[red shoes]"}', '{"action": "click[next >]"}'])
    with ScriptedLLMServer(reply=lambda r: next(replies)) as server:
        agent = LLMAgent(env, base_url=server.base_url, cache=False, constrained=True)
        agent.reset(0)
        obs, info = env.reset(seed=0)
        first = agent.act(obs, info)
        search_body = _last_body(server)
        obs, _, _, _, info = env.step(first)
        second = agent.act(obs, info)
        results_body = _last_body(server)
    assert (first, second) == ("search[red shoes]", "click[next >]")
    search_action = search_body["response_format"]["schema"]["properties"]["action"]
    assert set(search_action) == {"type", "pattern"}
    pattern = search_action["pattern"]
    assert re.match(pattern, "search[blue mug 12 oz]") and not re.match(pattern, "search[<query>]")
    assert not re.match(pattern, "search[]") and not re.match(pattern, "click[next >]")
    assert "Action forms: search[<query>]" in search_body["messages"][-1]["content"]
    assert "write your keywords in place of <query>" in search_body["messages"][0]["content"]
    assert results_body["response_format"]["schema"]["properties"]["action"] == {
        "type": "string", "enum": info["admissible_actions"]}
    assert "Valid actions: click[back to search]; click[next >]" in results_body["messages"][-1]["content"]
    assert agent.episode_stats()["invalid_replies"] == 0


def test_a_list_with_whole_commands_and_a_form_gets_either_kind():
    from sparsegym.agents.llm import template_pattern

    agent = LLMAgent.__new__(LLMAgent)  # only the schema builder, no env or server
    agent.constrained, agent.prompt = True, "naive"
    agent._declared_complete = lambda: True
    fmt = agent._response_format(["look", "say <words>"])
    assert fmt["schema"]["properties"]["action"] == {"anyOf": [
        {"type": "string", "enum": ["look"]}, {"type": "string", "pattern": template_pattern("say <words>")}]}
    assert template_pattern("say <words>") == r'^say [^<>"\\\n]+$'
    # a dot is written [.] (llama-cpp-python's server dies on an escaped dot); inside the class it stops the form
    assert template_pattern("go to <place>.") == r'^go to [^<>"\\\n.]+[.]$'
    agent._declared_complete = lambda: False  # verbs described in words: only the env's own pattern, if any
    agent._declared = lambda name, default: None
    assert agent._response_format(["look", "say"]) is None
    agent._declared = lambda name, default: "^(look|say [a-z ]+)$" if name == "action_pattern" else default
    assert agent._response_format(["look", "say"])["schema"]["properties"]["action"] == {
        "type": "string", "pattern": "^(look|say [a-z ]+)$"}
