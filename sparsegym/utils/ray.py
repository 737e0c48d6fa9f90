"""Starting Ray the one way sparsegym does it (the evaluator's ``ray`` backend, the text trainer's Ray rollout
workers): join the cluster ``$RAY_ADDRESS`` names, else start a local one with ``num_cpus`` CPUs, no dashboard
and no driver log forwarding; a Ray already initialised in this process is used as it is."""

from __future__ import annotations

import os
from typing import Any

from sparsegym._deps import require

__all__ = ["start_ray"]


def start_ray(num_cpus: int, what: str) -> Any:
    """The ``ray`` module, initialised; ``what`` names the feature in the missing-extra error."""
    ray = require("ray", "ray", what)
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, num_cpus), include_dashboard=False, log_to_driver=False)
    return ray
