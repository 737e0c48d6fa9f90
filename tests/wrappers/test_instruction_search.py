"""InstructionSearch: WebShop's search template becomes one concrete search with the instruction as the query."""

import pytest
from gymnasium.utils.env_checker import check_env

import sparsegym
from sparsegym.errors import ConfigError
from sparsegym.wrappers import InstructionSearch
from sparsegym.wrappers.stack import apply_wrappers

WEBSHOP = "sparsegym/WebShop-Train-v1"


def test_the_template_becomes_the_instruction_without_its_price_clause():
    env = InstructionSearch(sparsegym.make(WEBSHOP))
    _, info = env.reset(seed=3)
    instruction = info["instruction"]
    assert "price lower than" in instruction
    (search,) = info["admissible_actions"]
    assert search == f"search[{instruction.split(', and price lower than')[0]}]"
    # the offered search is a real one: it leads to a results page of the catalog's products
    obs, reward, terminated, truncated, info = env.step(search)
    assert info["page"] == "results" and info["action_error"] is None and reward == 0.0
    assert "Total results: 0" not in obs
    assert any(a.startswith("click[b0") for a in info["admissible_actions"])
    # pages without a template are left as the env lists them
    raw = sparsegym.make(WEBSHOP)
    raw.reset(seed=3)
    assert raw.step(search)[4]["admissible_actions"] == info["admissible_actions"]


def test_strip_is_configurable_and_brackets_cannot_break_the_action():
    env = InstructionSearch(sparsegym.make(WEBSHOP), strip="")
    _, info = env.reset(seed=3)
    assert info["admissible_actions"] == [f"search[{info['instruction']}]"]
    assert InstructionSearch(sparsegym.make(WEBSHOP))._offer(
        {"admissible_actions": ["search[<query>]"], "instruction": "a [red] hat"})["admissible_actions"] == [
        "search[a (red) hat]"]


def test_a_missing_instruction_names_the_key_to_pass():
    env = InstructionSearch(sparsegym.make(WEBSHOP), instruction_key="goal_text")
    with pytest.raises(ConfigError, match=r"info\['goal_text'\].*instruction_key="):
        env.reset(seed=0)


@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
def test_stacks_by_name_and_passes_the_env_checker():
    env = apply_wrappers(sparsegym.make(WEBSHOP), ["InstructionSearch"])
    assert isinstance(env, InstructionSearch)
    check_env(env, skip_render_check=True)
    a, b = (env.reset(seed=5)[1]["admissible_actions"] for _ in range(2))
    assert a == b


def test_the_default_strip_is_webshops_price_clause():
    import inspect

    from sparsegym.envs.webshop.data import PRICE_CLAUSE

    assert inspect.signature(InstructionSearch).parameters["strip"].default == PRICE_CLAUSE
