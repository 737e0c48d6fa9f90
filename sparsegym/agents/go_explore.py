"""Go-Explore (Ecoffet, Huizinga, Lehman, Stanley and Clune, "First return, then explore", Nature 590,
2021; code: ``uber-research/go-explore``): remember promising states in an archive of *cells*, return to
one, explore from it, repeat.

What follows the paper (its Methods section on the exploration phase, and the authors'
``robustified/goexplore_py`` files named below) and what does not:

* **Cells** (follows). By default (``cell="auto"``) the env's family supplies a domain-knowledge cell,
  the paper's "domain knowledge" representation (MiniGrid: agent position, carried object, which doors
  are open; NetHack: dungeon level and position). A family without one gets the paper's
  domain-agnostic cell, ``cell="downscaled"``: the frame made grey (channels averaged), shrunk by area
  averaging to at most ``downscale_shape`` (width, height; the authors' fixed default 11 x 8) and its
  intensities binned into ``downscale_levels`` values (their default 8), so that nearby frames share a
  cell (``utils.py: imdownscale``, ``main.py: --resize_x/--resize_y/--max_pix_value``). *Differs:* the
  authors' final Atari runs re-chose the shape and the number of levels during the run to keep the
  archive at a target size (``--dynamic_state``, ``phase1_downscaled.sh``); here they are fixed, and
  never larger than the observation. ``cell="observation_hash"`` (formerly ``"observation"``, still
  accepted) is the behaviour before this change: a hash of the raw observation, so only identical
  observations share a cell.
* **Choose** (follows). A cell is chosen with weight ``1 / sqrt(times seen + 1)``, the weights of the
  authors' downscaled runs (``phase1_downscaled.sh``: ``--seen_weight=1``, power 0.5, every other
  term 0; ``randselectors.py: WeightedSelector``). A cell is *seen* once per iteration when it is the
  start cell or when the exploration passes through it (at most once per iteration, however long it
  stays). ``selection="times_chosen"`` is the behaviour before this change: ``1 / sqrt(times chosen +
  1)``. *Differs:* their domain-knowledge Montezuma runs added level and neighbour terms
  (``--high_score_weight``, ``--horiz_weight``, ``--low_level_weight``); these are not implemented.
* **Counter reset** (follows, ``--reset_cell_on_update``, ``goexplore.py: Explore.run_seed``). When a
  trajectory reaches a cell with a better score (or the same score in fewer steps), the cell's
  trajectory is replaced and, at the end of that iteration, its times seen, times chosen and step count
  are set back to 0, so an improved cell is tried again as if new. ``reset_counts_on_update=False``
  keeps the counts (the behaviour before this change).
* **Return**: envs with ``get_state``/``set_state`` (sparsegym's MiniGrid tasks) are restored
  directly, as the paper restores emulator state; any other deterministic env is returned to by
  replaying the cell's action sequence from the same reset seed (slower, and only correct for
  deterministic envs).
* **Explore** (*differs*): random actions, each repeated with probability ``repeat_prob``. The paper
  repeats with 0.95 on Atari, whose actions last one frame; MiniGrid's actions are whole moves, and
  repeating them mostly spins the agent in place. Measured here (3 seeds, 150k-frame budget, before the
  selection change): with 0.0, DoorKey-8x8 was solved in 2.8k-11k frames and MultiRoom-N4-S5 in
  9k-13k; with 0.95, DoorKey-8x8 took 15k-69k and MultiRoom-N4-S5 was solved on 2 seeds of 3. The
  default is 0.0; the authors explore for 100 steps, the default here is 50.
* **Archive update** (follows, ``goexplore.py: should_accept_cell`` with ``--optimize_score``): a
  cell's entry is replaced when a trajectory reaches it with a higher score, or the same score in
  fewer steps. Terminal states are not archived (the authors keep them in a never-chosen ``DONE`` cell).

The result is the best trajectory found. **Robustification** (the paper's second phase, which uses the
backward algorithm, a PPO variant that starts episodes ever earlier along the demonstration) is done
here by behaviour cloning that trajectory into a policy: :meth:`GoExplore.demonstrations` returns it in
the demonstration format that :func:`sparsegym.agents.imitation.behaviour_cloning` and
``PPOConfig(demos=..., bc_coef=...)`` take.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np

from sparsegym.envs.family import family_of
from sparsegym.errors import ConfigError
from sparsegym.utils.hashing import observation_digest

#: Dict observation keys tried, in order, for the frame that the downscaled cell shrinks.
FRAME_KEYS = ("pixels", "rgb", "frame", "image", "glyphs", "chars", "observation")


def observation_cell(env: gymnasium.Env, observation: Any) -> Hashable:
    """A hash of the raw observation: only identical observations share a cell."""
    return observation_digest(observation)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights that average each output bin's share of the input (area resampling)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    idx = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, idx + 1) - np.maximum(lo, idx), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def _frame(env: gymnasium.Env | None, observation: Any) -> tuple[np.ndarray, float, float] | None:
    """The observation's frame as a 2-D float array with its value range, or ``None`` (text)."""
    space = getattr(env, "observation_space", None)
    if isinstance(observation, dict):
        key = next((k for k in FRAME_KEYS if k in observation), None)
        if key is None:  # the largest array-valued entry
            arrays = {k: np.asarray(v) for k, v in observation.items() if np.asarray(v).dtype.kind in "biuf"}
            if not arrays:
                return None
            key = max(arrays, key=lambda k: arrays[k].size)
        observation = observation[key]
        space = space[key] if isinstance(space, gymnasium.spaces.Dict) and key in space.spaces else None
    if isinstance(observation, str):
        return None
    frame = np.asarray(observation)
    if frame.dtype.kind not in "biuf":
        return None
    frame = frame.astype(np.float64)
    if frame.ndim == 3:  # (H, W, C) made grey, as the authors do with RGB frames
        frame = frame.mean(axis=2) if frame.shape[2] <= 4 else frame.mean(axis=0)
    elif frame.ndim == 0:
        frame = frame.reshape(1, 1)
    elif frame.ndim == 1:
        frame = frame.reshape(1, -1)
    elif frame.ndim > 3:
        frame = frame.reshape(frame.shape[0], -1)
    if isinstance(space, gymnasium.spaces.Box) and np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
        low, high = float(np.min(space.low)), float(np.max(space.high))
    elif np.asarray(observation).dtype == np.uint8:
        low, high = 0.0, 255.0
    else:
        low, high = 0.0, 1.0
    return frame, low, high


def downscale(frame: np.ndarray, shape: tuple[int, int], levels: int, low: float = 0.0,
              high: float = 255.0) -> np.ndarray:
    """Shrink a 2-D ``frame`` by area averaging to ``shape`` = (width, height) (never enlarging a
    side) and bin its values, scaled from ``[low, high]``, into ``levels`` integers ``0..levels-1``.

    >>> downscale(np.array([[0, 255, 255, 255]]), (2, 1), 8).tolist()
    [[4, 7]]
    """
    frame = np.asarray(frame, dtype=np.float64)
    out_w, out_h = min(shape[0], frame.shape[1]), min(shape[1], frame.shape[0])
    small = _area_weights(frame.shape[0], out_h) @ frame @ _area_weights(frame.shape[1], out_w).T
    scaled = (small - low) / max(high - low, 1e-12)
    return np.clip(np.floor(scaled * levels), 0, levels - 1).astype(np.uint8)


def downscaled_cell_fn(shape: tuple[int, int] = (11, 8), levels: int = 8) -> Callable[[gymnasium.Env, Any], Hashable]:
    """The paper's domain-agnostic cell: the observation's frame downscaled to ``shape`` (width, height)
    with ``levels`` intensity values (see :func:`downscale`); text observations are their own cell."""

    def downscaled_cell(env: gymnasium.Env, observation: Any) -> Hashable:
        got = _frame(env, observation)
        if got is None:
            return observation_digest(observation)
        small = downscale(got[0], shape, levels, got[1], got[2])
        return (small.shape, small.tobytes())

    return downscaled_cell


downscaled_cell = downscaled_cell_fn()

CELLS: dict[str, Callable[[gymnasium.Env, Any], Hashable]] = {
    "observation_hash": observation_cell, "observation": observation_cell, "downscaled": downscaled_cell}


def cell_function(env: gymnasium.Env, cell: str, fallback: str = "downscaled",
                  downscale_shape: tuple[int, int] = (11, 8),
                  downscale_levels: int = 8) -> Callable[[gymnasium.Env, Any], Hashable]:
    """``"downscaled"``: the paper's downscaled, binned frame (any env with array observations);
    ``"observation_hash"`` (alias ``"observation"``): a hash of the observation (any env); ``"auto"``:
    the env's family's domain-knowledge cell when it has one, else ``fallback``; ``"family"`` or the
    family's name (e.g. ``"minigrid"``): the family's cell, required."""
    if cell == "downscaled":
        if (tuple(downscale_shape), downscale_levels) == ((11, 8), 8):
            return downscaled_cell
        return downscaled_cell_fn(tuple(downscale_shape), downscale_levels)
    if cell in CELLS:
        return CELLS[cell]
    family = family_of(env)
    if cell == "auto":
        if family is not None and family.cell is not None:
            return family.go_explore_cell()
        if fallback == "auto":
            raise ConfigError("the fallback cell cannot be 'auto'")
        return cell_function(env, fallback, fallback, downscale_shape, downscale_levels)
    if family is not None and cell in ("family", family.name):
        return family.go_explore_cell()
    raise ConfigError(f"unknown cell representation {cell!r} for this env: use 'auto', 'downscaled', "
                      "'observation_hash' or 'family'" + (f" ({family.name!r})" if family is not None else ""))


@dataclass
class Cell:
    score: float
    actions: list[int]
    state: Any = None
    chosen: int = 0  # times chosen as the start of an iteration
    seen: int = 0  # iterations that started in it or passed through it
    visits: int = 0  # steps spent in it


SELECTIONS = ("times_seen", "times_chosen")


def selection_weights(cells: list[Cell], selection: str = "times_seen") -> np.ndarray:
    """Unnormalised choice weights: ``1 / sqrt(n + 1)`` with ``n`` the times seen (the paper) or the
    times chosen (``selection="times_chosen"``, the behaviour before the paper's weights were used)."""
    if selection not in SELECTIONS:
        raise ConfigError(f"unknown selection {selection!r}: use one of {SELECTIONS}")
    counts = np.array([c.seen if selection == "times_seen" else c.chosen for c in cells], dtype=np.float64)
    return 1.0 / np.sqrt(counts + 1.0)


@dataclass
class GoExploreConfig:
    explore_steps: int = 50  # exploration steps after each return (authors: 100)
    repeat_prob: float = 0.0  # probability of repeating the previous exploration action (paper: 0.95 on Atari)
    cell: str = "auto"  # auto (the family's domain-knowledge cell, else fallback_cell), downscaled, observation_hash, family
    fallback_cell: str = "downscaled"  # what "auto" uses where the family has no cell ("observation_hash": the old way)
    downscale_shape: tuple[int, int] = (11, 8)  # downscaled cell: at most this (width, height) (authors' default)
    downscale_levels: int = 8  # downscaled cell: intensity bins (authors' --max_pix_value default)
    selection: str = "times_seen"  # choice weight 1/sqrt(n+1) of times_seen (paper) or times_chosen (the old way)
    reset_counts_on_update: bool = True  # zero a cell's counts when its trajectory improves (paper; False: the old way)
    seed: int = 0  # the reset seed of the (deterministic) layout explored, and of the explorer's RNG
    stop_on_success: bool = True  # stop once an episode succeeds
    history: list[dict[str, float]] = field(default_factory=list, repr=False)


class GoExplore:
    """Go-Explore on one env layout (the reset seed ``config.seed``).

    Examples:
        >>> import sparsegym
        >>> ge = GoExplore(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
        >>> result = ge.learn(20_000)
        >>> result["success"], result["frames"] < 20_000, len(ge.best_actions) == result["best_length"]
        (True, True, True)
    """

    def __init__(self, env: gymnasium.Env, config: GoExploreConfig | None = None, **overrides: Any):
        self.env = env
        self.config = config or GoExploreConfig()
        for k, v in overrides.items():
            setattr(self.config, k, v)
        cfg = self.config
        if cfg.selection not in SELECTIONS:
            raise ConfigError(f"unknown selection {cfg.selection!r}: use one of {SELECTIONS}")
        self.cell_fn = cell_function(env, cfg.cell, cfg.fallback_cell, cfg.downscale_shape, cfg.downscale_levels)
        self.restorable = hasattr(env.unwrapped, "get_state") and hasattr(env.unwrapped, "set_state")
        self.rng = np.random.default_rng(self.config.seed)
        self.archive: dict[Hashable, Cell] = {}
        self.best_actions: list[int] = []
        self.best_score = -np.inf
        self.solved = False
        self.frames = 0
        self._play_index = 0

    def _snapshot(self) -> Any:
        return self.env.unwrapped.get_state() if self.restorable else None

    def _return_to(self, cell: Cell) -> Any:
        if self.restorable and cell.state is not None:
            return self.env.unwrapped.set_state(cell.state)
        obs, _ = self.env.reset(seed=self.config.seed)
        for a in cell.actions:
            obs, *_ = self.env.step(a)
            self.frames += 1
        return obs

    def _consider(self, key: Hashable, score: float, actions: list[int]) -> bool:
        """Record that ``actions`` reached ``key`` with ``score``; True when the cell is new or improved."""
        entry = self.archive.get(key)
        improved = entry is None or score > entry.score or (score == entry.score and len(actions) < len(entry.actions))
        if improved:
            if entry is None:
                entry = self.archive[key] = Cell(score, list(actions), self._snapshot())
            else:
                entry.score, entry.actions, entry.state = score, list(actions), self._snapshot()
        entry.visits += 1
        return improved

    def choose(self) -> Hashable:
        """Draw the key of the cell to return to, with the configured selection weights."""
        keys = list(self.archive)
        weights = selection_weights([self.archive[k] for k in keys], self.config.selection)
        return keys[self.rng.choice(len(keys), p=weights / weights.sum())]

    def iterate(self, start: Hashable, actions: list[int]) -> tuple[bool, bool]:
        """One iteration from the archived cell ``start``: return to it, take ``actions`` (the
        exploration), update the archive and the counts. Returns ``(episode ended, succeeded)``."""
        cell = self.archive[start]
        cell.chosen += 1
        cell.seen += 1
        seen_now, improved_now = {start}, set()
        self._return_to(cell)
        path, score = list(cell.actions), cell.score
        ended = succeeded = False
        for action in actions:
            obs, reward, terminated, truncated, info = self.env.step(action)
            self.frames += 1
            path.append(action)
            score += float(info.get("reward_components", {}).get("extrinsic", reward))
            if terminated or truncated:
                if score > self.best_score or (score == self.best_score and len(path) < len(self.best_actions)):
                    self.best_score, self.best_actions = score, list(path)
                succeeded = bool(info.get("success", False))
                self.solved = self.solved or succeeded
                ended = True
                break
            key = self.cell_fn(self.env, obs)
            if self._consider(key, score, path):
                improved_now.add(key)
            if key not in seen_now:
                seen_now.add(key)
                self.archive[key].seen += 1
        if self.config.reset_counts_on_update:
            for key in improved_now:
                entry = self.archive[key]
                entry.seen = entry.chosen = entry.visits = 0
        return ended, succeeded

    def learn(self, total_steps: int, callback: Callable[[dict[str, float]], Any] | None = None) -> dict[str, Any]:
        """Explore for ``total_steps`` env frames (or until an episode succeeds)."""
        cfg = self.config
        n_actions = int(self.env.action_space.n)
        if not self.archive:
            obs, _ = self.env.reset(seed=cfg.seed)
            self._consider(self.cell_fn(self.env, obs), 0.0, [])
        iteration = 0
        while self.frames < total_steps and not (self.solved and cfg.stop_on_success):
            start = self.choose()
            action, actions = int(self.rng.integers(n_actions)), []
            for _ in range(cfg.explore_steps):
                if self.rng.random() >= cfg.repeat_prob:
                    action = int(self.rng.integers(n_actions))
                actions.append(action)
            self.iterate(start, actions)
            iteration += 1
            if callback is not None and iteration % 100 == 0:
                stats = {"frames": self.frames, "cells": len(self.archive), "best_score": self.best_score}
                cfg.history.append(stats)
                if callback(stats) is False:
                    break
        return {"success": self.solved, "frames": self.frames, "cells": len(self.archive),
                "best_score": float(self.best_score), "best_length": len(self.best_actions)}

    # -- using the result -------------------------------------------------------------------------------

    def shortened_actions(self) -> list[int]:
        """The best trajectory with its loops cut out: wherever the full env state (the family's ``full``
        state key; for MiniGrid: the encoded grid, agent position and heading, carried object) recurs, the actions between the two
        visits are dropped, which also removes no-ops (a pickup with nothing in front, "done", a left
        turn undone by a right turn). Exploration's random walks are mostly such loops. The result is
        replayed from the reset seed and kept only if it still succeeds with at least the same return
        (an env that draws random numbers while stepping may not); otherwise the trajectory is
        returned as found. Envs whose family has no ``full`` state key are returned as found."""
        if not self.best_actions:
            raise RuntimeError("no trajectory found yet: call learn() first")
        family = family_of(self.env)
        if family is None or "full" not in family.state_keys:
            return list(self.best_actions)
        full = family.state_key("full")

        obs, _ = self.env.reset(seed=self.config.seed)
        path: list[int] = []
        seen = {full(self.env, obs): 0}  # state -> length of the path that reached it
        for a in self.best_actions:
            obs, *_ = self.env.step(a)
            path.append(a)
            k = full(self.env, obs)
            if k in seen:  # back in a state already on the path: cut the loop
                del path[seen[k]:]
                seen = {s: n for s, n in seen.items() if n <= len(path)}
            else:
                seen[k] = len(path)
        return path if self._replay_score(path) >= self.best_score else list(self.best_actions)

    def _replay_score(self, actions: list[int]) -> float:
        self.env.reset(seed=self.config.seed)
        score = 0.0
        for a in actions:
            _, reward, terminated, truncated, info = self.env.step(a)
            score += float(info.get("reward_components", {}).get("extrinsic", reward))
            if terminated or truncated:
                return score if info.get("success", True) else -np.inf
        return -np.inf  # did not reach the end

    def demonstrations(self, shorten: bool = False) -> dict[str, np.ndarray]:
        """The best trajectory in the demonstration format (flattened observations and actions);
        ``shorten=True`` uses :meth:`shortened_actions` (loops cut out) for the robustification phase."""
        if not self.best_actions:
            raise RuntimeError("no trajectory found yet: call learn() first")
        actions = self.shortened_actions() if shorten else self.best_actions
        obs, _ = self.env.reset(seed=self.config.seed)
        rows = []
        for a in actions:
            rows.append(gymnasium.spaces.flatten(self.env.observation_space, obs))
            obs, *_ = self.env.step(a)
        starts = np.zeros(len(rows), dtype=bool)
        starts[0] = True
        return {"observations": np.asarray(rows, dtype=np.float32), "actions": np.asarray(actions),
                "episode_starts": starts}

    def reset(self, seed: int | None = None) -> None:
        self._play_index = 0

    def act(self, observation: Any, info: dict[str, Any]) -> int:
        """Replay the best trajectory open-loop (it is only right on the explored layout's seed)."""
        if self._play_index < len(self.best_actions):
            self._play_index += 1
            return self.best_actions[self._play_index - 1]
        family = family_of(self.env)
        return family.noop_action if family is not None and family.noop_action is not None else 0
