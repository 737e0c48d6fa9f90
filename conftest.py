"""Doctest collection of the package needs the extras its modules import; skip what is missing."""

import importlib.util

# The vendored projects of the software-repair tasks carry their own test suites: not ours to collect.
collect_ignore_glob: list[str] = ["sparsegym/envs/swe/data/*"]
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["sparsegym/intrinsic/*.py"]
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["sparsegym/agents/text/*.py"]
elif importlib.util.find_spec("transformers") is None:
    collect_ignore_glob += ["sparsegym/agents/text/lm_policy.py"]
if importlib.util.find_spec("minigrid") is None:
    collect_ignore_glob += ["sparsegym/envs/minigrid/env.py"]
if importlib.util.find_spec("textworld") is None or importlib.util.find_spec("alfworld") is None:
    collect_ignore_glob += ["sparsegym/envs/alfworld/*.py", "sparsegym/baselines/alfworld_expert.py"]
