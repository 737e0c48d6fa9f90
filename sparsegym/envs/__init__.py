"""Env families. Each subpackage imports its optional dependencies only when an env is made."""

from sparsegym.envs.registry import (
    BOX_OBS_TAG,
    ENTRIES,
    EnvEntry,
    TagQuery,
    entries,
    families,
    get_entry,
    list_envs,
    suites,
    tags,
)

# ``suites`` is the deprecated spelling of ``tags`` (it warns when called).
__all__ = ["BOX_OBS_TAG", "ENTRIES", "EnvEntry", "TagQuery", "entries", "families", "get_entry", "list_envs", "suites", "tags"]
