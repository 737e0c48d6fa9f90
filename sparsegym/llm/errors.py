"""Errors of :mod:`sparsegym.llm`. Each names what went wrong and the fix; none is ever turned into an empty reply.

Every class derives from :class:`LLMError`, itself a :class:`sparsegym.errors.SparseGymError`, so the CLI
reports them as a user's problem in one line, and an agent can catch the whole family at once. They pickle
with their attributes (an agent running under multiprocessing or Ray gets the same error back).
"""

from __future__ import annotations

from typing import Any

from sparsegym.errors import ServiceUnavailableError, SparseGymError

HOW_TO_GET_A_SERVER = (
    "Start one with `sparsegym serve` for a local model, or set SPARSEGYM_LLM_BASE_URL (or pass "
    "LLMClient(base_url=...)) to a running OpenAI-compatible server's URL, e.g. http://127.0.0.1:8080/v1"
)


def _rebuild(cls: type, message: str, state: dict[str, Any]) -> BaseException:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class LLMError(SparseGymError):
    """Base class of every error the LLM client raises."""

    def __reduce__(self):  # the subclasses' constructors take structured arguments, not the message
        return _rebuild, (type(self), str(self), dict(self.__dict__))


class LLMUnreachableError(LLMError, ServiceUnavailableError):
    """No answer could be had from the server: connection refused, or dropped before an answer, on every try."""

    def __init__(self, base_url: str, cause: str, attempts: int = 1):
        self.base_url, self.cause, self.attempts = base_url, cause, attempts
        tries = f" ({attempts} attempts)" if attempts > 1 else ""
        super().__init__(f"could not get an answer from an OpenAI-compatible server at {base_url}: {cause}{tries}. "
                         + HOW_TO_GET_A_SERVER)


class LLMTimeoutError(LLMError, ServiceUnavailableError):
    """The server accepted the request but did not answer within the client's timeout, on every try."""

    def __init__(self, base_url: str, timeout: float, attempts: int = 1):
        self.base_url, self.timeout, self.attempts = base_url, timeout, attempts
        super().__init__(
            f"no answer from {base_url} within {timeout:g} s ({attempts} attempt{'s' if attempts > 1 else ''}). "
            "The model may be slow on this machine or the server overloaded: raise LLMClient(timeout=...), "
            "lower max_tokens, or lower max_concurrency")


class LLMServerError(LLMError):
    """The server answered with an HTTP error that is not one of the more specific cases below: a request it
    rejected (4xx), or a failure (429, 5xx) that lasted through every retry."""

    def __init__(self, base_url: str, status: int, detail: str, attempts: int = 1, hint: str = ""):
        self.base_url, self.status, self.detail, self.attempts = base_url, status, detail, attempts
        tries = f" on each of {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"the server at {base_url} answered HTTP {status}{tries}: {detail}" + (f". {hint}" if hint else ""))


class LLMServerUnavailableError(LLMServerError, ServiceUnavailableError):
    """An :class:`LLMServerError` that says the service, not the request, is failing: a request timeout
    (408), rate limiting (429) or a gateway or server that is unavailable (502, 503, 504), through every retry. An evaluation stops on it
    (:class:`~sparsegym.errors.ServiceUnavailableError`); a 500 may come from one request, so it stays an
    :class:`LLMServerError`, a failed episode."""


class ModelNotServedError(LLMError, ServiceUnavailableError):
    """The model asked for is not one the server serves, or no model was named and the server serves several
    (or none). ``models`` holds what the server lists."""

    def __init__(self, base_url: str, model: str | None, models: list[str] | None, detail: str = ""):
        self.base_url, self.model, self.models = base_url, model, models
        listed = (", ".join(repr(m) for m in models) or "no models") if models is not None else "(its model list could not be read)"
        if model is None and models:
            what = f"no model was named and the server at {base_url} serves several: {listed}"
            fix = "pass LLMClient(model=...) or set SPARSEGYM_LLM_MODEL to one of them"
        elif model is None:
            what = f"the server at {base_url} lists no models"
            fix = "check that the server loaded a model (its log), or name one with LLMClient(model=...)"
        else:
            what = f"the server at {base_url} does not serve model {model!r}; it lists {listed}"
            fix = "pass LLMClient(model=...) or set SPARSEGYM_LLM_MODEL to a listed model (or model=None for the only one)"
        super().__init__(f"{what}{f' ({detail})' if detail else ''}. Fix: {fix}")


class ContextTooLongError(LLMError):
    """The prompt (plus ``max_tokens``) does not fit the model's context window. ``prompt_tokens`` is the
    size of the request as the server counted it (llama.cpp: the prompt; OpenAI and vLLM: the prompt plus
    ``max_tokens``) and ``limit`` the context's size, when the server said them, else None."""

    def __init__(self, base_url: str, prompt_tokens: int | None, limit: int | None, detail: str):
        self.base_url, self.prompt_tokens, self.limit, self.detail = base_url, prompt_tokens, limit, detail
        size = (f"the request needs {prompt_tokens} tokens" if prompt_tokens is not None
                else "the server did not say how many tokens the request needs")
        cap = f"the context holds {limit}" if limit is not None else "the server did not say the context's size"
        super().__init__(
            f"the prompt is too long for the model's context at {base_url}: {size}, {cap} (server: {detail!r}). "
            "Shorten the prompt (fewer or shorter messages), lower max_tokens, or serve the model with a larger "
            "context (llama.cpp: --n_ctx)")


class MalformedResponseError(LLMError):
    """The server answered 200 but the answer is not a usable completion (not JSON, no choices, no text)."""

    def __init__(self, base_url: str, what: str, excerpt: str = ""):
        self.base_url, self.what, self.excerpt = base_url, what, excerpt
        shown = f"; it began: {excerpt[:200]!r}" if excerpt else ""
        super().__init__(f"malformed answer from {base_url}: {what}{shown}. The server may not be OpenAI-compatible "
                         "at this URL (does base_url end in /v1?), or it has a bug: check its log")
