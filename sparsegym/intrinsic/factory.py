"""Build an intrinsic module by name (``--intrinsic rnd|icm|e3b|noveld|rdd|hindsight_code_mmd|disagreement|aleatoric|counts|rnd_x_counts``).

``hindsight`` is a deprecated name of ``hindsight_code_mmd`` (it warns): the module is not the paper's
Curiosity in Hindsight (see :mod:`sparsegym.intrinsic.hindsight`). ``aleatoric_authors`` is
:class:`~sparsegym.intrinsic.aleatoric.AleatoricCuriosity` with the authors' preset."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.intrinsic.aleatoric import AleatoricCuriosity
from sparsegym.intrinsic.base import IntrinsicModule
from sparsegym.intrinsic.combined import GlobalEpisodic
from sparsegym.intrinsic.counts import EpisodicCount
from sparsegym.intrinsic.disagreement import Disagreement
from sparsegym.intrinsic.e3b import E3B
from sparsegym.intrinsic.hindsight import HindsightCodeMMD
from sparsegym.intrinsic.icm import ICM
from sparsegym.intrinsic.noveld import NovelD
from sparsegym.intrinsic.rdd import RDD
from sparsegym.intrinsic.rnd import RND

INTRINSIC_MODULES: dict[str, Callable[..., IntrinsicModule]] = {
    "rnd": RND,
    "icm": ICM,
    "e3b": E3B,
    "noveld": NovelD,
    "rdd": RDD,
    "hindsight_code_mmd": HindsightCodeMMD,
    "disagreement": Disagreement,
    "aleatoric": AleatoricCuriosity,
    "aleatoric_authors": lambda obs_dim, n_actions=None, **kw: AleatoricCuriosity.authors(obs_dim, n_actions, **kw),
    "counts": EpisodicCount,
    "rnd_x_counts": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: GlobalEpisodic(
        RND(obs_dim, n_actions, device=device, seed=seed, **kw), EpisodicCount(obs_dim, n_actions, device=device)),
    "rnd_x_e3b": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: GlobalEpisodic(
        RND(obs_dim, n_actions, device=device, seed=seed, **kw), E3B(obs_dim, n_actions, device=device, seed=seed)),
}


#: Old names that still build their module, with a ``DeprecationWarning`` naming the new one.
DEPRECATED_NAMES = {"hindsight": "hindsight_code_mmd"}


def make_intrinsic(name: str, obs_dim: int, n_actions: int | None = None, **kwargs: Any) -> IntrinsicModule:
    """The module called ``name``; ``ValueError`` listing the names otherwise."""
    if name in DEPRECATED_NAMES:
        new = DEPRECATED_NAMES[name]
        warnings.warn(f"intrinsic reward {name!r} is deprecated: use {new!r} (a gated hindsight code with an MMD "
                      "independence penalty, not the paper's BYOL-Hindsight)", DeprecationWarning, stacklevel=2)
        name = new
    try:
        builder = INTRINSIC_MODULES[name]
    except KeyError:
        raise ConfigError(f"unknown intrinsic reward {name!r}; use one of {', '.join(INTRINSIC_MODULES)}") from None
    return builder(obs_dim, n_actions, **kwargs)
