"""Supervised fine-tuning of a generating policy (sparsegym.agents.text.sft): the loss is the reply's token
NLL under the prompt the policy acts on, it falls, a fitted model writes the format, and HiPER's format
demonstrations carry the sub-goal state the prompt reads."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from sparsegym.agents.text import CausalLMPolicy, Choice, Turn, UniformPolicy, collect, tiny_causal_lm  # noqa: E402
from sparsegym.agents.text.algos.hiper import HiPERPolicy, hiper_format_demonstrations, parse_reply  # noqa: E402
from sparsegym.agents.text.sft import _response_ids, format_demonstrations, supervised_finetune  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402


def test_the_first_loss_is_the_replys_token_nll_under_the_acting_prompt():
    policy = CausalLMPolicy(*tiny_causal_lm(seed=0), mode="generate")
    turn = Turn("A coin is here.", ["take coin", "go north"], [("Room 0.", "go north")], instructions="Win.")
    reply = "<answer>take coin</answer>"
    ids = _response_ids(policy, reply)
    assert ids == policy.tokenizer(reply, add_special_tokens=False)["input_ids"]  # stops at </answer>: no end token
    assert _response_ids(policy, "take coin")[-1] == policy.end_token_id  # otherwise the model learns to stop
    with torch.no_grad():  # by hand: one forward pass over prompt + reply
        prompt = policy.prompt_ids(turn)
        logp = policy.model(input_ids=torch.tensor([prompt + ids])).logits[0].double().log_softmax(-1)
        nll = -np.mean([logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(ids)])
    losses = supervised_finetune(policy, [(turn, reply)], epochs=1, batch_size=1, learning_rate=0.0)
    assert losses[0] == pytest.approx(nll, rel=1e-4)


def test_fitting_makes_a_random_model_write_hipers_format_with_admissible_actions(corridor):
    envs = [corridor(n=3, max_steps=6) for _ in range(4)]
    trajs = collect(envs, UniformPolicy(), task_seeds=[0, 1], group_size=4, generator=torch.Generator().manual_seed(0))
    examples = hiper_format_demonstrations(trajs, subgoal="reach the coin")
    assert len(examples) == sum(t.length for t in trajs)
    first, later = examples[0], examples[1]
    assert first[0].state is None and first[1].startswith("<switch>SWITCH</switch>")
    assert later[0].state == {"subgoal": "reach the coin"} and later[1].startswith("<switch>KEEP</switch>")
    assert parse_reply(later[1], "reach the coin").format_ok
    assert parse_reply(later[1], "reach the coin").action == trajs[0].choices[1].action

    policy = HiPERPolicy(*tiny_causal_lm(seed=0), max_new_tokens=64, history_window=0)

    def written(n=16):
        turns = [ex[0] for ex in examples[:n]]
        return policy.act(turns, generator=torch.Generator().manual_seed(1))

    assert not any(c.extra["format_ok"] for c in written())  # a random model writes no format
    losses = supervised_finetune(policy, examples, epochs=30, batch_size=8, learning_rate=1e-2, seed=0)
    assert losses[-1] < 0.05 * losses[0]
    choices = written()
    assert np.mean([c.extra["format_ok"] for c in choices]) >= 0.75
    assert np.mean([c.index is not None for c in choices]) >= 0.75  # and names one of the listed actions
    assert all(c.extra["subgoal"] == "reach the coin" for c in choices if c.extra["format_ok"])


def test_format_demonstrations_and_errors():
    policy = CausalLMPolicy(*tiny_causal_lm(seed=0), mode="generate")
    traj = type("T", (), {"turns": [Turn("a", ["x"], []), Turn("b", ["y"], [])],
                          "choices": [Choice("x", 0, 0.0), Choice("y", 0, 0.0)]})()
    ex = format_demonstrations([traj], lambda turn, a, t: f"{t}:{a}", lambda turn, a, t: {"k": t})
    assert [(e[0].observation, e[0].state, e[1]) for e in ex] == [("a", {"k": 0}, "0:x"), ("b", {"k": 1}, "1:y")]
    with pytest.raises(ConfigError, match="mode='generate'"):
        supervised_finetune(CausalLMPolicy(*tiny_causal_lm(seed=0)), ex)
    with pytest.raises(ConfigError, match="no examples"):
        supervised_finetune(policy, [])
    with pytest.raises(ConfigError, match="at least 1"):
        supervised_finetune(policy, ex, epochs=0)
