"""The algorithm plug-in layer of the text trainer: registry, options, and that every hook is called
where the trainer promises (a test algorithm records what it sees and adds a loss term)."""

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.algos import Algorithm, available, get_algorithm, make_algorithm, register  # noqa: E402
from sparsegym.agents.text.algos.base import _REGISTRY  # noqa: E402
from sparsegym.agents.text.algos.grpo import episode_advantages  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402

SMALL = {"buckets": 2**10, "embed_dim": 16, "hidden": 32}


@dataclasses.dataclass
class _ProbeOptions:
    weight: float = 0.0
    drop_last: bool = False


class _Probe(Algorithm):
    """GRPO's advantages, plus a loss term ``weight * mean(logprob)``; records every hook call."""

    name = "probe-test"
    Options = _ProbeOptions

    def __init__(self, options=None):
        super().__init__(options)
        self.calls: list[str] = []
        self.seen_steps: list[list[int]] = []
        self.updates = 0

    def prepare(self, trajectories):
        self.calls.append("prepare")
        return trajectories[:-1] if self.options.drop_last else trajectories

    def advantages(self, trajectories):
        self.calls.append(f"advantages:{len(trajectories)}")
        return episode_advantages(trajectories, kind="grpo", norm_by_std=True, stats_across_steps=False,
                                  invalid_penalty=0.0)

    def extra_loss(self, batch):
        self.calls.append("extra_loss")
        self.seen_steps.append(batch.step.tolist())
        if not self.options.weight:
            return None, {}
        term = self.options.weight * batch.logprob.mean()
        return term, {"probe_term": term.item()}

    def after_update(self, trajectories, stats):
        self.calls.append("after_update")
        self.updates += 1
        stats["probe_updates"] = self.updates

    def state_dict(self):
        return {"updates": self.updates}

    def load_state_dict(self, state):
        self.updates = int(state.get("updates", 0))


@pytest.fixture
def probe():
    register(_Probe)
    yield _Probe
    _REGISTRY.pop(_Probe.name, None)


def _trainer(corridor, **cfg):
    cfg = {"group_size": 4, "num_envs": 4, "policy_kwargs": SMALL, **cfg}
    return TextRLTrainer(lambda: corridor(), config=TextRLConfig(**cfg))


def test_registry_names_and_errors():
    assert {"grpo", "rloo"} <= set(available())
    assert get_algorithm("rloo").name == "rloo"
    with pytest.raises(ConfigError, match=r"unknown text-RL algorithm 'nope'; known: .*grpo"):
        get_algorithm("nope")
    with pytest.raises(ConfigError, match="algo must be one of"):
        TextRLConfig(algo="nope").validate()
    with pytest.raises(ConfigError, match="grpo has no option 'omega'; its options: none"):
        TextRLConfig(algo="grpo", algo_kwargs={"omega": 1.0}).validate()


def test_builtin_names_match_what_the_builtin_modules_register():
    from sparsegym.agents.text.algos.base import BUILTIN_NAMES

    available()  # imports the built-in modules
    builtin = {name for name, cls in _REGISTRY.items() if cls.__module__.startswith("sparsegym.agents.text.algos.")}
    assert sorted(builtin) == sorted(BUILTIN_NAMES)


def test_options_come_from_algo_kwargs(probe):
    algo = make_algorithm("probe-test", {"weight": 0.5})
    assert algo.options == _ProbeOptions(weight=0.5)
    with pytest.raises(ConfigError, match="probe-test has no option 'w'; its options: drop_last, weight"):
        make_algorithm("probe-test", {"w": 1})


def test_hooks_run_in_order_with_turn_steps(probe, corridor):
    trainer = _trainer(corridor, algo="probe-test", algo_kwargs={"drop_last": True})
    history = trainer.learn(8, progress=False)
    algo = trainer.algorithm
    assert isinstance(algo, _Probe) and algo.trainer is trainer
    # per iteration: prepare, advantages on the batch prepare returned (one episode dropped), the loss
    # term for the one minibatch, after_update
    assert algo.calls == ["prepare", "advantages:3", "extra_loss", "after_update"] * 2
    assert [h["probe_updates"] for h in history] == [1, 2]
    for steps in algo.seen_steps:  # each episode's turns are numbered 0, 1, 2, ...
        starts = [i for i, s in enumerate(steps) if s == 0]
        assert starts[0] == 0
        for a, b in zip(starts, [*starts[1:], len(steps)]):
            assert steps[a:b] == list(range(b - a))


def test_the_extra_loss_term_changes_the_update(probe, corridor):
    def params_after(weight):
        trainer = _trainer(corridor, algo="probe-test", algo_kwargs={"weight": weight}, seed=3)
        history = trainer.learn(4, progress=False)
        return torch.cat([p.detach().flatten() for p in trainer.policy.parameters()]), history

    base, _ = params_after(0.0)
    same, _ = params_after(0.0)
    pushed, history = params_after(5.0)
    assert torch.equal(base, same)
    assert not torch.allclose(base, pushed)
    assert "probe_term" in history[0] and np.isfinite(history[0]["probe_term"])


def test_algorithm_state_is_saved_and_restored(probe, corridor, tmp_path):
    trainer = _trainer(corridor, algo="probe-test")
    trainer.learn(8, progress=False)
    trainer.save(tmp_path)
    assert torch.load(tmp_path / "trainer.pt", weights_only=False)["algorithm"] == {"updates": 2}
    assert json.loads((tmp_path / "trainer.json").read_text())["config"]["algo"] == "probe-test"
    again = TextRLTrainer.load(tmp_path, env=lambda: corridor())
    assert again.algorithm.updates == 2
    assert again.algorithm.options == _ProbeOptions()


def test_grpo_and_rloo_train_through_the_registry(corridor):
    for name in ("grpo", "rloo"):
        trainer = _trainer(corridor, algo=name)
        assert type(trainer.algorithm).__name__ == name.upper()
        assert len(trainer.learn(4, progress=False)) == 1
