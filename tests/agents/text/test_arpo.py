"""ARPO (sparsegym.agents.text.algos.arpo): which episode a success-less group gets swapped, the advantages
after the swap by hand, the buffer's capacity and per-seed lookup, no self-replay, options, training and
exact resume."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.algos import make_algorithm  # noqa: E402
from sparsegym.agents.text.algos.arpo import ARPO, ARPOOptions  # noqa: E402
from sparsegym.agents.text.policy import Choice, Turn  # noqa: E402
from sparsegym.agents.text.rollout import Trajectory  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


def _trainer(corridor, algo_kwargs=None, **cfg):
    cfg = {"group_size": 4, "num_envs": 4, "policy_kwargs": SMALL, "algo": "arpo", "algo_kwargs": algo_kwargs or {},
           **cfg}
    return TextRLTrainer(lambda: corridor(n=4, starts=1), config=TextRLConfig(**cfg))


def _traj(seed, group, turns=1, success=False, tag=""):
    """An episode of ``turns`` turns whose last reward is 1 when it succeeded; ``tag`` names its actions."""
    t = Trajectory(seed, group, success=success, terminated=True)
    for k in range(turns):
        t.turns.append(Turn(f"obs {k}", ["a", "b"], []))
        t.choices.append(Choice(f"{tag}{k}", 0, -0.7))
        t.rewards.append(1.0 if success and k == turns - 1 else 0.0)
        t.invalid.append(False)
    return t


def test_a_failed_group_gets_the_latest_success_of_its_seed_and_its_advantages(corridor):
    trainer = _trainer(corridor, {"pick": "latest"})
    algo = trainer.algorithm
    old, new, other = _traj(5, 9, 2, True, "old"), _traj(5, 9, 2, True, "new"), _traj(6, 9, 2, True, "six")
    for t in (old, new, other):
        algo.add(t)
    batch = [_traj(5, 0, tag=f"f{i}") for i in range(4)] + [_traj(6, 1, 1, i == 0, f"g{i}") for i in range(4)]
    out = algo.prepare(batch)
    # group 0 (seed 5) had no success: its last episode makes room for seed 5's newest success, regrouped;
    # group 1 (seed 6) has one and is left alone
    assert out[:3] == batch[:3] and out[4:] == batch[4:] and out[3] is not batch[3]
    assert out[3].choices is new.choices and out[3].group == 0 and out[3].task_seed == 5 and new.group == 9
    # group 0's returns are now [0, 0, 0, 1]: mean 0.25, unbiased std sqrt(0.75 / 3) = 0.5, so the failures
    # get -0.25 / 0.5 = -0.5 and both turns of the success 0.75 / 0.5 = 1.5; group 1 likewise (1 of 4)
    adv = algo.advantages(out)
    assert np.allclose(adv, [-0.5, -0.5, -0.5, 1.5, 1.5, 1.5, -0.5, -0.5, -0.5], atol=1e-5)
    stats = {}
    algo.after_update(out, stats)
    assert stats == {"arpo_failed_groups": 1.0, "arpo_replayed": 1.0, "arpo_rescued_groups": 1.0,
                     "arpo_buffer": 4.0, "arpo_buffer_tasks": 2.0}  # 3 stored + seed 6's fresh success


def test_replay_per_group_takes_that_many_newest_first(corridor):
    trainer = _trainer(corridor, {"pick": "latest", "replay_per_group": 2})
    algo = trainer.algorithm
    stored = [_traj(3, 0, 1, True, f"s{i}") for i in range(3)]
    for t in stored:
        algo.add(t)
    batch = [_traj(3, 0, tag=f"f{i}") for i in range(4)]
    out = algo.prepare(batch)
    assert out[:2] == batch[:2]
    assert [t.choices[0].action for t in out[2:]] == ["s20", "s10"]
    # returns [0, 0, 1, 1]: mean 0.5, std sqrt(1 / 3), so -+0.5 * sqrt(3)
    assert np.allclose(algo.advantages(out), np.sqrt(3) / 2 * np.array([-1, -1, 1, 1]), atol=1e-5)


def test_no_stored_success_leaves_the_group_and_counts_it(corridor):
    algo = _trainer(corridor).algorithm
    algo.add(_traj(8, 0, 1, True))  # another seed's success: not replayed under per_task
    batch = [_traj(3, 0) for _ in range(4)]
    assert algo.prepare(batch) == batch
    assert np.allclose(algo.advantages(batch), 0.0)
    stats = {}
    algo.after_update(batch, stats)
    assert stats["arpo_failed_groups"] == 1 and stats["arpo_replayed"] == 0 and stats["arpo_rescued_groups"] == 0


def test_buffer_keeps_the_most_recent_per_seed_and_pools_across_seeds_on_request(corridor):
    algo = _trainer(corridor, {"buffer_size": 2}).algorithm
    for tag in ("a", "b", "c"):
        algo.add(_traj(1, 0, 1, True, tag))
    algo.add(_traj(2, 0, 1, True, "d"))
    assert [t.choices[0].action for t in algo.candidates(1)] == ["b0", "c0"]  # "a" dropped: capacity 2
    assert [t.choices[0].action for t in algo.candidates(2)] == ["d0"]
    assert algo.candidates(3) == []
    pooled = _trainer(corridor, {"buffer_size": 2, "per_task": False}).algorithm
    for seed, tag in ((1, "a"), (2, "b"), (1, "c"), (1, "e")):
        pooled.add(_traj(seed, 0, 1, True, tag))
    assert [t.choices[0].action for t in pooled.candidates(7)] == ["b0", "c0", "e0"]  # every seed, oldest first
    out = pooled.prepare([_traj(7, 0, tag="f") for _ in range(4)])
    assert out[3].task_seed in (1, 2) and out[3].group == 0 and out[3].success


def test_no_self_replay_and_replays_are_not_stored_again(corridor):
    algo = _trainer(corridor, {"pick": "latest"}).algorithm
    # one iteration, two groups of seed 4: group 0 succeeds once, group 1 never; the buffer is empty, and
    # group 0's success must not be replayed into group 1 of its own iteration
    batch = [_traj(4, 0, 1, i == 2, f"a{i}") for i in range(4)] + [_traj(4, 1, tag=f"b{i}") for i in range(4)]
    out = algo.prepare(batch)
    assert out == batch
    stats = {}
    algo.after_update(out, stats)
    assert stats["arpo_replayed"] == 0 and stats["arpo_buffer"] == 1
    # next iteration: a failed group of seed 4 now gets it, and the replayed copy is not stored a second time
    out = algo.prepare([_traj(4, 0, tag=f"c{i}") for i in range(4)])
    assert out[3].choices is batch[2].choices
    algo.after_update(out, stats)
    assert stats["arpo_replayed"] == 1 and stats["arpo_buffer"] == 1


def test_uniform_pick_is_without_replacement_and_seeded_by_the_iteration(corridor):
    def picked(iterations, seed=0):
        trainer = _trainer(corridor, {"replay_per_group": 3}, seed=seed)
        trainer.iterations = iterations
        for i in range(5):
            trainer.algorithm.add(_traj(2, 0, 1, True, f"s{i}"))
        out = trainer.algorithm.prepare([_traj(2, 0, tag="f") for _ in range(4)])
        return [t.choices[0].action for t in out[1:]]

    first = picked(0)
    assert len(set(first)) == 3 and set(first) <= {f"s{i}0" for i in range(5)}
    assert picked(0) == first  # the same config seed and iteration draw the same
    assert len({tuple(picked(k)) for k in range(6)}) > 1  # other iterations draw otherwise


def test_option_errors(corridor):
    for kwargs, message in (({"buffer_size": 0}, "arpo's buffer_size must be an integer of at least 1, got 0"),
                            ({"replay_per_group": "2"}, "arpo's replay_per_group must be an integer of at least 1"),
                            ({"per_task": "yes"}, "arpo's per_task must be true or false, got 'yes'"),
                            ({"pick": "best"}, "arpo's pick must be 'uniform' or 'latest', got 'best'"),
                            ({"size": 3}, "arpo has no option 'size'; its options: buffer_size, per_task, pick")):
        with pytest.raises(ConfigError, match=message):
            make_algorithm("arpo", kwargs)
    with pytest.raises(ConfigError, match=r"replay_per_group \(4\) must be smaller than group_size \(4\)"):
        _trainer(corridor, {"replay_per_group": 4})
    assert make_algorithm("arpo").options == ARPOOptions()


def test_arpo_trains_replays_and_reports_what_was_played(corridor):
    trainer = _trainer(corridor, {"pick": "latest"}, num_tasks=1, seed=0)
    history = trainer.learn(32, progress=False)
    assert isinstance(trainer.algorithm, ARPO) and len(history) == 8
    successes = np.array(trainer._successes, dtype=float).reshape(8, 4)
    for h, played in zip(history, successes):
        for key in ("arpo_failed_groups", "arpo_replayed", "arpo_rescued_groups", "arpo_buffer", "policy_loss"):
            assert np.isfinite(h[key])
        # batch_success is over the episodes played, never the replayed ones
        assert h["batch_success"] == pytest.approx(played.mean())
        assert h["arpo_failed_groups"] == float(played.sum() == 0)
    assert sum(h["arpo_replayed"] for h in history) >= 1  # seed 0 fails whole groups after its first success
    stored = sum(len(v) for v in trainer.algorithm.buffer.values())
    assert stored == min(8, int(successes.sum())) == history[-1]["arpo_buffer"]


def test_resume_keeps_the_buffer_and_continues_exactly(corridor, tmp_path):
    trainer = _trainer(corridor, {"buffer_size": 3}, num_tasks=1, seed=1)
    trainer.learn(12, progress=False)  # seed 1's third iteration has the first success
    trainer.save(tmp_path)
    again = TextRLTrainer.load(tmp_path, env=lambda: corridor(n=4, starts=1))
    assert again.algorithm.serial == trainer.algorithm.serial > 0
    assert again.algorithm.buffer.keys() == trainer.algorithm.buffer.keys()
    for seed, entries in trainer.algorithm.buffer.items():
        loaded = again.algorithm.buffer[seed]
        assert loaded.maxlen == 3
        assert [(s, [c.action for c in t.choices], t.rewards) for s, t in loaded] == \
            [(s, [c.action for c in t.choices], t.rewards) for s, t in entries]
    a, b = trainer.learn(8, progress=False), again.learn(8, progress=False)
    assert [h["arpo_replayed"] for h in a] == [h["arpo_replayed"] for h in b] == [1.0, 1.0]
    assert all(torch.equal(p, q) for p, q in zip(trainer.policy.parameters(), again.policy.parameters()))
    assert trainer.algorithm.serial == again.algorithm.serial
