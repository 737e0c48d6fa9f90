"""Env families. Each subpackage imports its optional dependencies only when an env is made."""

from sparsegym.envs.registry import ENTRIES, EnvEntry, entries, families, get_entry, list_envs, suites

__all__ = ["ENTRIES", "EnvEntry", "entries", "families", "get_entry", "list_envs", "suites"]
