"""Losses of the text trainers (torch), as verl computes them.

Every function takes per-turn tensors ``(B,)`` (one choice per turn, the scorer's case) or per-token
tensors ``(B, L)`` with a ``mask`` (a language model's tokens), and reduces them with
:func:`aggregate`:

* ``"token-mean"``: the mean over every (unmasked) token of the batch, verl's default;
* ``"turn-mean"``: each turn's token mean, then the mean over turns (verl's ``seq-mean-token-mean``);
* ``"turn-sum"``: each turn's token sum, then the mean over turns (``seq-mean-token-sum``);
* ``"turn-sum-norm"``: each turn's token sum divided by the padded length ``L``, then the mean over
  turns (Dr. GRPO's constant normaliser).

For ``(B,)`` inputs the four are the same mean.

Examples:
    >>> import torch
    >>> from sparsegym.agents.text.losses import clipped_policy_loss, kl_k3
    >>> adv = torch.tensor([1.0, -1.0])
    >>> loss, stats = clipped_policy_loss(torch.log(torch.tensor([1.5, 4.0])), torch.zeros(2), adv)
    >>> round(loss.item(), 4), stats["clipfrac"]   # (-1.2 + 3.0) / 2: the ratio 1.5 clipped to 1.2, 4.0 dual-clipped to 3
    (0.9, 1.0)
    >>> round(kl_k3(torch.tensor([0.0]), torch.tensor([0.0])).item(), 4)
    0.0
"""

from __future__ import annotations

from sparsegym.agents.text.policy import torch
from sparsegym.errors import ConfigError

__all__ = ["AGGREGATIONS", "aggregate", "clipped_policy_loss", "kl_k3", "value_loss"]

AGGREGATIONS = ("token-mean", "turn-mean", "turn-sum", "turn-sum-norm")


def aggregate(values: torch.Tensor, mask: torch.Tensor | None = None, mode: str = "token-mean") -> torch.Tensor:
    """Reduce ``(B,)`` or ``(B, L)`` values to a scalar (module docstring).

    >>> import torch
    >>> v, m = torch.tensor([[1.0, 3.0], [2.0, 0.0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    >>> [round(aggregate(v, m, mode).item(), 4) for mode in AGGREGATIONS]
    [2.0, 2.0, 3.0, 1.5]
    """
    if mode not in AGGREGATIONS:
        raise ConfigError(f"loss aggregation must be one of {list(AGGREGATIONS)}, got {mode!r}")
    if values.dim() == 1:
        return values.mean() if mask is None else (values * mask).sum() / mask.sum().clamp(min=1)
    mask = torch.ones_like(values) if mask is None else mask.to(values.dtype)
    if mode == "token-mean":
        return (values * mask).sum() / mask.sum().clamp(min=1)
    sums = (values * mask).sum(dim=-1)
    if mode == "turn-mean":
        return (sums / mask.sum(dim=-1).clamp(min=1)).mean()
    if mode == "turn-sum":
        return sums.mean()
    return (sums / values.shape[-1]).mean()


def _per_token(advantages: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return advantages[:, None].expand_as(like) if like.dim() == 2 and advantages.dim() == 1 else advantages


def clipped_policy_loss(logprob: torch.Tensor, old_logprob: torch.Tensor, advantages: torch.Tensor, *,
                        clip: float = 0.2, clip_high: float | None = None, dual_clip: float | None = 3.0,
                        mask: torch.Tensor | None = None, agg: str = "token-mean") -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate with dual clipping (Ye et al., 2020), as verl's ``compute_policy_loss``.

    With ``ratio = exp(logprob - old_logprob)``: ``L = max(-A * ratio, -A * clip(ratio, 1 - clip,
    1 + clip_high))`` (``clip_high`` defaults to ``clip``); where ``A < 0`` it is further capped at
    ``-A * dual_clip``, so a turn whose probability grew a lot cannot dominate (``dual_clip=None``: off;
    it must exceed 1). Returns the aggregated loss and statistics (``clipfrac``: the share of
    tokens where clipping bound; ``approx_kl``: the k3 estimate of KL(old || new)).
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ConfigError(f"dual_clip must be greater than 1, got {dual_clip}")
    high = clip if clip_high is None else clip_high
    advantages = _per_token(advantages, logprob)
    logratio = logprob - old_logprob
    ratio = logratio.exp()
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip, 1.0 + high)
    loss = torch.maximum(unclipped, clipped)
    if dual_clip is not None:
        loss = torch.where(advantages < 0, torch.minimum(loss, -advantages * dual_clip), loss)
    with torch.no_grad():
        bound = (clipped > unclipped).float()
        if dual_clip is not None:
            bound = torch.maximum(bound, ((advantages < 0) & (-advantages * dual_clip < unclipped)).float())
        stats = {"clipfrac": aggregate(bound, mask, "token-mean").item(),
                 "approx_kl": aggregate((ratio - 1.0) - logratio, mask, "token-mean").item()}
    return aggregate(loss, mask, agg), stats


def kl_k3(logprob: torch.Tensor, ref_logprob: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(policy || reference), verl's ``low_var_kl``: with
    ``l = ref_logprob - logprob`` (clamped to [-20, 20] before the exponential), ``exp(l) - l - 1``,
    clamped to [-10, 10]. Unbiased and never negative before the clamp.

    >>> import torch
    >>> round(kl_k3(torch.log(torch.tensor([0.5])), torch.log(torch.tensor([0.25]))).item(), 4)  # 0.5 + ln 2 - 1
    0.1931
    """
    log_ratio = (ref_logprob - logprob).clamp(-20.0, 20.0)
    return (log_ratio.exp() - log_ratio - 1.0).clamp(-10.0, 10.0)


def value_loss(values: torch.Tensor, returns: torch.Tensor, old_values: torch.Tensor | None = None,
               clip: float | None = None, mask: torch.Tensor | None = None, agg: str = "token-mean") -> torch.Tensor:
    """``0.5 * (V - R)^2``, or with ``clip`` (and ``old_values``) PPO's clipped form
    ``0.5 * max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)``, aggregated.

    >>> import torch
    >>> value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item()   # 0.5 * mean(1, 4)
    1.25
    >>> value_loss(torch.tensor([3.0]), torch.tensor([0.0]), torch.tensor([0.0]), clip=1.0).item()  # max(9, 1) / 2
    4.5
    """
    loss = (values - returns).pow(2)
    if clip is not None:
        if old_values is None:
            raise ConfigError("a clipped value loss needs old_values")
        clipped = old_values + (values - old_values).clamp(-clip, clip)
        loss = torch.maximum(loss, (clipped - returns).pow(2))
    return 0.5 * aggregate(loss, mask, agg)
