"""EPO (sparsegym.agents.text.algos.epo): the phase weight and the out-of-band penalty by hand, the entropy
history and its mean, the gates, gradient in the differentiable form and none in the mask form, options,
training through TextRLTrainer and exact resume."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.algos import Batch, make_algorithm  # noqa: E402
from sparsegym.agents.text.algos.epo import EPO, EPOOptions, phase_weight  # noqa: E402
from sparsegym.agents.text.rollout import Trajectory  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


def _trainer(corridor, algo_kwargs=None, **cfg):
    cfg = {"group_size": 4, "num_envs": 4, "policy_kwargs": SMALL, "algo": "epo",
           "algo_kwargs": {"max_steps": 4, **(algo_kwargs or {})}, **cfg}
    return TextRLTrainer(lambda: corridor(max_steps=4), config=TextRLConfig(**cfg))


def _perturbed(trainer, scale=0.5):
    """The trainer, its scorer moved away from the uniform policy it starts as (whose entropy, ln 4 at
    every turn, hardly moves in a few iterations), so that entropies differ between turns and iterations."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in trainer.policy.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return trainer


def _episodes(*lengths):
    out = []
    for n in lengths:
        t = Trajectory(0, 0)
        t.turns, t.rewards = [None] * n, [0.0] * n
        out.append(t)
    return out


def _batch(entropy, step, mask=None, index=None, agg="token-mean"):
    entropy = torch.tensor(entropy, requires_grad=True)
    index = np.arange(len(step)) if index is None else np.asarray(index)
    return Batch(index=index, turns=[], choices=[], out={}, logprob=None, entropy=entropy,
                 mask=None if mask is None else torch.tensor(mask), step=np.asarray(step), agg=agg)


def test_phase_weight_by_hand():
    # first half (k <= 75 of 150): 1 - 0.2 (1 - e^(-2 k / 75)); second half: 0.8 e^(-3 (k - 75) / 75)
    assert phase_weight(0, 150) == 1.0
    assert phase_weight(75, 150) == pytest.approx(1 - 0.2 * (1 - 0.1353352832), abs=1e-9)  # e^-2
    assert phase_weight(100, 150) == pytest.approx(0.8 * 0.3678794412, abs=1e-9)  # e^-1
    assert phase_weight(150, 150) == pytest.approx(0.8 * 0.0497870684, abs=1e-9)  # e^-3
    assert phase_weight(1000, 150) == phase_weight(150, 150) and phase_weight(-3, 150) == 1.0
    assert phase_weight(0, 1) == 1.0 and phase_weight(1, 1) == pytest.approx(0.8 * math.exp(-3))


def test_penalty_by_hand_with_its_gradient(corridor):
    trainer = _trainer(corridor, {"kappa_low": 0.5, "kappa_high": 1.5}, ent_coef=0.01)
    algo = trainer.algorithm
    algo.history = [np.ones(4)]
    algo.prepare(_episodes(4))
    # max_steps 4: only turns with index >= 2 are penalised. History 1 everywhere, band (0.5, 1.5):
    # step 0 (H 0.2) gated off; step 2 (H 0.2) 0.5 - 0.2 = 0.3; step 3 (H 1.0) in band; step 3 (H 2.0) 0.5
    batch = _batch([0.2, 0.2, 1.0, 2.0], [0, 2, 3, 3])
    term, logs = algo.extra_loss(batch)
    assert logs["epo_penalty"] == pytest.approx(0.8 / 4) and logs["epo_weight"] == 1.0  # iteration 0: w = 1
    assert logs["epo_gated"] == 0.75 and logs["epo_out_of_band"] == pytest.approx(2 / 3)
    assert term.item() == pytest.approx(0.01 * 1.0 * 1.0 * 0.2)  # ent_coef * c_s * w * P_bar
    term.backward()
    assert np.allclose(batch.entropy.grad.numpy(), 0.01 / 4 * np.array([0.0, -1.0, 0.0, 1.0]))


def test_mask_form_has_the_value_but_no_gradient(corridor):
    trainer = _trainer(corridor, {"kappa_low": 0.5, "kappa_high": 1.5, "penalty": "mask", "out_penalty": 0.1,
                                  "smooth_coef": 2.0})
    algo = trainer.algorithm
    algo.history = [np.ones(4)]
    algo.prepare(_episodes(4))
    batch = _batch([0.2, 0.2, 1.0, 2.0], [0, 2, 3, 3])
    term, logs = algo.extra_loss(batch)
    assert logs["epo_penalty"] == pytest.approx(0.2 / 4)  # 0.1 for each of the two gated turns out of band
    assert term.item() == pytest.approx(0.01 * 2.0 * 0.05)
    assert not term.requires_grad


def test_gates_phase_weight_and_token_entropies(corridor):
    # the code's minibatch rule: one late turn makes every turn of the minibatch count
    algo = _trainer(corridor, {"kappa_low": 0.5, "kappa_high": 1.5, "gate": "minibatch"}).algorithm
    algo.history = [np.ones(4)]
    algo.prepare(_episodes(4))
    _, logs = algo.extra_loss(_batch([0.2, 0.2, 1.0, 2.0], [0, 2, 3, 3]))
    assert logs["epo_penalty"] == pytest.approx(1.1 / 4) and logs["epo_gated"] == 1.0
    _, logs = algo.extra_loss(_batch([0.2, 0.2], [0, 1]))  # no late turn: nothing
    assert logs["epo_penalty"] == 0.0 and logs["epo_gated"] == 0.0
    # gate none, per-token entropies with a mask, iteration 100 of 150 (w = 0.8 / e), turn-mean aggregation;
    # turn index 5 has no history: not penalised
    trainer = _trainer(corridor, {"kappa_low": 0.5, "kappa_high": 1.5, "gate": "none"})
    trainer.iterations = 100
    algo = trainer.algorithm
    algo.history = [np.array([1.0, 2.0])]
    algo.prepare(_episodes(2, 6))
    batch = _batch([[0.2, 4.0], [2.0, 9.0], [9.0, 9.0]], [0, 1, 5], mask=[[1.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
                   agg="turn-mean")
    term, logs = algo.extra_loss(batch)
    # turn 0 (hist 1): tokens 0.3 and 2.5, mean 1.4; turn 1 (hist 2, band (1, 3)): 2.0 in band, 0; turn 2: 0
    assert logs["epo_penalty"] == pytest.approx(1.4 / 3)
    assert logs["epo_weight"] == pytest.approx(0.8 * math.exp(-1))
    assert term.item() == pytest.approx(0.01 * 0.8 * math.exp(-1) * 1.4 / 3)
    assert logs["epo_gated"] == pytest.approx(2 / 3) and logs["epo_out_of_band"] == pytest.approx(2 / 3)


def test_history_is_the_mean_per_turn_index_over_past_iterations(corridor):
    algo = _trainer(corridor, {"gate": "none"}).algorithm
    assert len(algo.history_mean()) == 0
    # iteration 1: episodes of 2 and 1 turns; minibatches [1, 2] then [0, 1] (turn 1 seen again, with another
    # value, in a second pass: the first value is kept). Per index: step 0 (turns 0 and 2): (1 + 2) / 2, step 1: 3
    algo.prepare(_episodes(2, 1))
    algo.extra_loss(_batch([3.0, 2.0], [1, 0], index=[1, 2]))
    algo.extra_loss(_batch([1.0, 7.0], [0, 1], index=[0, 1]))
    stats = {}
    algo.after_update([], stats)
    assert stats == {"epo_history": 1.0} and np.allclose(algo.history[0], [1.5, 3.0])
    # iteration 2: one episode of 1 turn, per-token entropies (tokens weigh equally): (1 + 2 + 6) / 3 = 3
    algo.prepare(_episodes(1))
    algo.extra_loss(_batch([[1.0, 2.0, 6.0, 5.0]], [0], mask=[[1.0, 1.0, 1.0, 0.0]]))
    algo.after_update([], stats)
    assert np.allclose(algo.history[1], [3.0])
    # the mean at index 1 is over the one iteration that reached it (the code's zero padding would give 1.5)
    assert np.allclose(algo.history_mean(), [2.25, 3.0])
    algo.prepare(_episodes(1))
    assert np.allclose(algo._hist, [2.25, 3.0])  # the current iteration is not in its own history


def test_option_errors(corridor):
    cases = (({"kappa_low": 1.0, "kappa_high": 1.0}, r"epo's kappa_high \(1.0\) must exceed kappa_low \(1.0\)"),
             ({"kappa_low": -0.1}, "epo's kappa_low must be a number of at least 0, got -0.1"),
             ({"penalty": "hinge"}, "epo's penalty must be 'relu' or 'mask', got 'hinge'"),
             ({"gate": "late"}, "epo's gate must be 'turn', 'minibatch' or 'none', got 'late'"),
             ({"max_steps": 0}, "epo's max_steps must be an integer of at least 1, got 0"),
             ({"phase_iterations": None}, "epo's phase_iterations must be an integer of at least 1, got None"),
             ({"phase_weight": "no"}, "epo's phase_weight must be true or false, got 'no'"),
             ({"c_h": 0.1}, "epo has no option 'c_h'; its options: gate, kappa_high"))
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            make_algorithm("epo", kwargs)
    with pytest.raises(ConfigError, match="c_H = the trainer's ent_coef, which is 0.0: set ent_coef > 0"):
        _trainer(corridor, ent_coef=0.0)
    trainer = TextRLTrainer(lambda: corridor(max_steps=4), config=TextRLConfig(algo="epo", group_size=4, num_envs=4,
                                                                    policy_kwargs=SMALL))
    with pytest.raises(ConfigError, match="pass max_steps in algo_kwargs"):
        trainer.learn(4, progress=False)
    assert make_algorithm("epo").options == EPOOptions()


def test_epo_trains_and_with_no_smoothing_is_grpo(corridor):
    def run(algo, **kwargs):
        trainer = _perturbed(_trainer(corridor, kwargs, algo=algo, seed=2) if algo == "epo" else TextRLTrainer(
            lambda: corridor(max_steps=4), config=TextRLConfig(group_size=4, num_envs=4, policy_kwargs=SMALL, algo=algo, seed=2)))
        history = trainer.learn(8, progress=False)
        return torch.cat([p.detach().flatten() for p in trainer.policy.parameters()]), history, trainer

    grpo, _, _ = run("grpo")
    plain, _, _ = run("epo", smooth_coef=0.0)
    assert torch.equal(grpo, plain)  # c_s = 0 leaves the trainer's own entropy bonus: GRPO exactly
    smoothed, history, trainer = run("epo", smooth_coef=200.0, kappa_low=0.98, kappa_high=1.02, phase_weight=False,
                                     gate="none")
    assert isinstance(trainer.algorithm, EPO) and len(history) == 2 and len(trainer.algorithm.history) == 2
    assert history[0]["epo_penalty"] == 0.0 and history[0]["epo_gated"] == 0.0  # no history yet
    assert history[1]["epo_gated"] > 0 and history[1]["epo_penalty"] > 0 and history[1]["epo_history"] == 2.0
    assert not torch.equal(grpo, smoothed)


def test_resume_keeps_the_history_and_continues_exactly(corridor, tmp_path):
    trainer = _perturbed(_trainer(corridor, {"gate": "none", "kappa_low": 0.98, "kappa_high": 1.02,
                                             "smooth_coef": 50.0}, seed=4))
    trainer.learn(8, progress=False)
    trainer.save(tmp_path)
    again = TextRLTrainer.load(tmp_path, env=lambda: corridor(max_steps=4))
    assert len(again.algorithm.history) == len(trainer.algorithm.history) == 2
    assert all(np.array_equal(a, b) for a, b in zip(again.algorithm.history, trainer.algorithm.history))
    a, b = trainer.learn(4, progress=False), again.learn(4, progress=False)
    assert a[0]["epo_penalty"] == b[0]["epo_penalty"] > 0
    assert all(torch.equal(p, q) for p, q in zip(trainer.policy.parameters(), again.policy.parameters()))
