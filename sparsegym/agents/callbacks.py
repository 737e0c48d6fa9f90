"""Training callbacks: logging, progress, checkpoints and early stopping, as small typed hooks.

A trainer's ``learn(total_steps, callbacks=...)`` calls, in this order::

    on_training_start(total_steps)            once, with the frames this call will run
    for each rollout:
        on_rollout_start()
        on_step()                             after every vector-env step (num_envs frames)
        on_rollout_end(stats)                 after the rollout was learned from, with its statistics
    on_training_end()                         once, also when training stopped early or failed

Returning False from ``on_step`` or ``on_rollout_end`` stops training (a rollout cut short by
``on_step`` is not learned from). The hooks follow stable-baselines3's ``BaseCallback``, with one
difference: SB3 calls ``on_rollout_end`` before the update; here it comes after it, so that ``stats``
holds the update's losses along with the episode statistics (``frames``, ``fps``,
``episode_return``, ``success_rate``, ``episodes`` over the last 100 episodes).

A callback reads the trainer it serves as ``self.trainer`` (``global_step`` is the frame count so far;
``save(path)`` writes it to a folder). The text trainers (:mod:`sparsegym.agents.text`) count in
episodes instead: their ``learn(total_episodes)`` passes episodes to ``on_training_start``, calls
``on_step`` once per episode collected, and their ``global_step`` (so ``Checkpoint``'s ``every`` and
folder names) is the episode count; their ``stats`` hold ``frames`` (env turns) as well. Callbacks compose with :class:`CallbackList`; a trainer takes a
callback, a list of them, or a plain function ``fn(stats) -> bool | None`` called at each rollout end.

Examples:
    >>> from sparsegym.agents import PPO
    >>> from sparsegym.agents.callbacks import CallbackList, StopOnSuccess
    >>> agent = PPO("sparsegym/MiniGrid-DoorKey-5x5-v0", device="cpu", encoder="flat", hidden=16,
    ...             num_envs=2, num_steps=16)
    >>> stop = StopOnSuccess(threshold=0.5, min_episodes=1)
    >>> history = agent.learn(64, callbacks=CallbackList([stop, lambda stats: None]), progress=False)
    >>> len(history), stop.reached_at  # no success within 64 frames: trained to the end
    (2, None)
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from sparsegym.errors import ConfigError

Stats = dict[str, float]

__all__ = ["Callback", "CallbackList", "Checkpoint", "CSVLogger", "FunctionCallback", "ProgressBar",
           "StopOnSuccess", "TensorBoardLogger", "as_callback"]


class Callback:
    """Base class: every hook does nothing (and lets training go on) until overridden."""

    trainer: Any = None

    def init_callback(self, trainer: Any) -> None:
        """Called by the trainer before ``on_training_start``."""
        self.trainer = trainer

    @property
    def num_timesteps(self) -> int:
        """Frames the trainer has run so far (over all its ``learn`` calls)."""
        return int(getattr(self.trainer, "global_step", 0))

    def on_training_start(self, total_steps: int) -> None:
        return None

    def on_rollout_start(self) -> None:
        return None

    def on_step(self) -> bool:
        return True

    def on_rollout_end(self, stats: Stats) -> bool:
        return True

    def on_training_end(self) -> None:
        return None


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList(Callback):
    """Several callbacks, called in order; every callback sees every event, and training stops if
    any of them returns False."""

    def __init__(self, callbacks: Iterable[Callback | Callable[[Stats], Any]] = ()):
        self.callbacks = [as_callback(c) for c in callbacks]
        # on_step runs num_steps times a rollout: call only the callbacks that define it
        self._steppers = [c for c in self.callbacks if _overrides(c, "on_step")]

    def init_callback(self, trainer: Any) -> None:
        super().init_callback(trainer)
        for c in self.callbacks:
            c.init_callback(trainer)

    def on_training_start(self, total_steps: int) -> None:
        for c in self.callbacks:
            c.on_training_start(total_steps)

    def on_rollout_start(self) -> None:
        for c in self.callbacks:
            c.on_rollout_start()

    def on_step(self) -> bool:
        go = True
        for c in self._steppers:
            go = c.on_step() is not False and go
        return go

    def on_rollout_end(self, stats: Stats) -> bool:
        go = True
        for c in self.callbacks:
            go = c.on_rollout_end(stats) is not False and go
        return go

    def on_training_end(self) -> None:
        errors = []
        for c in self.callbacks:  # every callback closes its files, even if one fails
            try:
                c.on_training_end()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        if errors:
            raise errors[0]


class FunctionCallback(Callback):
    """``fn(stats)`` at each rollout end; returning False from it stops training."""

    def __init__(self, fn: Callable[[Stats], Any]):
        self.fn = fn

    def on_rollout_end(self, stats: Stats) -> bool:
        return self.fn(stats) is not False


def as_callback(callback: Callback | Callable[[Stats], Any] | Iterable[Any] | None) -> Callback:
    """A :class:`Callback` from a callback, a plain function of the rollout statistics, a list of
    either, or None (no callback)."""
    if callback is None:
        return CallbackList()
    if isinstance(callback, Callback):
        return callback
    if callable(callback):
        return FunctionCallback(callback)
    return CallbackList(callback)


class CSVLogger(Callback):
    """One CSV row of statistics per rollout (the columns are the first rollout's keys), flushed as
    written. ``path`` is the file, or a folder that gets ``progress.csv``. The file is rewritten by
    each ``learn`` call unless ``append`` is set."""

    def __init__(self, path: str | Path, append: bool = False):
        path = Path(path)
        self.path = path / "progress.csv" if path.suffix != ".csv" else path
        self.append = append
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter | None = None

    def on_training_start(self, total_steps: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        resume = self.append and self.path.exists() and self.path.stat().st_size > 0
        self._file = open(self.path, "a" if resume else "w", newline="")  # noqa: SIM115
        self._writer = None
        if resume:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f), None)
            if header:
                self._writer = csv.DictWriter(self._file, fieldnames=header)

    def on_rollout_end(self, stats: Stats) -> bool:
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=list(stats))
            self._writer.writeheader()
        self._writer.writerow({k: stats.get(k) for k in self._writer.fieldnames})
        self._file.flush()
        return True

    def on_training_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoardLogger(Callback):
    """Every finite float statistic as a TensorBoard scalar at the trainer's frame count (needs the
    ``tensorboard`` package)."""

    def __init__(self, log_dir: str | Path):
        if not self.available():
            raise ImportError("TensorBoardLogger needs the tensorboard package: pip install tensorboard")
        self.log_dir = Path(log_dir)
        self._writer: Any = None

    @staticmethod
    def available() -> bool:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401
        except ImportError:
            return False
        return True

    def on_training_start(self, total_steps: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(str(self.log_dir))

    def on_rollout_end(self, stats: Stats) -> bool:
        for k, v in stats.items():
            if isinstance(v, float) and math.isfinite(v):
                self._writer.add_scalar(k, v, self.num_timesteps)
        return True

    def on_training_end(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ProgressBar(Callback):
    """A tqdm bar over the frames of the ``learn`` call, with frames per second, success rate and
    episode return (needs the ``tqdm`` package). ``unit`` names what the trainer counts (the text
    trainers count episodes)."""

    def __init__(self, desc: str = "PPO", unit: str = "frame"):
        if not self.available():
            raise ImportError("ProgressBar needs the tqdm package: pip install tqdm")
        self.desc, self.unit = desc, unit
        self._bar: Any = None
        self._start = 0

    @staticmethod
    def available() -> bool:
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def on_training_start(self, total_steps: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total_steps, unit=self.unit, dynamic_ncols=True, desc=self.desc)
        self._start = self.num_timesteps

    def on_rollout_end(self, stats: Stats) -> bool:
        self._bar.update(self.num_timesteps - self._start - self._bar.n)
        self._bar.set_postfix(fps=f"{stats.get('fps', math.nan):.0f}", success=f"{stats.get('success_rate', math.nan):.2f}",
                              ret=f"{stats.get('episode_return', math.nan):.2f}", refresh=False)
        return True

    def on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Checkpoint(Callback):
    """Save the trainer to ``folder/<frames>`` each time its frame count passes a multiple of
    ``every`` (checked at rollout ends). Each checkpoint is written to a hidden temporary folder and
    renamed into place, so a folder named by a frame count is always complete; ``PPO.load`` on it
    resumes training from there (``global_step`` included). ``keep`` limits how many of the newest
    checkpoints stay (None: all)."""

    def __init__(self, folder: str | Path, every: int, keep: int | None = None):
        if every <= 0:
            raise ConfigError(f"checkpoint every must be positive, got {every}")
        self.folder, self.every, self.keep = Path(folder), int(every), keep
        self._next = self.every
        self.saved: list[Path] = []

    def on_training_start(self, total_steps: int) -> None:
        self._next = (self.num_timesteps // self.every + 1) * self.every

    def on_rollout_end(self, stats: Stats) -> bool:
        if self.num_timesteps >= self._next:
            self.saved.append(save_atomically(self.trainer, self.folder / str(self.num_timesteps)))
            self._next = (self.num_timesteps // self.every + 1) * self.every
            if self.keep is not None:
                while len(self.saved) > self.keep:
                    shutil.rmtree(self.saved.pop(0), ignore_errors=True)
        return True


def save_atomically(trainer: Any, path: Path) -> Path:
    """``trainer.save`` into a temporary sibling folder, then renamed to ``path`` (replacing it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save(tmp)
    if path.exists():  # a rerun reached this frame count again
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


class StopOnSuccess(Callback):
    """Stop training once the success rate over the recent episodes reaches ``threshold`` (with at
    least ``min_episodes`` of them); ``reached_at`` is then the frame count and ``reached_after_s``
    the seconds since training started. With ``stop=False`` it only records when that happened."""

    def __init__(self, threshold: float = 0.9, min_episodes: int = 20, stop: bool = True):
        self.threshold, self.min_episodes, self.stop = float(threshold), int(min_episodes), bool(stop)
        self.reached_at: int | None = None
        self.reached_after_s: float | None = None
        self._start = time.perf_counter()

    def on_training_start(self, total_steps: int) -> None:
        self._start = time.perf_counter()

    def on_rollout_end(self, stats: Stats) -> bool:
        rate = stats.get("success_rate", math.nan)
        if self.reached_at is None and stats.get("episodes", 0) >= self.min_episodes and rate >= self.threshold:
            self.reached_at = int(stats.get("frames", self.num_timesteps))
            self.reached_after_s = time.perf_counter() - self._start
        return not (self.stop and self.reached_at is not None)
