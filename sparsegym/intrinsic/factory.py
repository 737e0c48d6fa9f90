"""Build an intrinsic module by name (``--intrinsic rnd|icm|e3b|noveld|rdd|hindsight_code_mmd|disagreement|aleatoric|counts|...``).

``hindsight`` is a deprecated name of ``hindsight_code_mmd`` (it warns): the module is not the paper's
Curiosity in Hindsight (see :mod:`sparsegym.intrinsic.hindsight`). ``aleatoric_authors`` is
:class:`~sparsegym.intrinsic.aleatoric.AleatoricCuriosity` with the authors' preset.

Count names: ``counts`` (episodic ``1 / sqrt(N)``, the earlier default), ``episodic_counts`` (the
first-visit indicator, the episodic count of Henaff et al. 2023), ``global_counts`` (``1 / sqrt(N)``
over all training), and their combinations ``global_x_episodic_counts``, ``rnd_x_counts`` (RND x
first-visit) and ``rnd_x_e3b``, the latter two as in that paper (see
:mod:`sparsegym.intrinsic.combined`). Counts read ``batch["keys"]`` when the stream supplies state keys.
"""

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
    "episodic_counts": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: EpisodicCount(
        obs_dim, n_actions, episodic=True, bonus="first_visit", device=device, seed=seed),
    "global_counts": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: EpisodicCount(
        obs_dim, n_actions, episodic=False, device=device, seed=seed),
    "global_x_episodic_counts": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: GlobalEpisodic(
        EpisodicCount(obs_dim, n_actions, episodic=False, device=device, seed=seed),
        EpisodicCount(obs_dim, n_actions, episodic=True, bonus="first_visit", device=device, seed=seed)),
    "rnd_x_counts": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: GlobalEpisodic(
        RND(obs_dim, n_actions, device=device, seed=seed, **kw),
        EpisodicCount(obs_dim, n_actions, bonus="first_visit", device=device)),
    "rnd_x_e3b": lambda obs_dim, n_actions=None, device=None, seed=0, **kw: GlobalEpisodic(
        RND(obs_dim, n_actions, device=device, seed=seed, **kw),
        E3B(obs_dim, n_actions, device=device, seed=seed,
            **{k: v for k, v in kw.items() if k in ("encoder", "observation_space")})),
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
