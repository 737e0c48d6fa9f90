"""What a call to :class:`sparsegym.llm.LLMClient` returns: the samples and what they cost.

>>> from sparsegym.llm import Usage
>>> total = Usage(prompt_tokens=10, completion_tokens=4, requests=1, calls=1) + Usage(cache_hits=1, calls=1)
>>> total.as_dict()["calls"], total.total_tokens
(2, 14)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    """Work done for one call (``ChatResult.usage``) or over a client's life (``LLMClient.stats``).

    Tokens are those the server reports for the requests actually made: a sample served from the cache
    costs no tokens and counts in ``cache_hits`` instead.
    """

    prompt_tokens: int = 0  # prompt tokens of every request made (the server's count)
    completion_tokens: int = 0  # tokens the server generated, over every request made
    requests: int = 0  # HTTP requests actually sent, retries included (not the /v1/models look-up)
    retries: int = 0  # of those, the ones that repeated a failed request
    cache_hits: int = 0  # samples served from the response cache
    seconds: float = 0.0  # wall-clock time of the call(s), waits between retries included; summed over calls
    calls: int = 0  # chat/complete calls (1 in a call's own usage), failed ones included
    errors: int = 0  # of those, the calls that raised (their requests and tokens count above too)
    # Of ``prompt_tokens``, those the server reused from its prompt cache instead of computing them (its
    # ``usage.prompt_tokens_details.cached_tokens``; 0 where a server does not say). What it computed is
    # ``prompt_tokens - cached_prompt_tokens``: the prefill work, which on a CPU bounds a batching server.
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)})

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "total_tokens": self.total_tokens}


@dataclass
class ChatResult:
    """The samples of one ``chat``/``complete`` call, one entry per sample (``n`` of them), in order."""

    texts: list[str]  # the generated text of each sample
    finish_reasons: list[str | None]  # "stop", "length", ... per sample, as the server said
    usage: Usage  # what this call cost (see Usage)
    cached: bool  # True when every sample came from the cache (no request was made)
    model: str  # the model that answered (as the server names it)
    logprobs: list[Any] | None = None  # per sample, the choice's "logprobs" object as returned; None unless asked
    raw: list[Any] | None = field(default=None, repr=False)  # the SDK response objects, one per request; None when cached

    @property
    def text(self) -> str:
        """The first sample's text."""
        return self.texts[0]
