"""Intrinsic rewards behind one protocol (torch inside, batched, any device).

Every module has:

* ``compute(batch) -> np.ndarray``: one bonus per transition of ``batch``, a mapping with ``obs``,
  ``next_obs`` (``(B, D)`` float arrays or tensors), ``action`` (``(B,)`` ints) and optionally
  ``env_ids`` (``(B,)``; which env each row comes from, for episodic state). Episodic modules update
  their episodic memory here, so call it once per transition, in time order.
* ``update(batch) -> dict[str, float]``: train on a batch of transitions; returns the losses.
* ``reset(env_ids)``: forget the episodic state of those envs (a new episode began).

Modules: ``RND``, ``ICM``, ``E3B``, ``NovelD``, ``RDD``, ``Disagreement``, ``HindsightCodeMMD``
(deprecated alias ``HindsightCuriosity``),
``AleatoricCuriosity``, ``EpisodicCount``, and
``GlobalEpisodic`` (a global x episodic combination). ``make_intrinsic(name, obs_dim, n_actions)``
builds one by name. They need torch: ``pip install "sparsegym[torch]"`` (``EpisodicCount`` does not).

``IntrinsicStream`` applies a module to a stream of batched transitions (episode ends in either
autoreset mode, normalisation, episodic resets, training schedule); the reward wrappers and the
trainers are built on it. Modules that embed observations (RND, ICM, E3B, NovelD, disagreement,
aleatoric) take an optional ``encoder`` in place of their flat MLP input layer.
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "IntrinsicModule": ".base", "RunningMeanStd": ".base", "RND": ".rnd", "ICM": ".icm", "E3B": ".e3b",
    "NovelD": ".noveld", "RDD": ".rdd", "Disagreement": ".disagreement", "HindsightCodeMMD": ".hindsight",
    "HindsightCuriosity": ".hindsight",
    "AleatoricCuriosity": ".aleatoric", "EpisodicCount": ".counts", "GlobalEpisodic": ".combined",
    "IntrinsicStream": ".stream", "make_intrinsic": ".factory", "INTRINSIC_MODULES": ".factory",
})
