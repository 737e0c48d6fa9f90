"""WebShop: matching rules, the reward against hand-computed cases, the page graph, real-format data,
determinism, and the scripted agent's score."""

from __future__ import annotations

import json
import random
import sys

import gymnasium
import numpy as np
import pytest

from sparsegym.envs.webshop.data import Goal, Product, WebShopDataError, load_data, parse_pricing, price_upper
from sparsegym.envs.webshop.matching import normalize_color, title_nouns, token_set_ratio
from sparsegym.envs.webshop.reward import get_reward, type_reward

# -- matching and reward (no search library needed) ------------------------------------------------------

def test_fuzzy_matching_rule():
    assert token_set_ratio("essential oils", "essential oil") > 85
    assert token_set_ratio("cool powder snow", "powder snow") == 100
    assert token_set_ratio("Long-Lasting!", "long lasting") == 100  # punctuation and case are ignored
    assert token_set_ratio("red", "blue") < 50
    assert token_set_ratio("", "x") == 0


def test_colour_normalisation():
    assert normalize_color("violet lavender") == "lavender"
    assert normalize_color("navy blue") == "blue"  # the first colour word in alphabetical order
    assert normalize_color("32w x 32l") == "32w x 32l"


def _product(**kw):
    base = dict(asin="B0TEST0001", title="Acme Green Tea Bags", category="grocery", query="green tea",
                product_category="Grocery › Tea › Green Tea", description="organic green tea from japan",
                bullet_points=["Caffeine free."], pricing=[12.0], options={"flavor": ["mint", "lemon"]},
                attributes=["organic", "caffeine free", "non gmo"])
    base.update(kw)
    return Product(**base)


def _goal(**kw):
    base = dict(asin="B0TEST0001", category="grocery", query="green tea", name="Acme Green Tea Bags",
                product_category="Grocery › Tea › Green Tea", instruction="i need organic green tea",
                attributes=["organic"], goal_options=["mint"])
    base.update(kw)
    return Goal(**base)


def test_reward_is_one_for_the_goal_product_with_its_options():
    r, d = get_reward(_product(), _goal(), price=12.0, price_upper=20.0, selected_options={"flavor": "mint"},
                      backend="fallback")
    assert r == 1.0 and d["r_type"] == 1.0 and d["r_att"] == 1.0 and d["r_option"] == 1.0 and d["r_price"] == 1.0


def test_reward_two_thirds_when_the_option_is_not_chosen():
    r, d = get_reward(_product(), _goal(), 12.0, 20.0, {}, backend="fallback")
    assert r == pytest.approx(2 / 3) and d["r_option"] == 0.0


def test_reward_four_sevenths():
    # |A| = 3 (two match: one by attribute list, one by the description), |O| = 3 (one matches), price ok.
    goal = _goal(attributes=["organic", "from japan", "decaf blend"], goal_options=["mint", "16 ounce", "pack of 6"])
    r, d = get_reward(_product(), goal, 12.0, 20.0, {"flavor": "mint"}, backend="fallback")
    assert r == pytest.approx(4 / 7)
    assert d["r_att"] == pytest.approx(2 / 3) and d["r_option"] == pytest.approx(1 / 3)


def test_reward_with_type_half():
    # another query and category, one noun of six shared: title score 1/6 -> r_type 0.5; 4 of 7 -> 0.2857
    goal = _goal(name="Kettle Teapot Infuser Strainer Mug Bags", query="teapot", product_category="Kitchen › Teapots",
                 attributes=["organic", "from japan", "decaf blend"], goal_options=["mint", "16 ounce", "pack of 6"])
    t = type_reward(_product(), goal, backend="fallback")
    assert t["title_score"] == pytest.approx(1 / 6) and not t["query_match"] and not t["category_match"]
    r, _ = get_reward(_product(), goal, 12.0, 20.0, {"flavor": "mint"}, backend="fallback")
    assert r == pytest.approx(0.2857, abs=1e-4)


def test_reward_zero_without_a_shared_title_noun_and_price_rule():
    goal = _goal(name="Wireless Earbuds", query="earbuds", product_category="Electronics › Audio")
    assert get_reward(_product(), goal, 12.0, 20.0, {"flavor": "mint"}, backend="fallback")[0] == 0.0
    r, d = get_reward(_product(), _goal(), 25.0, 20.0, {"flavor": "mint"}, backend="fallback")
    assert d["r_price"] == 0.0 and r == pytest.approx(2 / 3)


def test_no_goal_options_gives_r_option_none():
    _, d = get_reward(_product(), _goal(goal_options=[]), 12.0, 20.0, {}, backend="fallback")
    assert d["r_option"] is None


def test_title_nouns_fallback_and_backend_errors():
    assert title_nouns("Pack of 2 Organic Green Tea Bags, 100 Count", backend="fallback") == \
        ["organic", "green", "tea", "bags"]
    with pytest.raises(ValueError, match="backend must be"):
        title_nouns("x", backend="nltk")


def test_pricing_and_price_limit_rules():
    assert parse_pricing("$10.99 - $15.99") == [10.99, 15.99]
    assert parse_pricing("$1,299.00") == [1299.0]
    rng = np.random.default_rng(0)
    for price in (3.0, 12.5, 55.0, 974.0):
        upper = price_upper(price, rng)
        above = [p for p in range(10, 1000, 10) if p > price][:4]
        assert upper in above[1:] and upper > price  # the larger of two distinct draws: never the first
    assert price_upper(985.0, rng) == 1e6  # fewer than two steps above: no limit


# -- the env (needs bm25s) -------------------------------------------------------------------------------

bm25s = pytest.importorskip("bm25s")


@pytest.fixture(scope="module")
def env():
    e = gymnasium.make("sparsegym/WebShop-v1")
    yield e
    e.close()


def test_page_graph(env):
    obs, info = env.reset(seed=0)
    assert obs.startswith("WebShop [SEP] Instruction: [SEP] ") and obs.endswith("[SEP] Search")
    assert info["admissible_actions"] == ["search[<query>]"] and info["page"] == "search"
    obs, r, term, trunc, info = env.step("search[green tea organic]")
    assert info["page"] == "results" and "Page 1 (Total results: 50)" in obs and "< Prev" not in obs
    clicks = info["admissible_actions"]
    assert clicks[:2] == ["click[back to search]", "click[next >]"] and len(clicks) == 12
    obs, *_, info = env.step("click[next >]")
    assert "Page 2" in obs and "click[< prev]" in info["admissible_actions"]
    obs, *_, info = env.step("click[< prev]")
    assert "Page 1" in obs
    asin = info["admissible_actions"][2][6:-1]
    obs, *_, info = env.step(f"click[{asin}]")
    assert info["page"] == "item" and obs.endswith("Buy Now") and "Rating: N.A." in obs
    obs, *_, info = env.step("click[features]")
    assert info["page"] == "sub" and info["admissible_actions"] == ["click[back to search]", "click[< prev]"]
    obs, *_, info = env.step("click[< prev]")
    assert info["page"] == "item"
    obs, *_, info = env.step("click[< prev]")
    assert info["page"] == "results"
    obs, *_, info = env.step("click[back to search]")
    assert info["page"] == "search"


def test_invalid_actions_change_nothing_and_say_why(env):
    obs0, _ = env.reset(seed=1)
    obs, r, term, trunc, info = env.step("click[buy now]")
    assert obs == obs0 and r == 0 and not term and "not clickable" in info["action_error"]
    obs, *_, info = env.step("dance")
    assert obs == obs0 and "not an action" in info["action_error"]
    env.step("search[tea]")
    obs, *_, info = env.step("search[coffee]")
    assert "no search bar" in info["action_error"]


def test_buying_ends_the_episode_with_reward_details(env):
    env.reset(seed=2)
    _, _, _, _, info = env.step("search[shirt]")
    asin = info["admissible_actions"][2][6:-1]
    env.step(f"click[{asin}]")
    obs, r, term, trunc, info = env.step("click[buy now]")
    assert term and not trunc and 0.0 <= r <= 1.0
    assert info["purchased_asin"].lower() == asin and info["reward_components"] == {"extrinsic": r}
    assert set(info["reward_details"]) >= {"r_type", "r_att", "r_option", "r_price", "price"}
    assert info["success"] == (r == 1.0)


def test_buying_the_goal_product_with_its_options_under_the_limit_gives_one():
    e = gymnasium.make("sparsegym/WebShop-v1").unwrapped
    rng = random.Random(0)
    for _ in range(25):
        e.reset(seed=rng.randrange(10**6))
        goal = e.goal
        e.results, e.page, e.page_num = [goal.asin], "results", 1
        e.step(f"click[{goal.asin.lower()}]")
        for _name, value in goal.option_pairs:
            e.step(f"click[{value}]")
        obs, r, term, _, info = e.step("click[buy now]")
        assert term and r == 1.0 and info["success"], (goal.instruction, info["reward_details"])


def test_rewards_stay_in_unit_interval_for_random_purchases():
    e = gymnasium.make("sparsegym/WebShop-v1").unwrapped
    rng = np.random.default_rng(0)
    for seed in range(40):
        e.reset(seed=seed)
        e.results = [e.asins[int(i)] for i in rng.choice(len(e.asins), size=10, replace=False)]
        e.page, e.page_num = "results", 1
        e.step(f"click[{e.results[0].lower()}]")
        _, r, term, _, _ = e.step("click[buy now]")
        assert term and 0.0 <= r <= 1.0


def test_seeded_resets_are_deterministic():
    a, b = gymnasium.make("sparsegym/WebShop-v1"), gymnasium.make("sparsegym/WebShop-v1")
    assert a.reset(seed=5)[0] == b.reset(seed=5)[0]
    assert a.reset(seed=6)[0] != b.reset(seed=5)[0]
    a.reset(seed=5)
    assert a.step("search[tea]")[0] == b.step("search[tea]")[0]
    _, info = a.reset(seed=0, options={"goal": 7})
    assert info["goal_index"] == 7


def test_html_mode():
    e = gymnasium.make("sparsegym/WebShop-v1", observation_mode="html")
    obs, _ = e.reset(seed=0)
    assert obs.startswith("<html>") and '<input type="text" name="search_query">' in obs
    obs, *_ = e.step("search[tea]")
    assert '<a class="product-link">' in obs and '<button class="btn">Next &gt;</button>' in obs


def test_splits_are_the_originals(env):
    u = env.unwrapped
    dev = gymnasium.make("sparsegym/WebShop-Dev-v1").unwrapped
    assert len(u.goals) == 500 and len(dev.goals) == 1000
    assert u.data.goals[:500] == u.goals and u.data.goals[500:1500] == dev.goals


def test_scripted_agent_scores_and_random_does_not():
    from sparsegym.baselines import RandomAgent
    from sparsegym.baselines.webshop_agent import WebShopScriptedAgent

    def play(agent, n=40):
        e = gymnasium.make("sparsegym/WebShop-v1")
        rewards = []
        for seed in range(n):
            agent.reset(seed)
            obs, info = e.reset(seed=seed)
            r = 0.0
            while True:
                obs, r, term, trunc, info = e.step(agent.act(obs, info))
                if term or trunc:
                    break
            rewards.append(r if term else 0.0)
        return np.mean(rewards), np.mean([x == 1.0 for x in rewards])

    score, sr = play(WebShopScriptedAgent())
    assert score > 0.85 and sr > 0.7
    r_score, r_sr = play(RandomAgent(gymnasium.make("sparsegym/WebShop-v1")))
    assert r_sr == 0.0 and r_score < 0.1


def test_missing_bm25s_names_the_extra(monkeypatch, tmp_path):
    from sparsegym.envs.webshop import env as ws_env
    from sparsegym.errors import MissingDependencyError

    monkeypatch.setattr(ws_env, "_LOADED", {})
    monkeypatch.setitem(sys.modules, "bm25s", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "sparsegym\[webshop\]"'):
        ws_env.WebShopEnv(n_products=50, catalog_seed=1)


# -- real data, in the original's formats ------------------------------------------------------------------

def _write_real(folder, n=12):
    items, ins, human = [], {}, {}
    for i in range(n):
        asin = f"B0REAL{i:04d}"
        items.append({"asin": asin, "name": f"Real Brand Ceramic Mug number {i}", "category": "kitchen",
                      "query": "Coffee Mug", "product_category": "Home › Kitchen › Mugs",
                      "full_description": "A mug.", "small_description": "Dishwasher safe.",
                      "images": ["img.jpg"], "pricing": "$8.00 - $12.00" if i % 2 else "$9.50",
                      "customization_options": {"Color": [{"value": "Navy/Blue", "image": None},
                                                          {"value": "Red", "image": None}]}})
        ins[asin] = {"attributes": ["dishwasher safe"], "instruction": f"i want mug {i}",
                     "instruction_attributes": ["dishwasher safe"]}
        human[asin] = [{"asin": asin, "instruction": f"i need a dishwasher safe mug number {i}.",
                        "instruction_attributes": ["dishwasher safe"], "instruction_options": ["red"]},
                       {"asin": asin, "instruction": "skipped: no attributes", "instruction_attributes": [],
                        "instruction_options": []}]
    items.append(dict(items[0]))               # a duplicate asin: skipped
    items.append({**items[1], "asin": "nan"})  # asin "nan": skipped
    (folder / "items_shuffle.json").write_text(json.dumps(items))
    (folder / "items_ins_v2.json").write_text(json.dumps(ins))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    return items


def test_real_data_loads_with_the_original_goal_order(tmp_path):
    _write_real(tmp_path)
    data = load_data(tmp_path)
    assert len(data.products) == 12 and len(data.goals) == 12
    p = data.products["B0REAL0001"]
    assert p.options == {"color": ["navy | blue", "red"]} and p.price_tag == "$8.0 to $12.0"
    assert p.bullet_points == ["Dishwasher safe."] and p.query == "coffee mug"
    expected = [f"i need a dishwasher safe mug number {i}" for i in range(12)]
    random.Random(233).shuffle(expected)
    assert [g.instruction for g in data.goals] == expected


def test_real_data_env(tmp_path, monkeypatch):
    _write_real(tmp_path)
    monkeypatch.setenv("WEBSHOP_DATA", str(tmp_path))
    e = gymnasium.make("sparsegym/WebShop-Real-v1")
    obs, info = e.reset(seed=0)
    assert "dishwasher safe mug number" in obs
    obs, *_, info = e.step("search[ceramic mug]")
    assert "Total results: 12" in obs
    synthetic = gymnasium.make("sparsegym/WebShop-Real-v1", human_goals=False).unwrapped
    assert synthetic.goals[0].synthetic and " with color: " in synthetic.goals[0].instruction


def test_real_data_errors_name_the_file_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    with pytest.raises(WebShopDataError, match="set WEBSHOP_DATA"):
        gymnasium.make("sparsegym/WebShop-Real-v1")
    with pytest.raises(WebShopDataError, match="needs items_shuffle.json"):
        load_data(tmp_path)
    _write_real(tmp_path)
    (tmp_path / "items_ins_v2.json").write_text("{not json")
    with pytest.raises(WebShopDataError, match="items_ins_v2.json: not valid JSON"):
        load_data(tmp_path)
    _write_real(tmp_path)
    items = json.loads((tmp_path / "items_shuffle.json").read_text())
    del items[3]["name"]
    (tmp_path / "items_shuffle.json").write_text(json.dumps(items))
    with pytest.raises(WebShopDataError, match=r"items_shuffle.json\[3\]: missing field 'name'"):
        load_data(tmp_path)
