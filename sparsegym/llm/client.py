"""One client for OpenAI-compatible servers (llama.cpp, vLLM, Ollama, OpenAI ...), built on the ``openai`` SDK.

What it adds to the SDK: retries that it counts (exponential backoff with jitter, ``Retry-After`` obeyed up
to a bound), ``n`` samples from servers that return one choice a request (llama.cpp), a response cache,
token and latency accounting, a limit on requests in flight, and errors that say how to fix them.

>>> from sparsegym.llm import LLMClient
>>> from sparsegym.llm.testing import ScriptedLLMServer
>>> with ScriptedLLMServer(reply=lambda request: "go north", choices_per_request=1) as server:
...     client = LLMClient(server.base_url, cache=False)
...     result = client.chat([{"role": "user", "content": "Where now?"}], n=2, temperature=0.7, seed=1)
>>> result.texts, result.usage.requests, client.model
(['go north', 'go north'], 2, 'scripted-model')

Configuration (arguments first, then environment):

* ``base_url``: ``SPARSEGYM_LLM_BASE_URL``, then ``OPENAI_BASE_URL``, then :data:`DEFAULT_BASE_URL`
  (llama.cpp's default port on loopback). Never OpenAI's own API unless you point at it.
* ``model``: ``SPARSEGYM_LLM_MODEL``; otherwise the only model the server lists (one ``/v1/models``
  request, the first time it is needed); several listed is an error naming them.
* ``api_key``: ``SPARSEGYM_LLM_API_KEY``, then ``OPENAI_API_KEY``, then a placeholder (local servers need none).

Retry policy: a request that times out, loses its connection, or is answered 408, 429 or 5xx is sent again,
up to ``max_retries`` more times; before retry ``k`` (0-based) the client waits ``d/2 + uniform(0, d/2)``
with ``d = min(backoff_max, backoff * 2**k)``, or the server's ``Retry-After`` when it gives one, never more
than ``backoff_max``. Any other 4xx, a context-length error (whatever its status) and a malformed answer
are raised at once. The SDK's own retries are off, so ``Usage.requests``/``retries`` count every attempt.
``timeout`` bounds each request (connect, and each wait for data), not the whole call.

Sampling ``n``: the client asks for ``n`` choices and, when a server returns fewer (llama.cpp always
returns one), asks again for the rest. With a ``seed``, sample ``i`` is always its own request with seed
``seed + i`` (so seeded samples differ, and each is cached on its own). See :mod:`sparsegym.llm.cache`
for the cache key and when cached answers are reused.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.llm.cache import ResponseCache, canonical_json
from sparsegym.llm.errors import (
    ContextTooLongError,
    LLMError,
    LLMServerError,
    LLMServerUnavailableError,
    LLMTimeoutError,
    LLMUnreachableError,
    MalformedResponseError,
    ModelNotServedError,
)
from sparsegym.llm.result import ChatResult, Usage

DEFAULT_BASE_URL = "http://127.0.0.1:8080/v1"
PLACEHOLDER_API_KEY = "sk-no-key-required"
RETRY_STATUSES = frozenset({408, 429})  # and every 5xx
#: Statuses that, through every retry, say the service is unavailable rather than the request bad
#: (LLMServerUnavailableError: an evaluation stops on it).
UNAVAILABLE_STATUSES = frozenset({408, 429, 502, 503, 504})


def backoff_delay(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0 for the first retry): the server's ``Retry-After`` when
    given, else ``d/2 + uniform(0, d/2)`` with ``d = min(cap, base * 2**attempt)``; never above ``cap``."""
    if retry_after is not None and retry_after >= 0:
        return min(cap, retry_after)
    d = min(cap, base * (2.0 ** min(attempt, 60)))
    return d / 2 + (rng or random).uniform(0, d / 2)


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), or None."""
    try:
        if headers.get("retry-after-ms") is not None:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return float(value)
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, KeyError):
        return None


# -- reading error bodies ---------------------------------------------------------------------------------

_CONTEXT_WORDS = re.compile(r"context (length|size|window)|maximum context|prompt is too long|too many tokens"
                            r"|exceeds? the available context|input is too long", re.I)
_TOKENS_PATTERNS = [re.compile(p, re.I) for p in (
    r"request \((\d+) tokens\)", r"resulted in (\d+) tokens", r"you requested (\d+) tokens",
    r"request has (\d+) input tokens", r"prompt is too long: (\d+) tokens", r"(\d+) tokens in the messages")]
_LIMIT_PATTERNS = [re.compile(p, re.I) for p in (
    r"maximum context length is (\d+)", r"context size \((\d+) tokens\)", r"context window of (\d+)",
    r"n_ctx[^\d]{0,4}(\d+)")]


def _error_fields(text: str) -> tuple[dict[str, Any], str]:
    """The error object of an error body (its ``error`` member, or the body) and its message."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}, text.strip()
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return inner, str(inner.get("message") or inner.get("detail") or text.strip())
        return body, str(inner)
    return {}, text.strip()


def _first_int(value: Any, patterns: list[re.Pattern[str]], message: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for pattern in patterns:
        m = pattern.search(message)
        if m:
            return int(m.group(1))
    return None


def context_error_numbers(fields: dict[str, Any], message: str) -> tuple[bool, int | None, int | None]:
    """(is it a context-length error, prompt tokens, context limit) from an error body, in the wordings of
    llama.cpp (``exceed_context_size_error`` with ``n_prompt_tokens``/``n_ctx``), OpenAI and vLLM
    (``context_length_exceeded``, "maximum context length is N tokens. However, you requested M tokens")."""
    code, kind = str(fields.get("code") or ""), str(fields.get("type") or "")
    is_context = (code == "context_length_exceeded" or kind in ("exceed_context_size_error", "context_length_exceeded")
                  or bool(_CONTEXT_WORDS.search(message)))
    if not is_context:
        return False, None, None
    tokens = _first_int(fields.get("n_prompt_tokens"), _TOKENS_PATTERNS, message)
    limit = _first_int(fields.get("n_ctx"), _LIMIT_PATTERNS, message)
    return True, tokens, limit


# -- one call's plan --------------------------------------------------------------------------------------

@dataclass
class _Tally:
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    def add_usage(self, data: dict[str, Any]) -> None:
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
            details = usage.get("prompt_tokens_details")  # OpenAI's field; llama.cpp's server and vLLM fill it too
            if isinstance(details, dict):
                self.cached_prompt_tokens += int(details.get("cached_tokens") or 0)


@dataclass
class _Call:
    endpoint: str  # "chat" or "completions"
    params: dict[str, Any]  # the SDK call's keyword arguments, without n and seed
    request: dict[str, Any]  # the canonical request (cache key material)
    n: int
    seed: int | None
    deterministic: bool
    keys: list[str] | None = None
    samples: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> stored sample
    fetched: set[int] = field(default_factory=set)
    raw: list[Any] = field(default_factory=list)
    tally: _Tally = field(default_factory=_Tally)
    hits: int = 0
    model: str | None = None
    started: float = field(default_factory=time.perf_counter)

    def missing(self) -> list[int]:
        return [i for i in range(self.n) if i not in self.samples]


class LLMClient:
    """A client for one OpenAI-compatible server (see the module docs for defaults, retries and the cache).

    Args:
        base_url: the server's URL, usually ending in ``/v1``.
        model: the model to ask for; None for the env var or the only model the server serves.
        api_key: the bearer key; local servers need none.
        cache: True for the default cache file, a path, a :class:`ResponseCache`, or False/None for none.
        max_concurrency: at most this many requests in flight from this client (sync calls from all threads
            together; async calls per event loop).
        timeout: seconds each request may take to connect and between bytes of the answer.
        max_retries: how many times a failed request is retried (so at most ``1 + max_retries`` attempts).
        backoff: scale of the first wait between attempts, seconds (doubles each retry, with jitter).
        backoff_max: the longest wait between attempts, ``Retry-After`` included.
        cache_nondeterministic: also serve sampled (temperature > 0, no seed) requests from the cache.
    """

    def __init__(self, base_url: str | None = None, model: str | None = None, api_key: str | None = None, *,
                 cache: bool | str | os.PathLike[str] | ResponseCache | None = True, max_concurrency: int = 8,
                 timeout: float = 60.0, max_retries: int = 4, backoff: float = 0.5, backoff_max: float = 8.0,
                 cache_nondeterministic: bool = False):
        from sparsegym._deps import require

        self._openai = require("openai", "llm", "sparsegym.llm.LLMClient")
        env = os.environ
        self.base_url = (base_url or env.get("SPARSEGYM_LLM_BASE_URL") or env.get("OPENAI_BASE_URL")
                         or DEFAULT_BASE_URL).rstrip("/")
        self._model = model or env.get("SPARSEGYM_LLM_MODEL") or None
        self._api_key = api_key or env.get("SPARSEGYM_LLM_API_KEY") or env.get("OPENAI_API_KEY") or PLACEHOLDER_API_KEY
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        if not timeout or timeout <= 0:
            raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.max_concurrency, self.timeout, self.max_retries = int(max_concurrency), float(timeout), int(max_retries)
        self.backoff, self.backoff_max = float(backoff), float(backoff_max)
        self.cache_nondeterministic = bool(cache_nondeterministic)
        if cache is True:
            self.cache: ResponseCache | None = ResponseCache.shared()
        elif cache is False or cache is None:
            self.cache = None
        elif isinstance(cache, ResponseCache):
            self.cache = cache
        elif isinstance(cache, (str, os.PathLike)):
            self.cache = ResponseCache.shared(cache)
        else:
            raise ConfigError(f"cache must be True, False, None, a path or a ResponseCache, got {cache!r}")
        self._lock = threading.Lock()
        self._stats = Usage()
        self._sync_limit = threading.BoundedSemaphore(self.max_concurrency)
        self._sync_client: Any = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, asyncio.Semaphore]] = (
            weakref.WeakKeyDictionary())
        self._rng = random.Random()

    # -- the SDK clients ------------------------------------------------------------------------------

    def _sdk_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key": self._api_key, "timeout": self.timeout, "max_retries": 0}

    def _sync(self) -> Any:
        with self._lock:
            if self._sync_client is None:
                self._sync_client = self._openai.OpenAI(**self._sdk_kwargs())
            return self._sync_client

    def _async_state(self) -> tuple[Any, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._async.get(loop)
            if state is None:
                state = (self._openai.AsyncOpenAI(**self._sdk_kwargs()), asyncio.Semaphore(self.max_concurrency))
                self._async[loop] = state
            return state

    def close(self) -> None:
        """Close the synchronous HTTP connections (async ones: :meth:`aclose` in their loop)."""
        with self._lock:
            client, self._sync_client = self._sync_client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections, and the synchronous ones."""
        with self._lock:
            state = self._async.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state[0].close()
        self.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.base_url!r}, model={self._model!r}, cache={self.cache!r})"

    # -- accounting -----------------------------------------------------------------------------------

    @property
    def stats(self) -> Usage:
        """Totals over this client's life (a copy)."""
        with self._lock:
            return self._stats + Usage()

    @property
    def model(self) -> str:
        """The model this client asks for (looked up on the server the first time when none was named)."""
        if self._model is None:
            self._set_model(self.models())
        return self._model  # type: ignore[return-value]

    def _set_model(self, served: list[str]) -> None:
        with self._lock:
            if self._model is not None:
                return
            if len(served) != 1:
                raise ModelNotServedError(self.base_url, None, served)
            self._model = served[0]

    # -- models ---------------------------------------------------------------------------------------

    def models(self) -> list[str]:
        """The ids of the models the server lists (``GET /v1/models``)."""
        sdk = self._sync()
        data, _ = self._send_sync(lambda: sdk.models.with_raw_response.list(), "/models", _Tally())
        return self._model_ids(data)

    async def amodels(self) -> list[str]:
        """Same as :meth:`models`, async."""
        sdk, limit = self._async_state()
        data, _ = await self._send_async(lambda: sdk.models.with_raw_response.list(), "/models", _Tally(), limit)
        return self._model_ids(data)

    def _model_ids(self, data: dict[str, Any]) -> list[str]:
        entries = data.get("data")
        if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in entries):
            raise MalformedResponseError(self.base_url, "the /models answer has no list of {'id': ...} under 'data'",
                                         json.dumps(data)[:200])
        return [e["id"] for e in entries]

    # -- the public calls -----------------------------------------------------------------------------

    def chat(self, messages: Sequence[dict[str, Any]], *, temperature: float = 0.0, max_tokens: int | None = 256,
             seed: int | None = None, n: int = 1, stop: str | Sequence[str] | None = None,
             response_format: dict[str, Any] | None = None, logprobs: bool = False, top_logprobs: int | None = None,
             extra_body: dict[str, Any] | None = None) -> ChatResult:
        """Chat completion (``POST /v1/chat/completions``): ``n`` samples of the assistant's next message.

        ``response_format`` is sent as given (e.g. ``{"type": "json_object", "schema": {...}}`` for
        llama.cpp's grammar-constrained output); ``extra_body`` adds any other field the server takes
        (``top_p``, ``grammar``, ...). Both are part of the cache key.
        """
        call = self._plan("chat", _messages(messages), self.model, temperature=temperature, max_tokens=max_tokens,
                          seed=seed, n=n, stop=stop, response_format=response_format, logprobs=logprobs,
                          top_logprobs=top_logprobs, extra_body=extra_body)
        self._fetch_sync(call)
        return self._finish(call)

    async def achat(self, messages: Sequence[dict[str, Any]], *, temperature: float = 0.0, max_tokens: int | None = 256,
                    seed: int | None = None, n: int = 1, stop: str | Sequence[str] | None = None,
                    response_format: dict[str, Any] | None = None, logprobs: bool = False,
                    top_logprobs: int | None = None, extra_body: dict[str, Any] | None = None) -> ChatResult:
        """Same as :meth:`chat`, async; the samples a call still needs are requested concurrently."""
        call = self._plan("chat", _messages(messages), await self._amodel(), temperature=temperature,
                          max_tokens=max_tokens, seed=seed, n=n, stop=stop, response_format=response_format,
                          logprobs=logprobs, top_logprobs=top_logprobs, extra_body=extra_body)
        await self._fetch_async(call)
        return self._finish(call)

    def complete(self, prompt: str, *, temperature: float = 0.0, max_tokens: int | None = 256, seed: int | None = None,
                 n: int = 1, stop: str | Sequence[str] | None = None, response_format: dict[str, Any] | None = None,
                 logprobs: bool = False, top_logprobs: int | None = None,
                 extra_body: dict[str, Any] | None = None) -> ChatResult:
        """Text completion (``POST /v1/completions``) of a raw prompt; arguments as for :meth:`chat`.

        ``logprobs=True`` asks for the chosen tokens' log-probabilities: this endpoint's integer ``logprobs``
        field is set to ``top_logprobs``, or 1.
        """
        call = self._plan("completions", str(prompt), self.model, temperature=temperature, max_tokens=max_tokens,
                          seed=seed, n=n, stop=stop, response_format=response_format, logprobs=logprobs,
                          top_logprobs=top_logprobs, extra_body=extra_body)
        self._fetch_sync(call)
        return self._finish(call)

    async def acomplete(self, prompt: str, *, temperature: float = 0.0, max_tokens: int | None = 256,
                        seed: int | None = None, n: int = 1, stop: str | Sequence[str] | None = None,
                        response_format: dict[str, Any] | None = None, logprobs: bool = False,
                        top_logprobs: int | None = None, extra_body: dict[str, Any] | None = None) -> ChatResult:
        """Same as :meth:`complete`, async."""
        call = self._plan("completions", str(prompt), await self._amodel(), temperature=temperature,
                          max_tokens=max_tokens, seed=seed, n=n, stop=stop, response_format=response_format,
                          logprobs=logprobs, top_logprobs=top_logprobs, extra_body=extra_body)
        await self._fetch_async(call)
        return self._finish(call)

    async def _amodel(self) -> str:
        if self._model is None:
            self._set_model(await self.amodels())
        return self._model  # type: ignore[return-value]

    # -- planning a call: parameters, cache look-up ---------------------------------------------------------

    def _plan(self, endpoint: str, inp: Any, model: str, *, temperature: float, max_tokens: int | None,
              seed: int | None, n: int, stop: Any, response_format: Any, logprobs: bool, top_logprobs: int | None,
              extra_body: dict[str, Any] | None) -> _Call:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"n must be a positive int, got {n!r}")
        if temperature is None or temperature < 0:
            raise ConfigError(f"temperature must be 0 or more, got {temperature!r}")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"max_tokens must be positive (or None for the server's default), got {max_tokens!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ConfigError(f"seed must be an int or None, got {seed!r}")
        if endpoint == "chat" and not inp:
            raise ConfigError("messages is empty: give at least one {'role': ..., 'content': ...}")
        stop_list = [stop] if isinstance(stop, str) else (list(stop) if stop is not None else None)
        params: dict[str, Any] = {"model": model, "temperature": float(temperature)}
        params["messages" if endpoint == "chat" else "prompt"] = inp
        if max_tokens is not None:
            params["max_tokens"] = int(max_tokens)
        if stop_list:
            params["stop"] = stop_list
        extra = dict(extra_body or {})
        if endpoint == "chat":
            if response_format is not None:
                params["response_format"] = response_format
            if logprobs:
                params["logprobs"] = True
                if top_logprobs is not None:
                    params["top_logprobs"] = int(top_logprobs)
        else:
            if response_format is not None:
                extra["response_format"] = response_format
            if logprobs:
                params["logprobs"] = int(top_logprobs) if top_logprobs is not None else 1
        if extra:
            params["extra_body"] = extra
        request = {"endpoint": endpoint, "model": model, "input": inp, "temperature": float(temperature),
                   "max_tokens": max_tokens, "seed": seed, "stop": stop_list, "response_format": response_format,
                   "logprobs": bool(logprobs), "top_logprobs": top_logprobs if logprobs else None,
                   "extra_body": extra_body or None}
        canonical_json(request)  # a request that cannot be sent as JSON fails here, with a clear error
        call = _Call(endpoint, params, request, n, seed, deterministic=(float(temperature) == 0.0 or seed is not None))
        if self.cache is not None:
            call.keys = [ResponseCache.key(request, i) for i in range(n)]
            if call.deterministic or self.cache_nondeterministic:
                for i, value in enumerate(self.cache.get_many(call.keys).values()):
                    if value is not None:
                        call.samples[i] = value
                call.hits = len(call.samples)
        return call

    def _sdk_args(self, call: _Call, n: int, seed: int | None) -> dict[str, Any]:
        args = dict(call.params)
        if n != 1:
            args["n"] = n
        if seed is not None:
            args["seed"] = seed
        return args

    def _method(self, sdk: Any, endpoint: str) -> Callable[..., Any]:
        resource = sdk.chat.completions if endpoint == "chat" else sdk.completions
        return resource.with_raw_response.create

    def _take(self, call: _Call, indices: list[int], data: dict[str, Any], raw: Any) -> int:
        """Store the answer's choices as samples ``indices[0], indices[1], ...``; return how many it had."""
        choices = self._choices(data, call.endpoint)
        call.raw.append(raw)
        call.tally.add_usage(data)
        if call.model is None and isinstance(data.get("model"), str):
            call.model = data["model"]
        for index, choice in zip(indices, choices):
            call.samples[index] = choice
            call.fetched.add(index)
        return len(choices)

    def _choices(self, data: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
        """The answer's choices as stored samples, in order; a choice without text is an error, never ''."""
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            fields, message = _error_fields(json.dumps(data)) if "error" in data else ({}, "")
            if message:
                is_context, tokens, limit = context_error_numbers(fields, message)
                if is_context:
                    raise ContextTooLongError(self.base_url, tokens, limit, message)
                raise MalformedResponseError(self.base_url, f"HTTP 200 carrying an error instead of choices: {message}")
            what = "no 'choices' list" if not isinstance(choices, list) else "an empty 'choices' list"
            raise MalformedResponseError(self.base_url, f"the {endpoint} answer has {what}", json.dumps(data)[:200])
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        samples = []
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                raise MalformedResponseError(self.base_url, f"choice {position} is not an object", repr(choice)[:200])
            if endpoint == "chat":
                message = choice.get("message")
                text = message.get("content") if isinstance(message, dict) else None
                if not isinstance(text, str):
                    detail = ("no 'message' object" if not isinstance(message, dict)
                              else f"message content {text!r} (finish_reason {choice.get('finish_reason')!r}"
                                   + (", tool calls instead of text" if message.get("tool_calls") else "")
                                   + (f", refusal {message.get('refusal')!r}" if message.get("refusal") else "") + ")")
                    raise MalformedResponseError(self.base_url, f"chat choice {position} has no text: {detail}",
                                                 json.dumps(choice)[:200])
            else:
                text = choice.get("text")
                if not isinstance(text, str):
                    raise MalformedResponseError(self.base_url, f"completion choice {position} has no 'text' string",
                                                 json.dumps(choice)[:200])
            samples.append({"text": text, "finish_reason": choice.get("finish_reason"), "logprobs": choice.get("logprobs"),
                            "model": data.get("model")})
        return samples

    # -- fetching the missing samples ------------------------------------------------------------------

    def _fetch_sync(self, call: _Call) -> None:
        try:
            self._fetch_sync_samples(call)
        except BaseException:
            self._account(call, failed=True)
            raise

    async def _fetch_async(self, call: _Call) -> None:
        try:
            await self._fetch_async_samples(call)
        except BaseException:
            self._account(call, failed=True)
            raise

    def _fetch_sync_samples(self, call: _Call) -> None:
        missing = call.missing()
        if not missing:
            return
        create = self._method(self._sync(), call.endpoint)
        if call.seed is not None:  # sample i is the request with seed + i
            for i in missing:
                args = self._sdk_args(call, 1, call.seed + i)
                data, raw = self._send_sync(lambda args=args: create(**args), self._path(call), call.tally)
                self._take(call, [i], data, raw)
        else:
            per = len(missing)
            while missing:
                args = self._sdk_args(call, min(per, len(missing)), None)
                data, raw = self._send_sync(lambda args=args: create(**args), self._path(call), call.tally)
                got = self._take(call, missing[:min(per, len(missing))], data, raw)
                per = min(per, got)
                missing = call.missing()
        self._store(call)

    async def _fetch_async_samples(self, call: _Call) -> None:
        missing = call.missing()
        if not missing:
            return
        sdk, limit = self._async_state()
        create = self._method(sdk, call.endpoint)

        async def one(indices: list[int], n: int, seed: int | None) -> None:
            args = self._sdk_args(call, n, seed)
            data, raw = await self._send_async(lambda: create(**args), self._path(call), call.tally, limit)
            self._take(call, indices, data, raw)

        if call.seed is not None:
            await _gather([one([i], 1, call.seed + i) for i in missing])
        else:
            await one(missing, len(missing), None)
            per = max(1, len(call.fetched))  # what the server returns per request (llama.cpp: 1)
            while call.missing():
                rest = call.missing()
                groups = [rest[k:k + per] for k in range(0, len(rest), per)]
                await _gather([one(g, len(g), None) for g in groups])
        self._store(call)

    def _store(self, call: _Call) -> None:
        if self.cache is not None and call.keys is not None and call.fetched:
            self.cache.put_many({call.keys[i]: call.samples[i] for i in sorted(call.fetched)},
                                model=call.request["model"], endpoint=call.endpoint)

    def _path(self, call: _Call) -> str:
        return "/chat/completions" if call.endpoint == "chat" else "/completions"

    def _account(self, call: _Call, failed: bool = False) -> Usage:
        """The call's usage, added to the client's totals (a failed call's requests count too)."""
        usage = Usage(prompt_tokens=call.tally.prompt_tokens, completion_tokens=call.tally.completion_tokens,
                      cached_prompt_tokens=call.tally.cached_prompt_tokens, requests=call.tally.requests,
                      retries=call.tally.retries, cache_hits=call.hits, seconds=time.perf_counter() - call.started, calls=1, errors=int(failed))
        with self._lock:
            self._stats = self._stats + usage
        return usage

    def _finish(self, call: _Call) -> ChatResult:
        samples = [call.samples[i] for i in range(call.n)]
        usage = self._account(call)
        model = call.model or next((s["model"] for s in samples if s.get("model")), None) or call.request["model"]
        return ChatResult(texts=[s["text"] for s in samples], finish_reasons=[s.get("finish_reason") for s in samples],
                          usage=usage, cached=not call.fetched, model=model,
                          logprobs=[s.get("logprobs") for s in samples] if call.request["logprobs"] else None,
                          raw=call.raw or None)

    # -- one request, with retries ------------------------------------------------------------------------

    def _send_sync(self, send: Callable[[], Any], path: str, tally: _Tally) -> tuple[dict[str, Any], Any]:
        attempt = 0
        while True:
            tally.requests += 1
            try:
                with self._sync_limit:
                    raw = send()
                return self._decode(raw, path)
            except Exception as exc:
                retry_in = self._judge(exc, attempt)
                if isinstance(retry_in, _ModelMissing):
                    raise self._model_error(retry_in, self._try_models()) from exc
            tally.retries += 1
            time.sleep(retry_in)
            attempt += 1

    async def _send_async(self, send: Callable[[], Any], path: str, tally: _Tally,
                          limit: asyncio.Semaphore) -> tuple[dict[str, Any], Any]:
        attempt = 0
        while True:
            tally.requests += 1
            try:
                async with limit:
                    raw = await send()
                return self._decode(raw, path)
            except Exception as exc:
                retry_in = self._judge(exc, attempt)
                if isinstance(retry_in, _ModelMissing):
                    raise self._model_error(retry_in, await self._atry_models()) from exc
            tally.retries += 1
            await asyncio.sleep(retry_in)
            attempt += 1

    def _try_models(self) -> list[str] | None:
        try:
            return self.models()
        except LLMError:
            return None

    async def _atry_models(self) -> list[str] | None:
        try:
            return await self.amodels()
        except LLMError:
            return None

    def _model_error(self, missing: _ModelMissing, served: list[str] | None) -> ModelNotServedError:
        return ModelNotServedError(self.base_url, missing.model, served, missing.detail)

    def _decode(self, raw: Any, path: str) -> tuple[dict[str, Any], Any]:
        text = raw.http_response.text
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise MalformedResponseError(self.base_url, f"the answer to {path} is not JSON ({exc})", text) from None
        if not isinstance(data, dict):
            raise MalformedResponseError(self.base_url, f"the answer to {path} is JSON but not an object", text)
        try:
            parsed = raw.parse()
        except Exception:  # the SDK's objects are a convenience; our own reading of the JSON is what counts
            parsed = None
        return data, parsed

    def _judge(self, exc: Exception, attempt: int) -> float | _ModelMissing:
        """Seconds to wait before retrying ``exc``, or raise the error it stands for (or say the model is
        missing, which needs a look-up to word)."""
        oa = self._openai
        attempts = attempt + 1
        final = attempt >= self.max_retries
        if isinstance(exc, LLMError):
            raise exc
        if isinstance(exc, oa.APITimeoutError):
            if final:
                raise LLMTimeoutError(self.base_url, self.timeout, attempts) from exc
            return backoff_delay(attempt, base=self.backoff, cap=self.backoff_max, rng=self._rng)
        if isinstance(exc, oa.APIConnectionError):
            if final:
                cause = exc.__cause__ or exc.__context__ or exc
                raise LLMUnreachableError(self.base_url, f"{type(cause).__name__}: {cause}", attempts) from exc
            return backoff_delay(attempt, base=self.backoff, cap=self.backoff_max, rng=self._rng)
        if isinstance(exc, oa.APIStatusError):
            status = exc.status_code
            try:
                body_text = exc.response.text
            except Exception:  # a streamed or unread body
                body_text = str(exc.body or exc)
            fields, message = _error_fields(body_text)
            is_context, tokens, limit = context_error_numbers(fields, message)
            if is_context:
                raise ContextTooLongError(self.base_url, tokens, limit, message) from exc
            code = str(fields.get("code") or "")
            model = self._model
            if code == "model_not_found" or (status == 404 and "model" in message.lower()):
                return _ModelMissing(model, message)
            if status in RETRY_STATUSES or status >= 500:
                if final:
                    hint = ("the server is rate-limiting: lower max_concurrency or raise max_retries" if status == 429
                            else "it may be overloaded or failing: check its log, or raise max_retries")
                    error = LLMServerUnavailableError if status in UNAVAILABLE_STATUSES else LLMServerError
                    raise error(self.base_url, status, message, attempts, hint) from exc
                return backoff_delay(attempt, base=self.backoff, cap=self.backoff_max,
                                     retry_after=_retry_after(exc.response.headers), rng=self._rng)
            if status in (401, 403):
                hint = "set SPARSEGYM_LLM_API_KEY (or pass api_key=) to a key this server accepts"
            elif status == 404:
                hint = "is base_url right? OpenAI-compatible servers usually serve under /v1"
            else:
                hint = "the server rejected the request; the message above says which part"
            raise LLMServerError(self.base_url, status, message, attempts, hint) from exc
        raise exc


def _messages(messages: Sequence[Any]) -> list[Any]:
    """The messages as JSON data: SDK message objects (e.g. a previous answer's ``message``) become dicts."""
    return [m.model_dump(exclude_none=True) if hasattr(m, "model_dump") else m for m in messages]


@dataclass
class _ModelMissing:
    model: str | None
    detail: str


async def _gather(coroutines: list[Any]) -> None:
    """Run them all; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


__all__ = ["LLMClient", "backoff_delay", "context_error_numbers", "DEFAULT_BASE_URL"]
