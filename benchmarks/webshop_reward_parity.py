"""Differential test of sparsegym's WebShop reward against the original's own code.

    python benchmarks/webshop_reward_parity.py --webshop PATH [--purchases 5000] [--products 2000]

(``--sparsegym DIR`` tests another source tree, e.g. an older commit's ``git archive``.)

``PATH`` is the original WebShop repository (princeton-nlp/WebShop): a checkout, or a bare git
directory (its files are then read with ``git show HEAD:...``). Its code is loaded from there at run
time and never copied into sparsegym. The script:

1. writes a catalog (sparsegym's generated one, ``--products`` products, made deliberately awkward:
   queries padded with spaces, option values such as "blueberry", "dark grey", "light grey",
   "café noir", "off_white", "red–orange", attributes with underscores and non-ASCII punctuation,
   a null option group, synthetic instructions ending in "."), plus a human-instruction file made from
   it, in the original's file formats;
2. loads it with the original's ``engine.load_products`` and builds goals with its ``goal.py``
   (synthetic and human), shuffled with seed 233 as the original's env does; and with sparsegym's
   ``load_data``;
3. compares the two goal lists index by index (asin, instruction, attributes, options, weight);
4. scores ``--purchases`` purchases per goal kind (the goal's product or another, random option
   choices, its hidden price against the goal's price limit) with the original's ``get_reward`` and
   with sparsegym's, and prints the agreement rate and the disagreeing cases.

Stubs (modules the original imports that play no part in the reward):

* ``flask``, ``cleantext``, ``rank_bm25``, ``pyserini`` (search and web serving; ``engine.py`` imports
  them at the top) are replaced by empty modules when not installed.
* ``spacy``: the original tags titles with ``en_core_web_sm``, a model that is not installed here. By
  default both sides get the same noun list, sparsegym's fallback tagger (``title_nouns(...,
  backend="fallback")``), fed to the original as NOUN tokens, so the rest of ``get_type_reward`` is
  compared but spaCy's tagging itself is not. ``--spacy`` uses the real spaCy model on both sides
  (it must be installed).
* ``thefuzz`` is the real package on both sides (the one installed; the original pins 0.19.0, whose
  scorer is difflib's or python-Levenshtein's). ``--original-thefuzz DIR`` gives the original another
  thefuzz (e.g. ``pip install --no-deps --target DIR thefuzz==0.19.0``), to measure what the
  version alone changes.

Exit status 0 when every goal and every purchase agrees.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ORIGINAL_FILES = ("web_agent_site/__init__.py", "web_agent_site/utils.py", "web_agent_site/engine/__init__.py",
                  "web_agent_site/engine/normalize.py", "web_agent_site/engine/goal.py",
                  "web_agent_site/engine/engine.py")

AWKWARD_COLORS = ["dark grey", "light grey", "grey", "dark blue", "light blue", "navy blue", "blueberry",
                  "rose gold", "café noir", "off_white", "red–orange", "ash blonde", "multi color", "black/white",
                  "  teal  ", "Sky Blue", "wine red", "ivory", "natural wood"]
AWKWARD_FLAVORS = ["blueberry", "blue raspberry", "lemon_lime", "crème brûlée", "orange", "chocolate mint",
                   "grape", "plain"]
AWKWARD_ATTRS = ["long_lasting", "non‑slip", "eco–friendly", "café style", "100% cotton", "DUMMY_ATTR",
                 "hand-wash only", "light weight", "dark roast"]


# ---------------------------------------------------------------------------------------------------
# The original's code, loaded from its repository


def materialise(src: Path, dest: Path) -> Path:
    """Copy (checkout) or export (bare git dir) the original's modules the reward needs into ``dest``."""
    for rel in ORIGINAL_FILES:
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if (src / rel).is_file():
            shutil.copyfile(src / rel, out)
        elif rel.endswith("__init__.py"):
            out.write_text("")
        else:
            text = subprocess.run(["git", f"--git-dir={src}", "show", f"HEAD:{rel}"], check=True,
                                  capture_output=True, text=True).stdout
            out.write_text(text)
    return dest


class _Token:
    def __init__(self, text: str):
        self.text, self.pos_ = text, "NOUN"


def _stub(name: str, **attrs) -> None:
    try:
        importlib.import_module(name)
    except ImportError:
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        sys.modules[name] = mod


def load_thefuzz_from(folder: Path):
    """``thefuzz.fuzz`` imported from ``folder``, leaving the installed thefuzz in ``sys.modules``."""
    saved = {k: v for k, v in sys.modules.items() if k == "thefuzz" or k.startswith("thefuzz.")}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(folder))
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fuzz = importlib.import_module("thefuzz.fuzz")
        assert Path(fuzz.__file__).resolve().is_relative_to(folder.resolve()), fuzz.__file__
    finally:
        sys.path.remove(str(folder))
        for k in [k for k in sys.modules if k == "thefuzz" or k.startswith("thefuzz.")]:
            del sys.modules[k]
        sys.modules.update(saved)
    return fuzz


def load_original(root: Path, real_spacy: bool):
    """Import the original's ``goal`` and ``engine`` modules from ``root`` with the stubs above."""
    from sparsegym.envs.webshop.matching import title_nouns

    if not real_spacy:
        fake = types.ModuleType("spacy")
        fake.load = lambda *_a, **_k: (lambda text: [_Token(w) for w in title_nouns(text, backend="fallback")])
        sys.modules["spacy"] = fake
    _stub("flask", render_template_string=None)
    _stub("cleantext")
    _stub("rank_bm25", BM25Okapi=None)
    for name in ("pyserini", "pyserini.search"):
        _stub(name)
    _stub("pyserini.search.lucene", LuceneSearcher=None)
    sys.path.insert(0, str(root))
    goal = importlib.import_module("web_agent_site.engine.goal")
    engine = importlib.import_module("web_agent_site.engine.engine")
    assert Path(goal.__file__).resolve().is_relative_to(root.resolve()), goal.__file__
    return goal, engine


# ---------------------------------------------------------------------------------------------------
# Awkward data in the original's formats


def write_data(folder: Path, n_products: int, seed: int, null_groups: bool = True, plain: bool = False) -> None:
    from sparsegym.envs.webshop.catalog import generate

    rng = random.Random(seed)
    items, ins = generate(n_products, seed)
    for item in [] if plain else items:
        rec = ins[item["asin"]]
        roll = rng.random()
        if roll < 0.15:
            item["query"] = rng.choice(["  ", " ", ""]) + item["query"] + rng.choice([" ", "  ", ""])
        opts = item["customization_options"] or {}
        if rng.random() < 0.35:
            opts["color"] = [{"value": v, "image": ""} for v in rng.sample(AWKWARD_COLORS, rng.randint(2, 4))]
        if rng.random() < 0.2:
            opts["flavor name"] = [{"value": v, "image": ""} for v in rng.sample(AWKWARD_FLAVORS, rng.randint(2, 3))]
        if rng.random() < 0.05 and null_groups:
            opts["style"] = None  # a null option group
        if rng.random() < 0.1:
            opts = {"Size": opts.pop("size", [{"value": "Large", "image": ""}]), **opts}  # unsorted names, capitals
        item["customization_options"] = opts or None
        if rng.random() < 0.25:
            extra = rng.sample(AWKWARD_ATTRS, 2)
            rec["attributes"] = rec["attributes"] + extra
            rec["instruction_attributes"] = rec["instruction_attributes"] + extra[:1]
        if rng.random() < 0.2:
            rec["instruction"] = rec["instruction"] + "."
    human: dict[str, list[dict]] = {}
    for item in items:
        if rng.random() > 0.4:
            continue
        rec = ins[item["asin"]]
        values = [o["value"] for group in (item["customization_options"] or {}).values() if group for o in group]
        records = []
        for _ in range(rng.randint(1, 3)):
            attrs = rng.sample(rec["attributes"], rng.randint(0, min(3, len(rec["attributes"]))))
            opts = rng.sample(values, min(len(values), rng.randint(0, 2)))
            if rng.random() < 0.3 and not plain:
                opts.append(rng.choice(AWKWARD_COLORS + AWKWARD_FLAVORS).strip().lower())
            records.append({"asin": item["asin"], "instruction": rec["instruction"] + rng.choice(["", ".", ".."]),
                            "instruction_attributes": attrs, "instruction_options": opts,
                            "options": [], "worker_id": "w", "assignment_id": "a"})
        human[item["asin"]] = records
    (folder / "items_shuffle.json").write_text(json.dumps(items))
    (folder / "items_ins_v2.json").write_text(json.dumps(ins))
    (folder / "items_human_ins.json").write_text(json.dumps(human))


# ---------------------------------------------------------------------------------------------------
# Goals and purchases


def original_goals(goal_mod, engine, folder: Path, human: bool):
    engine.DEFAULT_ATTR_PATH = str(folder / "items_ins_v2.json")
    engine.HUMAN_ATTR_PATH = str(folder / "items_human_ins.json")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        all_products, by_asin, prices, _ = engine.load_products(str(folder / "items_shuffle.json"), human_goals=human)
        goals = goal_mod.get_goals(all_products, prices, human_goals=human)
    random.seed(233)
    random.shuffle(goals)
    return by_asin, prices, goals


def _options_of(goal: dict) -> list:
    opts = goal["goal_options"]
    return list(opts.items()) if isinstance(opts, dict) else list(opts)


def _strip_price(text: str, upper: float) -> str:
    suffix = f", and price lower than {upper:.2f} dollars"
    return text[: -len(suffix)] if text.endswith(suffix) else text


def compare_goals(orig: list[dict], ours: list) -> list[str]:
    problems = []
    if len(orig) != len(ours):
        problems.append(f"goal count: original {len(orig)}, sparsegym {len(ours)}")
    for i, (g, h) in enumerate(zip(orig, ours)):
        want = (g["asin"], _strip_price(g["instruction_text"], g["price_upper"]), list(g["attributes"]),
                [tuple(o) if isinstance(o, tuple) else o for o in _options_of(g)], g["query"])
        got = (h.asin, h.instruction, list(h.attributes), list(h.goal_options), h.query)
        if want != got or abs(g["weight"] - h.weight) > 1e-12:
            problems.append(f"goal {i}: original {want + (g['weight'],)!r}\n        sparsegym {got + (h.weight,)!r}")
    return problems


def _key(asin: str, attributes: list, options: list) -> tuple:
    """What the reward depends on in a goal besides its product's fields (the instruction text aside)."""
    return asin, tuple(sorted(attributes)), tuple(sorted(str(o) for o in options))


def purchases(goal_mod, by_asin, prices, orig_goals, data, n: int, seed: int, nouns: str):
    from sparsegym.envs.webshop.reward import get_reward

    rng = random.Random(seed)
    ours_by_key = {}
    for h in data.goals:
        opts = h.option_pairs if h.synthetic else h.goal_options
        ours_by_key.setdefault(_key(h.asin, h.attributes, opts), h)
    asins = list(by_asin)
    by_query: dict[str, list[str]] = {}
    for a, p in by_asin.items():
        by_query.setdefault(p["query"], []).append(a)
    agree, cases = 0, []
    for _ in range(n):
        g = rng.choice(orig_goals)
        roll = rng.random()
        asin = g["asin"] if roll < 0.4 else rng.choice(by_query.get(g["query"], asins)) if roll < 0.7 else rng.choice(asins)
        product = by_asin[asin]
        selected = {}
        wanted = dict(_options_of(g)) if isinstance(g["goal_options"], dict) else {}
        for name, values in product["options"].items():
            r = rng.random()
            if r < 0.15 or not values:
                continue
            selected[name] = wanted[name] if (name in wanted and wanted[name] in values and r < 0.6) else rng.choice(values)
        price = prices[asin]
        want = goal_mod.get_reward(product, g, price=price, options=selected, verbose=True)
        h = ours_by_key.get(_key(g["asin"], g["attributes"], _options_of(g)))
        if h is None:
            cases.append(f"no sparsegym goal for original goal {g['asin']} {g['instruction_text']!r}")
            continue
        got = get_reward(data.products[asin], h, price, g["price_upper"], selected, backend=nouns)
        if abs(want[0] - got[0]) < 1e-9:
            agree += 1
        else:
            cases.append(f"goal {g['asin']} {g['instruction_text']!r} options {_options_of(g)!r}\n"
                         f"    bought {asin} with {selected!r} at {price:.2f}: original {want[0]:.4f} "
                         f"{ {k: want[1].get(k) for k in ('r_type', 'r_att', 'r_option', 'r_price')} }, "
                         f"sparsegym {got[0]:.4f} { {k: got[1].get(k) for k in ('r_type', 'r_att', 'r_option', 'r_price')} }")
    return agree, cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--webshop", required=True, type=Path, help="the original repository (checkout or bare git dir)")
    ap.add_argument("--purchases", type=int, default=5000, help="purchases per goal kind (synthetic, human)")
    ap.add_argument("--products", type=int, default=2000, help="catalog size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=15, help="disagreeing cases to print per kind")
    ap.add_argument("--no-null-groups", action="store_true",
                    help="leave out null option groups (sparsegym before 2026-12 rejected them)")
    ap.add_argument("--plain", action="store_true",
                    help="the generated catalog as shipped, without the awkward values (human goals still made)")
    ap.add_argument("--sparsegym", type=Path, default=Path(__file__).resolve().parent.parent,
                    help="the sparsegym source tree to test (default: this script's repository)")
    ap.add_argument("--original-thefuzz", type=Path, default=None,
                    help="a folder holding another thefuzz for the original's side (e.g. 0.19.0)")
    ap.add_argument("--spacy", action="store_true", help="use the real spaCy model on both sides")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(args.sparsegym))
    import sparsegym
    from sparsegym.envs.webshop.data import load_data

    tmp = Path(tempfile.mkdtemp(prefix="webshop-parity-"))
    try:
        goal_mod, engine = load_original(materialise(args.webshop, tmp / "original"), args.spacy)
        if args.original_thefuzz is not None:
            goal_mod.fuzz = load_thefuzz_from(args.original_thefuzz)
        folder = tmp / "data"
        folder.mkdir()
        write_data(folder, args.products, args.seed, null_groups=not args.no_null_groups, plain=args.plain)
        nouns = "spacy" if args.spacy else "fallback"
        import thefuzz.fuzz

        print(f"thefuzz: sparsegym {thefuzz.fuzz.__file__}, original {goal_mod.fuzz.__file__}")
        print(f"sparsegym from {Path(sparsegym.__file__).parent}; original from {args.webshop}; "
              f"{args.products} products, seed {args.seed}, title nouns: {nouns}")
        failed = False
        for human in (False, True):
            kind = "human" if human else "synthetic"
            by_asin, prices, orig = original_goals(goal_mod, engine, folder, human)
            data = load_data(folder, human_goals=human)
            problems = compare_goals(orig, data.goals)
            print(f"[{kind}] goals: {len(orig)} original, {len(data.goals)} sparsegym; "
                  f"{len(orig) - len(problems)} identical at the same index")
            for p in problems[: args.show]:
                print("   ", p)
            agree, cases = purchases(goal_mod, by_asin, prices, orig, data, args.purchases, args.seed + human, nouns)
            print(f"[{kind}] purchases: {agree}/{args.purchases} rewards agree ({100 * agree / args.purchases:.2f}%)")
            for c in cases[: args.show]:
                print("   ", c)
            failed |= bool(problems or cases)
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
