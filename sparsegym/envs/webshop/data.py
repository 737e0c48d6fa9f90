"""WebShop's data in the original's JSON schemas: products, instructions, goals and their splits.

Files (the names the original uses; point ``WEBSHOP_DATA`` or ``data_dir=`` at a folder holding them):

* ``items_shuffle.json`` (or ``items_shuffle_1000.json``): a JSON list of products with ``asin``,
  ``name``, ``category``, ``query``, ``product_category`` ("A › B › C"), ``full_description``,
  ``small_description`` (bullets: a list or a string), ``images``, ``pricing`` ("$12.99" or
  "$10.99 - $15.99") and ``customization_options`` (name -> list of ``{value, image}``, or null).
* ``items_ins_v2.json`` (or ``items_ins_v2_1000.json``): asin -> ``{attributes, instruction,
  instruction_attributes}``; the products' attributes and the synthetic instructions.
* ``items_human_ins.json`` (optional): asin -> list of ``{instruction, instruction_attributes,
  instruction_options, ...}``; the human-written instructions.

Loading follows the original: products in file order, de-duplicated by asin, skipping asin "nan" and
asins longer than 10 characters; ``query`` lowercased and stripped of surrounding spaces; option
names lowercased, values stripped, lowercased and with "/" turned into " | " (an option group that is
null is left out); attributes from ``items_ins_v2`` (``["DUMMY_ATTR"]`` when absent); reviews empty and
rating "N.A.". Goals are the human instructions (those with attributes), or, with
``human_goals=False``, one synthetic goal per combination of a product's options; then shuffled with
``random.Random(233)`` as the original does, so goal ``i`` is the original's goal ``i``. Splits:
test = goals 0-499, dev = 500-1499, train = 1500 onwards.

Prices: a product's hidden price is its single price, a draw in its price range, or 100 when it has
none. The original draws range prices and each goal's price limit once at load with an unseeded RNG;
here both are drawn per episode from the env's RNG (see :func:`hidden_price` and
:func:`price_upper`), so a seeded reset fixes them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError, SparseGymError

SPLITS = {"test": (0, 500), "dev": (500, 1500), "train": (1500, None)}
GOAL_SHUFFLE_SEED = 233
PRODUCT_FILES = ("items_shuffle.json", "items_shuffle_1000.json")
INSTRUCTION_FILES = ("items_ins_v2.json", "items_ins_v2_1000.json")
HUMAN_FILE = "items_human_ins.json"


class WebShopDataError(SparseGymError, ValueError):
    """A WebShop data file that is missing or does not follow the original's schema."""


@dataclass
class Product:
    """A product as the env shows and scores it (the original's cleaned product)."""

    asin: str
    title: str
    category: str
    query: str
    product_category: str
    description: str
    bullet_points: list[str]
    pricing: list[float]
    options: dict[str, list[str]]
    attributes: list[str]
    main_image: str = ""
    reviews: list[Any] = field(default_factory=list)
    rating: str = "N.A."

    @property
    def price_tag(self) -> str:
        """``$12.99``, ``$10.99 to $15.99``, or ``$100.0`` when the product has no price."""
        if not self.pricing:
            return "$100.0"
        if len(self.pricing) == 1:
            return f"${self.pricing[0]}"
        return f"${self.pricing[0]} to ${self.pricing[1]}"

    def search_text(self) -> str:
        """What the search index holds for the product: title, description, first bullet, options."""
        opts = ", and ".join(f"{name}: {', '.join(values)}" for name, values in self.options.items())
        first = self.bullet_points[0] if self.bullet_points else ""
        return " ".join(p for p in (self.title, self.description, first, opts) if p).lower()


@dataclass
class Goal:
    """An instruction to buy a product (the original's goal dict)."""

    asin: str
    category: str
    query: str
    name: str
    product_category: str
    instruction: str
    attributes: list[str]
    #: Human goals: option value strings. Synthetic goals: ``(name, value)`` pairs, in option-name
    #: order, which the reward compares as pairs (the original passes ``goal_options.items()``).
    goal_options: list[Any]
    weight: float = 1.0
    synthetic: bool = False
    option_pairs: list[tuple[str, str]] = field(default_factory=list)


def _need(obj: dict, key: str, where: str) -> Any:
    if key not in obj:
        raise WebShopDataError(f"{where}: missing field {key!r}")
    return obj[key]


def parse_pricing(pricing: Any) -> list[float]:
    """``"$10.99 - $15.99"`` -> ``[10.99, 15.99]`` (split on "$", keep digits and dots, first two).

    >>> parse_pricing("$10.99 - $15.99"), parse_pricing("$7"), parse_pricing(None)
    ([10.99, 15.99], [7.0], [])
    """
    if not pricing:
        return []
    if isinstance(pricing, (int, float)):
        return [float(pricing)]
    values = []
    for part in str(pricing).split("$")[1:]:
        digits = re.sub(r"[^0-9.]", "", part)
        if digits and digits != ".":
            try:
                values.append(float(digits))
            except ValueError:
                continue
    return values[:2]


def clean_product(raw: dict[str, Any], ins: dict[str, Any] | None, where: str) -> Product:
    asin = str(_need(raw, "asin", where))
    bullets = raw.get("small_description") or []
    if isinstance(bullets, str):
        bullets = [bullets]
    options: dict[str, list[str]] = {}
    for name, values in (raw.get("customization_options") or {}).items():
        if values is None:  # the original skips a null option group
            continue
        if not isinstance(values, list):
            raise WebShopDataError(f"{where} (asin {asin}): customization_options[{name!r}] must be a list")
        options[str(name).lower()] = [str(v.get("value", "") if isinstance(v, dict) else v).strip().replace("/", " | ").lower()
                                      for v in values]
    images = raw.get("images") or [""]
    attrs = list((ins or {}).get("attributes") or []) or ["DUMMY_ATTR"]
    return Product(
        asin=asin, title=str(_need(raw, "name", where)), category=str(raw.get("category", "")),
        query=str(raw.get("query", "")).lower().strip(), product_category=str(raw.get("product_category", "")),
        description=str(raw.get("full_description") or ""), bullet_points=[str(b) for b in bullets],
        pricing=parse_pricing(raw.get("pricing")), options=options, attributes=attrs,
        main_image=str(images[0] if images else ""),
    )


def _read_json(path: Path) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise WebShopDataError(f"{path}: not valid JSON ({exc})") from exc


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


@dataclass
class WebShopData:
    products: dict[str, Product]
    goals: list[Goal]
    source: str

    def split(self, name: str) -> list[Goal]:
        if name not in SPLITS:
            raise ConfigError(f"unknown WebShop split {name!r}; use one of {list(SPLITS)}")
        lo, hi = SPLITS[name]
        return self.goals[lo:hi]


def load_data(folder: str | Path, human_goals: bool = True) -> WebShopData:
    """Load products and goals from ``folder`` in the original's file formats (module docstring)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise WebShopDataError(f"WebShop data folder {str(folder)!r} does not exist")
    prod_path = _first(folder, PRODUCT_FILES)
    ins_path = _first(folder, INSTRUCTION_FILES)
    if prod_path is None or ins_path is None:
        raise WebShopDataError(
            f"{folder}: needs {PRODUCT_FILES[0]} (or {PRODUCT_FILES[1]}) and {INSTRUCTION_FILES[0]} (or "
            f"{INSTRUCTION_FILES[1]}), and for human goals {HUMAN_FILE}: the files of the original WebShop's "
            "data download (setup.sh), in one folder"
        )
    raw_products = _read_json(prod_path)
    if not isinstance(raw_products, list):
        raise WebShopDataError(f"{prod_path}: expected a JSON list of products")
    all_ins = _read_json(ins_path)
    if not isinstance(all_ins, dict):
        raise WebShopDataError(f"{ins_path}: expected a JSON object mapping asin -> instruction record")
    products: dict[str, Product] = {}
    for i, raw in enumerate(raw_products):
        where = f"{prod_path.name}[{i}]"
        if not isinstance(raw, dict):
            raise WebShopDataError(f"{where}: expected an object")
        asin = str(_need(raw, "asin", where))
        if asin == "nan" or len(asin) > 10 or asin in products:
            continue
        products[asin] = clean_product(raw, all_ins.get(asin), where)

    goals: list[Goal] = []
    if human_goals:
        human_path = folder / HUMAN_FILE
        if not human_path.is_file():
            raise WebShopDataError(f"{folder}: human goals need {HUMAN_FILE} (or pass human_goals=False)")
        human = _read_json(human_path)
        for asin, product in products.items():
            for j, rec in enumerate(human.get(asin, []) or []):
                where = f"{HUMAN_FILE}[{asin}][{j}]"
                attrs = list(_need(rec, "instruction_attributes", where) or [])
                if not attrs:
                    continue
                goals.append(Goal(asin=asin, category=product.category, query=product.query, name=product.title,
                                  product_category=product.product_category,
                                  instruction=str(_need(rec, "instruction", where)).strip("."),
                                  attributes=attrs, goal_options=list(rec.get("instruction_options") or [])))
    else:
        goals = synthetic_goals(products, all_ins)
    random.Random(GOAL_SHUFFLE_SEED).shuffle(goals)
    return WebShopData(products, goals, str(folder))


def synthetic_goals(products: dict[str, Product], all_ins: dict[str, Any]) -> list[Goal]:
    """One goal per combination of a product's options, made as the original makes its synthetic goals.

    Products in load order; one with no synthetic instruction (missing or null) or no instruction
    attributes is skipped (the original asserts there are some). Option names are sorted, and the
    combinations run over the sorted names (the last name varies fastest); the instruction is the
    product's synthetic instruction as written plus ``" with name: value, and name: value"``. The goal
    options are the ``(name, value)`` pairs, compared as pairs by the reward. A goal's weight is the
    mean over its attributes of 1 / (how many synthetic goals have that attribute).
    """
    counts: Counter[str] = Counter()
    goals = []
    for asin, product in products.items():
        rec = all_ins.get(asin) or {}
        attrs = list(rec.get("instruction_attributes") or [])
        if rec.get("instruction") is None or not attrs:
            continue
        names = sorted(product.options)
        for combo in itertools.product(*(product.options[n] for n in names)):
            pairs = list(zip(names, combo))
            text = str(rec["instruction"])
            if pairs:
                text += " with " + ", and ".join(f"{n}: {v}" for n, v in pairs)
            goals.append(Goal(asin=asin, category=product.category, query=product.query, name=product.title,
                              product_category=product.product_category, instruction=text, attributes=attrs,
                              goal_options=list(pairs), synthetic=True, option_pairs=pairs))
            counts.update(attrs)
    for goal in goals:
        goal.weight = sum(1.0 / counts[a] for a in goal.attributes) / len(goal.attributes)
    return goals


def _unit(episode_key: int, asin: str) -> float:
    digest = hashlib.blake2b(f"{episode_key}:{asin}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def hidden_price(product: Product, episode_key: int) -> float:
    """The product's price in an episode: its price, a uniform draw in its range, or 100."""
    if not product.pricing:
        return 100.0
    if len(product.pricing) == 1:
        return product.pricing[0]
    lo, hi = product.pricing
    return lo + (hi - lo) * _unit(episode_key, product.asin)


def price_upper(price: float, rng: Any) -> float:
    """The goal's price limit, as the original draws it: the first four of 10, 20, ..., 990 above the
    price, two of them sampled, the larger kept; 1e6 (no limit) when fewer than two exist."""
    above = [p for p in range(10, 1000, 10) if p > price][:4]
    if len(above) < 2:
        return 1e6
    picks = rng.choice(len(above), size=2, replace=False)
    return float(max(above[int(i)] for i in picks))


#: A regular expression for the price clause :func:`instruction_text` ends an instruction with (group 1: the limit).
PRICE_CLAUSE = r",? and price lower than ([0-9.]+) dollars\s*$"


def instruction_text(goal: Goal, upper: float) -> str:
    """The instruction the agent reads: the goal's text plus the price clause (none without a limit)."""
    if upper >= 1e6:
        return goal.instruction
    return f"{goal.instruction}, and price lower than {upper:.2f} dollars"
