"""Modules leave torch's global RNG alone, are reproducible from their seed, and take an encoder."""

import gymnasium
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sparsegym.intrinsic import (  # noqa: E402
    E3B,
    ICM,
    INTRINSIC_MODULES,
    RND,
    AleatoricCuriosity,
    NovelD,
    make_intrinsic,
)
from sparsegym.intrinsic.disagreement import Disagreement  # noqa: E402

D, A = 7, 3


def _batch(n=32, seed=0):
    rng = np.random.default_rng(seed)
    obs = np.concatenate([rng.normal(size=(n, 3)), np.eye(4)[rng.integers(0, 4, n)]], axis=1).astype(np.float32)
    nxt = np.concatenate([rng.normal(size=(n, 3)), np.eye(4)[rng.integers(0, 4, n)]], axis=1).astype(np.float32)
    return {"obs": obs, "next_obs": nxt, "action": rng.integers(0, A, n)}


def _params(module):
    state = module.state_dict()

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict) and k != "state":
                yield from walk(v, f"{prefix}{k}.")
            elif isinstance(v, torch.Tensor):
                yield f"{prefix}{k}", v

    return dict(walk({k: v for k, v in state.items() if k != "optimizer"}))


@pytest.mark.parametrize("name", list(INTRINSIC_MODULES))
def test_building_a_module_leaves_the_global_rng_alone(name):
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    make_intrinsic(name, D, A, device="cpu", seed=7)
    assert torch.equal(torch.rand(4), expected)


def test_building_ppo_leaves_the_global_rng_alone():
    pytest.importorskip("minigrid")
    from sparsegym.agents import PPO

    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", device="cpu", intrinsic="rnd", seed=3)
    assert torch.equal(torch.rand(4), expected)


@pytest.mark.parametrize("name", list(INTRINSIC_MODULES))
def test_same_seed_same_parameters_and_first_bonuses(name):
    torch.manual_seed(0)  # whatever the global state, the seed decides
    a = make_intrinsic(name, D, A, device="cpu", seed=11)
    torch.rand(100)
    b = make_intrinsic(name, D, A, device="cpu", seed=11)
    pa, pb = _params(a), _params(b)
    assert pa.keys() == pb.keys()
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    batch = _batch()
    np.testing.assert_array_equal(a.compute(batch), b.compute(batch))
    if pa:  # learned modules: another seed, other parameters
        c = _params(make_intrinsic(name, D, A, device="cpu", seed=12))
        assert any(not torch.equal(pa[k], c[k]) for k in pa)


SPACE = gymnasium.spaces.Dict({"pos": gymnasium.spaces.Box(-5, 5, (3,)), "key": gymnasium.spaces.Discrete(4)})


class TinyEncoder(torch.nn.Module):
    """Reads the Dict observation: the position and an embedding of the key index."""

    calls: list = []

    def __init__(self, space, out_dim):
        super().__init__()
        TinyEncoder.calls.append((space, out_dim))
        self.out_dim = out_dim
        self.key = torch.nn.Embedding(space["key"].n, 4)
        self.head = torch.nn.Linear(3 + 4, out_dim)
        self.seen = []

    def forward(self, obs):
        self.seen.append({k: (tuple(v.shape), v.dtype) for k, v in obs.items()})
        return self.head(torch.cat([obs["pos"], self.key(obs["key"])], dim=1))


@pytest.mark.parametrize("cls", [RND, ICM, E3B, NovelD, Disagreement, AleatoricCuriosity])
def test_modules_take_an_encoder_factory(cls):
    TinyEncoder.calls = []
    kwargs = {"hidden": 16, "device": "cpu", "encoder": TinyEncoder, "observation_space": SPACE}
    module = cls(D, A, **kwargs)
    assert TinyEncoder.calls and all(space is SPACE and out == 16 for space, out in TinyEncoder.calls)
    encoders = [m for net in _modules(module) for m in net.modules() if isinstance(m, TinyEncoder)]
    assert encoders, "the encoder is part of the module's networks"
    batch = _batch()
    bonus = module.compute(batch)
    assert bonus.shape == (32,) and np.all(np.isfinite(bonus))
    seen = [s for e in encoders for s in e.seen]
    assert seen and all(s["pos"] == ((32, 3), torch.float32) and s["key"][0] == (32,) for s in seen[:1])
    assert not seen[0]["key"][1].is_floating_point  # the Discrete part arrives as indices
    before = {k: v.clone() for k, v in _params(module).items()}
    losses = module.update(batch)
    assert losses and all(np.isfinite(v) for v in losses.values())
    after = _params(module)
    trained = [k for k in before if "encoder" in k and not torch.equal(before[k], after[k])]
    if cls in (ICM, E3B, RND, NovelD):  # the encoder is trained with the embedding or the predictor
        assert trained


def _modules(module):
    nets = [v for v in vars(module).values() if isinstance(v, torch.nn.Module)]
    for v in vars(module).values():
        if hasattr(v, "state_dict") and not isinstance(v, (torch.nn.Module, torch.optim.Optimizer)) \
                and hasattr(v, "compute"):
            nets += _modules(v)
    return nets


def test_an_encoder_module_is_copied_for_each_network_and_checked():
    enc = torch.nn.Sequential(torch.nn.Linear(D, 16))
    rnd = RND(D, hidden=16, device="cpu", encoder=enc)
    assert rnd.target.encoder is not enc and rnd.predictor.encoder is not enc
    assert rnd.target.encoder is not rnd.predictor.encoder
    assert rnd.compute({"next_obs": np.zeros((2, D), np.float32)}).shape == (2,)  # flat rows without a space
    wrong = torch.nn.Linear(D, 8)
    wrong.out_dim = 8
    with pytest.raises(ValueError, match="8 features where 16"):
        RND(D, hidden=16, device="cpu", encoder=wrong)
    with pytest.raises(ValueError, match="flattens to 7"):
        RND(5, device="cpu", observation_space=SPACE)


def test_without_an_encoder_nothing_changes():
    a, b = RND(D, device="cpu", seed=4), RND(D, device="cpu", seed=4, encoder=None)
    assert isinstance(a.target, torch.nn.Sequential)
    assert all(torch.equal(x, y) for x, y in zip(a.target.parameters(), b.target.parameters()))
