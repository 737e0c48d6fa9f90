"""Go-Explore (Ecoffet, Huizinga, Lehman, Stanley and Clune, 2019/2021): remember promising states in
an archive of *cells*, return to one, explore from it, repeat.

* **Cells**: a cell groups states that count as "the same place". By default (``cell="auto"``) the
  env's family supplies a domain-knowledge cell, the paper's "domain knowledge" representation (MiniGrid:
  agent position, carried object, which doors are open; NetHack: dungeon level and position);
  ``observation_cell`` hashes the observation, for any env.
* **Choose**: a cell is chosen with weight ``1 / sqrt(times chosen + 1)``, favouring the rarely tried.
* **Return**: envs with ``get_state``/``set_state`` (sparsegym's MiniGrid tasks) are restored
  directly; any other deterministic env is returned to by replaying the cell's action sequence from
  the same reset seed (slower, and only correct for deterministic envs).
* **Explore**: random actions, each repeated with probability ``repeat_prob``. The paper repeats with
  0.95 on Atari, whose actions last one frame; MiniGrid's actions are whole moves, and repeating them
  mostly spins the agent in place. Measured here (3 seeds, 150k-frame budget): with 0.0, DoorKey-8x8 was
  solved in 2.8k-11k frames and MultiRoom-N4-S5 in 9k-13k; with 0.95, DoorKey-8x8 took 15k-69k and
  MultiRoom-N4-S5 was solved on 2 seeds of 3. The default is 0.0.
* **Archive update**: a cell's entry is replaced when a trajectory reaches it with a higher score, or
  the same score in fewer steps.

The result is the best trajectory found. **Robustification** (the paper's second phase) is done here
by behaviour cloning that trajectory into a policy: :meth:`GoExplore.demonstrations` returns it in the
demonstration format that :func:`sparsegym.agents.imitation.behaviour_cloning` and
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


def observation_cell(env: gymnasium.Env, observation: Any) -> Hashable:
    return observation_digest(observation)


CELLS: dict[str, Callable[[gymnasium.Env, Any], Hashable]] = {"observation": observation_cell}


def cell_function(env: gymnasium.Env, cell: str) -> Callable[[gymnasium.Env, Any], Hashable]:
    """``"observation"``: a hash of the observation (any env); ``"auto"``: the env's family's
    domain-knowledge cell when it has one, else the observation hash; ``"family"`` or the family's
    name (e.g. ``"minigrid"``): the family's cell, required."""
    if cell in CELLS:
        return CELLS[cell]
    family = family_of(env)
    if cell == "auto":
        return family.go_explore_cell() if family is not None and family.cell is not None else observation_cell
    if family is not None and cell in ("family", family.name):
        return family.go_explore_cell()
    raise ConfigError(f"unknown cell representation {cell!r} for this env: use 'auto', 'observation' or 'family'"
                     + (f" ({family.name!r})" if family is not None else ""))


@dataclass
class Cell:
    score: float
    actions: list[int]
    state: Any = None
    chosen: int = 0
    visits: int = 0


@dataclass
class GoExploreConfig:
    explore_steps: int = 50  # exploration steps after each return
    repeat_prob: float = 0.0  # probability of repeating the previous exploration action (paper: 0.95 on Atari)
    cell: str = "auto"  # cell: auto (the family's domain-knowledge cell, else observation), family or observation
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
        self.cell_fn = cell_function(env, self.config.cell)
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

    def _consider(self, key: Hashable, score: float, actions: list[int]) -> None:
        entry = self.archive.get(key)
        if entry is None or score > entry.score or (score == entry.score and len(actions) < len(entry.actions)):
            if entry is None:
                entry = self.archive[key] = Cell(score, list(actions), self._snapshot())
            else:
                entry.score, entry.actions, entry.state = score, list(actions), self._snapshot()
        entry.visits += 1

    def learn(self, total_steps: int, callback: Callable[[dict[str, float]], Any] | None = None) -> dict[str, Any]:
        """Explore for ``total_steps`` env frames (or until an episode succeeds)."""
        cfg = self.config
        n_actions = int(self.env.action_space.n)
        if not self.archive:
            obs, _ = self.env.reset(seed=cfg.seed)
            self._consider(self.cell_fn(self.env, obs), 0.0, [])
        iteration = 0
        while self.frames < total_steps and not (self.solved and cfg.stop_on_success):
            keys = list(self.archive)
            weights = np.array([1.0 / np.sqrt(self.archive[k].chosen + 1.0) for k in keys])
            cell = self.archive[keys[self.rng.choice(len(keys), p=weights / weights.sum())]]
            cell.chosen += 1
            self._return_to(cell)
            actions, score = list(cell.actions), cell.score
            action = int(self.rng.integers(n_actions))
            for _ in range(cfg.explore_steps):
                if self.rng.random() >= cfg.repeat_prob:
                    action = int(self.rng.integers(n_actions))
                obs, reward, terminated, truncated, info = self.env.step(action)
                self.frames += 1
                actions.append(action)
                score += float(info.get("reward_components", {}).get("extrinsic", reward))
                if terminated or truncated:
                    if score > self.best_score or (score == self.best_score and len(actions) < len(self.best_actions)):
                        self.best_score, self.best_actions = score, list(actions)
                    self.solved = self.solved or bool(info.get("success", False))
                    break
                self._consider(self.cell_fn(self.env, obs), score, actions)
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
