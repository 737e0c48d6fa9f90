"""A small, scriptable, misbehaving OpenAI-compatible server on loopback, for tests and scripted agents.

:class:`ScriptedLLMServer` serves ``GET /v1/models``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` from a thread of this process (standard library only; no model). What it answers
is programmable:

* ``reply``: a callable ``(request_json) -> str`` called once per choice; it may also return a
  :class:`Fault` to misbehave on that request (a ``"slow"`` one waits, then answers its ``body`` as the text). The default echoes the last user message (or prompt),
  adds ``[seed N]`` when a seed was sent, and a random tag when sampling without a seed.
* ``fail_next(kind, times=1, ...)`` queues faults for the next completion requests: ``"status"`` (any HTTP
  status, body and headers, e.g. 500, or 429 with ``Retry-After``), ``"garbage"`` (200 with a body that is
  not JSON), ``"drop"`` (close the connection without answering), ``"slow"`` (wait, then answer),
  ``"empty"`` (200 with no choices), ``"no_content"`` (a chat choice whose content is null).
* ``choices_per_request=1`` returns one choice whatever ``n`` asks for, as llama.cpp does.
* ``context_limit=N`` rejects prompts over N tokens (a token here is a whitespace-separated word) with the
  error body of ``context_error="llama.cpp"`` (400, ``exceed_context_size_error`` with ``n_prompt_tokens``
  and ``n_ctx``), ``"openai"`` (400, ``context_length_exceeded``, prompt + max_tokens counted) or
  ``"bare"`` (500, a message without numbers).
* ``models``: what ``/v1/models`` lists; with ``strict_model=True`` a request for another model gets
  OpenAI's 404 ``model_not_found``.
* ``delay``: seconds before every completion answer.

It records every request (``requests``: path, JSON body, headers with lower-case names), counts them (``count()``), and the
most requests it was handling at once (``max_in_flight``).

Examples:
    >>> import json, urllib.request
    >>> from sparsegym.llm.testing import ScriptedLLMServer
    >>> with ScriptedLLMServer(reply=lambda request: "open door") as server:
    ...     body = json.dumps({"model": "scripted-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
    ...     answer = json.load(urllib.request.urlopen(urllib.request.Request(
    ...         server.base_url + "/chat/completions", data=body, headers={"Content-Type": "application/json"})))
    >>> answer["choices"][0]["message"]["content"], server.count("/v1/chat/completions")
    ('open door', 1)
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sparsegym.errors import ConfigError

COMPLETION_PATHS = ("/v1/chat/completions", "/v1/completions")
FAULT_KINDS = ("status", "garbage", "drop", "slow", "empty", "no_content")


@dataclass
class Fault:
    """One misbehaviour. ``kind`` is one of :data:`FAULT_KINDS`; ``status``, ``body`` (a str, or JSON data)
    and ``headers`` shape a ``"status"`` answer; ``seconds`` is a ``"slow"`` answer's wait."""

    kind: str
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault kind {self.kind!r}; one of {FAULT_KINDS}")


def default_reply(request: dict[str, Any]) -> str:
    """``ok: <last user message or prompt>``, plus ``[seed N]`` when seeded, plus a random tag when sampling
    (temperature > 0) without a seed."""
    if "messages" in request:
        users = [m for m in request["messages"] if isinstance(m, dict) and m.get("role") == "user"]
        text = _content_text(users[-1].get("content")) if users else ""
    else:
        text = str(request.get("prompt", ""))
    reply = f"ok: {text}"
    if request.get("seed") is not None:
        reply += f" [seed {request['seed']}]"
    elif float(request.get("temperature", 1.0) or 0.0) > 0:
        reply += f" [{secrets.token_hex(4)}]"
    return reply


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def prompt_words(request: dict[str, Any]) -> list[str]:
    """The server's stand-in for tokenising a prompt: whitespace-separated words of every message (or the prompt)."""
    if "messages" in request:
        return [w for m in request["messages"] if isinstance(m, dict) for w in _content_text(m.get("content")).split()]
    return str(request.get("prompt", "")).split()


def count_tokens(request: dict[str, Any]) -> int:
    """The prompt's length in :func:`prompt_words`."""
    return len(prompt_words(request))


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class ScriptedLLMServer:
    """An OpenAI-compatible server on ``127.0.0.1`` (a free port unless given), answering from ``reply``.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. ``base_url`` ends in ``/v1``.
    """

    def __init__(self, reply: Callable[[dict[str, Any]], str | Fault] | None = None, *,
                 models: Iterable[str] = ("scripted-model",), strict_model: bool = True,
                 choices_per_request: int | None = None, delay: float = 0.0, context_limit: int | None = None,
                 context_error: str = "llama.cpp", prompt_cache: bool = False, host: str = "127.0.0.1",
                 port: int = 0):
        if context_error not in ("llama.cpp", "openai", "bare"):
            raise ConfigError(f"context_error must be 'llama.cpp', 'openai' or 'bare', got {context_error!r}")
        self.reply = reply or default_reply
        self.models = list(models)
        self.strict_model = strict_model
        self.choices_per_request = choices_per_request
        self.delay = delay
        self.context_limit = context_limit
        self.context_error = context_error
        # Like llama.cpp's server, report in ``usage.prompt_tokens_details.cached_tokens`` the prompt's words
        # that match the head of the previous request's prompt (a one-slot prefix cache).
        self.prompt_cache = prompt_cache
        self._last_prompt: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[tuple[Fault, tuple[str, ...]]] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = 0
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> ScriptedLLMServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"ScriptedLLMServer:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, *, status: int = 500, body: Any = None,
                  headers: dict[str, str] | None = None, seconds: float = 1.0,
                  paths: Iterable[str] = COMPLETION_PATHS) -> None:
        """Misbehave on the next ``times`` requests to ``paths`` (the completion endpoints by default)."""
        fault = Fault(kind, status=status, body=body, headers=dict(headers or {}), seconds=seconds)
        with self._lock:
            self._faults.extend([(fault, tuple(paths))] * times)

    def count(self, path: str | None = None) -> int:
        """Requests received (to ``path``, e.g. ``"/v1/chat/completions"``, or all)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r["path"] == path)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    # -- answering (called from the handler threads) ----------------------------------------------------

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for position, (fault, paths) in enumerate(self._faults):
                if path in paths:
                    del self._faults[position]
                    return fault
        return None

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _answer(self, path: str, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]] | Fault:
        """(status, JSON body, headers) for a well-formed request, or a Fault to act out."""
        if path == "/v1/models":
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "sparsegym"} for m in self.models]}, {}
        model = request.get("model")
        if self.strict_model and model not in self.models:
            return 404, {"error": {"message": f"The model `{model}` does not exist or you do not have access to it.",
                                   "type": "invalid_request_error", "param": None, "code": "model_not_found"}}, {}
        if request.get("stream"):
            return 400, {"error": {"message": "this scripted server does not stream", "type": "invalid_request_error"}}, {}
        prompt = prompt_words(request)
        prompt_tokens = len(prompt)
        max_tokens = request.get("max_tokens")
        if self.context_limit is not None:
            error = self._context_error(prompt_tokens, max_tokens)
            if error is not None:
                return error
        if self.delay:
            self._wait(self.delay)
        chat = path == "/v1/chat/completions"
        n = int(request.get("n") or 1)
        if self.choices_per_request is not None:
            n = min(n, self.choices_per_request)
        choices, completion_tokens = [], 0
        for index in range(n):
            text = self.reply(request)
            if isinstance(text, Fault) and text.kind == "slow":  # wait, then answer the fault's body as the text
                self._wait(text.seconds)
                text = str(text.body or "")
            elif isinstance(text, Fault):
                return text
            words = str(text).split(" ")
            finish = "stop"
            if max_tokens is not None and len(words) > int(max_tokens):
                words, finish = words[: int(max_tokens)], "length"
            text = " ".join(words)
            completion_tokens += len(words)
            choice: dict[str, Any] = {"index": index, "finish_reason": finish, "logprobs": None}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
                if request.get("logprobs"):
                    choice["logprobs"] = _chat_logprobs(words, int(request.get("top_logprobs") or 0))
            else:
                choice["text"] = text
                if request.get("logprobs") is not None:
                    choice["logprobs"] = _completion_logprobs(words, int(request.get("logprobs") or 0))
            choices.append(choice)
        usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                                 "total_tokens": prompt_tokens + completion_tokens}
        with self._lock:
            self._ids += 1
            ident = self._ids
            if self.prompt_cache:
                usage["prompt_tokens_details"] = {"cached_tokens": _common_prefix(prompt, self._last_prompt)}
                self._last_prompt = prompt
        return 200, {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{ident}", "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": model, "choices": choices, "usage": usage,
        }, {}

    def _context_error(self, prompt_tokens: int, max_tokens: Any) -> tuple[int, Any, dict[str, str]] | None:
        limit = int(self.context_limit or 0)
        if self.context_error == "openai":
            asked = prompt_tokens + int(max_tokens or 0)
            if asked <= limit:
                return None
            return 400, {"error": {
                "message": (f"This model's maximum context length is {limit} tokens. However, you requested {asked} "
                            f"tokens ({prompt_tokens} in the messages, {int(max_tokens or 0)} in the completion). "
                            "Please reduce the length of the messages or completion."),
                "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}, {}
        if prompt_tokens <= limit:
            return None
        if self.context_error == "bare":
            return 500, {"error": {"code": 500, "message": "the request exceeds the available context size, try "
                                   "increasing it", "type": "server_error"}}, {}
        return 400, {"error": {"code": 400, "message": (f"request ({prompt_tokens} tokens) exceeds the available "
                                                        f"context size ({limit} tokens)"),
                               "type": "exceed_context_size_error", "n_prompt_tokens": prompt_tokens, "n_ctx": limit}}, {}


def _chat_logprobs(words: list[str], top: int) -> dict[str, Any]:
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    return {"content": [{**entry(w, -0.25), "top_logprobs": [entry(w, -0.25)][:top] + [entry("<alt>", -3.0)] * max(0, top - 1)}
                        for w in words]}


def _completion_logprobs(words: list[str], top: int) -> dict[str, Any]:
    offsets, at = [], 0
    for w in words:
        offsets.append(at)
        at += len(w) + 1
    return {"tokens": words, "token_logprobs": [-0.25] * len(words),
            "top_logprobs": [{w: -0.25} for w in words] if top else None, "text_offset": offsets}


class _Server(ThreadingHTTPServer):
    """Serves each connection in a thread, and knows its open connections: HTTP/1.1 clients keep theirs
    open between requests, so a handler thread lives as long as its client's connection pool. ``stop``
    ends them all, so no handler outlives the server (left to the interpreter's exit, they wake up while
    it is being torn down)."""

    daemon_threads = True
    allow_reuse_address = True
    owner: ScriptedLLMServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:  # the end of every handler thread
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> bool:
        """Shut every open connection down and wait up to ``timeout`` seconds for their handler threads to
        end; whether they all did."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._open_lock:
                if not self._open:
                    return True
            time.sleep(0.01)
        return False

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that hung up is no news
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle(None)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, payload: bytes | None) -> None:
        owner = self.server.owner
        path = self.path.split("?")[0].rstrip("/")
        try:
            request = json.loads(payload) if payload else {}
        except ValueError:
            request = None
        with owner._lock:
            owner.requests.append({"path": path, "json": request, "time": time.time(),
                                   "headers": {k.lower(): v for k, v in self.headers.items()}})
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            known = (path == "/v1/models" and payload is None) or (path in COMPLETION_PATHS and payload is not None)
            if not known:
                self._send(404, {"error": {"message": f"no route {self.command} {path}", "type": "not_found_error"}})
                return
            if request is None or not isinstance(request, dict):
                self._send(400, {"error": {"message": "the body is not a JSON object", "type": "invalid_request_error"}})
                return
            fault = owner._next_fault(path)
            if fault is not None and fault.kind == "slow":
                owner._wait(fault.seconds)
                fault = None
            outcome = fault or owner._answer(path, request)
            if isinstance(outcome, Fault):
                self._act(outcome, path, request)
            else:
                self._send(*outcome)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): nothing to answer
            self.close_connection = True
        finally:
            with owner._lock:
                owner.in_flight -= 1

    def _act(self, fault: Fault, path: str, request: dict[str, Any]) -> None:
        if fault.kind == "status":
            body = fault.body if fault.body is not None else {
                "error": {"message": f"scripted failure (HTTP {fault.status})", "type": "server_error", "code": fault.status}}
            self._send(fault.status, body, fault.headers)
        elif fault.kind == "garbage":
            self._send(200, fault.body if isinstance(fault.body, str) else '{"choices": [ {"message": oops', {})
        elif fault.kind == "empty":
            self._send(200, {"id": "x", "object": "chat.completion", "model": request.get("model"), "choices": []})
        elif fault.kind == "no_content":
            self._send(200, {"id": "x", "object": "chat.completion", "model": request.get("model"), "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": None}}]})
        else:  # "drop": hang up without a word
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
