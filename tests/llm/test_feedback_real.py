"""ONI annotation against the real local server and SmolLM2-135M-Instruct: the protocol end to end (prompts
sent, replies stored, parsed or recorded as unparsed, reused after a restart), never the model's verdicts."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.llm_server



@pytest.fixture(scope="module")
def server(real_server):  # tests/llm/conftest.py: skips where the server or the model is missing
    return real_server


CAPTIONS = ["You kill the newt!", "5 gold pieces.", "It's a wall.", ""]


def test_labels_and_preferences_from_the_real_model(server, tmp_path):
    from sparsegym.llm.feedback import Annotator

    store = tmp_path / "oni.sqlite"
    # Short replies keep the test to seconds; a truncated reply without a label is recorded as unparsed.
    with Annotator(base_url=server.base_url, model=server.model, store=store, max_tokens=96, max_in_flight=2) as ann:
        assert ann.annotate_labels(CAPTIONS) == len(CAPTIONS)
        assert ann.stats.errors == 0 and ann.stats.requests == len(CAPTIONS)
        answered = ann.store.labels(ann.prompt, unparsed=True)
        assert set(answered) == set(CAPTIONS)  # every caption has a stored answer ...
        assert all(v in (0, 1, None) for v in answered.values())  # ... a label, or none (recorded, not a 0)
        assert ann.stats.labels + ann.stats.unparsed == len(CAPTIONS)
        ann.annotate_pairs([(CAPTIONS[0], CAPTIONS[2]), (CAPTIONS[1], CAPTIONS[3])])
        prefs = ann.preferences()
        assert len(prefs) == 2 and all(p in (0.0, 0.5, 1.0) for _, _, p in prefs)
    with Annotator(base_url=server.base_url, model=server.model, store=store, max_tokens=96) as again:
        assert again.annotate_labels(CAPTIONS) == 0  # all stored: nothing is asked again
        assert again.stats.requests == 0


def test_wrapper_on_minihack_with_the_real_model(server, tmp_path):
    pytest.importorskip("nle")
    import sparsegym
    from sparsegym.llm.feedback import Annotator
    from sparsegym.wrappers import LLMFeedbackReward

    with Annotator(base_url=server.base_url, model=server.model, store=tmp_path / "s.sqlite", max_tokens=64) as ann:
        env = LLMFeedbackReward(sparsegym.make("sparsegym/MiniHack-Room-5x5-v0"), ann, "retrieval")
        env.reset(seed=0)
        for _ in range(20):
            _, reward, term, trunc, info = env.step(env.action_space.sample())
            comps = info["reward_components"]
            assert reward == pytest.approx(comps["extrinsic"] + comps["llm_feedback"])
            assert 0.0 <= comps["llm_feedback"] <= 0.4
            if term or trunc:
                env.reset()
        ann.wait(timeout=300)
        assert ann.stats.errors == 0 and ann.stats.requests >= 1
        env.close()
