"""Memoised parsing for ALFWorld's text engine, switched on only while a sparsegym env calls it.

TextWorld's PDDL engine (``textworld.envs.pddl``) spends most of a reset translating the game's PDDL
to SAS with Fast Downward's translator, and most of a step re-parsing the same grammar snippets
(``{r.name}``, ``#examineReceptacle.feedback#``...) with tatsu to render each admissible command. Both
are pure functions of their text arguments, so :func:`engine_memo` caches them:

* ``fast_downward.pddl2sas(domain, problem, ...)``: by a hash of its arguments (LRU, 16 games). Safe
  because the engine only reads the returned task and SAS text; the C planner state is reloaded from
  the SAS text on every reset as before.
* ``textgen._parse_and_convert(text, ...)``: by its arguments, returning a deep copy each time because
  the engine attaches context to the returned symbols.

The caches are installed for the duration of a ``with engine_memo():`` block and the original
functions restored afterwards, so nothing else that uses TextWorld sees a change. A test checks that the
engine's observations and admissible commands are identical with and without it.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

_SAS: OrderedDict[tuple, Any] = OrderedDict()
_SAS_SIZE = 16
_PARSE: dict[tuple, Any] = {}
_PARSE_SIZE = 4096


def _memo_pddl2sas(original: Any) -> Any:
    def pddl2sas(domain: str, problem: str, *args: Any, **kwargs: Any) -> Any:
        key = (hashlib.sha1(domain.encode()).hexdigest(), hashlib.sha1(problem.encode()).hexdigest(),
               args, tuple(sorted(kwargs.items())))
        if key in _SAS:
            _SAS.move_to_end(key)
            return _SAS[key]
        value = original(domain, problem, *args, **kwargs)
        _SAS[key] = value
        while len(_SAS) > _SAS_SIZE:
            _SAS.popitem(last=False)
        return value

    return pddl2sas


def _memo_parse(original: Any) -> Any:
    def parse_and_convert(*args: Any, **kwargs: Any) -> Any:
        key = (args, tuple(sorted(kwargs.items())))
        try:
            hit = _PARSE.get(key)
        except TypeError:  # unhashable arguments: no caching
            return original(*args, **kwargs)
        if hit is None:
            hit = original(*args, **kwargs)
            if len(_PARSE) < _PARSE_SIZE:
                _PARSE[key] = hit
        return copy.deepcopy(hit)

    return parse_and_convert


@contextlib.contextmanager
def engine_memo(enabled: bool = True) -> Iterator[None]:
    """Install the caches while the block runs (no-op when ``enabled`` is False)."""
    if not enabled:
        yield
        return
    import textworld.envs.pddl.logic as logic
    import textworld.envs.pddl.textgen as textgen

    fd = logic.fast_downward
    saved_sas, saved_parse = fd.pddl2sas, textgen._parse_and_convert
    fd.pddl2sas = _memo_pddl2sas(saved_sas)
    textgen._parse_and_convert = _memo_parse(saved_parse)
    try:
        yield
    finally:
        fd.pddl2sas, textgen._parse_and_convert = saved_sas, saved_parse
