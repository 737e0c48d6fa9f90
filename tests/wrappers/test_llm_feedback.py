"""LLMFeedbackReward (ONI retrieval/classification/ranking, Motif frozen) against the scripted judge."""

from __future__ import annotations

import time

import gymnasium
import numpy as np
import pytest

pytest.importorskip("openai")

from sparsegym.errors import ConfigError  # noqa: E402
from sparsegym.llm import LLMClient  # noqa: E402
from sparsegym.llm.feedback import Annotator, FeedbackStore, ScriptedJudge  # noqa: E402
from sparsegym.llm.testing import ScriptedLLMServer  # noqa: E402
from sparsegym.wrappers.llm_feedback import LLMFeedbackReward, caption_function  # noqa: E402

MESSAGES = ["It's a wall.", "5 gold pieces.", "You kill the newt!", "That door is closed.", "",
            "You see here a scroll.", "12 gold pieces.", "You hear a door open."]


def _truth(caption: str) -> float:
    return 1.0 if "gold" in caption or "kill" in caption else 0.0


class MessageEnv(gymnasium.Env):
    """Action i prints message i (info["message"]); extrinsic reward 0.5 on action 1; 20 steps."""

    observation_space = gymnasium.spaces.Discrete(len(MESSAGES))
    action_space = gymnasium.spaces.Discrete(len(MESSAGES))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {"message": MESSAGES[0]}

    def step(self, action):
        self.t += 1
        return int(action), 0.5 * (action == 1), False, self.t >= 20, {"message": MESSAGES[int(action)]}


def message(env, obs, info):
    return info["message"]


@pytest.fixture
def judge_server():
    with ScriptedLLMServer(reply=ScriptedJudge(_truth)) as server:
        yield server


@pytest.fixture
def annotator(judge_server):
    with Annotator(base_url=judge_server.base_url, store=FeedbackStore(":memory:")) as a:
        yield a


def test_retrieval_pays_labels_scaled_by_episode_counts(annotator):
    env = LLMFeedbackReward(MessageEnv(), annotator, "retrieval", caption=message, coef=0.4, beta=3.0)
    env.reset(seed=0)
    _, r, *_, info = env.step(1)  # "5 gold pieces." not labelled yet: 0, and it is sent for a label
    assert r == 0.5 and info["reward_components"] == {"extrinsic": 0.5, "llm_feedback": 0.0}
    assert info["llm_feedback"]["caption"] == "5 gold pieces."
    annotator.wait(timeout=10)
    _, r, *_, info = env.step(1)  # second time in this episode: 0.4 * 1 / 2**3
    assert info["reward_components"]["llm_feedback"] == pytest.approx(0.4 / 8)
    assert r == pytest.approx(0.5 + 0.4 / 8)
    _, r, *_ = env.step(2)  # "You kill the newt!" first seen: unlabelled, 0
    assert r == 0.0
    annotator.wait(timeout=10)
    _, r, *_ = env.step(3)  # a BAR caption, once labelled, pays 0 still
    annotator.wait(timeout=10)
    _, r, *_ = env.step(3)
    assert r == 0.0
    env.reset(seed=1)  # counts restart with the episode
    _, r, *_, info = env.step(1)
    assert r == pytest.approx(0.5 + 0.4)
    _, r, *_ = env.step(2)
    assert r == pytest.approx(0.4)
    _, r, *_ = env.step(2)
    assert r == pytest.approx(0.4 / 8)
    assert annotator.stats.requests == 4  # reset's wall, gold, newt, door: each asked once
    assert info["llm_feedback"] == {"caption": "5 gold pieces."}  # no failures to report


def test_env_steps_never_wait_for_the_llm():
    with ScriptedLLMServer(reply=ScriptedJudge(_truth), delay=1.0) as server:
        with Annotator(base_url=server.base_url, store=FeedbackStore(":memory:"), max_in_flight=2) as annotator:
            env = LLMFeedbackReward(MessageEnv(), annotator, caption=message)
            env.reset(seed=0)
            start = time.perf_counter()
            for a in range(len(MESSAGES)):
                env.step(a)
            assert time.perf_counter() - start < 0.5  # eight new captions, a 1 s server: nothing waited
            assert annotator.pending > 0


def test_classification_generalises_to_unlabelled_captions(annotator):
    env = LLMFeedbackReward(MessageEnv(), annotator, "classification", caption=message, coef=1.0, beta=0.0,
                            update_every=8, train_steps=150, lr=3e-3, batch_size=64, seed=0)
    env.reset(seed=0)
    assert env.raw_reward("5 gold pieces.") == 0.0  # nothing learned yet: no reward
    for a in [0, 1, 2, 3, 4, 5]:  # every caption but "12 gold pieces." and "You hear a door open."
        env.step(a)
    annotator.wait(timeout=10)
    for _ in range(2):  # reach the next training round
        env.step(0)
    assert len(env.losses) == 1 and env.annotator.n_labels == 6
    assert env.raw_reward("12 gold pieces.") == 1.0  # never labelled: the classifier's call
    assert env.raw_reward("You kill the newt!") == 1.0
    assert env.raw_reward("It's a wall.") == 0.0


def test_classification_stops_asking_after_max_labels(annotator):
    env = LLMFeedbackReward(MessageEnv(), annotator, "classification", caption=message, max_labels=2)
    env.reset(seed=0)
    env.step(1)
    annotator.wait(timeout=10)  # the reset's caption and this one: 2 labels
    env.step(2)
    annotator.wait(timeout=10)
    assert annotator.n_labels == 2


def test_ranking_pool_pairs_and_learned_order(judge_server):
    with Annotator(base_url=judge_server.base_url, store=FeedbackStore(":memory:"), max_in_flight=4) as annotator:
        env = LLMFeedbackReward(MessageEnv(), annotator, "ranking", caption=message, coef=1.0, beta=0.0,
                                subsample=2, pairs_per_request=6, update_every=20, train_steps=5, lr=3e-3,
                                batch_size=64, seed=0)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(200):
            env.step(int(rng.integers(len(MESSAGES))))
            if env.env.unwrapped.t >= 20:
                env.reset()
                annotator.wait(timeout=20)  # let answers arrive, as they would while a slower env steps
        assert sorted(env._pool) == sorted(MESSAGES)  # de-duplicated: each caption once
        annotator.wait(timeout=20)
        assert annotator.n_preferences > 10
        for a, b, p in annotator.preferences():
            assert p == (1.0 if _truth(a) > _truth(b) else 0.0 if _truth(b) > _truth(a) else 0.5)
        rounds = len(env.losses)
        assert rounds >= 3  # it trained online as preferences arrived
        env.train_steps = 200
        env.step(0)
        env._steps, env._fitted = 0, 0  # force a longer training round on the answers so far
        env._maybe_train()
        assert len(env.losses) == rounds + 1
        scores = dict(zip(MESSAGES, env.model.score(MESSAGES)))
        good = [scores[m] for m in MESSAGES if _truth(m)]
        bad = [scores[m] for m in MESSAGES if not _truth(m)]
        assert min(good) > max(bad)
        # Normalised by running statistics of what was paid, thresholded at -0.5: with the stream of the eight
        # captions, good ones sit above the mean and pay their normalised score.
        from sparsegym.utils.stats import RunningMeanStd

        env._norm = RunningMeanStd()
        for m in MESSAGES * 3:
            env.raw_reward(m)
        for m in MESSAGES:
            r = env.raw_reward(m)  # the statistics include this call's score
            mean, std = float(env._norm.mean), float(env._norm.std)
            expected = (scores[m] - mean) / std
            assert r == (pytest.approx(expected, rel=1e-5) if expected > -0.5 else 0.0)
            assert (r > 0) == (scores[m] > mean)


def test_frozen_reward_model_needs_no_llm(tmp_path):
    from sparsegym.llm.reward_models import CaptionClassifier, CaptionRewardModel, save_reward_model

    model = CaptionRewardModel()
    pairs = [(a, b, 1.0 if _truth(a) > _truth(b) else 0.0) for a in MESSAGES for b in MESSAGES if _truth(a) != _truth(b)]
    model.fit(pairs, steps=150, lr=3e-3, batch_size=32)
    scores = model.score(MESSAGES)
    mean, std = float(np.mean(scores)), float(np.std(scores))
    path = tmp_path / "rm.pt"
    save_reward_model(path, model, mean=mean, std=std, threshold=0.0)
    env = LLMFeedbackReward(MessageEnv(), None, "ranking", caption=message, reward_model=str(path), coef=1.0, beta=0.0)
    assert env.annotator is None and env.learn is False and env.threshold == 0.0
    env.reset(seed=0)
    _, r, *_, info = env.step(1)
    expected = (dict(zip(MESSAGES, scores))["5 gold pieces."] - mean) / std
    assert expected > 0 and info["reward_components"]["llm_feedback"] == pytest.approx(expected, rel=1e-5)
    _, r, *_ = env.step(0)
    assert r == 0.0  # a wall scores below the mean
    classifier = tmp_path / "cls.pt"
    save_reward_model(classifier, CaptionClassifier())
    with pytest.raises(ConfigError, match="holds a classifier"):
        LLMFeedbackReward(MessageEnv(), None, "ranking", caption=message, reward_model=str(classifier))
    with pytest.raises(ConfigError, match="sparsegym annotate train"):
        LLMFeedbackReward(MessageEnv(), None, "ranking", caption=message, reward_model=str(tmp_path / "none.pt"))


def test_bad_arguments_are_named():
    with pytest.raises(ConfigError, match="unknown variant"):
        LLMFeedbackReward(MessageEnv(), object(), "ranknig", caption=message)
    with pytest.raises(ConfigError, match="takes no reward_model"):
        LLMFeedbackReward(MessageEnv(), object(), "retrieval", caption=message, reward_model="x.pt")
    with pytest.raises(ConfigError, match="subsample"):
        LLMFeedbackReward(MessageEnv(), object(), "retrieval", caption=message, subsample=0)
    with pytest.raises(ConfigError, match="cannot caption"):
        LLMFeedbackReward(MessageEnv(), object())


def test_minigrid_captions_and_env_checker(judge_server):
    pytest.importorskip("minigrid")
    from gymnasium.utils.env_checker import check_env

    import sparsegym

    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
    fn = caption_function(env)
    obs, info = env.reset(seed=0)
    assert "key" in fn(env, obs, info).lower()  # the text view's description
    with pytest.raises(ConfigError, match="no 'message' caption"):
        caption_function(env, "message")
    with Annotator(base_url=judge_server.base_url, store=FeedbackStore(":memory:")) as annotator:
        wrapped = LLMFeedbackReward(env, annotator)
        check_env(wrapped, skip_render_check=True)
        wrapped.close()


def test_nethack_caption_is_the_message():
    pytest.importorskip("nle")
    import sparsegym

    env = sparsegym.make("sparsegym/MiniHack-Room-5x5-v0")
    try:
        obs, info = env.reset(seed=0)
        fn = caption_function(env)
        text = fn(env, obs, info)
        assert isinstance(text, str) and "\x00" not in text
        raw = bytes(obs["message"]).split(b"\x00")[0].decode("latin-1")
        assert text == raw.strip() or text == raw
    finally:
        env.close()


def test_labels_survive_a_restart(tmp_path, judge_server):
    store = tmp_path / "labels.sqlite"
    with Annotator(base_url=judge_server.base_url, store=store) as annotator:
        env = LLMFeedbackReward(MessageEnv(), annotator, caption=message, coef=1.0)
        env.reset(seed=0)
        env.step(1)
        annotator.wait(timeout=10)
    requests = judge_server.count("/v1/chat/completions")
    client = LLMClient(judge_server.base_url, cache=False)
    with Annotator(client, store=store) as annotator:
        env = LLMFeedbackReward(MessageEnv(), annotator, caption=message, coef=1.0)
        env.reset(seed=0)
        _, r, *_ = env.step(1)  # labelled in the earlier run: pays at once, no new request
        assert r == pytest.approx(0.5 + 1.0)
        assert judge_server.count("/v1/chat/completions") == requests
    client.close()


def test_motif_offline_pipeline_from_the_command_line(tmp_path, judge_server, capsys):
    """collect pairs -> annotate (resumable) -> train -> use the file frozen, without an LLM."""
    pytest.importorskip("nle")
    import json

    from sparsegym.cli import main

    pairs = tmp_path / "pairs.jsonl"
    store = tmp_path / "motif.sqlite"
    assert main(["annotate", "collect", "--env", "sparsegym/MiniHack-Room-5x5-v0", "--steps", "300", "--every", "1",
                 "--pairs", "40", "--out", str(pairs)]) == 0
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert len(rows) == 40 and all(r["first"] != r["second"] for r in rows)
    run = ["annotate", "run", "--pairs", str(pairs), "--store", str(store), "--base-url", judge_server.base_url]
    assert main(run) == 0
    first = judge_server.count("/v1/chat/completions")
    assert first == len({(r["first"], r["second"]) for r in rows})
    assert main(run) == 0  # resumed: nothing left to ask
    assert judge_server.count("/v1/chat/completions") == first
    model = "scripted-model"
    assert main(["annotate", "stats", "--store", str(store), "--model", model]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert stats["preferences"] == first
    out = tmp_path / "rm.pt"
    assert main(["annotate", "train", "--store", str(store), "--model", model, "--out", str(out), "--epochs", "30",
                 "--batch-size", "32", "--lr", "3e-3"]) == 0
    import sparsegym

    env = LLMFeedbackReward(sparsegym.make("sparsegym/MiniHack-Room-5x5-v0"), None, "ranking", reward_model=str(out))
    env.reset(seed=0)
    *_, info = env.step(0)
    assert "llm_feedback" in info["reward_components"] and env.annotator is None
    env.close()
    assert main(["annotate", "train", "--store", str(store), "--model", "other-model", "--out", str(out)]) == 2
    assert "no preferences to train on" in capsys.readouterr().err


def test_spec_survives_outer_wrappers_and_gymnasium_make(annotator):
    """A wrapper around it copies the env spec: the annotator (threads, a database) is shared, not copied."""
    import gymnasium

    env = gymnasium.Wrapper(LLMFeedbackReward(gymnasium.make("CartPole-v1"), annotator, caption=lambda e, o, i: "x"))
    spec = env.spec
    [entry] = [w for w in spec.additional_wrappers if w.name == "LLMFeedbackReward"]
    assert entry.kwargs["annotator"] is annotator  # shared, not copied
    gymnasium.register("test/LLMFeedbackWrapped-v0", entry_point=lambda: env, disable_env_checker=True,
                       order_enforce=False)
    try:
        assert gymnasium.make("test/LLMFeedbackWrapped-v0").spec is not None
    finally:
        gymnasium.registry.pop("test/LLMFeedbackWrapped-v0")


def test_wrappers_of_one_annotator_share_and_train_one_model(annotator):
    """As ONI trains one reward model for all its envs: the copies of a vector env train it once a round."""
    envs = [LLMFeedbackReward(MessageEnv(), annotator, "classification", caption=message, update_every=4,
                              train_steps=5) for _ in range(3)]
    other = LLMFeedbackReward(MessageEnv(), annotator, "classification", caption=message, update_every=4,
                              train_steps=5, lr=1e-3)  # other settings: its own model
    assert envs[0].model is envs[1].model is envs[2].model and other.model is not envs[0].model
    for env in envs:
        env.reset(seed=0)
    for a in (1, 2, 3):
        for env in envs:
            env.step(a)
    annotator.wait(timeout=10)
    for env in envs:  # step 4 of each: a training round is due, and only the first does it
        env.step(0)
    assert len(envs[0].losses) == 1 and envs[2].losses is envs[0].losses
