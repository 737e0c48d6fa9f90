"""WebShop's reward for buying a product, computed as the original computes it.

For a goal with attributes A, options O and price limit U, and a purchase of product p with selected
options S at hidden price c:

* r_type in {0, 0.1, 0.5, 1}: start at 1; if none of (same ``query``, ``product_category`` paths sharing
  at least two "›" parts, title-noun score > 0.2) holds, 0.5; then a title-noun score below 0.1 gives
  0.1 and a score of 0 gives 0. The title-noun score is |nouns(p.title) ∩ nouns(goal title)| divided by
  the number of goal-title nouns (duplicates counted); no goal nouns gives 0.2.
* N_att: goal attributes matched by a product attribute (``token_set_ratio > 85``), or else found as
  a substring of the lowercased title, bullet points or description.
* N_opt: goal options matched (``token_set_ratio > 85``) by a selected value, after colour
  normalisation of both; unselected options do not match. Human goals' options are strings; synthetic
  goals' are ``(name, value)`` pairs, normalised by whole elements and scored as their ``str()``, as
  the original scores them (:mod:`.matching`).
* r_price = 1 if c <= U.
* reward = r_type * (N_att + N_opt + r_price) / (|A| + |O| + 1); success is reward == 1.
"""

from __future__ import annotations

from typing import Any

from sparsegym.envs.webshop.data import Goal, Product
from sparsegym.envs.webshop.matching import fuzzy_match, normalize_color, title_nouns


def title_score(purchased_title: str, goal_title: str, backend: str = "auto") -> float:
    desired = title_nouns(goal_title, backend)
    if not desired:
        return 0.2
    bought = set(title_nouns(purchased_title, backend))
    return len(bought & set(desired)) / len(desired)


def category_match(a: str, b: str) -> bool:
    pa = {p.strip() for p in a.split("›")}
    pb = {p.strip() for p in b.split("›")}
    return len(pa & pb) >= 2


def type_reward(product: Product, goal: Goal, backend: str = "auto") -> dict[str, Any]:
    query_match = product.query == goal.query
    cat_match = category_match(product.product_category, goal.product_category)
    score = title_score(product.title, goal.name, backend)
    r_type = 1.0
    if not (query_match or cat_match or score > 0.2):
        r_type = 0.5
    if score < 0.1:
        r_type = 0.1
    if score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": cat_match, "title_score": score}


def attribute_matches(product: Product, goal: Goal) -> int:
    title = product.title.lower()
    bullets = " ".join(product.bullet_points).lower()
    description = product.description.lower()
    n = 0
    for attr in goal.attributes:
        if any(fuzzy_match(q, attr) for q in product.attributes):
            n += 1
        elif attr in title or attr in bullets or attr in description:
            n += 1
    return n


def option_matches(selected: list[str], goal_options: list[Any]) -> int:
    """How many goal options (strings, or ``(name, value)`` pairs) some selected value matches."""
    chosen = [normalize_color(s) for s in selected]
    n = 0
    for option in goal_options:
        want = normalize_color(option)
        if any(fuzzy_match(c, want) for c in chosen):
            n += 1
    return n


def get_reward(product: Product, goal: Goal, price: float, price_upper: float,
               selected_options: dict[str, str], backend: str = "auto") -> tuple[float, dict[str, Any]]:
    """``(reward, details)`` for buying ``product`` with ``selected_options`` at ``price``."""
    t = type_reward(product, goal, backend)
    n_att = attribute_matches(product, goal)
    n_opt = option_matches(list(selected_options.values()), goal.goal_options)
    r_price = 1.0 if price <= price_upper else 0.0
    denom = len(goal.attributes) + len(goal.goal_options) + 1
    reward = t["r_type"] * (n_att + n_opt + r_price) / denom
    details = {
        **t,
        "r_att": n_att / len(goal.attributes) if goal.attributes else None,
        "r_option": n_opt / len(goal.goal_options) if goal.goal_options else None,
        "r_price": r_price,
        "w_att": len(goal.attributes) / denom, "w_option": len(goal.goal_options) / denom, "w_price": 1 / denom,
    }
    return float(reward), details
