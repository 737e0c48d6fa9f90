"""Stackable wrappers. One concern per module; each keeps the info keys of sparsegym's contract."""

from sparsegym.wrappers.text import TextObservation

__all__ = ["TextObservation"]
