"""The scripted server itself (stdlib HTTP only: these tests need no openai)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from sparsegym.llm.testing import Fault, ScriptedLLMServer, count_tokens, default_reply


def _post(server, path, body, timeout=10):
    request = urllib.request.Request(server.base_url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def _chat(content="hi", **extra):
    return {"model": "scripted-model", "messages": [{"role": "user", "content": content}], **extra}


def test_models_and_a_programmed_reply():
    seen = []

    def reply(request):
        seen.append(request)
        return f"{len(request['messages'])} message(s)"

    with ScriptedLLMServer(reply, models=["a", "scripted-model"]) as server:
        with urllib.request.urlopen(server.base_url + "/models", timeout=10) as answer:
            assert [m["id"] for m in json.load(answer)["data"]] == ["a", "scripted-model"]
        status, body, _ = _post(server, "/chat/completions", _chat(n=2))
        assert status == 200 and [c["message"]["content"] for c in body["choices"]] == ["1 message(s)"] * 2
        assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 4, "total_tokens": 5}
        assert seen[0]["n"] == 2 and len(seen) == 2
        assert server.count() == 2 and server.count("/v1/models") == 1


def test_faults_are_served_in_order_and_only_on_their_paths():
    with ScriptedLLMServer() as server:
        server.fail_next("status", status=429, headers={"Retry-After": "1"})
        server.fail_next("status", status=503, paths=["/v1/completions"])
        status, body, headers = _post(server, "/chat/completions", _chat())
        assert status == 429 and headers["Retry-After"] == "1" and "scripted failure" in body["error"]["message"]
        assert _post(server, "/chat/completions", _chat())[0] == 200  # the 503 waits for /v1/completions
        assert _post(server, "/completions", {"model": "scripted-model", "prompt": "x"})[0] == 503


def test_a_reply_may_return_a_fault():
    replies = iter([Fault("status", status=500), "fine"])
    with ScriptedLLMServer(lambda request: next(replies)) as server:
        assert _post(server, "/chat/completions", _chat())[0] == 500
        assert _post(server, "/chat/completions", _chat())[1]["choices"][0]["message"]["content"] == "fine"


def test_llama_cpp_like_choices_and_context_errors():
    with ScriptedLLMServer(choices_per_request=1, context_limit=3) as server:
        assert len(_post(server, "/chat/completions", _chat(n=4))[1]["choices"]) == 1
        status, body, _ = _post(server, "/chat/completions", _chat("a b c d"))
        assert status == 400 and body["error"]["type"] == "exceed_context_size_error"
        assert (body["error"]["n_prompt_tokens"], body["error"]["n_ctx"]) == (4, 3)


def test_wrong_model_is_openais_404():
    with ScriptedLLMServer() as server:
        status, body, _ = _post(server, "/chat/completions", {**_chat(), "model": "other"})
        assert status == 404 and body["error"]["code"] == "model_not_found"


def test_helpers():
    assert count_tokens({"prompt": "a b  c"}) == 3
    assert default_reply({"messages": [{"role": "user", "content": "x"}], "seed": 2}) == "ok: x [seed 2]"
    assert default_reply({"prompt": "x", "temperature": 0}) == "ok: x"
    with pytest.raises(ValueError):
        Fault("explode")


def test_stop_ends_kept_alive_connections_and_their_handler_threads():
    import http.client
    import threading

    def handlers():
        return [t for t in threading.enumerate() if t.name.endswith("(process_request_thread)")]

    before = set(handlers())
    server = ScriptedLLMServer().start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)  # HTTP/1.1: kept alive
    for _ in range(2):
        conn.request("POST", "/v1/chat/completions", body=json.dumps(_chat()), headers={"Content-Type": "application/json"})
        assert conn.getresponse().read()
    mine = set(handlers()) - before
    assert len(mine) == 1 and all(t.is_alive() for t in mine)  # one thread, waiting on the open connection
    server.stop()
    assert not any(t.is_alive() for t in mine), "a handler thread outlived stop()"
    conn.close()
