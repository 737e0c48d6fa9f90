"""Fixtures shared by the tests that talk to the real local model server (marker ``llm_server``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def real_server():
    """A :class:`~sparsegym.llm.server.LocalServer` with SmolLM2-135M-Instruct and two slots, one per test
    module; the test is skipped (with the reason) where llama-cpp-python's server or the model is missing."""
    server_mod = pytest.importorskip("sparsegym.llm.server")
    missing = server_mod.llama_cpp_available()
    if missing:
        pytest.skip("needs llama-cpp-python[server]: " + ", ".join(missing))
    try:
        server_mod.default_model_path()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"needs the SmolLM2 model ({exc})")
    with server_mod.LocalServer(parallel=2) as srv:
        yield srv
