"""Observation encoders: how each family's observations are embedded by torch networks.

A family names its encoder class in its descriptor (``Family.encoder``). An encoder is a
``torch.nn.Module`` built as ``Encoder(observation_space, out_dim)``, whose ``forward`` takes a batch of
observations (a dict of tensors for Dict spaces) and returns ``(batch, out_dim)`` features, with a
classmethod ``accepts(space) -> bool``. Policies (:class:`sparsegym.agents.networks.ActorCritic`, with
``encoder="auto"``) use it through :func:`encoder_for`, and so do learned intrinsic rewards when asked to
(``PPOConfig(intrinsic_encoder="family")``, or an ``encoder=`` given to the module); anything else gets a
flat MLP.

This module imports torch (extra ``torch``); family packages import their encoder module only when
asked for it, so ``import sparsegym`` stays light.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from sparsegym._deps import require

torch = require("torch", "torch", "Observation encoders")
nn = torch.nn


def layer_init(layer: Any, std: float = float(np.sqrt(2)), bias: float = 0.0) -> Any:
    """Orthogonal weights with gain ``std`` and a constant bias (the usual PPO initialisation)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def encoder_for(observation_space: gymnasium.Space, family: Any = None) -> type | None:
    """The encoder class for ``observation_space``: ``family``'s (a :class:`~sparsegym.envs.family.Family`)
    when it has one that accepts the space, else the first family encoder that does, else None."""
    from sparsegym.envs.family import all_families

    candidates = [family] if family is not None else []
    candidates += [f for f in all_families() if f is not family]
    for fam in candidates:
        if fam.encoder is None:
            continue
        cls = fam.encoder_class()
        if cls.accepts(observation_space):
            return cls
    return None
