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
