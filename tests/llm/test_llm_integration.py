"""Against a real server, only when SPARSEGYM_LLM_BASE_URL names one (e.g. llama.cpp serving SmolLM2).

Structure only, never exact text: greedy output of a real server drifts between calls (prompt cache).

    SPARSEGYM_LLM_BASE_URL=http://127.0.0.1:8080/v1 python -m pytest tests/llm/test_llm_integration.py
"""

from __future__ import annotations

import asyncio
import os

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("SPARSEGYM_LLM_BASE_URL"),
                                reason="set SPARSEGYM_LLM_BASE_URL to a running OpenAI-compatible server")


@pytest.fixture
def client():
    pytest.importorskip("openai")
    from sparsegym.llm import LLMClient

    with LLMClient(cache=False, timeout=120.0, max_concurrency=2) as c:
        yield c


def test_models_are_listed(client):
    models = client.models()
    assert models and all(isinstance(m, str) and m for m in models)


def test_chat_has_the_promised_structure(client):
    res = client.chat([{"role": "user", "content": "Say hello in one word."}], max_tokens=8, seed=0)
    assert isinstance(res.text, str) and len(res.texts) == 1 and res.finish_reasons[0] in ("stop", "length")
    assert res.usage.requests >= 1 and res.usage.prompt_tokens > 0 and res.usage.completion_tokens > 0
    assert isinstance(res.model, str) and res.raw and not res.cached


def test_n_samples_and_async(client):
    res = client.chat([{"role": "user", "content": "Name a colour."}], max_tokens=4, temperature=0.8, n=2, seed=1)
    assert len(res.texts) == 2 and all(isinstance(t, str) for t in res.texts)
    res = asyncio.run(client.achat([{"role": "user", "content": "Name a number."}], max_tokens=4))
    assert isinstance(res.text, str) and client.stats.calls == 2


def test_completion_with_logprobs(client):
    res = client.complete("The capital of France is", max_tokens=4, logprobs=True)
    assert isinstance(res.text, str) and res.logprobs is not None and len(res.logprobs) == 1
