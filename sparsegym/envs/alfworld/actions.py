"""ALFWorld command syntax, old and new.

alfworld 0.4 changed one verb of its grammar (``data/alfred.twl2``): placing an object is now
``move X to Y``; alfworld 0.3 and the ALFWorld paper used ``put X in/on Y`` (the literal ``in/on``),
and so do most published prompts (ReAct, Reflexion, ...) and the trajectories they show as examples.
The env accepts both: :func:`normalize` rewrites the old forms into the engine's form before a command
reaches the engine. Accepted, for any object ``X`` and receptacle ``Y``:

================================  ============================
typed                             sent to the engine
================================  ============================
``put X in/on Y``                 ``move X to Y``
``put X in Y``, ``put X on Y``    ``move X to Y``
``put X into Y``, ``put X onto Y`` ``move X to Y``
``place X in/on Y`` (same forms)  ``move X to Y``
``examine Y``, ``go to Y``, ...   unchanged
================================  ============================

Commands are also lower-cased and their whitespace collapsed, since the engine matches commands
exactly. Anything else passes through unchanged: the engine answers ``Nothing happens.`` to a command
it does not know, as ALFWorld always has.
"""

from __future__ import annotations

import re

_PUT = re.compile(r"^(?:put|place)\s+(?P<obj>.+?)\s+(?:in/on|into|onto|in|on)\s+(?P<recep>.+)$")
_MOVE = re.compile(r"^move\s+(?P<obj>.+?)\s+to\s+(?P<recep>.+)$")


def normalize(command: str) -> str:
    """The engine's form of ``command`` (alfworld 0.4.x syntax); see the module docstring.

    >>> normalize("put apple 1 in/on countertop 2")
    'move apple 1 to countertop 2'
    >>> normalize("  Put  mug 1 in coffeemachine 1 ")
    'move mug 1 to coffeemachine 1'
    >>> normalize("go to fridge 1")
    'go to fridge 1'
    """
    text = " ".join(str(command).lower().split())
    m = _PUT.match(text)
    if m:
        return f"move {m['obj']} to {m['recep']}"
    return text


def to_legacy(command: str) -> str:
    """The alfworld 0.3 form of a command (``move X to Y`` -> ``put X in/on Y``), for old prompts.

    >>> to_legacy("move apple 1 to countertop 2")
    'put apple 1 in/on countertop 2'
    """
    text = " ".join(str(command).split())
    m = _MOVE.match(text)
    if m:
        return f"put {m['obj']} in/on {m['recep']}"
    return text
