"""The policy interface (Turn, Choice, TextPolicy save/load, UniformPolicy) and the ActionScorer."""

import math

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text.policy import Choice, TextPolicy, Turn, UniformPolicy  # noqa: E402
from sparsegym.agents.text.scorer import ActionScorer, HashTokenizer  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

TURNS = [
    Turn("Room 0. A door to the east.", ["go east", "look"], history=[], instructions="Find the coin."),
    Turn("Room 1. A coin.", ["go west", "take coin", "look", "inventory"],
         history=[("Your task: take the coin. Room 0.", "go east")], instructions="Find the coin."),
    Turn("Room 2.", ["look"], history=[("a", "go east"), ("b", "go east")]),
]


def _trained(steps: int = 5, seed: int = 0) -> ActionScorer:
    """A scorer pushed away from uniform (towards the last action of each turn)."""
    scorer = ActionScorer(seed=seed, hidden=32, embed_dim=16, buckets=2**10)
    opt = torch.optim.Adam(scorer.parameters(), lr=0.05)
    target = [Choice(t.actions[-1], len(t.actions) - 1, 0.0) for t in TURNS]
    for _ in range(steps):
        loss = -scorer.evaluate(TURNS, target)["logprob"].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return scorer


def test_hash_tokenizer_is_stable_across_processes():
    # CRC32, not Python's salted hash(): these ids are the same in every process and on every machine
    assert HashTokenizer()("Take the key", salt="a").tolist() == [16885, 560, 17535, 29612, 22817]
    assert HashTokenizer(bigrams=False)("Take the key", salt="a").tolist() == [16885, 560, 17535]
    assert HashTokenizer()("", salt="a").tolist() == []
    with pytest.raises(ConfigError):
        HashTokenizer(buckets=1)


def test_untrained_scorer_is_uniform_and_has_zero_value():
    scorer = ActionScorer()
    assert 3.0e6 < sum(p.numel() for p in scorer.parameters()) < 3.5e6
    choices = scorer.act(TURNS, generator=torch.Generator().manual_seed(0))
    out = scorer.evaluate(TURNS, choices)
    n = torch.tensor([2.0, 4.0, 1.0])
    assert torch.allclose(out["logprob"], -n.log()) and torch.allclose(out["entropy"], n.log(), atol=1e-6)
    assert [c.logprob for c in choices] == pytest.approx((-n.log()).tolist())
    assert out["value"].tolist() == [0.0, 0.0, 0.0] and all(c.value == 0.0 for c in choices)


def test_act_and_evaluate_agree_and_batches_match_single_turns():
    scorer = _trained()
    gen = torch.Generator().manual_seed(3)
    choices = scorer.act(TURNS, generator=gen)
    out = scorer.evaluate(TURNS, choices)
    assert [c.logprob for c in choices] == pytest.approx(out["logprob"].tolist(), abs=1e-5)
    for turn, choice, lp, ent in zip(TURNS, choices, out["logprob"], out["entropy"]):  # padding changes nothing
        alone = scorer.evaluate([turn], [choice])
        assert alone["logprob"].item() == pytest.approx(lp.item(), abs=1e-5)
        assert alone["entropy"].item() == pytest.approx(ent.item(), abs=1e-5)
    assert all(c.action == t.actions[c.index] for t, c in zip(TURNS, choices))
    # a choice without an index is found by its text
    by_text = scorer.evaluate(TURNS, [Choice(c.action, None, 0.0) for c in choices])
    assert torch.allclose(by_text["logprob"], out["logprob"])
    with pytest.raises(ConfigError, match="not among"):
        scorer.evaluate(TURNS[:1], [Choice("dance", None, 0.0)])


def test_greedy_and_seeded_sampling():
    scorer = _trained(steps=20)
    greedy = scorer.act(TURNS, sample=False)
    assert [c.index for c in greedy] == [len(t.actions) - 1 for t in TURNS]  # what it was trained towards
    a = scorer.act(TURNS * 5, generator=torch.Generator().manual_seed(1))
    b = scorer.act(TURNS * 5, generator=torch.Generator().manual_seed(1))
    assert [c.index for c in a] == [c.index for c in b]


def test_gradients_reach_both_embeddings_and_the_state_reads_history():
    scorer = ActionScorer(seed=0, hidden=16, embed_dim=8, buckets=2**10)
    scorer.score_net[-1].weight.data.normal_()  # leave the uniform start so gradients reach the encoders
    loss = -scorer.evaluate(TURNS, [Choice(t.actions[0], 0, 0.0) for t in TURNS])["logprob"].sum()
    loss.backward()
    assert scorer.state_embed.weight.grad.abs().sum() > 0 and scorer.action_embed.weight.grad.abs().sum() > 0
    texts = scorer._state_texts(TURNS[1])
    assert texts[1].startswith("Your task") and "go east" in texts[2] and "go east" in texts[3]
    assert scorer._state_texts(TURNS[0])[1] == TURNS[0].observation  # the first turn is its own task


def test_parameters_follow_the_seed_without_touching_the_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = ActionScorer(seed=4), ActionScorer(seed=4), ActionScorer(seed=5)
    assert torch.rand(1).item() == before.item()
    assert torch.equal(a.state_embed.weight, b.state_embed.weight)
    assert not torch.equal(a.state_embed.weight, c.state_embed.weight)


def test_save_and_load_round_trip(tmp_path):
    scorer = _trained()
    scorer.save(tmp_path / "p")
    assert {p.name for p in (tmp_path / "p").iterdir()} == {"policy.json", "policy.pt"}
    for loaded in (TextPolicy.load(tmp_path / "p"), ActionScorer.load(tmp_path / "p")):
        assert isinstance(loaded, ActionScorer) and loaded.config() == scorer.config()
        choices = scorer.act(TURNS, sample=False)
        assert torch.allclose(loaded.evaluate(TURNS, choices)["logprob"], scorer.evaluate(TURNS, choices)["logprob"])
    UniformPolicy().save(tmp_path / "u")
    with pytest.raises(ConfigError, match="which is no ActionScorer"):
        ActionScorer.load(tmp_path / "u")
    with pytest.raises(ConfigError, match="no saved text policy"):
        TextPolicy.load(tmp_path)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "policy.json").write_text('{"format": "someone.Else"}')
    with pytest.raises(ConfigError, match="names no policy class"):
        TextPolicy.load(tmp_path / "odd")


def test_policies_need_admissible_actions():
    free = Turn("Write a patch.", [], history=[])
    for policy in (UniformPolicy(), ActionScorer(hidden=8, embed_dim=4, buckets=64)):
        with pytest.raises(ConfigError, match="lists none"):
            policy.act([free])
    assert ActionScorer(hidden=8, embed_dim=4, buckets=64).act([]) == []
    with pytest.raises(ConfigError):
        ActionScorer(temperature=0)


def test_temperature_scales_the_scores():
    hot = _trained()
    cold = ActionScorer(**{**hot.config(), "temperature": 0.5})
    cold.load_state_dict(hot.state_dict())
    choices = hot.act(TURNS[1:2], sample=False)
    p_hot, p_cold = hot.evaluate(TURNS[1:2], choices)["logprob"].exp(), cold.evaluate(TURNS[1:2], choices)["logprob"].exp()
    assert p_cold.item() > p_hot.item() > 0.25


def test_uniform_policy():
    policy = UniformPolicy()
    choices = policy.act(TURNS, generator=torch.Generator().manual_seed(0))
    assert [c.logprob for c in choices] == pytest.approx([-math.log(2), -math.log(4), 0.0])
    assert [c.index for c in policy.act(TURNS, sample=False)] == [0, 0, 0]
    assert policy.evaluate(TURNS, choices)["entropy"].tolist() == pytest.approx([math.log(2), math.log(4), 0.0])
