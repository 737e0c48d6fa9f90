"""Doctest collection of the package needs the extras its modules import; skip what is missing."""

import importlib.util
from pathlib import Path

_ROOT = Path(__file__).resolve().parent

# The vendored projects of the software-repair tasks carry their own test suites: not ours to collect.
collect_ignore_glob: list[str] = ["sparsegym/envs/swe/data/*"]
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["sparsegym/intrinsic/*.py"]
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["sparsegym/agents/text/*.py"]
elif importlib.util.find_spec("transformers") is None:
    # Modules whose examples build the tests' tiny causal LM need transformers (the `lm` extra).
    collect_ignore_glob += [
        str(path.relative_to(_ROOT))
        for path in sorted((_ROOT / "sparsegym" / "agents" / "text").rglob("*.py"))
        if any(
            line.lstrip().startswith(">>>") and "tiny_causal_lm" in line
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    ]
if importlib.util.find_spec("minigrid") is None:
    collect_ignore_glob += ["sparsegym/envs/minigrid/env.py"]
if importlib.util.find_spec("textworld") is None or importlib.util.find_spec("alfworld") is None:
    collect_ignore_glob += ["sparsegym/envs/alfworld/*.py", "sparsegym/baselines/alfworld_expert.py"]
