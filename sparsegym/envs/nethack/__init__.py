"""NetHack (nle) and MiniHack tasks in sparsegym's contract (extra ``nethack``); nothing optional is
imported until an env is made. ``FAMILY`` is the family's descriptor (:mod:`sparsegym.envs.family`)."""

from __future__ import annotations

from sparsegym._lazy import lazy_exports
from sparsegym.envs.family import Family

_N = "sparsegym.envs.nethack"

FAMILY = Family(
    name="nethack",
    packages=("nle", "minihack"),
    text_view=f"{_N}.text:NetHackTextView",
    state_keys={"position": f"{_N}.keys:position_key", "message": f"{_N}.keys:message_key"},
    cell=f"{_N}.keys:go_explore_cell",
    encoder=f"{_N}.encoder:NetHackEncoder",
    subgoals=f"{_N}.subgoals",
    progress=f"{_N}.progress:NetHackProgress",
    symbolic_state=f"{_N}.symbolic",
    # A person sees the screen and the inventory.
    play_kwargs={"extra_keys": ("tty_chars", "inv_strs", "inv_letters")},
)

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "make_nethack": ".env", "NetHackTask": ".env", "DEFAULT_KEYS": ".env", "describe": ".text",
    "action_names": ".text", "NetHackTextView": ".text", "NetHackEncoder": ".encoder",
})
__all__ = ["FAMILY", *__all__]
