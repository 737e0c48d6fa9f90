"""TextRLTrainer on the tiny corridor env: statistics, callbacks, options, exact resume, the agent."""

import json

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.callbacks import Callback, Checkpoint, CSVLogger, StopOnSuccess  # noqa: E402
from sparsegym.agents.text import TextAgent, TextRLConfig, TextRLTrainer, load_text_agent  # noqa: E402
from sparsegym.agents.text.scorer import ActionScorer  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


def _trainer(corridor, **cfg):
    cfg = {"group_size": 4, "num_envs": 4, "policy_kwargs": SMALL, **cfg}
    return TextRLTrainer(lambda: corridor(), config=TextRLConfig(**cfg))


class _Count(Callback):
    def __init__(self):
        self.steps, self.rollouts, self.total = 0, 0, None

    def on_training_start(self, total_steps):
        self.total = total_steps

    def on_step(self):
        self.steps += 1
        return True

    def on_rollout_end(self, stats):
        self.rollouts += 1
        return True


def test_learn_reports_episode_statistics_to_callbacks(corridor):
    trainer, count = _trainer(corridor, groups_per_iteration=2), _Count()
    history = trainer.learn(20, callbacks=[count], progress=False)  # 8 episodes an iteration: 3 iterations
    assert len(history) == 3 and count.rollouts == 3 and count.steps == 24 and count.total == 24
    last = history[-1]
    assert last["episodes"] == trainer.global_step == 24 and last["iteration"] == 3
    assert last["frames"] == trainer.frames > 24
    for key in ("policy_loss", "entropy", "clipfrac", "approx_kl", "grad_norm", "batch_success", "success_rate",
                "episode_return", "episode_length", "invalid_actions", "fps", "advantage_mean"):
        assert key in last
    assert trainer.groups_done == 6 and trainer.iterations == 3


def test_a_stop_keeps_the_unfinished_iteration_out_of_the_update(corridor):
    trainer = _trainer(corridor)
    before = [p.clone() for p in trainer.policy.parameters()]
    history = trainer.learn(40, callbacks=lambda stats: False, progress=False)
    assert len(history) == 1
    stop = _Count()
    stop.on_step = lambda: False
    trainer2 = _trainer(corridor)
    assert trainer2.learn(40, callbacks=stop, progress=False) == []
    assert all(torch.equal(a, b) for a, b in zip(before, trainer2.policy.parameters()))  # not learned from


def test_options_and_their_statistics(corridor):
    trainer = _trainer(corridor, algo="rloo", kl_coef=0.05, vf_coef=0.5, update_epochs=2, num_minibatches=2,
                       loss_agg="turn-mean", stats_across_steps=True)
    history = trainer.learn(8, progress=False)
    assert {"kl", "value_loss"} <= set(history[-1]) and trainer.reference is not None
    assert history[-1]["kl"] >= 0
    with pytest.raises(ConfigError, match="algo"):
        _trainer(corridor, algo="ppo")
    with pytest.raises(ConfigError, match="loss_agg"):
        _trainer(corridor, loss_agg="sum")
    with pytest.raises(ConfigError, match="unknown text-RL option"):
        TextRLTrainer(lambda: corridor(), lr=1)


def test_task_seeds_cycle_over_num_tasks(corridor):
    trainer = _trainer(corridor, num_tasks=2, first_task_seed=10, groups_per_iteration=3)
    assert trainer._next_task_seeds() == [10, 11, 10] and trainer._next_task_seeds() == [11, 10, 11]
    fresh = _trainer(corridor, first_task_seed=3)
    assert [fresh._next_task_seeds()[0] for _ in range(3)] == [3, 4, 5]


def _params(trainer):
    return [p.detach().clone() for p in trainer.policy.parameters()]


class _Interrupt(Callback):
    def __init__(self, at: int):
        self.at = at

    def on_rollout_end(self, stats):
        if stats["episodes"] >= self.at:
            raise KeyboardInterrupt
        return True


@pytest.mark.parametrize("kl", [0.0, 0.05])
def test_resume_after_interruption_is_exact(corridor, tmp_path, kl):
    straight = _trainer(corridor, kl_coef=kl)
    want = straight.learn(16, progress=False)

    interrupted = _trainer(corridor, kl_coef=kl)
    with pytest.raises(KeyboardInterrupt):
        interrupted.learn(16, callbacks=[CSVLogger(tmp_path), Checkpoint(tmp_path / "ck", every=8), _Interrupt(12)],
                          progress=False)
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["8"]  # interrupted at 12, before the next one
    resumed = TextRLTrainer.load(tmp_path / "ck" / "8", env=lambda: corridor())
    assert resumed.global_step == 8 and resumed.iterations == 2 and resumed.groups_done == 2
    got = resumed.learn(8, progress=False)
    assert [h["batch_success"] for h in got] == [h["batch_success"] for h in want[2:]]
    assert got[-1]["success_rate"] == want[-1]["success_rate"] and got[-1]["frames"] == want[-1]["frames"]
    for a, b in zip(_params(straight), _params(resumed)):
        assert torch.equal(a, b)


def test_save_load_and_the_leaderboard_agent(corridor, tmp_path):
    trainer = _trainer(corridor)
    trainer.learn(8, progress=False)
    trainer.save(tmp_path / "run")
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"trainer.json", "trainer.pt", "policy"}
    meta = json.loads((tmp_path / "run" / "trainer.json").read_text())
    assert meta["env_id"] is None and meta["global_step"] == 8 and meta["config"]["group_size"] == 4
    with pytest.raises(ConfigError, match="env="):
        TextRLTrainer.load(tmp_path / "run")
    env = corridor()
    for path in (tmp_path / "run", tmp_path / "run" / "policy"):
        agent = load_text_agent(env, path=str(path))
        assert isinstance(agent, TextAgent) and isinstance(agent.policy, ActionScorer)
        assert agent.instructions.startswith("Find the coin")
        obs, info = env.reset(seed=0)
        agent.reset(0)
        first = agent.act(obs, info)
        assert first in info["admissible_actions"] and agent.history == [(obs, first)]
        agent.reset(0)
        assert agent.act(obs, info) == first and len(agent.history) == 1
    with pytest.raises(ConfigError):
        load_text_agent(env)
    assert isinstance(trainer.agent(env), TextAgent)


def test_stop_on_success_and_learning_on_the_corridor(corridor):
    """The corridor (random success ~0.3 from a start 2-3 rooms away) is learned in a few hundred episodes."""
    trainer = _trainer(corridor, group_size=8, num_envs=8, policy_kwargs={}, stats_window=32)
    stop = StopOnSuccess(threshold=0.9, min_episodes=32, stop=True)
    history = trainer.learn(480, callbacks=stop, progress=False)
    assert stop.reached_at is not None, [round(h["batch_success"], 2) for h in history]
    assert history[0]["batch_success"] < 0.6


class _TokenScorer(ActionScorer):
    """The scorer, reporting each action's log-probability spread evenly over its words as "tokens"
    (the keys a language-model policy adds), to exercise the trainer's per-token path."""

    def evaluate(self, turns, choices):
        out = super().evaluate(turns, choices)
        lengths = torch.tensor([len(c.action.split()) for c in choices])
        width = int(lengths.max())
        mask = torch.arange(width)[None, :] < lengths[:, None]
        out["token_logprob"] = (out["logprob"] / lengths)[:, None].expand(-1, width) * mask
        out["token_entropy"] = out["entropy"][:, None].expand(-1, width) * mask
        out["mask"] = mask
        return out


def test_per_token_policies_train_through_the_same_loop(corridor):
    policy = _TokenScorer(**SMALL)
    trainer = TextRLTrainer(lambda: corridor(), policy, TextRLConfig(group_size=4, num_envs=4, update_epochs=2,
                                                                     num_minibatches=3, loss_agg="turn-sum-norm"))
    before = [p.detach().clone() for p in policy.parameters()]
    history = trainer.learn(8, progress=False)
    assert len(history) == 2 and history[0]["approx_kl"] >= 0
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters()))


def test_old_logprobs_are_kept_unpadded_and_scattered_into_any_padding():
    from sparsegym.agents.text.policy import Choice, Turn
    from sparsegym.agents.text.trainer import _gather, _logprobs_per_turn

    policy = _TokenScorer(**SMALL)
    turns = [Turn("a room", ["go east", "look", "take the red coin"], history=[]) for _ in range(3)]
    choices = [Choice(a, i, 0.0) for i, a in enumerate(turns[0].actions)]
    kept = _logprobs_per_turn(policy, turns, choices, chunk=2)
    assert [k.shape[0] for k in kept] == [2, 1, 4]
    out = policy.evaluate(turns[1:], choices[1:])  # a minibatch padded to 4 tokens
    assert torch.allclose(_gather(kept, [1, 2], out["token_logprob"], out["mask"]), out["token_logprob"])
    flat = [torch.tensor(1.0), torch.tensor(2.0)]
    assert _gather(flat, [1, 0], torch.zeros(2), None).tolist() == [2.0, 1.0]
