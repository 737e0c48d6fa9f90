"""Env families and the registry. Each family subpackage imports its optional dependencies only when an
env is made; ``FAMILY`` in each is its descriptor (:mod:`sparsegym.envs.family`)."""

from sparsegym._lazy import lazy_exports

# ``suites`` is the deprecated spelling of ``tags`` (it warns when called).
__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    **{n: ".registry" for n in ("BOX_OBS_TAG", "ENTRIES", "EnvEntry", "TagQuery", "entries", "families", "get_entry",
                                "list_envs", "suites", "tags", "box_variant")},
    **{n: ".family" for n in ("Family", "FamilyFeatureError", "family_of", "get_family", "all_families")},
    "TextView": ".views",
    "TextEnv": ".text_env",
})
