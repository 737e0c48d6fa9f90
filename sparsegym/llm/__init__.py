"""Language models behind an OpenAI-compatible server: one client, a response cache, a scripted test server.

``import sparsegym.llm`` is light: the ``openai`` SDK (extra ``llm``) is imported when a client is made.

>>> from sparsegym.llm import LLMClient
>>> from sparsegym.llm.testing import ScriptedLLMServer
>>> with ScriptedLLMServer(reply=lambda request: "take key") as server:
...     client = LLMClient(server.base_url, cache=False)  # the server's only model, no cache
...     result = client.chat([{"role": "user", "content": "You see a key."}], max_tokens=8)
>>> result.text, result.finish_reasons, result.usage.requests
('take key', ['stop'], 1)

* :class:`LLMClient`: ``chat``/``achat``, ``complete``/``acomplete``, ``models``, ``stats``
  (retries, ``n`` emulation, accounting, concurrency limit; see :mod:`sparsegym.llm.client`).
* :class:`ResponseCache`: the SQLite cache and its key/reuse rule (:mod:`sparsegym.llm.cache`).
* :class:`ChatResult`, :class:`Usage`: what calls return.
* Errors: :class:`LLMError` and its subclasses (:mod:`sparsegym.llm.errors`).
* :mod:`sparsegym.llm.testing`: ``ScriptedLLMServer``, a programmable misbehaving server for tests.
* Reward code a model writes (Text2Reward, Eureka, Auto MC-Reward): :class:`RewardCodeWriter` and
  :class:`RewardTask` (prompts, a critic, revisions; :mod:`sparsegym.llm.reward_code`), :func:`check_code`
  (:mod:`sparsegym.llm.reward_sandbox`) and :class:`RewardCodeEvaluator`, which runs checked code in a
  limited worker process (:mod:`sparsegym.llm.reward_evaluator`). The env wrapper is
  :class:`sparsegym.wrappers.LLMRewardCode`.
* :class:`LocalServer`: llama.cpp's OpenAI-compatible server on a GGUF model, started and stopped for you
  (``sparsegym serve``; extra ``llm-server``; :mod:`sparsegym.llm.server`).
* :func:`export_gguf`: a transformers Llama checkpoint as a GGUF file LocalServer serves (extra ``lm``;
  :mod:`sparsegym.llm.gguf_export`).
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "LLMClient": ".client", "ChatResult": ".result", "Usage": ".result", "ResponseCache": ".cache",
    "LLMError": ".errors", "LLMUnreachableError": ".errors", "LLMTimeoutError": ".errors", "LLMServerError": ".errors",
    "LLMServerUnavailableError": ".errors",
    "ModelNotServedError": ".errors", "ContextTooLongError": ".errors", "MalformedResponseError": ".errors",
    "ScriptedLLMServer": ".testing", "LocalServer": ".server", "export_gguf": ".gguf_export",
    "RewardCodeWriter": ".reward_code", "RewardTask": ".reward_code", "RewardCodeEvaluator": ".reward_evaluator",
    "check_code": ".reward_sandbox",
})
