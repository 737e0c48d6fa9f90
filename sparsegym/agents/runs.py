"""Run folders: config, CSV log, learning-curve plot and the final model, for `sparsegym train` and
`sparsegym baseline`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any


def run_dir(root: str | Path, env_id: str, algo: str, seed: int) -> Path:
    name = f"{env_id.split('/')[-1]}-{algo}-s{seed}"
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_config(path: Path, config: dict[str, Any]) -> None:
    tmp = path / "run.json.tmp"
    tmp.write_text(json.dumps(config, indent=2, default=str))
    tmp.replace(path / "run.json")


def plot_curves(csv_path: str | Path, png_path: str | Path, title: str = "", x: str = "frames") -> Path | None:
    """Success rate and episode return against ``x`` (a CSV column: ``frames``, or ``episodes`` for the
    text trainers), from a progress CSV; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    frames = [float(r[x]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in ((axes[0], "success_rate", "success rate (last 100 episodes)"),
                           (axes[1], "episode_return", "episode return (last 100 episodes)")):
        values = [float(r[key]) if r.get(key) not in (None, "", "nan") else math.nan for r in rows]
        ax.plot(frames, values)
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)
