"""ONI/Motif annotation: prompts, reply parsing, the store, the background annotator, the scripted judge."""

from __future__ import annotations

import threading
import time

import pytest

pytest.importorskip("openai")

from sparsegym.errors import ConfigError  # noqa: E402
from sparsegym.llm import LLMClient, LLMUnreachableError  # noqa: E402
from sparsegym.llm.feedback import (  # noqa: E402
    GOALS,
    Annotator,
    FeedbackStore,
    ScriptedJudge,
    label_messages,
    parse_label,
    parse_preference,
    preference_messages,
    prompt_id,
)
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402

CHAT = "/v1/chat/completions"


@pytest.mark.parametrize("reply, label", [
    ("<knowledge>x</knowledge><analysis>y</analysis><label>FOO</label>", 1),
    ("<knowledge>x</knowledge><analysis>y</analysis><label>BAR</label>", 0),
    ("<label> foo </label>", 1),
    ("<label>'BAR'</label>", 0),
    ("Label: FOO", 1),  # no tags, a bare verdict
    ("FOO would be wrong here, so: BAR", 0),  # the last verdict counts
    ("I think FOO. <label>BAR</label> FOO", 0),  # the tag wins over bare words
    ("<analysis>food is good</analysis>", None),  # 'food' is no label
    ("", None),
    ("The message is helpful.", None),
])
def test_parse_label(reply, label):
    assert parse_label(reply) == label


@pytest.mark.parametrize("reply, pref", [
    ('... so ("best_description": 1)', 1.0),
    ('("best_description": 2)', 0.0),
    ('("best_description": None)', 0.5),
    ('{"best_description": null}', 0.5),
    ("best_description: 2", 0.0),
    ('first ("best_description": 1) then on reflection ("best_description": 2)', 0.0),
    ("Message 2 is better.", None),  # no verdict in the asked form: unparsed, not a guess
    ("", None),
])
def test_parse_preference(reply, pref):
    assert parse_preference(reply) == pref


def test_prompts_follow_oni_structure():
    label = label_messages("You kill the newt!", "gold")
    assert label[0]["role"] == "system" and "judge" in label[0]["content"]
    user = label[1]["content"]
    for part in ("<knowledge>", "<analysis>", "<label>", "FOO", "BAR", GOALS["gold"], 'Message: "You kill the newt!"'):
        assert part in user
    assert user.count("Message:") == 5  # four worked examples, then the caption
    pair = preference_messages("a", "b", "the player wants to find the exit door")[1]["content"]
    assert "best_description" in pair and pair.rstrip().endswith('Message 2: "b"')
    assert "find the exit door" in pair
    with pytest.raises(ConfigError, match="unknown goal"):
        label_messages("x", "gld")
    assert prompt_id("score", "m") != prompt_id("gold", "m") != prompt_id("gold", "other")


def test_store_survives_reopening(tmp_path):
    path = tmp_path / "f.sqlite"
    with FeedbackStore(path) as store:
        store.put_label("p", "a", 1, "<label>FOO</label>")
        store.put_label("p", "b", None, "no idea")
        store.put_label("q", "a", 0, "<label>BAR</label>")
        store.put_preference("p", "a", "b", 1.0, True, "1")
        store.put_preference("p", "b", "c", 0.5, False, "??")
    with FeedbackStore(path) as store:
        assert store.labels("p") == {"a": 1}
        assert store.labels("p", unparsed=True) == {"a": 1, "b": None}
        assert store.labels("q") == {"a": 0}
        assert store.preferences("p") == [("a", "b", 1.0), ("b", "c", 0.5)]
        assert store.has_preference("p", "a", "b") and not store.has_preference("p", "b", "a")
        assert store.counts("p") == {"labels": 1, "labels_unparsed": 1, "preferences": 1, "preferences_unparsed": 1}


def _truth(caption: str) -> float:
    return 1.0 if "gold" in caption or "kill" in caption else 0.0


def test_annotator_labels_in_background_and_resumes(tmp_path):
    judge = ScriptedJudge(_truth)
    captions = ["5 gold pieces.", "It's a wall.", "You kill the jackal!", "", "It's a wall."]
    with ScriptedLLMServer(reply=judge) as server:
        with Annotator(base_url=server.base_url, store=tmp_path / "s.sqlite", max_in_flight=4) as annotator:
            assert annotator.annotate_labels(captions) == 4  # duplicates asked once
            assert annotator.labels() == {"5 gold pieces.": 1, "It's a wall.": 0, "You kill the jackal!": 1, "": 0}
            assert annotator.stats.requests == 4 and annotator.stats.errors == 0
            assert server.count(CHAT) == 4
        # A new annotator on the same store asks nothing it already knows.
        with Annotator(base_url=server.base_url, store=tmp_path / "s.sqlite") as again:
            assert again.annotate_labels(captions + ["You hear someone counting money."]) == 1
            assert again.label("You hear someone counting money.") == 0
            assert server.count(CHAT) == 5
        # Another goal is another prompt: nothing is reused.
        with Annotator(base_url=server.base_url, store=tmp_path / "s.sqlite", goal="gold") as other:
            assert other.labels() == {}


def test_annotator_does_not_block_the_caller():
    release = threading.Event()

    def slow(request):
        release.wait(5)
        return "<label>FOO</label>"

    with ScriptedLLMServer(reply=slow) as server:
        client = LLMClient(server.base_url, cache=False)
        with Annotator(client, store=":memory:") as annotator:
            start = time.perf_counter()
            assert annotator.request_label("You kill the newt!") is True
            assert annotator.request_label("You kill the newt!") is False  # already on its way
            assert time.perf_counter() - start < 0.5
            assert annotator.label("You kill the newt!") is None and annotator.pending == 1
            release.set()
            annotator.wait(timeout=10)
            assert annotator.label("You kill the newt!") == 1 and annotator.pending == 0
        client.close()


def test_unparseable_replies_are_recorded_not_zero(tmp_path):
    with ScriptedLLMServer(reply=lambda r: "Hmm, hard to say.") as server:
        with Annotator(base_url=server.base_url, store=tmp_path / "s.sqlite") as annotator:
            annotator.annotate_labels(["You kill the newt!"])
            annotator.annotate_pairs([("a", "b")])
            assert annotator.label("You kill the newt!") is None  # no label, not a 0
            assert annotator.is_labelled("You kill the newt!")  # but answered: not asked again
            assert annotator.stats.unparsed == 2 and annotator.stats.labels == 0
            assert annotator.preferences() == [("a", "b", 0.5)]  # an unparsed preference is a tie
            assert annotator.store.counts(annotator.prompt)["preferences_unparsed"] == 1


def test_unreachable_server_is_a_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = LLMClient(f"http://127.0.0.1:{port}/v1", model="m", cache=False, max_retries=0, timeout=2)
    with Annotator(client, store=":memory:") as annotator:
        annotator.request_label("x")
        with pytest.raises(LLMUnreachableError, match=f"127.0.0.1:{port}"):
            annotator.wait(timeout=20)
        with pytest.raises(LLMUnreachableError):  # and again at the next request
            annotator.request_label("y")
        assert annotator.stats.errors == 1 and "LLMUnreachableError" in annotator.stats.last_error
    client.close()


def test_outage_after_answers_is_counted_and_retried():
    with ScriptedLLMServer(reply=ScriptedJudge(_truth)) as server:
        client = LLMClient(server.base_url, cache=False, max_retries=0)
        with Annotator(client, store=":memory:") as annotator:
            annotator.annotate_labels(["5 gold pieces."])
            server.fail_next("status", times=1, status=500)
            annotator.request_label("You kill the newt!")
            annotator.wait(timeout=10)  # no raise: the server answered before
            assert annotator.stats.errors == 1 and annotator.label("You kill the newt!") is None
            assert not annotator.is_labelled("You kill the newt!")
            assert annotator.request_label("You kill the newt!") is True  # asked again
            annotator.wait(timeout=10)
            assert annotator.label("You kill the newt!") == 1
        client.close()


def test_offline_annotator_reads_only_the_store(tmp_path):
    path = tmp_path / "s.sqlite"
    with FeedbackStore(path) as store:
        store.put_label(prompt_id("score", "smollm2"), "5 gold pieces.", 1, "FOO")
    with Annotator(offline=True, model="smollm2", store=path) as annotator:
        assert annotator.label("5 gold pieces.") == 1
        assert annotator.request_label("new") is False and annotator.pending == 0
    with pytest.raises(ConfigError, match="model="):
        Annotator(offline=True, store=path)


def test_scripted_judge_noise_rate():
    judge = ScriptedJudge(_truth, noise=0.3, seed=1)
    flips = 0
    for i in range(400):
        caption = "5 gold pieces." if i % 2 else "It's a wall."
        reply = judge({"messages": label_messages(caption)})
        flips += parse_label(reply) != _truth(caption)
    assert 0.22 < flips / 400 < 0.38
    exact = ScriptedJudge(_truth)
    assert parse_preference(exact({"messages": preference_messages("a wall", "5 gold pieces.")})) == 0.0
    assert parse_preference(exact({"messages": preference_messages("a wall", "a door")})) == 0.5
    with pytest.raises(ConfigError):
        ScriptedJudge(_truth, noise=1.5)
