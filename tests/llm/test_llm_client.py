"""LLMClient against the project's own misbehaving server (sparsegym.llm.testing.ScriptedLLMServer)."""

from __future__ import annotations

import asyncio
import pickle
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("openai")

from sparsegym.errors import MissingDependencyError, ServiceUnavailableError, SparseGymError  # noqa: E402
from sparsegym.llm import (  # noqa: E402
    ChatResult,
    ContextTooLongError,
    LLMClient,
    LLMError,
    LLMServerError,
    LLMServerUnavailableError,
    LLMTimeoutError,
    LLMUnreachableError,
    MalformedResponseError,
    ModelNotServedError,
    ResponseCache,
    Usage,
)
from sparsegym.llm.client import backoff_delay, context_error_numbers  # noqa: E402
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "hello world"}]


@pytest.fixture
def server():
    with ScriptedLLMServer() as s:
        yield s


@pytest.fixture
def make_client(tmp_path):
    made = []

    def make(base_url, **kwargs):
        kwargs.setdefault("cache", False)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("backoff_max", 0.05)
        kwargs.setdefault("timeout", 10.0)
        client = LLMClient(base_url, **kwargs)
        made.append(client)
        return client

    yield make
    for c in made:
        c.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the basics --------------------------------------------------------------------------------------------

def test_chat_returns_text_usage_and_the_only_model(server, make_client):
    client = make_client(server.base_url)
    res = client.chat(HI, max_tokens=16)
    assert isinstance(res, ChatResult)
    assert res.text == res.texts[0] == "ok: hello world"
    assert res.finish_reasons == ["stop"] and res.model == "scripted-model" and client.model == "scripted-model"
    assert res.usage.prompt_tokens == 2 and res.usage.completion_tokens == 3 and res.usage.requests == 1
    assert res.usage.retries == 0 and res.usage.cache_hits == 0 and res.usage.seconds > 0 and not res.cached
    assert res.logprobs is None and res.raw is not None and res.raw[0].choices[0].message.content == res.text
    assert server.count("/v1/models") == 1 and server.count(CHAT) == 1
    sent = server.requests[-1]["json"]
    assert sent["model"] == "scripted-model" and sent["temperature"] == 0.0 and sent["max_tokens"] == 16
    assert "n" not in sent and "seed" not in sent


def test_usage_counts_the_prompt_tokens_the_server_reused_from_its_cache(server, make_client):
    assert make_client(server.base_url).chat(HI).usage.cached_prompt_tokens == 0  # a server that does not say
    system = {"role": "system", "content": "You play a text game. Answer with one action."}  # 9 words
    with ScriptedLLMServer(prompt_cache=True) as srv:
        client = make_client(srv.base_url)
        first = client.chat([system, {"role": "user", "content": "You see a door."}])
        second = client.chat([system, {"role": "user", "content": "You see a key."}])
        third = client.chat([{"role": "user", "content": "Something else entirely."}])
        assert [r.usage.cached_prompt_tokens for r in (first, second, third)] == [0, 12, 0]  # 9 + "You see a"
        assert second.usage.prompt_tokens == 13 and client.stats.cached_prompt_tokens == 12
        again = client.chat([{"role": "user", "content": "Something else entirely."}], n=2, temperature=1.0)
        assert again.usage.requests in (1, 2) and again.usage.cached_prompt_tokens == 3 * again.usage.requests


def test_length_finish_reason_and_stop_are_passed(server, make_client):
    server.reply = lambda request: "one two three four five"
    res = make_client(server.base_url).chat(HI, max_tokens=2, stop=["\n"])
    assert res.text == "one two" and res.finish_reasons == ["length"]
    assert server.requests[-1]["json"]["stop"] == ["\n"]


def test_complete_uses_the_completions_endpoint(server, make_client):
    client = make_client(server.base_url, model="scripted-model")
    res = client.complete("The door is", max_tokens=8, logprobs=True, response_format={"type": "json_object"})
    assert res.text == "ok: The door is" and server.count("/v1/completions") == 1
    sent = server.requests[-1]["json"]
    assert sent["prompt"] == "The door is" and sent["logprobs"] == 1 and sent["response_format"] == {"type": "json_object"}
    assert res.logprobs[0]["tokens"] == ["ok:", "The", "door", "is"]


def test_chat_logprobs_response_format_and_extra_body_reach_the_server(server, make_client):
    client = make_client(server.base_url, model="scripted-model")
    fmt = {"type": "json_object", "schema": {"type": "object", "properties": {"action": {"enum": ["north"]}}}}
    res = client.chat(HI, logprobs=True, top_logprobs=2, response_format=fmt, extra_body={"top_p": 0.5})
    sent = server.requests[-1]["json"]
    assert sent["response_format"] == fmt and sent["top_p"] == 0.5 and sent["logprobs"] is True and sent["top_logprobs"] == 2
    assert [t["token"] for t in res.logprobs[0]["content"]] == ["ok:", "hello", "world"]


def test_settings_come_from_the_environment(server, make_client, monkeypatch):
    monkeypatch.setenv("SPARSEGYM_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("SPARSEGYM_LLM_MODEL", "scripted-model")
    monkeypatch.setenv("SPARSEGYM_LLM_API_KEY", "sk-test-123")
    client = make_client(None)
    assert client.base_url == server.base_url
    client.chat(HI)
    assert server.count("/v1/models") == 0  # the model was named
    assert server.requests[-1]["headers"]["authorization"] == "Bearer sk-test-123"


def test_openai_variables_are_the_fallback_and_the_key_has_a_placeholder(server, make_client, monkeypatch):
    for name in ("SPARSEGYM_LLM_BASE_URL", "SPARSEGYM_LLM_MODEL", "SPARSEGYM_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/")
    client = make_client(None)
    assert client.base_url == server.base_url
    client.chat(HI)
    assert server.requests[-1]["headers"]["authorization"] == "Bearer sk-no-key-required"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert make_client(None).base_url == "http://127.0.0.1:8080/v1"  # loopback, never OpenAI's API by default


def test_a_previous_answer_can_be_sent_back(server, make_client):
    client = make_client(server.base_url, model="scripted-model")
    first = client.chat(HI)
    message = first.raw[0].choices[0].message  # an SDK object
    client.chat([*HI, message, {"role": "user", "content": "again"}])
    assert server.requests[-1]["json"]["messages"][1] == {"role": "assistant", "content": "ok: hello world"}


def test_bad_arguments_are_config_errors(server, make_client):
    client = make_client(server.base_url, model="scripted-model")
    for kwargs in ({"n": 0}, {"temperature": -1}, {"max_tokens": 0}, {"seed": 1.5}):
        with pytest.raises(SparseGymError):
            client.chat(HI, **kwargs)
    with pytest.raises(SparseGymError, match="JSON"):
        client.chat([{"role": "user", "content": object()}])
    assert server.count() == 0


# -- retries ------------------------------------------------------------------------------------------------

def test_500_then_ok_is_retried_and_counted(server, make_client):
    server.fail_next("status", times=2, status=500)
    client = make_client(server.base_url, model="scripted-model")
    res = client.chat(HI)
    assert res.text == "ok: hello world"
    assert res.usage.requests == 3 and res.usage.retries == 2 and server.count(CHAT) == 3
    assert client.stats.requests == 3 and client.stats.retries == 2


def test_retries_give_up_after_max_retries_and_say_so(server, make_client):
    server.fail_next("status", times=10, status=503)
    client = make_client(server.base_url, model="scripted-model", max_retries=2)
    with pytest.raises(LLMServerError, match=r"HTTP 503 on each of 3 attempts.*max_retries") as info:
        client.chat(HI)
    assert info.value.status == 503 and info.value.attempts == 3 and server.count(CHAT) == 3


@pytest.mark.parametrize("status, unavailable", [(503, True), (502, True), (504, True), (429, True), (500, False)])
def test_which_failures_say_the_service_is_unavailable(server, make_client, status, unavailable):
    # An evaluation stops on a ServiceUnavailableError (the service is down); a 500 may be this request's own.
    server.fail_next("status", times=10, status=status, headers={"Retry-After": "0"})
    client = make_client(server.base_url, model="scripted-model", max_retries=1)
    with pytest.raises(LLMServerError) as info:
        client.chat(HI)
    assert isinstance(info.value, ServiceUnavailableError) is unavailable
    assert (type(info.value) is LLMServerUnavailableError) is unavailable and info.value.status == status


def test_429_waits_for_retry_after(server, make_client):
    server.fail_next("status", status=429, headers={"Retry-After": "0.4"},
                     body={"error": {"message": "slow down", "type": "rate_limit"}})
    client = make_client(server.base_url, model="scripted-model", backoff_max=5.0)
    started = time.perf_counter()
    res = client.chat(HI)
    assert time.perf_counter() - started >= 0.4
    assert res.usage.requests == 2 and res.usage.retries == 1


def test_backoff_is_bounded_even_when_the_server_asks_for_more(server, make_client):
    server.fail_next("status", times=10, status=429, headers={"Retry-After": "30"})
    client = make_client(server.base_url, model="scripted-model", max_retries=3, backoff=1.0, backoff_max=0.1)
    started = time.perf_counter()
    with pytest.raises(LLMServerError, match="rate-limiting"):
        client.chat(HI)
    assert time.perf_counter() - started < 3.0  # 3 waits of at most 0.1 s (plus the requests)
    assert server.count(CHAT) == 4


def test_backoff_delay_doubles_with_jitter_and_caps():
    rng = random.Random(0)
    for attempt in range(8):
        d = min(2.0, 0.1 * 2 ** attempt)
        for _ in range(50):
            assert d / 2 <= backoff_delay(attempt, base=0.1, cap=2.0, rng=rng) <= d
    assert len({backoff_delay(3, base=0.1, cap=2.0, rng=rng) for _ in range(20)}) > 1  # jitter
    assert backoff_delay(100, base=0.1, cap=2.0, rng=rng) <= 2.0
    assert backoff_delay(0, base=0.1, cap=2.0, retry_after=0.7) == 0.7
    assert backoff_delay(0, base=0.1, cap=2.0, retry_after=60) == 2.0


@pytest.mark.parametrize("status, match", [
    (400, "rejected the request"), (401, "SPARSEGYM_LLM_API_KEY"), (403, "SPARSEGYM_LLM_API_KEY"),
    (404, "/v1"), (422, "rejected the request")])
def test_other_4xx_are_not_retried(server, make_client, status, match):
    server.fail_next("status", status=status, body={"error": {"message": "nope", "type": "invalid_request_error"}})
    client = make_client(server.base_url, model="scripted-model")
    with pytest.raises(LLMServerError, match=match) as info:
        client.chat(HI)
    assert info.value.status == status and "nope" in str(info.value)
    assert server.count(CHAT) == 1


def test_408_is_retried(server, make_client):
    server.fail_next("status", status=408)
    assert make_client(server.base_url, model="scripted-model").chat(HI).usage.requests == 2


def test_a_slow_answer_times_out_and_is_retried(server, make_client):
    server.fail_next("slow", seconds=3.0)
    client = make_client(server.base_url, model="scripted-model", timeout=0.5)
    res = client.chat(HI)
    assert res.usage.requests == 2 and res.usage.retries == 1 and res.usage.seconds < 2.5


def test_timeouts_on_every_try_raise_a_timeout_error(make_client):
    with ScriptedLLMServer(delay=3.0) as server:
        client = make_client(server.base_url, model="scripted-model", timeout=0.3, max_retries=1)
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError, match=r"within 0.3 s \(2 attempts\).*timeout=") as info:
            client.chat(HI)
        assert time.perf_counter() - started < 2.5
        assert info.value.attempts == 2 and server.count(CHAT) == 2


def test_a_dropped_connection_is_retried(server, make_client):
    server.fail_next("drop")
    res = make_client(server.base_url, model="scripted-model").chat(HI)
    assert res.text == "ok: hello world" and res.usage.requests == 2


def test_connections_dropped_every_time_raise_unreachable(server, make_client):
    server.fail_next("drop", times=10)
    client = make_client(server.base_url, model="scripted-model", max_retries=1)
    with pytest.raises(LLMUnreachableError, match="disconnected"):
        client.chat(HI)
    assert server.count(CHAT) == 2


# -- errors that name the fix ------------------------------------------------------------------------------

def test_no_server_names_the_url_and_how_to_start_one(make_client):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    client = make_client(url, model="m", max_retries=1)
    with pytest.raises(LLMUnreachableError) as info:
        client.chat(HI)
    message = str(info.value)
    assert url in message and "sparsegym serve" in message and "SPARSEGYM_LLM_BASE_URL" in message
    assert "2 attempts" in message and info.value.base_url == url
    assert client.stats.requests == 2 and client.stats.errors == 1 and client.stats.calls == 1  # failures count


def test_a_model_the_server_does_not_serve_lists_what_it_serves(make_client):
    with ScriptedLLMServer(models=["alpha", "beta"]) as server:
        client = make_client(server.base_url, model="gamma")
        with pytest.raises(ModelNotServedError) as info:
            client.chat(HI)
        assert info.value.models == ["alpha", "beta"] and info.value.model == "gamma"
        assert "'gamma'" in str(info.value) and "'alpha', 'beta'" in str(info.value)
        assert "SPARSEGYM_LLM_MODEL" in str(info.value)
        assert server.count(CHAT) == 1  # not retried


def test_no_model_named_and_several_served_is_an_error_naming_them(make_client, monkeypatch):
    monkeypatch.delenv("SPARSEGYM_LLM_MODEL", raising=False)
    with ScriptedLLMServer(models=["alpha", "beta"]) as server:
        client = make_client(server.base_url)
        with pytest.raises(ModelNotServedError, match=r"several: 'alpha', 'beta'.*model="):
            client.chat(HI)
        assert client.models() == ["alpha", "beta"]
    with ScriptedLLMServer(models=[]) as server:
        with pytest.raises(ModelNotServedError, match="lists no models"):
            make_client(server.base_url).chat(HI)


def test_context_too_long_llama_cpp_wording(make_client):
    with ScriptedLLMServer(context_limit=5) as server:
        client = make_client(server.base_url, model="scripted-model")
        with pytest.raises(ContextTooLongError) as info:
            client.chat([{"role": "user", "content": "one two three four five six seven"}])
        assert info.value.prompt_tokens == 7 and info.value.limit == 5
        assert "needs 7 tokens" in str(info.value) and "holds 5" in str(info.value) and "max_tokens" in str(info.value)
        assert server.count(CHAT) == 1
        assert client.chat(HI).text == "ok: hello world"  # short prompts still fit


def test_context_too_long_openai_wording(make_client):
    with ScriptedLLMServer(context_limit=20, context_error="openai") as server:
        client = make_client(server.base_url, model="scripted-model")
        with pytest.raises(ContextTooLongError) as info:
            client.chat(HI, max_tokens=30)
        assert info.value.prompt_tokens == 32 and info.value.limit == 20


def test_context_too_long_without_numbers_is_not_retried_even_on_500(make_client):
    with ScriptedLLMServer(context_limit=1, context_error="bare") as server:
        client = make_client(server.base_url, model="scripted-model")
        with pytest.raises(ContextTooLongError, match="did not say") as info:
            client.chat(HI)
        assert info.value.prompt_tokens is None and info.value.limit is None and server.count(CHAT) == 1


def test_context_error_numbers_reads_the_known_wordings():
    assert context_error_numbers({"type": "exceed_context_size_error", "n_prompt_tokens": 4476, "n_ctx": 4096},
                                 "request (4476 tokens) exceeds the available context size (4096 tokens)") == (True, 4476, 4096)
    vllm = ("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens "
            "(4900 in the messages, 100 in the completion). Please reduce the length of the messages or completion.")
    assert context_error_numbers({}, vllm) == (True, 5000, 4096)
    assert context_error_numbers({"code": "context_length_exceeded"}, "too long") == (True, None, None)
    assert context_error_numbers({}, "model not found")[0] is False


def test_garbage_json_is_a_malformed_response_and_not_retried(server, make_client):
    server.fail_next("garbage")
    client = make_client(server.base_url, model="scripted-model")
    with pytest.raises(MalformedResponseError, match="not JSON.*oops"):
        client.chat(HI)
    assert server.count(CHAT) == 1


@pytest.mark.parametrize("kind, match", [("empty", "empty 'choices'"), ("no_content", "no text: message content None")])
def test_answers_without_text_are_errors_never_empty_strings(server, make_client, kind, match):
    server.fail_next(kind)
    with pytest.raises(MalformedResponseError, match=match):
        make_client(server.base_url, model="scripted-model").chat(HI)


def test_a_200_carrying_an_error_is_read(server, make_client):
    server.fail_next("status", status=200, body={"error": {"message": "the request exceeds the available context size"}})
    with pytest.raises(ContextTooLongError):
        make_client(server.base_url, model="scripted-model").chat(HI)
    server.fail_next("status", status=200, body={"error": {"message": "kaput"}})
    with pytest.raises(MalformedResponseError, match="kaput"):
        make_client(server.base_url, model="scripted-model").chat(HI)


def test_errors_are_sparsegym_errors_and_pickle_with_their_fields():
    err = ContextTooLongError("http://x/v1", 10, 8, "too long")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ContextTooLongError and str(back) == str(err) and (back.prompt_tokens, back.limit) == (10, 8)
    for cls in (LLMUnreachableError, LLMTimeoutError, LLMServerError, ModelNotServedError, ContextTooLongError,
                MalformedResponseError, LLMServerUnavailableError):
        assert issubclass(cls, LLMError) and issubclass(cls, SparseGymError)
    # the ones that say the server, not the request, failed: an evaluation stops on them
    stops = {c for c in (LLMUnreachableError, LLMTimeoutError, LLMServerError, ModelNotServedError,
                         ContextTooLongError, MalformedResponseError, LLMServerUnavailableError)
             if issubclass(c, ServiceUnavailableError)}
    assert stops == {LLMUnreachableError, LLMTimeoutError, ModelNotServedError, LLMServerUnavailableError}
    down = pickle.loads(pickle.dumps(LLMServerUnavailableError("http://x/v1", 503, "loading", 5, "wait")))
    assert type(down) is LLMServerUnavailableError and down.status == 503 and "HTTP 503 on each of 5" in str(down)


def test_missing_openai_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingDependencyError, match=r"sparsegym\[llm\]"):
        LLMClient("http://127.0.0.1:1/v1", cache=False)


def test_importing_the_package_does_not_import_openai():
    code = ("import sys, sparsegym.llm\nfrom sparsegym.llm import ChatResult, Usage, ResponseCache, LLMError, "
            "ContextTooLongError\nimport sparsegym.llm.testing\nassert 'openai' not in sys.modules, 'openai imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- n samples ------------------------------------------------------------------------------------------------

def test_n_is_emulated_with_distinct_seeds_when_the_server_returns_one_choice(make_client):
    with ScriptedLLMServer(choices_per_request=1) as server:
        res = make_client(server.base_url, model="scripted-model").chat(HI, n=3, seed=10, temperature=0.8)
        assert [r["json"]["seed"] for r in server.requests] == [10, 11, 12]
        assert all("n" not in r["json"] for r in server.requests)
        assert len(set(res.texts)) == 3 and res.texts[1].endswith("[seed 11]")
        assert res.usage.requests == 3 and len(res.raw) == 3 and res.finish_reasons == ["stop"] * 3


def test_n_without_a_seed_asks_again_for_the_missing_samples(make_client):
    with ScriptedLLMServer(choices_per_request=1) as server:
        res = make_client(server.base_url, model="scripted-model").chat(HI, n=3, temperature=1.0)
        assert [r["json"].get("n", 1) for r in server.requests] == [3, 1, 1]
        assert len(res.texts) == 3 and len(set(res.texts)) == 3 and res.usage.requests == 3
    with ScriptedLLMServer() as server:  # a server that honours n: one request
        res = make_client(server.base_url, model="scripted-model").chat(HI, n=3, temperature=1.0)
        assert server.count(CHAT) == 1 and len(set(res.texts)) == 3


def test_async_n_emulation(make_client):
    with ScriptedLLMServer(choices_per_request=2) as server:
        client = make_client(server.base_url, model="scripted-model")
        res = asyncio.run(client.achat(HI, n=5, temperature=1.0))
        assert len(res.texts) == 5 and len(set(res.texts)) == 5
        assert [r["json"].get("n", 1) for r in server.requests][0] == 5 and res.usage.requests == 3
        res = asyncio.run(client.achat(HI, n=3, seed=0, temperature=1.0))
        assert sorted(r["json"]["seed"] for r in server.requests[-3:]) == [0, 1, 2]


# -- concurrency -------------------------------------------------------------------------------------------------

def test_async_calls_never_exceed_max_concurrency(make_client):
    with ScriptedLLMServer(delay=0.3) as server:
        client = make_client(server.base_url, model="scripted-model", max_concurrency=3)

        async def main():
            return await asyncio.gather(*[client.achat([{"role": "user", "content": f"q{i}"}]) for i in range(10)])

        results = asyncio.run(main())
        assert [r.text for r in results] == [f"ok: q{i}" for i in range(10)]
        assert server.max_in_flight == 3 and server.count(CHAT) == 10
        assert client.stats.calls == 10 and client.stats.requests == 10


def test_threads_share_the_limit_too(make_client):
    with ScriptedLLMServer(delay=0.3) as server:
        client = make_client(server.base_url, model="scripted-model", max_concurrency=2)
        threads = [threading.Thread(target=client.chat, args=([{"role": "user", "content": f"t{i}"}],)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert server.max_in_flight == 2 and server.count(CHAT) == 6


def test_one_client_serves_several_event_loops(server, make_client):
    client = make_client(server.base_url, model="scripted-model")
    for _ in range(2):
        assert asyncio.run(client.achat(HI)).text == "ok: hello world"
    assert asyncio.run(client.acomplete("go")).text == "ok: go" and asyncio.run(client.amodels()) == ["scripted-model"]


# -- cache -------------------------------------------------------------------------------------------------------

def test_a_warm_rerun_makes_no_requests(server, make_client, tmp_path):
    cache = tmp_path / "llm.sqlite"
    prompts = [[{"role": "user", "content": f"p{i}"}] for i in range(4)]
    cold = [make_client(server.base_url, model="scripted-model", cache=cache).chat(p, n=2, seed=1, temperature=0.9)
            for p in prompts]
    cold.append(make_client(server.base_url, model="scripted-model", cache=cache).complete("go on"))
    sent = server.count()
    client = make_client(server.base_url, model="scripted-model", cache=str(cache))
    warm = [client.chat(p, n=2, seed=1, temperature=0.9) for p in prompts] + [client.complete("go on")]
    assert server.count() == sent  # zero requests
    assert [w.texts for w in warm] == [c.texts for c in cold]
    assert all(w.cached and w.raw is None and w.usage.requests == 0 and w.usage.total_tokens == 0 for w in warm)
    assert client.stats.cache_hits == 9 and client.stats.requests == 0
    assert ResponseCache.shared(cache).stats()["entries"] == 9


def test_the_cache_key_ignores_the_url_but_not_the_request(make_client, tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    with ScriptedLLMServer() as a, ScriptedLLMServer() as b:
        make_client(a.base_url, model="scripted-model", cache=cache).chat(HI)
        other = make_client(b.base_url, model="scripted-model", cache=cache)
        assert other.chat(HI).cached and b.count() == 0
        for kwargs in ({"max_tokens": 5}, {"stop": ["x"]}, {"seed": 3}, {"response_format": {"type": "json_object"}},
                       {"logprobs": True}, {"extra_body": {"top_p": 0.9}}):
            assert not other.chat(HI, **kwargs).cached, kwargs
        assert not other.chat([{"role": "user", "content": "hello world!"}]).cached
        assert not other.complete("hello world").cached  # another endpoint
        assert b.count(CHAT) == 7 and b.count("/v1/completions") == 1


def test_sampled_requests_are_stored_but_not_reused_unless_asked(server, make_client, tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    client = make_client(server.base_url, model="scripted-model", cache=cache)
    first = client.chat(HI, temperature=0.7, n=2)
    second = client.chat(HI, temperature=0.7, n=2)
    assert not second.cached and second.usage.requests >= 1 and second.texts != first.texts
    assert cache.stats()["entries"] == 2  # keyed by sample index: the second call replaced the first's
    replay = make_client(server.base_url, model="scripted-model", cache=cache, cache_nondeterministic=True)
    again = replay.chat(HI, temperature=0.7, n=2)
    assert again.cached and again.texts == second.texts
    seeded = client.chat(HI, temperature=0.7, seed=4)  # a seed makes a sampled request deterministic
    assert client.chat(HI, temperature=0.7, seed=4).cached and seeded.text.endswith("[seed 4]")


def test_partly_cached_calls_request_only_the_missing_samples(make_client, tmp_path):
    with ScriptedLLMServer(choices_per_request=1) as server:
        client = make_client(server.base_url, model="scripted-model", cache=tmp_path / "c.sqlite")
        client.chat(HI, n=2, seed=5, temperature=1.0)
        res = client.chat(HI, n=4, seed=5, temperature=1.0)
        assert [r["json"]["seed"] for r in server.requests] == [5, 6, 7, 8]
        assert res.usage.cache_hits == 2 and res.usage.requests == 2 and not res.cached
        assert [t.rsplit(" ", 1)[-1] for t in res.texts] == ["5]", "6]", "7]", "8]"]


def test_errors_are_never_cached(server, make_client, tmp_path):
    client = make_client(server.base_url, model="scripted-model", cache=tmp_path / "c.sqlite")
    server.fail_next("garbage")
    with pytest.raises(MalformedResponseError):
        client.chat(HI)
    assert client.chat(HI).text == "ok: hello world" and server.count(CHAT) == 2


def test_cache_true_uses_the_default_file(server, make_client):
    client = make_client(server.base_url, model="scripted-model", cache=True)
    from sparsegym._cache import cache_dir

    assert client.cache.path == cache_dir("llm") / "responses.sqlite"


# -- accounting --------------------------------------------------------------------------------------------------

def test_stats_are_the_sum_of_the_calls(make_client):
    with ScriptedLLMServer(choices_per_request=1) as server:
        client = make_client(server.base_url, model="scripted-model")
        server.fail_next("status", status=502)
        results = [client.chat(HI), client.chat(HI, n=2, seed=0), client.complete("a b c")]
        total = sum((r.usage for r in results), Usage())
        stats = client.stats
        assert stats == total
        assert stats.calls == 3 and stats.requests == 5 and stats.retries == 1 and stats.requests == server.count()
        usage = [r["json"] for r in server.requests]
        assert stats.prompt_tokens == 2 + 2 + 2 + 3 and len(usage) == 5
        assert stats.as_dict()["total_tokens"] == stats.prompt_tokens + stats.completion_tokens
