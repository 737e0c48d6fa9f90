"""WebShop as a Gymnasium text env: search a shop, open products, choose options, buy.

The page graph, action grammar and reward follow the original WebShop (Yao et al. 2022):

* Pages: **search** (a search bar) -> **results** (10 per page of the top 50 BM25 hits, ``< Prev`` from
  page 2, ``Next >`` always) -> **item** (option values, ``Description``, ``Features``, ``Reviews``,
  ``Buy Now``) -> **sub-pages** (the description, one line per feature, no reviews). ``< Prev`` goes
  back one level (a results page goes to the page before); ``Back to Search`` starts over.
* Actions: ``search[keywords]`` on the search page; ``click[x]`` with ``x`` one of the page's
  clickables, lowercased: ``back to search``, ``< prev``, ``next >``, a product's ASIN, an option value,
  ``description``, ``features``, ``reviews``, ``buy now``. Anything else changes nothing; the reason
  is in ``info["action_error"]``. ``info["admissible_actions"]`` lists the clicks of the page (on the
  search page, the template ``search[<query>]``). As in the paper, search works only where the page has
  a search bar (the original's code accepts it anywhere).
* Observations: ``observation_mode="text"`` (default) is the page's visible text joined by
  ``" [SEP] "``, as the original's text mode (selected options are not shown, as there);
  ``"html"`` is the page as HTML.
* Reward: on ``click[buy now]`` only, then the episode ends (:mod:`.reward`); success is reward 1.
  ``info["reward_details"]`` has the parts (r_type, r_att, r_option, r_price, ...).
* Seeds: the reset seed picks the goal within the split (``options={"goal": i}`` picks goal ``i``), the
  hidden prices of range-priced products and the goal's price limit, all from the env's RNG.
* Step limit: the original has none; the registered ids truncate after 15 steps (ReAct's and
  verl-agent's budget; the original's baselines used 100: ``gymnasium.make(id, max_episode_steps=100)``).

Data: the shipped catalog (:mod:`.catalog`; ``n_products`` products from ``catalog_seed``, synthetic
goals) unless ``data_dir`` (or, for the ``-Real`` ids, ``$WEBSHOP_DATA``) names a folder with the
original's files (:mod:`.data`), which gives the real benchmark with its goal order and splits.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any

from sparsegym.envs.text_env import TextEnv
from sparsegym.envs.webshop.catalog import catalog_dir
from sparsegym.envs.webshop.data import (
    SPLITS,
    Goal,
    Product,
    WebShopData,
    WebShopDataError,
    hidden_price,
    instruction_text,
    load_data,
    price_upper,
)
from sparsegym.envs.webshop.reward import get_reward
from sparsegym.envs.webshop.search import TOP_K, SearchIndex
from sparsegym.errors import ConfigError

PAGE_SIZE = 10
SUB_PAGES = ("description", "features", "reviews", "attributes")
_ACTION = re.compile(r"^(\w+)\[(.+)\]$", re.S)
_LOADED: dict[tuple, tuple[WebShopData, SearchIndex, list[str]]] = {}


def load_shop(folder: str | Path, human_goals: bool) -> tuple[WebShopData, SearchIndex, list[str]]:
    """Data, search index and asin order for a data folder (shared by every env of a process)."""
    key = (str(Path(folder).resolve()), human_goals)
    if key not in _LOADED:
        data = load_data(folder, human_goals=human_goals)
        asins = list(data.products)
        index = SearchIndex([data.products[a].search_text() for a in asins])
        _LOADED[key] = (data, index, asins)
    return _LOADED[key]


class WebShopEnv(TextEnv):
    """WebShop (see the module docstring).

    Args:
        split: ``test`` (goals 0-499), ``dev`` (500-1499) or ``train`` (1500 on).
        source: ``catalog`` (the shipped, generated catalog) or ``real`` (the original's data files,
            from ``data_dir`` or ``$WEBSHOP_DATA``).
        data_dir: a folder with the original's files (implies ``source="real"``).
        human_goals: real data only: human instructions (default, as the paper) or synthetic goals.
        n_products, catalog_seed: the shipped catalog's size and seed.
        observation_mode: ``text`` or ``html``.
        show_attrs: add the ``attributes`` sub-page to item pages (the original's ``show_attrs``).
        nouns: title-noun backend for the reward: ``auto`` (spaCy when installed), ``spacy``, ``fallback``.
    """

    rules = (
        "You are shopping on a website for a product that matches an instruction (attributes, options and a "
        "price limit). Actions: search[your keywords] on a page with a search bar, and click[x] where x is "
        "one of the page's clickable items (a product id, an option value, description, features, reviews, "
        "< prev, next >, back to search, buy now). Buying ends the episode; the reward measures how well "
        "the product matches.")
    # The click pages list whole commands; the search page lists the form search[<query>], to fill in. Agents
    # tell the two apart per step by the placeholder (LLMAgent: a choice on click pages, a pattern to fill
    # on the search page when constrained).
    complete_actions = True
    reply_rule = ("After each observation, the actions the page accepts are listed; reply with exactly one of them, "
                  "and on the search page write your keywords in place of <query>. A reply the page cannot use is "
                  "answered with an error and costs a turn.")

    def __init__(
        self,
        split: str = "test",
        source: str = "catalog",
        data_dir: str | os.PathLike | None = None,
        human_goals: bool = True,
        n_products: int = 5000,
        catalog_seed: int = 0,
        observation_mode: str = "text",
        show_attrs: bool = False,
        nouns: str = "auto",
        render_mode: str | None = None,
        max_observation_length: int = 16384,
        strict_actions: bool = False,
    ):
        super().__init__(render_mode=render_mode, max_observation_length=max_observation_length, max_action_length=512,
                         strict_actions=strict_actions)
        if split not in SPLITS:
            raise ConfigError(f"unknown WebShop split {split!r}; use one of {list(SPLITS)}")
        if observation_mode not in ("text", "html"):
            raise ConfigError(f"observation_mode must be 'text' or 'html', got {observation_mode!r}")
        if data_dir is not None:
            source = "real"
        if source == "real":
            data_dir = data_dir or os.environ.get("WEBSHOP_DATA")
            if not data_dir:
                raise WebShopDataError(
                    "the real WebShop data is not configured: set WEBSHOP_DATA (or pass data_dir=) to a folder with "
                    "the original's items_shuffle.json, items_ins_v2.json and items_human_ins.json "
                    "(from WebShop's setup.sh download); the shipped catalog needs nothing: sparsegym/WebShop-v1"
                )
            self.data, self.index, self.asins = load_shop(data_dir, human_goals)
        elif source == "catalog":
            self.data, self.index, self.asins = load_shop(catalog_dir(n_products, catalog_seed), human_goals=False)
        else:
            raise ConfigError(f"source must be 'catalog' or 'real', got {source!r}")
        self.goals = self.data.split(split)
        if not self.goals:
            raise ConfigError(f"the {split!r} split of {self.data.source} has no goals ({len(self.data.goals)} goals in all)")
        self.split, self.source, self.observation_mode = split, source, observation_mode
        self.show_attrs, self.nouns = show_attrs, nouns
        self.goal: Goal | None = None
        self.goal_index = -1

    # -- episode -----------------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        if options and "goal" in options:
            i = int(options["goal"])
            if not 0 <= i < len(self.goals):
                raise ConfigError(f"goal index {i} is outside the {self.split!r} split (0..{len(self.goals) - 1})")
        else:
            i = int(self.np_random.integers(len(self.goals)))
        self.goal_index, self.goal = i, self.goals[i]
        self._episode_key = int(self.np_random.integers(2**62))
        goal_price = hidden_price(self.data.products[self.goal.asin], self._episode_key)
        self.price_upper = price_upper(goal_price, self.np_random)
        self.instruction = instruction_text(self.goal, self.price_upper)
        self.page, self.keywords, self.results, self.page_num = "search", "", [], 1
        self.asin: str | None = None
        self.selected: dict[str, str] = {}
        self.sub = ""
        return self._render(), self._info()

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        match = _ACTION.match(action.strip())
        error = None
        reward, done, details = 0.0, False, None
        if match is None:
            error = f"{action!r} is not an action: use search[keywords] or click[element] (see info['admissible_actions'])"
        else:
            verb, arg = match.group(1).lower(), match.group(2).strip().lower()
            if verb == "search":
                if self.page != "search":
                    error = "there is no search bar on this page: click[back to search] first"
                else:
                    self.keywords = arg
                    self.results = [self.asins[i] for i in self.index.search(arg, TOP_K)]
                    self.page, self.page_num = "results", 1
            elif verb == "click":
                if arg not in self._clickables():
                    error = f"{arg!r} is not clickable on this page; clickable: {', '.join(self._clickables()) or 'nothing'}"
                else:
                    reward, done, details = self._click(arg)
            else:
                error = f"unknown action {verb!r}: use search[keywords] or click[element]"
        info = self._info()
        info["action_error"] = error
        if done:
            info["reward_details"] = details
            info["purchased_asin"] = self.asin
            info["selected_options"] = dict(self.selected)
            info["success"] = reward == 1.0
        return self._render(), reward, done, False, info

    def _click(self, x: str) -> tuple[float, bool, dict[str, Any] | None]:
        if x == "back to search":
            self.page, self.keywords, self.results, self.page_num = "search", "", [], 1
            self.asin, self.selected, self.sub = None, {}, ""
        elif x == "next >":
            self.page_num += 1
        elif x == "< prev":
            if self.page == "results":
                self.page_num -= 1
            elif self.page == "item":
                self.page = "results"
            else:
                self.page = "item"
        elif self.page == "results":
            asin = next(a for a in self._page_asins() if a.lower() == x)
            if asin != self.asin:
                self.selected = {}
            self.asin, self.page = asin, "item"
        elif x == "buy now":
            product = self._product()
            price = hidden_price(product, self._episode_key)
            reward, details = get_reward(product, self.goal, price, self.price_upper, self.selected, self.nouns)
            details["price"] = price
            return reward, True, details
        elif x in SUB_PAGES:
            self.page, self.sub = "sub", x
        else:  # an option value
            for name, values in self._product().options.items():
                if x in values:
                    self.selected[name] = x
                    break
        return 0.0, False, None

    # -- pages -------------------------------------------------------------------------------------
    def _product(self) -> Product:
        return self.data.products[self.asin]

    def _page_asins(self) -> list[str]:
        start = (self.page_num - 1) * PAGE_SIZE
        return self.results[start:start + PAGE_SIZE]

    def _clickables(self) -> list[str]:
        if self.page == "search":
            return []
        out = ["back to search"]
        if self.page == "results":
            if self.page_num > 1:
                out.append("< prev")
            out.append("next >")
            out += [a.lower() for a in self._page_asins()]
        elif self.page == "item":
            out.append("< prev")
            for values in self._product().options.values():
                out += values
            out += ["description", "features", "reviews"] + (["attributes"] if self.show_attrs else []) + ["buy now"]
        else:
            out.append("< prev")
        return out

    def _info(self) -> dict[str, Any]:
        actions = ["search[<query>]"] if self.page == "search" else [f"click[{c}]" for c in self._clickables()]
        return {"admissible_actions": actions, "page": self.page, "instruction": self.instruction,
                "goal_index": self.goal_index, "success": False}

    def _segments(self) -> list[tuple[str, str]]:
        """The page as (kind, text) pieces: kind is text, button, link, option or heading."""
        head = [("text", "Instruction:"), ("text", self.instruction)]
        if self.page == "search":
            return [("heading", "WebShop"), *head, ("button", "Search")]
        segs = [*head, ("button", "Back to Search")]
        if self.page == "results":
            segs.append(("text", f"Page {self.page_num} (Total results: {len(self.results)})"))
            if self.page_num > 1:
                segs.append(("button", "< Prev"))
            segs.append(("button", "Next >"))
            for asin in self._page_asins():
                p = self.data.products[asin]
                segs += [("link", asin), ("text", p.title), ("text", p.price_tag)]
            return segs
        segs.append(("button", "< Prev"))
        p = self._product()
        if self.page == "item":
            for name, values in p.options.items():
                segs.append(("text", name))
                segs += [("option", v) for v in values]
            segs += [("text", p.title), ("text", f"Price: {p.price_tag}"), ("text", f"Rating: {p.rating}")]
            segs += [("button", "Description"), ("button", "Features"), ("button", "Reviews")]
            if self.show_attrs:
                segs.append(("button", "Attributes"))
            segs.append(("button", "Buy Now"))
            return segs
        if self.sub == "description":
            segs += [("text", p.description)] if p.description else []
        elif self.sub == "features":
            segs += [("text", b) for b in p.bullet_points]
        elif self.sub == "attributes":
            segs += [("text", a) for a in p.attributes]
        return segs

    def _render(self) -> str:
        segs = self._segments()
        if self.observation_mode == "text":
            return " [SEP] ".join(t for _, t in segs if t.strip())
        out = ["<html><body>"]
        for kind, text in segs:
            t = html.escape(text)
            if kind == "button":
                out.append(f'<button class="btn">{t}</button>')
            elif kind == "link":
                out.append(f'<a class="product-link">{t}</a>')
            elif kind == "option":
                checked = " checked" if text in self.selected.values() else ""
                out.append(f'<label><input type="radio" value="{t}"{checked}> {t}</label>')
            elif kind == "heading":
                out.append(f"<h1>{t}</h1>")
            else:
                out.append(f"<p>{t}</p>")
        if self.page == "search":
            out.insert(-1, '<input type="text" name="search_query">')
        out.append("</body></html>")
        return "\n".join(out)


def make_webshop(**kwargs: Any) -> WebShopEnv:
    """Factory registered for every ``sparsegym/WebShop-*`` id (kwargs: :class:`WebShopEnv`)."""
    return WebShopEnv(**kwargs)
