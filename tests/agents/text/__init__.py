"""Tests of sparsegym.agents.text. A package, so that its conftest is imported as ``text.conftest`` and not
as a second top-level ``conftest`` (which --doctest-modules would collide with tests/conftest.py)."""
