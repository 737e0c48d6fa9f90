"""WebShop's reward and goals where they must follow the original exactly (hand-made cases).

The expected values are the original's behaviour (princeton-nlp/WebShop ``engine/goal.py``,
``engine/normalize.py``, ``engine/engine.py``, with thefuzz), checked on thousands of purchases by
``benchmarks/webshop_reward_parity.py``; these tests pin each rule without the original's code.
"""

from __future__ import annotations

import json
import sys

import pytest

from sparsegym.envs.webshop.data import Goal, Product, load_data
from sparsegym.envs.webshop.matching import COLORS, normalize_color, token_set_ratio
from sparsegym.envs.webshop.reward import get_reward, option_matches
from sparsegym.errors import MissingDependencyError


def _product(**kw):
    base = dict(asin="B0FID00001", title="Acme Protein Bar", category="grocery", query="snack bars",
                product_category="Grocery › Snacks › Bars", description="a protein bar",
                bullet_points=["High protein."], pricing=[5.0], options={}, attributes=["high protein"])
    base.update(kw)
    return Product(**base)


def _goal(**kw):
    base = dict(asin="B0FID00001", category="grocery", query="snack bars", name="Acme Protein Bar",
                product_category="Grocery › Snacks › Bars", instruction="i need a protein bar",
                attributes=["high protein"], goal_options=[])
    base.update(kw)
    return Goal(**base)


# -- colour words: the original's list and its two ways of "containing" ---------------------------------

def test_colour_list_is_the_originals():
    assert len(COLORS) == 102 and COLORS[0] == "alabaster" and COLORS[-1] == "yellow"
    assert {"dark", "light", "ash", "camo", "christmas", "skull", "royal"} <= set(COLORS)
    assert not {"amber", "berry", "cherry", "smoke", "snow"} & set(COLORS)  # in our old list, not the original's


def test_dark_grey_and_light_grey_follow_the_list_order():
    # the list is alphabetical and holds "dark" and "light": "dark" comes before "grey", "light" after it
    assert normalize_color("dark grey") == "dark"
    assert normalize_color("light grey") == "grey"
    assert normalize_color("light pink") == "light"
    assert normalize_color("grey") == "grey"
    # hence "light grey" matches "grey" but "dark grey" does not; "dark grey" matches "dark green" ("dark"),
    # not "dark blue" ("blue")
    assert option_matches(["light grey"], ["grey"]) == 1
    assert option_matches(["dark grey"], ["grey"]) == 0
    assert option_matches(["dark grey"], ["light grey"]) == 0
    assert option_matches(["dark grey"], ["dark green"]) == 1
    assert option_matches(["dark grey"], ["dark blue"]) == 0


def test_strings_contain_colours_as_substrings():
    assert normalize_color("navy blue") == "blue"   # "blue" comes before "navy"
    assert normalize_color("blueberry") == "blue"   # a human goal's string option: substring, as the original
    assert option_matches(["blueberry"], ["sky blue"]) == 1


def test_pairs_contain_colours_as_whole_elements():
    # synthetic goals' options are (name, value) pairs: a colour word must be a whole element
    assert normalize_color(("flavor", "blueberry")) == ("flavor", "blueberry")
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")
    assert normalize_color(("color", "blue")) == "blue"
    # so a "blueberry" flavour is not the colour "blue": buying "blue" does not satisfy it ...
    assert option_matches(["blue"], [("flavor", "blueberry")]) == 0
    # ... and buying "blueberry" (normalised to "blue") does not satisfy it either: "blue" is scored
    # against the pair's text "('flavor', 'blueberry')", which has no token "blue"
    assert option_matches(["blueberry"], [("flavor", "blueberry")]) == 0
    assert option_matches(["mint"], [("flavor", "mint")]) == 1
    assert option_matches(["navy blue"], [("color", "navy blue")]) == 1  # "blue" is a token of the pair


def test_synthetic_goal_reward_uses_pairs():
    product = _product(options={"flavor": ["blueberry", "mint"]})
    goal = _goal(goal_options=[("flavor", "blueberry")], synthetic=True, option_pairs=[("flavor", "blueberry")])
    r, d = get_reward(product, goal, 5.0, 10.0, {"flavor": "blueberry"}, backend="fallback")
    assert d["r_option"] == 0.0 and r == pytest.approx(2 / 3)


# -- tokenisation: thefuzz's, not ours ------------------------------------------------------------------

def test_underscores_split_tokens():
    assert token_set_ratio("dummy_attr", "dummy attr") == 100
    assert token_set_ratio("lemon_lime", "lime") == 100


def test_non_ascii_punctuation_separates_and_latin1_letters_vanish():
    # characters 128-255 are dropped (é -> nothing), others that are not letters or digits become spaces
    assert token_set_ratio("red\u2013orange", "orange") == 100         # en dash: a separator
    assert token_set_ratio("non\u2011slip", "slip") == 100              # non-breaking hyphen: a separator
    assert token_set_ratio("caf\u00e9 noir", "caf noir") == 100         # é dropped, not kept or turned to e
    assert token_set_ratio("caf\u00e9 noir", "cafe noir") < 100
    assert token_set_ratio("\u00e9\u00e8", "x") == 0                    # nothing left: score 0


def test_pairs_are_scored_as_their_text():
    assert token_set_ratio(("color", "blue"), "blue") == token_set_ratio("('color', 'blue')", "blue") == 100


def test_missing_thefuzz_names_the_extra(monkeypatch):
    from sparsegym.envs.webshop import matching

    matching._fuzz.cache_clear()
    matching.token_set_ratio.cache_clear()
    monkeypatch.setitem(sys.modules, "thefuzz", None)
    monkeypatch.setitem(sys.modules, "thefuzz.fuzz", None)
    try:
        with pytest.raises(MissingDependencyError, match=r'pip install "sparsegym\[webshop\]"'):
            matching.token_set_ratio("a", "b")
    finally:
        matching._fuzz.cache_clear()
        matching.token_set_ratio.cache_clear()


# -- loading and synthetic goals ------------------------------------------------------------------------

def _write(folder, customization, query="snack bars", instruction="i need a protein bar."):
    items = [{"asin": "B0FID00001", "name": "Acme Protein Bar", "category": "grocery", "query": query,
              "product_category": "Grocery › Snacks › Bars", "full_description": "a bar",
              "small_description": ["High protein."], "images": [""], "pricing": "$5.00",
              "customization_options": customization}]
    ins = {"B0FID00001": {"attributes": ["high protein"], "instruction": instruction,
                          "instruction_attributes": ["high protein"]}}
    (folder / "items_shuffle.json").write_text(json.dumps(items))
    (folder / "items_ins_v2.json").write_text(json.dumps(ins))


def test_query_is_stripped_and_lowercased(tmp_path):
    _write(tmp_path, None, query="  Snack Bars ")
    data = load_data(tmp_path, human_goals=False)
    assert data.products["B0FID00001"].query == "snack bars"
    assert data.goals[0].query == "snack bars"


def test_synthetic_goals_sort_option_names(tmp_path):
    opts = {"Size": [{"value": "12 Count"}, {"value": "24 count"}],
            "flavor": [{"value": "Mint"}, {"value": "Lemon"}],
            "style": None}  # a null group is left out
    _write(tmp_path, opts)
    goals = load_data(tmp_path, human_goals=False).goals
    assert len(goals) == 4
    # "flavor" before "size" whatever the file's order; the instruction is kept as written ("." too)
    assert sorted(g.instruction for g in goals) == sorted(
        f"i need a protein bar. with flavor: {f}, and size: {s}" for f in ("mint", "lemon") for s in ("12 count", "24 count"))
    assert all([n for n, _ in g.goal_options] == ["flavor", "size"] for g in goals)
    assert all(g.goal_options == g.option_pairs for g in goals)


def test_synthetic_goal_order_follows_sorted_names(tmp_path):
    # before the shuffle, goals run over the sorted names' combinations with the last name fastest
    from sparsegym.envs.webshop.data import synthetic_goals

    _write(tmp_path, {"size": [{"value": "s"}, {"value": "m"}], "color": [{"value": "red"}, {"value": "tan"}]})
    data = load_data(tmp_path, human_goals=False)
    raw = synthetic_goals(data.products, json.loads((tmp_path / "items_ins_v2.json").read_text()))
    assert [g.goal_options for g in raw] == [[("color", "red"), ("size", "s")], [("color", "red"), ("size", "m")],
                                             [("color", "tan"), ("size", "s")], [("color", "tan"), ("size", "m")]]


def test_synthetic_weights_count_goals_not_products(tmp_path):
    from sparsegym.envs.webshop.data import synthetic_goals

    _write(tmp_path, {"size": [{"value": "s"}, {"value": "m"}, {"value": "l"}]})
    data = load_data(tmp_path, human_goals=False)
    raw = synthetic_goals(data.products, json.loads((tmp_path / "items_ins_v2.json").read_text()))
    assert [g.weight for g in raw] == pytest.approx([1 / 3] * 3)  # "high protein" is in 3 goals
