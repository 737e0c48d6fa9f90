"""The clipped loss with dual clip, the aggregations, the k3 KL and the value loss, by hand."""

import math

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text.losses import AGGREGATIONS, aggregate, clipped_policy_loss, kl_k3, value_loss  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402


def _loss(ratio, adv, **kw):
    logp = torch.log(torch.tensor(ratio, dtype=torch.float64))
    loss, stats = clipped_policy_loss(logp, torch.zeros_like(logp), torch.tensor(adv, dtype=torch.float64), **kw)
    return loss.item(), stats


@pytest.mark.parametrize("ratio, adv, want", [
    (1.0, 2.0, -2.0),    # on-policy: -A
    (1.5, 1.0, -1.2),    # A > 0: the gain is clipped at 1 + 0.2
    (0.5, 1.0, -0.5),    # A > 0, ratio below 1 - 0.2: the pessimistic (unclipped) term
    (0.5, -1.0, 0.8),    # A < 0, ratio below 1 - 0.2: clipped at 0.8
    (1.1, -1.0, 1.1),    # A < 0 inside the clip range
    (2.0, -1.0, 2.0),    # A < 0, ratio 2 above 1.2: the unclipped term, under the dual cap 3
    (5.0, -1.0, 3.0),    # A < 0, ratio 5: dual clip caps the loss at -A * 3
])
def test_clipped_loss_by_hand(ratio, adv, want):
    assert _loss([ratio], [adv])[0] == pytest.approx(want)


def test_dual_clip_off_and_clip_high():
    assert _loss([5.0], [-1.0], dual_clip=None)[0] == pytest.approx(5.0)
    assert _loss([5.0], [-2.0], dual_clip=4.0)[0] == pytest.approx(8.0)
    assert _loss([1.25], [1.0], clip_high=0.28)[0] == pytest.approx(-1.25)  # inside 1 + 0.28
    assert _loss([1.5], [1.0], clip_high=0.28)[0] == pytest.approx(-1.28)
    assert _loss([0.7], [-1.0], clip_high=0.28)[0] == pytest.approx(0.8)  # the lower side keeps clip
    with pytest.raises(ConfigError, match="greater than 1"):
        _loss([1.0], [1.0], dual_clip=1.0)


def test_clipfrac_and_mean():
    loss, stats = _loss([1.0, 1.5, 5.0, 1.1], [1.0, 1.0, -1.0, -1.0])
    assert loss == pytest.approx((-1.0 - 1.2 + 3.0 + 1.1) / 4)
    assert stats["clipfrac"] == pytest.approx(0.5)  # the 1.5 (clipped) and the 5.0 (dual-clipped)
    assert stats["approx_kl"] == pytest.approx(sum((r - 1) - math.log(r) for r in (1.0, 1.5, 5.0, 1.1)) / 4)


def test_clipped_region_has_no_gradient():
    logp = torch.log(torch.tensor([1.5, 1.0, 5.0])).requires_grad_()
    loss, _ = clipped_policy_loss(logp, torch.zeros(3), torch.tensor([1.0, 1.0, -1.0]))
    loss.backward()
    # d/dlogp of -A * ratio / 3 = -A * ratio / 3 where unclipped; 0 where clipped or dual-clipped
    assert logp.grad.tolist() == pytest.approx([0.0, -1 / 3, 0.0])


def test_aggregations_by_hand():
    v = torch.tensor([[1.0, 3.0, 0.0], [2.0, 0.0, 0.0]])
    m = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    want = {"token-mean": 6 / 3, "turn-mean": (2.0 + 2.0) / 2, "turn-sum": (4 + 2) / 2, "turn-sum-norm": (4 / 3 + 2 / 3) / 2}
    assert {k: aggregate(v, m, k).item() for k in AGGREGATIONS} == pytest.approx(want)
    flat = torch.tensor([1.0, 2.0, 6.0])
    assert {aggregate(flat, None, k).item() for k in AGGREGATIONS} == {3.0}
    with pytest.raises(ConfigError):
        aggregate(flat, None, "seq-mean")


def test_token_level_loss_broadcasts_turn_advantages():
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    loss, _ = clipped_policy_loss(logp, torch.zeros(2, 3), torch.tensor([1.0, -2.0]), mask=mask)
    assert loss.item() == pytest.approx((-1 * 3 + 2) / 4)  # token-mean: 3 tokens at -1, 1 at +2
    loss, _ = clipped_policy_loss(logp, torch.zeros(2, 3), torch.tensor([1.0, -2.0]), mask=mask, agg="turn-mean")
    assert loss.item() == pytest.approx((-1 + 2) / 2)


def test_k3_kl_by_hand():
    logp, ref = torch.log(torch.tensor([0.5, 0.25, 0.3])), torch.log(torch.tensor([0.25, 0.5, 0.3]))
    # l = ref - logp: -ln 2, ln 2, 0 -> exp(l) - l - 1
    want = [0.5 + math.log(2) - 1, 2 - math.log(2) - 1, 0.0]
    assert kl_k3(logp, ref).tolist() == pytest.approx(want, abs=1e-6)
    assert (kl_k3(torch.randn(100), torch.randn(100)) >= 0).all()
    assert kl_k3(torch.tensor([-50.0]), torch.tensor([0.0])).item() == 10.0  # exp(20) - 21, clamped to 10
    assert kl_k3(torch.tensor([0.0]), torch.tensor([-50.0])).item() == 10.0  # exp(-20) + 19, clamped to 10
    assert kl_k3(torch.tensor([0.0]), torch.tensor([-5.0])).item() == pytest.approx(math.exp(-5) + 4)


def test_value_loss_by_hand():
    assert value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(1.25)
    # clipped: V_old 0, V 3, clip 1 -> V_clip 1; max((3-0)^2, (1-0)^2) = 9 -> 4.5
    assert value_loss(torch.tensor([3.0]), torch.tensor([0.0]), torch.tensor([0.0]), clip=1.0).item() == 4.5
    # clipping can only make it larger: V 0.5 toward R 2 from V_old 0 with clip 0.2: max(2.25, 3.24) / 2
    assert value_loss(torch.tensor([0.5]), torch.tensor([2.0]), torch.tensor([0.0]), clip=0.2).item() == pytest.approx(1.62)
    with pytest.raises(ConfigError):
        value_loss(torch.tensor([0.0]), torch.tensor([0.0]), clip=0.2)
