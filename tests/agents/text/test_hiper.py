"""HiPER: hierarchical advantage estimation by hand (one segment, several, termination and truncation), the
termination forms, shaping, whitening, the reply parser and token masks, the per-token assignment, the
options and errors, and a training smoke run with a tiny causal LM on the corridor."""

import numpy as np
import pytest

from sparsegym.agents.text.algos.hiper import (
    assign_tokens,
    boundaries,
    hae,
    high_level_gae,
    low_level_gae,
    paper_termination_advantage,
    parse_reply,
    segments,
    shaping_rewards,
    switch_returns,
    token_masks,
    whiten,
)
from sparsegym.errors import ConfigError

# An episode of 4 turns, SWITCH at turn 2: segments [0, 1] and [2, 3]. gamma 0.9, lambda_turn 0.5, lambda_seg 0.8.
R = [0.0, 1.0, 0.0, 2.0]
VL = [0.1, 0.2, 0.3, 0.4]
VH = [0.5, 0.6, 0.7, 0.8]
SW = [False, False, True, False]
KW = {"gamma": 0.9}


def test_segments_and_boundaries():
    assert segments([False]) == [(0, 0)]
    assert segments([False, False, False]) == [(0, 2)]
    assert segments(SW) == [(0, 1), (2, 3)]
    assert segments([True, True, False, True]) == [(0, 0), (1, 2), (3, 3)]
    assert boundaries([False, True, False]).tolist() == [True, True, False]
    assert segments([]) == []


def test_low_level_gae_by_hand():
    adv, ret = low_level_gae(R, VL, VH, SW, lam=0.5, **KW)
    # segment [0, 1]: t1 bootstraps to V_H(2) = 0.7: delta1 = 1 + 0.9 * 0.7 - 0.2 = 1.43 = A1
    #   t0: delta0 = 0 + 0.9 * 0.2 - 0.1 = 0.08; A0 = 0.08 + 0.45 * 1.43 = 0.7235
    # segment [2, 3], terminated: delta3 = 2 - 0.4 = 1.6; delta2 = 0.9 * 0.4 - 0.3 = 0.06; A2 = 0.06 + 0.45 * 1.6
    np.testing.assert_allclose(adv, [0.7235, 1.43, 0.78, 1.6])
    np.testing.assert_allclose(ret, np.array([0.7235, 1.43, 0.78, 1.6]) + VL)
    # one segment: plain GAE over the episode (lambda 1: discounted return minus V_L)
    adv, _ = low_level_gae(R, VL, VH, [False] * 4, lam=1.0, **KW)
    np.testing.assert_allclose(adv, [0.9 + 0.729 * 2 - 0.1, 1 + 0.81 * 2 - 0.2, 0.9 * 2 - 0.3, 2 - 0.4])


def test_low_level_truncation():
    # truncated with bootstrap: after turn 3 its own V_L = 0.4: delta3 = 2 + 0.36 - 0.4 = 1.96; A2 = 0.06 + 0.45 * 1.96
    adv, _ = low_level_gae(R, VL, VH, SW, lam=0.5, terminated=False, **KW)
    np.testing.assert_allclose(adv, [0.7235, 1.43, 0.942, 1.96])
    # without bootstrap, truncation is termination
    adv, _ = low_level_gae(R, VL, VH, SW, lam=0.5, terminated=False, bootstrap_truncated=False, **KW)
    np.testing.assert_allclose(adv, [0.7235, 1.43, 0.78, 1.6])


def test_high_level_gae_by_hand():
    adv, ret = high_level_gae(R, VH, SW, lam=0.8, **KW)
    # segment 1 (turns 2-3, d 2), terminated: R = 0 + 0.9 * 2 = 1.8; A = 1.8 - 0.7 = 1.1
    # segment 0 (turns 0-1, d 2): R = 0.9 * 1 = 0.9; delta = 0.9 + 0.81 * 0.7 - 0.5 = 0.967; A = 0.967 + 0.81 * 0.8 * 1.1
    np.testing.assert_allclose(adv, [1.6798, 0.0, 1.1, 0.0])
    np.testing.assert_allclose(ret, [1.6798 + 0.5, 0.0, 1.1 + 0.7, 0.0])
    # truncated with bootstrap: the last segment bootstraps with its own V_H(2) = 0.7
    adv, _ = high_level_gae(R, VH, SW, lam=0.8, terminated=False, **KW)
    last = 1.8 + 0.81 * 0.7 - 0.7  # 1.667
    np.testing.assert_allclose(adv, [0.967 + 0.648 * last, 0.0, last, 0.0])
    # one segment, gamma 1: the episode's return minus V_H at its start, whatever lambda
    adv, _ = high_level_gae(R, VH, [False] * 4, gamma=1.0, lam=0.3)
    np.testing.assert_allclose(adv, [3.0 - 0.5, 0, 0, 0])
    # a segment of 3 discounts the next boundary by gamma^3
    adv, _ = high_level_gae([0, 0, 0, 5], [1.0, 0, 0, 2.0], [False, False, False, True], gamma=0.5, lam=1.0)
    np.testing.assert_allclose(adv, [0.125 * 2.0 - 1.0 + 0.125 * 3.0, 0, 0, 3.0])


def test_switch_returns_and_termination_forms():
    g = switch_returns(R, VH, SW, **KW)
    # segment 0 bootstraps to V_H(2) = 0.7: G1 = 1 + 0.63 = 1.63, G0 = 0.9 * 1.63; segment 1: G3 = 2, G2 = 1.8
    np.testing.assert_allclose(g, [1.467, 1.63, 1.8, 2.0])
    g = switch_returns(R, VH, SW, terminated=False, **KW)  # bootstraps with V_H(2) after turn 3
    np.testing.assert_allclose(g, [1.467, 1.63, 0.9 * 2.63, 2.63])
    out = hae(R, VL, VH, [0.0, 0.1, 0.2, 0.3], SW, gamma=0.9, lambda_turn=0.5, lambda_seg=0.8)
    np.testing.assert_allclose(out["term"], [1.467, 1.53, 1.6, 1.7])  # G - V_term
    np.testing.assert_allclose(out["ret_term"], [1.467, 1.63, 1.8, 2.0])
    assert out["boundary"].tolist() == [True, False, True, False]
    # the paper's form: (q - beta) * (V_H - V_L)
    np.testing.assert_allclose(paper_termination_advantage(SW, [0.5, 0.2, 0.25, 0.1], VH, VL),
                               [-0.2, -0.08, 0.3, -0.04])
    paper = hae(R, VL, VH, VL, SW, termination="paper", beta=[0.5, 0.2, 0.25, 0.1], **KW)
    np.testing.assert_allclose(paper["term"], [-0.2, -0.08, 0.3, -0.04])
    with pytest.raises(ConfigError, match="needs beta"):
        hae(R, VL, VH, VL, SW, termination="paper")
    with pytest.raises(ConfigError, match="'released' or 'paper'"):
        hae(R, VL, VH, VL, SW, termination="both")
    with pytest.raises(ConfigError, match="one length"):
        low_level_gae([0, 1], [0.1], [0.1, 0.2], [False, False], gamma=1.0, lam=1.0)


def test_whiten_and_shaping():
    np.testing.assert_allclose(whiten([1.0, 3.0]), [-1.0, 1.0], rtol=1e-6)
    # statistics over the selected entries only (mean 2, std 1), applied to all
    np.testing.assert_allclose(whiten([1.0, 3.0, 10.0], [True, True, False]), [-1.0, 1.0, 8.0], rtol=1e-6)
    np.testing.assert_allclose(whiten([4.0, 5.0], [False, False]), [4.0, 5.0])
    keep = [True, False, False, True]  # switch flags: KEEP at turns 1 and 2
    np.testing.assert_allclose(shaping_rewards(keep, [False] * 4, keep_penalty=0.3, mode="fixed"),
                               [0, -0.3, -0.3, 0])
    # normalized: total -0.3 * 2/4 spread over the two KEEP turns
    np.testing.assert_allclose(shaping_rewards(keep, [False, False, True, False], keep_penalty=0.3,
                                               keep_change_penalty=0.5), [0, -0.075, -0.575, 0])
    with pytest.raises(ConfigError, match="keep_penalty_mode"):
        shaping_rewards(keep, [False] * 4, mode="sum")


@pytest.mark.parametrize("text, previous, expected", [
    ("<switch>SWITCH</switch>\n<subgoal>go to room 3</subgoal>\n<action>go east</action>", "x",
     (True, "go to room 3", "go to room 3", "go east", True)),
    (" <switch> keep </switch><subgoal> find coin </subgoal><action>take coin</action>\n", "find coin",
     (False, "find coin", "find coin", "take coin", True)),
    # KEEP that rewrites the sub-goal: well-formed, the written one is current (the penalty is shaping's)
    ("<switch>KEEP</switch><subgoal>new</subgoal><action>look</action>", "old", (False, "new", "new", "look", True)),
    # malformed: KEEP, previous sub-goal, action from the <action> block (even unclosed) or the last line
    ("<switch>SWITCH</switch><action>go west</action>", "old", (False, "old", None, "go west", False)),
    ("<switch>SWITCH</switch><subgoal>s</subgoal><action>go west", None, (False, None, None, "go west", False)),
    ("<switch>SWITCH</switch><subgoal>s</subgoal>\nlook", "old", (False, "old", None, "look", False)),
    ("I think I should go east.\ngo east", "old", (False, "old", None, "go east", False)),
    ("<switch>SWITCH</switch><subgoal></subgoal><action>look</action>", "old", (False, "old", None, "look", False)),
    ("<switch>SWITCH</switch><subgoal>a</subgoal><action>look</action> extra", "o", (False, "o", None, "look", False)),
    ("", "old", (False, "old", None, "", False)),
])
def test_parse_reply(text, previous, expected):
    r = parse_reply(text, previous)
    assert (r.switch, r.subgoal, r.written, r.action, r.format_ok) == expected


def test_token_masks_and_assignment():
    pieces = ["<switch>", "SWITCH", "</switch>", "\n<subgoal>", "find", "</subgoal>", "\n", "<action>", "go",
              " east", "</action>", "<|im_end|>"]
    m = token_masks(pieces)
    assert m["switch"].astype(int).tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert m["subgoal"].astype(int).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]  # "\n<subgoal>" overlaps
    assert m["action"].astype(int).tolist() == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]
    np.testing.assert_allclose(assign_tokens(1.0, 2.0, 3.0, True, m), [3, 3, 3, 2, 2, 2, 0, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(assign_tokens(1.0, 2.0, 3.0, False, m), [3, 3, 3, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    # a token straddling two blocks belongs to the first; no action block: the rest is the action
    m = token_masks(["<switch>KEEP</switch><sub", "goal>a</subgoal>", "go", " east"])
    assert [m[k].astype(int).tolist() for k in ("switch", "subgoal", "action")] == \
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]]
    m = token_masks(["go", " east"])  # nothing parsed: everything is the action
    assert m["action"].all() and not m["switch"].any() and not m["subgoal"].any()
    assert all(len(v) == 0 for v in token_masks([]).values())


# --- the algorithm on scripted choices ----------------------------------------------------------------------

def _choice(switch, values, masks, *, keep_changed=False, beta=0.5):
    from sparsegym.agents.text.policy import Choice

    return Choice("go east", 0, -1.0, value=values[0], extra={
        "switch": switch, "values": dict(zip(("low", "high", "term"), values)), "keep_changed": keep_changed,
        "masks": {k: list(v) for k, v in masks.items()}, "switch_prob": beta, "format_ok": True})


# the tokens of every scripted turn: switch (2 tokens), sub-goal (2), action (1), end-of-turn (1)
MASKS = {"switch": [1, 1, 0, 0, 0, 0], "subgoal": [0, 0, 1, 1, 0, 0], "action": [0, 0, 0, 0, 1, 0]}


def _scripted(rewards, switch, values, *, terminated=True, invalid=None, keep_changed=None):
    from sparsegym.agents.text.policy import Turn
    from sparsegym.agents.text.rollout import Trajectory

    t = Trajectory(task_seed=0, group=0, terminated=terminated, truncated=not terminated)
    t.turns = [Turn(f"obs {i}", ["go east"], []) for i in range(len(rewards))]
    changed = keep_changed or [False] * len(rewards)
    t.choices = [_choice(s, v, MASKS, keep_changed=c) for s, v, c in zip(switch, values, changed)]
    t.rewards = [float(r) for r in rewards]
    t.invalid = list(invalid) if invalid is not None else [False] * len(rewards)
    return t


def _bound(trainer_cfg=None, **options):
    from types import SimpleNamespace

    from sparsegym.agents.text import TextRLConfig
    from sparsegym.agents.text.algos.hiper import HiPER, HiPEROptions

    algo = HiPER(HiPEROptions(**options))
    algo.bind(SimpleNamespace(config=TextRLConfig(algo="hiper", **(trainer_cfg or {})),
                              policy=SimpleNamespace(hiper_format=True)))
    return algo


def test_advantages_are_given_per_token():
    pytest.importorskip("torch")
    values = list(zip(VL, VH, [0.0, 0.1, 0.2, 0.3]))
    traj = _scripted(R, SW, values)
    algo = _bound(gamma=0.9, lambda_turn=0.5, lambda_seg=0.8, norm_adv=False)
    adv = algo.advantages([traj])
    assert len(adv) == 4 and all(len(a) == 6 for a in adv)
    low, high, term = [0.7235, 1.43, 0.78, 1.6], [1.6798, 0, 1.1, 0], [1.467, 1.53, 1.6, 1.7]
    for t in range(4):  # switch tokens: A^term; sub-goal tokens: A^H on boundary turns (0 and 2); action: A^L
        np.testing.assert_allclose(adv[t], [term[t]] * 2 + [high[t]] * 2 + [low[t], 0.0], atol=1e-9)
    np.testing.assert_allclose(algo._targets["low"].numpy(), np.add(low, VL), rtol=1e-6)
    np.testing.assert_allclose(algo._targets["term"].numpy(), [1.467, 1.63, 1.8, 2.0], rtol=1e-6)
    assert algo._targets["boundary"].tolist() == [True, False, True, False]
    assert algo._stats["switch_rate"] == 0.25 and algo._stats["segment_length"] == 2.0
    # whitened: each type over the turns carrying it (high: the two boundary turns only)
    white = _bound(gamma=0.9, lambda_turn=0.5, lambda_seg=0.8).advantages([traj])
    np.testing.assert_allclose([a[4] for a in white], whiten(low), rtol=1e-6)
    np.testing.assert_allclose([white[0][2], white[2][2]], [1.0, -1.0], rtol=1e-6)
    np.testing.assert_allclose([a[0] for a in white], whiten(term), rtol=1e-6)


def test_rewards_shaping_and_invalid_penalty_enter_hae():
    pytest.importorskip("torch")
    values = [(0.0, 0.0, 0.0)] * 3
    traj = _scripted([0, 0, 1], [True, False, False], values, invalid=[True, False, False],
                     keep_changed=[False, False, True])
    algo = _bound({"invalid_penalty": 0.1}, keep_penalty=0.3, keep_change_penalty=0.5, norm_adv=False)
    # KEEP turns 1 and 2 share -0.3 * 2/3; turn 2 rewrote its sub-goal (-0.5); turn 0 refused (-0.1)
    np.testing.assert_allclose(algo.rewards(traj), [-0.1, -0.1, 1 - 0.1 - 0.5])
    adv = algo.advantages([traj])  # gamma 1, lambda_turn 1, values 0: A^L is the return to go
    np.testing.assert_allclose([a[4] for a in adv], [0.2, 0.3, 0.4], atol=1e-9)


def test_paper_termination_uses_the_switch_probability():
    pytest.importorskip("torch")
    traj = _scripted([0, 1], [True, True], [(0.2, 0.5, 0.0), (0.1, 0.4, 0.0)])
    traj.choices[0].extra["switch_prob"], traj.choices[1].extra["switch_prob"] = 0.75, 0.5
    adv = _bound(termination="paper", norm_adv=False).advantages([traj])
    np.testing.assert_allclose([a[0] for a in adv], [0.25 * 0.3, 0.5 * 0.3])


def test_options_and_errors():
    pytest.importorskip("torch")
    from types import SimpleNamespace

    from sparsegym.agents.text import TextRLConfig
    from sparsegym.agents.text.algos import available, make_algorithm
    from sparsegym.agents.text.algos.hiper import HiPER

    assert "hiper" in available()
    opt = make_algorithm("hiper").options
    assert (opt.gamma, opt.lambda_turn, opt.lambda_seg, opt.norm_adv, opt.termination) == \
        (1.0, 1.0, 0.95, True, "released")
    for bad, match in [({"lambda_seg": 1.5}, "lambda_seg"), ({"termination": "both"}, "'released'"),
                       ({"keep_penalty": -0.3}, "at least 0"), ({"keep_penalty_mode": "sum"}, "keep_penalty_mode"),
                       ({"omega": 1}, "no option 'omega'")]:
        with pytest.raises(ConfigError, match=match):
            make_algorithm("hiper", bad)
    with pytest.raises(ConfigError, match="HiPERPolicy"):
        HiPER().bind(SimpleNamespace(config=TextRLConfig(algo="hiper"), policy=object()))
    with pytest.raises(ConfigError, match="vf_coef to 0"):
        HiPER().bind(SimpleNamespace(config=TextRLConfig(algo="hiper", vf_coef=0.5),
                                     policy=SimpleNamespace(hiper_format=True)))


def test_trainer_checks_per_token_advantages():
    torch = pytest.importorskip("torch")
    from sparsegym.agents.text.trainer import _token_advantages

    mask = torch.tensor([[True, True, False], [True, True, True]])
    per_turn = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])]
    got = _token_advantages(per_turn, np.array([0, 1]), torch.zeros(2, 3), mask)
    assert got.tolist() == [[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]]
    with pytest.raises(ConfigError, match="one advantage per generated token"):
        _token_advantages(per_turn, np.array([1, 0]), torch.zeros(2, 3), mask)
    with pytest.raises(ConfigError, match="token policy"):
        _token_advantages(per_turn, np.array([0]), torch.zeros(1), None)


# --- the policy and a training run on a tiny causal LM --------------------------------------------------------

@pytest.fixture(scope="module")
def lm():
    pytest.importorskip("transformers")
    from sparsegym.agents.text import tiny_causal_lm

    return tiny_causal_lm(seed=0)


def test_policy_reads_replies_and_rebuilds_its_prompt(lm):
    import torch

    from sparsegym.agents.text.algos.hiper import HiPERPolicy
    from sparsegym.agents.text.policy import Choice, Turn

    model, tok = lm
    policy = HiPERPolicy(model, tok, max_new_tokens=4)
    turn = Turn("Room 1.", ["go east", "take coin"], [("Room 0.", "go east")], state={"subgoal": "reach room 3"})
    assert "Your current sub-goal: reach room 3" in policy.prompt_text(turn)
    assert "Your current sub-goal: None" in policy.prompt_text(Turn("Room 0.", ["go east"], []))
    text = "<switch>KEEP</switch><subgoal>reach room 3</subgoal><action>go east</action>"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    raw = Choice(text, None, -1.0, value=[0.1, 0.2, 0.3],
                 extra={"text": text, "token_ids": ids, "token_logprobs": [-0.5] * len(ids)})
    c = policy._read_reply(turn, raw)
    assert (c.action, c.index, c.value) == ("go east", 0, 0.1)
    assert c.extra["values"] == {"low": 0.1, "high": 0.2, "term": 0.3}
    assert (c.extra["switch"], c.extra["keep_changed"], c.extra["format_penalty"]) == (False, False, 0.0)
    assert c.extra["state"] == {"subgoal": "reach room 3"}
    m = {k: np.asarray(v) for k, v in c.extra["masks"].items()}
    pieces = [tok.decode([t]) for t in ids]
    # each block's tokens cover it (a token straddling two blocks, such as "><", belongs to the first)
    assert "".join(p for p, s in zip(pieces, m["switch"]) if s).startswith("<switch>KEEP</switch>")
    assert "".join(p for p, s in zip(pieces, m["action"]) if s).endswith("action>go east</action>")
    assert "reach room 3" in "".join(p for p, s in zip(pieces, m["subgoal"]) if s)
    assert not (m["switch"] & m["subgoal"]).any() and not (m["subgoal"] & m["action"]).any()
    # beta: the written word's tokens at -0.5 each, so P(KEEP) = exp(-0.5 * n) and beta = 1 - P(KEEP)
    from sparsegym.agents.text.algos.hiper import switch_word_mask

    n_word = int(switch_word_mask(pieces).sum())
    assert n_word >= 1 and c.extra["switch_prob"] == pytest.approx(1 - np.exp(-0.5 * n_word))
    # a KEEP that rewrites the sub-goal is flagged; a malformed reply is penalised and keeps the shown sub-goal
    text2 = "<switch>KEEP</switch><subgoal>other</subgoal><action>go east</action>"
    ids2 = tok(text2, add_special_tokens=False)["input_ids"]
    c2 = policy._read_reply(turn, Choice(text2, None, -1.0, value=[0, 0, 0],
                                         extra={"text": text2, "token_ids": ids2, "token_logprobs": [0.0] * len(ids2)}))
    assert c2.extra["keep_changed"] and c2.extra["subgoal"] == "other"
    ids3 = tok("go east", add_special_tokens=False)["input_ids"]
    c3 = policy._read_reply(turn, Choice("go east", None, -1.0, value=[0, 0, 0],
                                         extra={"text": "go east", "token_ids": ids3, "token_logprobs": [0.0]}))
    assert c3.extra["format_penalty"] == -policy.format_penalty and c3.extra["state"] == {"subgoal": "reach room 3"}
    assert all(c3.extra["masks"]["action"]) and not any(c3.extra["masks"]["switch"])
    # act, then evaluate: the same log-probabilities and the three heads' values
    [a] = policy.act([turn], generator=torch.Generator().manual_seed(0))
    out = policy.evaluate([turn], [a])
    assert abs(out["logprob"].item() - a.logprob) < 1e-4
    assert {"value_low", "value_high", "value_term"} <= set(out) and out["value"].shape == (1,)
    with pytest.raises(ConfigError, match="mode='generate'"):
        HiPERPolicy(model, tok, mode="score")


def test_training_smoke_run_on_the_corridor(lm, corridor, tmp_path):
    import torch

    from sparsegym.agents.text import TextRLConfig, TextRLTrainer
    from sparsegym.agents.text.algos.hiper import HiPERPolicy
    from sparsegym.agents.text.policy import TextPolicy

    model, tok = lm
    policy = HiPERPolicy(model, tok, max_new_tokens=6, history_window=0)
    before = policy.value_head.weight.detach().clone()
    cfg = TextRLConfig(algo="hiper", group_size=2, num_envs=2, learning_rate=1e-2, ent_coef=0.0,
                       algo_kwargs={"keep_penalty": 0.1, "keep_change_penalty": 0.1})
    trainer = TextRLTrainer(lambda: corridor(n=3, max_steps=2), policy, cfg)
    history = trainer.learn(4, progress=False)
    assert len(history) == 2
    for stats in history:
        for k in ("policy_loss", "value_loss", "value_loss_low", "value_loss_high", "value_loss_term"):
            assert np.isfinite(stats[k]), k
    after = policy.value_head.weight.detach()
    assert all(not torch.equal(before[h], after[h]) for h in range(3))  # each of the three heads learned
    # the sub-goal travels to the next turn, and a saved policy comes back as a HiPERPolicy with its heads
    from sparsegym.agents.text.rollout import collect

    [traj] = collect([corridor(n=3, max_steps=2)], policy, [0], 1, generator=torch.Generator().manual_seed(1))
    assert traj.length == 2 and traj.turns[0].state is None
    assert all(t.state == c.extra["state"] for t, c in zip(traj.turns[1:], traj.choices))
    trainer.save(tmp_path / "run")
    loaded = TextPolicy.load(tmp_path / "run" / "policy")
    assert isinstance(loaded, HiPERPolicy) and torch.allclose(loaded.value_head.weight, after)
