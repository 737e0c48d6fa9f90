"""The string matching WebShop's reward uses: a fuzzy token-set score, colour normalisation, title nouns.

* :func:`token_set_ratio` follows the rule of ``thefuzz`` 0.19 (which the original pins) with Python's
  ``difflib`` as the sequence matcher (thefuzz's fallback when python-Levenshtein is absent): both
  strings are reduced to lowercase ASCII alphanumeric tokens; with ``I`` the sorted common tokens and
  ``D1``, ``D2`` the sorted leftovers, the score is the best of ratio(I, I+D1), ratio(I, I+D2) and
  ratio(I+D1, I+D2), each ``round(100 * SequenceMatcher.ratio())``. A token subset scores 100. WebShop
  counts a match when the score is above 85.
* :func:`normalize_color` maps an option value to the first colour word (in :data:`COLORS`, an
  alphabetical list as the original's) that it contains, else returns it unchanged. Our list is our own
  (about a hundred common colour names); the original's 102 words may differ in a few entries.
* :func:`title_nouns` returns the lowercased nouns and proper nouns of a title. The original uses a
  spaCy English model; when ``spacy`` and ``en_core_web_sm`` (or ``_lg``) are installed we use it too,
  otherwise a documented fallback: every alphabetic token of two or more letters that is not in a
  list of function words, units and common adjectives (it keeps some adjectives and verbs that spaCy
  would drop). ``title_nouns.backend`` says which one ran.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Any

from sparsegym.errors import ConfigError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _tokens(s: str) -> list[str]:
    s = s.encode("ascii", errors="ignore").decode().lower()
    return [t for t in _NON_ALNUM.split(s) if t]


def _ratio(a: str, b: str) -> int:
    if not a and not b:
        return 100  # pragma: no cover - both empty never reaches here
    return int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))


@functools.lru_cache(maxsize=65536)
def token_set_ratio(s1: str, s2: str) -> int:
    """Fuzzy token-set similarity in [0, 100] (see the module docstring).

    >>> token_set_ratio("cool powder snow", "powder snow")
    100
    >>> token_set_ratio("essential oils", "essential oil") > 85
    True
    >>> token_set_ratio("", "anything")
    0
    """
    t1, t2 = set(_tokens(s1)), set(_tokens(s2))
    if not t1 or not t2:
        return 0
    inter = " ".join(sorted(t1 & t2))
    c1 = (inter + " " + " ".join(sorted(t1 - t2))).strip()
    c2 = (inter + " " + " ".join(sorted(t2 - t1))).strip()
    scores = [_ratio(c1, c2)]
    if inter:
        scores += [_ratio(inter, c1), _ratio(inter, c2)]
    return max(scores)


def fuzzy_match(a: str, b: str, threshold: int = 85) -> bool:
    """WebShop's match rule: ``token_set_ratio(a, b) > threshold``."""
    return token_set_ratio(a, b) > threshold


#: Colour words, alphabetical: an option value is normalised to the first one it contains.
COLORS = (
    "alabaster", "amber", "apricot", "aqua", "aquamarine", "azure", "beige", "berry", "black", "blue",
    "blush", "bronze", "brown", "burgundy", "camel", "caramel", "champagne", "charcoal", "cherry",
    "chestnut", "chocolate", "coffee", "copper", "coral", "cream", "crimson", "cyan", "denim", "ebony",
    "emerald", "espresso", "fuchsia", "gold", "golden", "gray", "green", "grey", "indigo", "ivory",
    "jade", "khaki", "lavender", "lemon", "lilac", "lime", "magenta", "mahogany", "maroon", "mauve",
    "mint", "mocha", "mustard", "navy", "nude", "ochre", "olive", "orange", "orchid", "peach", "pearl",
    "pewter", "pink", "platinum", "plum", "purple", "raspberry", "red", "rose", "ruby", "rust",
    "saffron", "salmon", "sand", "sapphire", "scarlet", "sepia", "sienna", "silver", "slate", "smoke",
    "snow", "stone", "tan", "tangerine", "taupe", "teal", "terracotta", "titanium", "turquoise",
    "vanilla", "violet", "walnut", "wheat", "white", "wine", "yellow",
)


def normalize_color(value: str) -> str:
    """The first colour word of :data:`COLORS` contained in ``value``, else ``value`` unchanged.

    >>> normalize_color("violet lavender")
    'lavender'
    >>> normalize_color("xx-large")
    'xx-large'
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
