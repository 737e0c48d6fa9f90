"""The string matching WebShop's reward uses: a fuzzy token-set score, colour normalisation, title nouns.

* :func:`token_set_ratio` is ``thefuzz.fuzz.token_set_ratio`` itself (extra ``webshop``), the scorer the
  original calls. thefuzz prepares each side as the original saw it: ``str()`` of the value (so a
  ``(name, value)`` pair is scored as its repr), characters 128-255 dropped (``"café"`` -> ``"caf"``),
  then every character that is not a letter or digit, underscores and non-ASCII punctuation included,
  turned into a space, lowercased and trimmed. WebShop counts a match when the score is above 85. (The
  original pins thefuzz 0.19, whose sequence matcher was difflib or python-Levenshtein; 0.20 on scores
  with rapidfuzz. We use the maintained thefuzz, and the parity script runs the original's code with
  the same thefuzz. The versions differ on underscores: 0.19 keeps them inside a word ("lemon_lime" is
  one token), 0.20 on split them; over 208,658 string pairs measured, that was the only change in a
  match decision; see ``benchmarks/results/webshop_reward_parity.txt``.)
* :func:`normalize_color` maps an option to the first colour word of :data:`COLORS` (the original's
  list, in its order) that it contains. For a string "contains" means a substring (``"navy blue"`` ->
  ``"blue"``, ``"blueberry"`` -> ``"blue"``); for a ``(name, value)`` pair, as the original's synthetic
  goals pass their options, it means an element equal to the colour word (``("flavor", "blueberry")``
  stays as it is, ``("color", "blue")`` -> ``"blue"``). Anything else is returned unchanged.
* :func:`title_nouns` returns the lowercased nouns and proper nouns of a title. The original uses a
  spaCy English model; when ``spacy`` and ``en_core_web_sm`` (or ``_lg``) are installed we use it too,
  otherwise a documented fallback: every alphabetic token of two or more letters that is not in a
  list of function words, units and common adjectives (it keeps some adjectives and verbs that spaCy
  would drop). ``title_nouns.backend`` says which one ran.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sparsegym._deps import require
from sparsegym.errors import ConfigError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _tokens(s: str) -> list[str]:
    """Lowercase ASCII alphanumeric tokens (a helper for agents' heuristics; the reward uses thefuzz)."""
    s = s.encode("ascii", errors="ignore").decode().lower()
    return [t for t in _NON_ALNUM.split(s) if t]


@functools.lru_cache(maxsize=1)
def _fuzz() -> Any:
    return require("thefuzz.fuzz", "webshop", "WebShop's reward (fuzzy matching)")


@functools.lru_cache(maxsize=65536)
def token_set_ratio(s1: Any, s2: Any) -> int:
    """thefuzz's token-set similarity in [0, 100] (see the module docstring).

    >>> token_set_ratio("cool powder snow", "powder snow")
    100
    >>> token_set_ratio("essential oils", "essential oil") > 85
    True
    >>> token_set_ratio("", "anything")
    0
    """
    return int(_fuzz().token_set_ratio(s1, s2))


def fuzzy_match(a: Any, b: Any, threshold: int = 85) -> bool:
    """WebShop's match rule: ``token_set_ratio(a, b) > threshold``."""
    return token_set_ratio(a, b) > threshold


#: The original's colour words (``COLOR_SET`` in ``web_agent_site/engine/normalize.py`` of
#: princeton-nlp/WebShop at commit 64fa2a5, MIT licence), carried over as data, in its order: an
#: option is normalised to the first one it contains. 102 words; "dark" and "light" are among them,
#: so "dark grey" becomes "dark" (before "grey") but "light grey" becomes "grey" (before "light").
COLORS = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure",
    "banana", "beige", "black", "blue", "blush", "bordeaux", "bronze",
    "brown", "burgundy", "camel", "camo", "caramel", "champagne",
    "charcoal", "cheetah", "chestnut", "chocolate", "christmas", "coffee",
    "cognac", "copper", "coral", "cranberry", "cream", "crystal", "dark",
    "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite",
    "grape", "graphite", "grass", "gray", "green", "grey", "heather", "indigo",
    "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light", "lilac",
    "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive",
    "orange", "peach", "pewter", "pink", "plum", "purple", "rainbow", "red",
    "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull",
    "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal",
    "tiger", "turquoise", "violet", "walnut", "wheat", "white", "wine", "yellow",
)


def normalize_color(value: Any) -> Any:
    """The first colour word of :data:`COLORS` that ``value`` contains, else ``value`` unchanged.

    A string contains a word as a substring; a ``(name, value)`` pair (a tuple or list) contains it as
    an element, as the original's synthetic goal options are compared.

    >>> normalize_color("violet lavender")
    'lavender'
    >>> normalize_color("xx-large")
    'xx-large'
    >>> normalize_color(("flavor", "blueberry"))
    ('flavor', 'blueberry')
    >>> normalize_color(("color", "blue"))
    'blue'
    """
    for color in COLORS:
        if color in value:
            return color
    return value


_FUNCTION_WORDS = frozenset("""
a an the and or of for with without in on at to by from into onto over under up down out off as per
x vs via plus pack count set sets piece pieces pcs pc inch inches in oz ounce ounces fl lb lbs pound
pounds g kg mg ml l cm mm m ft feet yard yards gallon gallons qt quart size sizes new best premium
quality great good high low large small medium mini big extra super ultra perfect easy soft hard
long short light dark natural original classic modern cute fashion fashionable stylish comfortable
compatible portable professional durable adjustable waterproof lightweight heavy duty free non anti
multi 1 2 3 4 5 6 7 8 9 10 men women mens womens men's women's kids girls boys unisex adult adults
is are be it its this that these those your our my you we us all any each every
""".split())


def _fallback_nouns(text: str) -> list[str]:
    words = re.findall(r"[a-z][a-z']+", text.encode("ascii", errors="ignore").decode().lower())
    return [w.strip("'") for w in words if w.strip("'") not in _FUNCTION_WORDS and len(w.strip("'")) > 1]


@functools.lru_cache(maxsize=1)
def _spacy_model() -> Any:
    try:
        import spacy
    except ImportError:
        return None
    for name in ("en_core_web_sm", "en_core_web_lg"):
        try:
            return spacy.load(name, disable=["ner", "parser", "lemmatizer"])
        except Exception:  # model not installed
            continue
    return None


def title_nouns(text: str, backend: str = "auto") -> list[str]:
    """Lowercased nouns and proper nouns of ``text`` (duplicates kept, in order).

    ``backend``: ``"spacy"`` (needs spaCy and an English model), ``"fallback"``, or ``"auto"`` (spaCy
    when available).

    >>> title_nouns("Slim Fit Cotton T-Shirt for Men, Navy Blue", backend="fallback")
    ['slim', 'fit', 'cotton', 'shirt', 'navy', 'blue']
    """
    if backend not in ("auto", "spacy", "fallback"):
        raise ConfigError(f"backend must be 'auto', 'spacy' or 'fallback', got {backend!r}")
    nlp = _spacy_model() if backend in ("auto", "spacy") else None
    if nlp is None:
        if backend == "spacy":
            raise RuntimeError("spaCy with an English model (en_core_web_sm or _lg) is not installed")
        return _fallback_nouns(text)
    return [t.text.lower() for t in nlp(text) if t.pos_ in ("NOUN", "PROPN")]


def nouns_backend() -> str:
    """Which title-noun backend ``title_nouns(backend="auto")`` uses here: ``spacy`` or ``fallback``."""
    return "spacy" if _spacy_model() is not None else "fallback"
