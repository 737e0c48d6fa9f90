"""A scripted WebShop agent: search the instruction, open the best-matching result, choose the options
the instruction asks for, buy.

It reads only what any agent sees (the observation and ``info``), in the ``text`` observation mode:

1. on the search page, ``search[<the instruction without its price clause>]``;
2. on a results page, the product whose title shares the most words with the instruction, among those
   whose price tag is under the instruction's limit when it has one (ties: the higher-ranked);
3. on the item page, for each option group, the value that best matches the instruction (a fuzzy
   token-set score of at least 86, as WebShop's own matching rule), each clicked once;
4. ``click[buy now]``.

It is the "rule" baseline of the WebShop paper (search the instruction, buy the first result) made a
little smarter by steps 2 and 3.
"""

from __future__ import annotations

import re
from typing import Any

from sparsegym.envs.webshop.data import PRICE_CLAUSE
from sparsegym.envs.webshop.matching import _tokens, token_set_ratio

_PRICE = re.compile(PRICE_CLAUSE)
_STANDARD = {"back to search", "< prev", "next >", "description", "features", "reviews", "attributes", "buy now"}
_STOP = frozenset("i a an the and or of for with to in on is am are that need want looking find me buy it my".split())


def _words(text: str) -> set[str]:
    return {t for t in _tokens(text) if t not in _STOP}


def _price(tag: str) -> float:
    nums = [float(x) for x in re.findall(r"[0-9]+(?:\.[0-9]+)?", tag)]
    return min(nums) if nums else float("inf")


class WebShopScriptedAgent:
    """The scripted WebShop baseline (module docstring); ``WebShopScriptedAgent(env)``."""

    def __init__(self, env: Any = None, **_: Any):
        self._clicked: set[str] = set()
        self._searched = False

    def reset(self, seed: int | None = None) -> None:
        self._clicked, self._searched = set(), False

    def act(self, observation: str, info: dict[str, Any]) -> str:
        instruction = str(info.get("instruction", ""))
        m = _PRICE.search(instruction)
        limit = float(m.group(1)) if m else float("inf")
        query = _PRICE.sub("", instruction)
        page = info.get("page")
        segs = [s.strip() for s in observation.split(" [SEP] ")]
        clickable = {a[6:-1] for a in info.get("admissible_actions", []) if a.startswith("click[")}
        if page == "search":
            self._searched = True
            return f"search[{query}]"
        if page == "results":
            return self._pick_result(segs, clickable, query, limit)
        if page == "item":
            choice = self._pick_option(segs, clickable, query)
            return f"click[{choice}]" if choice else "click[buy now]"
        return "click[< prev]"  # a sub-page: go back to the item

    def _pick_result(self, segs: list[str], clickable: set[str], query: str, limit: float) -> str:
        want = _words(query)
        best, best_score = None, -1.0
        for i, seg in enumerate(segs):
            if seg.lower() in clickable and seg.lower() not in _STANDARD and i + 2 < len(segs):
                title, tag = segs[i + 1], segs[i + 2]
                score = len(want & _words(title)) + (0.5 if _price(tag) <= limit else 0.0)
                if score > best_score:
                    best, best_score = seg.lower(), score
        if best is None:  # nothing found: start over (the episode's step limit ends a hopeless search)
            return "click[back to search]"
        return f"click[{best}]"

    def _pick_option(self, segs: list[str], clickable: set[str], query: str) -> str | None:
        values = clickable - _STANDARD
        groups: list[list[str]] = []
        for seg in segs:
            low = seg.lower()
            if low in values:
                if groups:
                    groups[-1].append(low)
            elif groups and groups[-1] and low.startswith("price:"):
                break
            elif low not in _STANDARD and not low.startswith("instruction"):
                groups.append([])
        for group in groups:
            scored = [(token_set_ratio(v, query), v) for v in group]
            if not scored:
                continue
            score, value = max(scored)
            if score > 85 and value not in self._clicked:
                self._clicked.add(value)
                return value
        return None
