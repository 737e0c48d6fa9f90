"""NetHack Learning Environment and MiniHack tasks in the sparsegym contract.

* **Observations**: by default only ``glyphs``, ``chars``, ``colors``, ``blstats`` and ``message`` (the
  keys agents use, and the fastest to produce); ``observation_keys="all"`` gives the upstream env's full
  set, or pass any tuple of upstream keys. Keys the text view and subgoals need are added on request.
  ``obs="glyphs"`` (or any one selected key) returns that array alone instead of the ``Dict`` (a
  ``Box``, for CleanRL-style code that reads ``observation_space.shape``; the ``-Glyphs`` ids, e.g.
  ``sparsegym/MiniHack-Room-5x5-Glyphs-v0``, are registered with it). The text view and subgoal
  wrappers need the ``Dict`` ids.
* **Seeding**: every reset seeds NetHack's own core and display RNGs from the env's RNG (with
  NetHack's re-seeding turned off), so ``reset(seed=s)`` and the unseeded resets after it replay
  exactly; Gymnasium's seed alone does not reach the game. (NetHackChallenge refuses chosen seeds inside the game, by design, so it is not
  registered here.)
* **Success** (``info["success"]`` at the episode's end): the task's own "task successful" end status.
  MiniHack tasks and NetHack's Staircase, StaircasePet and Oracle tasks have one (reach the goal, the
  stairs, the Oracle); NetHack's Score, Gold, Eat, Scout and Challenge are open-ended (maximise a score)
  and never report success: read their return instead. Death is never a success.
* **Episode limits** are the upstream ones (``max_episode_steps``, 5,000 for NetHack tasks and per task
  for MiniHack). NLE reports running out of steps as a *terminated* "aborted" episode; here it is a
  truncation, as Gymnasium defines it.
* At the last step of a finished game NetHack returns a blank map and status line; subgoal events
  that need the agent's position then use its previous position and its move.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym._deps import require
from sparsegym.errors import ConfigError

require("nle", "nethack", "The NetHack family")
with contextlib.redirect_stderr(io.StringIO()):  # minihack imports pkg_resources, which warns
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        require("minihack", "nethack", "The MiniHack tasks")

#: Upstream task names of NetHack's open-ended tasks (no goal; success is never reported).
OPEN_ENDED = ("NetHackScore", "NetHackGold", "NetHackEat", "NetHackScout", "NetHackChallenge")
DEFAULT_KEYS = ("glyphs", "chars", "colors", "blstats", "message")
TASK_SUCCESSFUL = 2  # the StepStatus values shared by nle's tasks and MiniHack
ABORTED = -1


def _build_core(task: str, observation_keys: tuple[str, ...] | None, **kwargs: Any) -> Any:
    try:
        spec = gymnasium.spec(task)
    except gymnasium.error.Error as exc:
        raise ConfigError(f"{task!r} is not a NetHack or MiniHack task id registered by nle/minihack") from exc
    creator = gymnasium.envs.registration.load_env_creator(spec.entry_point)
    if observation_keys is not None:
        kwargs["observation_keys"] = observation_keys
    return creator(**{**spec.kwargs, **kwargs})


class NetHackTask(gymnasium.Env):
    """One NetHack or MiniHack task (see the module docstring).

    Example:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/MiniHack-Room-5x5-v0")
        >>> obs, info = env.reset(seed=0)
        >>> sorted(obs), obs["glyphs"].shape
        (['blstats', 'chars', 'colors', 'glyphs', 'message'], (21, 79))
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, task: str, observation_keys: tuple[str, ...] | str = DEFAULT_KEYS,
                 extra_keys: tuple[str, ...] = (), render_mode: str | None = None, obs: str = "dict",
                 **task_kwargs: Any):
        if render_mode is not None and render_mode != "ansi":
            raise ConfigError(f"render_mode must be 'ansi' or None, got {render_mode!r}")
        keys = None if observation_keys == "all" else tuple(dict.fromkeys((*observation_keys, *extra_keys)))
        if obs != "dict" and keys is not None and obs not in keys:
            raise ConfigError(f"obs must be 'dict' or one of the observation keys {keys}, got {obs!r}")
        self.task, self.render_mode = task, render_mode
        self.core = _build_core(task, keys, **task_kwargs)
        upstream = self.core.observation_space
        if obs != "dict" and obs not in upstream.spaces:
            raise ConfigError(f"obs must be 'dict' or one of the observation keys {tuple(upstream.spaces)}, got {obs!r}")
        self.obs_mode = obs
        self._single = None if obs == "dict" else obs  # the one key returned alone, if any
        dict_space = spaces.Dict({k: upstream[k] for k in (keys or upstream.spaces)})
        self.observation_space = dict_space if self._single is None else dict_space[self._single]
        self.action_space = spaces.Discrete(self.core.action_space.n)
        self.actions = tuple(self.core.actions)
        self.max_steps = int(getattr(self.core, "_max_episode_steps", 0)) or None
        #: False for NetHack's open-ended tasks (Score, Gold, Eat, Scout, Challenge: maximise a score), which
        #: never report success; True for tasks with a goal (MiniHack, Staircase, StaircasePet, Oracle).
        self.has_goal = not any(t in task for t in OPEN_ENDED)
        self._keys = tuple(dict_space.spaces)
        # NLE's own step copies every internal observation array before stepping (its reward needs the
        # previous state), MiniHack's step copies them once more for its reward manager, and we copy
        # the arrays we return after it: the same data two or three times. For tasks that use NLE's
        # or MiniHack's step unchanged, `_fast_step` plays that step with one copy serving all (see
        # its docstring). KeyRoom's step (MiniHackKeyDoor) only adds a door-opening macro before
        # MiniHack's when the action is APPLY; those actions take the full step, every other action
        # the fast one.
        from minihack.base import MiniHack
        from minihack.envs.keyroom import MiniHackKeyDoor
        from nle.env.base import NLE
        from nle.nethack import Command

        step_impl = type(self.core).step
        keydoor = step_impl is MiniHackKeyDoor.step
        self._minihack_step = step_impl is MiniHack.step or keydoor
        index = dict(zip(self.core._original_observation_keys, self.core._original_indices))
        fast = (step_impl is NLE.step or self._minihack_step) and all(k in index for k in self._keys)
        self._fast = fast
        self._fast_for = tuple(fast and not (keydoor and act == Command.APPLY) for act in self.actions)
        self._key_index = tuple((k, index[k]) for k in self._keys if k in index)
        self._prev: tuple | None = None
        # Registered without Gymnasium's OrderEnforcing wrapper (one call layer per step, about 3% of
        # a NetHack step): until the first reset no action is in range, so `step` falls through to
        # `_checked`, which raises ResetNeeded. The common path pays nothing for the check.
        self._n = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        # Every episode's NetHack seeds are drawn from the env's own RNG: a seeded reset, and the
        # unseeded resets after it, replay exactly. NLE's seeding is called directly: MiniHack's
        # MiniGrid ports (MultiRoom, ...) override it with a call Gymnasium 1.x removed, so their
        # layout generator's RNG is seeded here too.
        from nle.env.base import NLE

        core_seed, disp_seed = (int(v) for v in self.np_random.integers(0, 2**62, size=2))
        NLE.seed(self.core, core=core_seed, disp=disp_seed, reseed=False)
        grid = getattr(self.core, "minigrid_env", None)
        if grid is not None:
            grid.unwrapped._np_random = np.random.Generator(np.random.PCG64(core_seed))
        obs, core_info = self.core.reset(seed=None, options=options or None)  # nle reads keys of any dict
        self._n = int(self.action_space.n)
        if self._fast:
            self._prev = tuple(a.copy() for a in self.core.last_observation)
            obs = {k: self._prev[i] for k, i in self._key_index}
        info = dict(core_info)
        info["success"] = False
        info["reward_components"] = {"extrinsic": 0.0}
        obs = self._select(obs)
        return (obs if self._single is None else obs[self._single]), info

    def step(self, action: Any):
        # The common case first (a plain int in range); anything else goes through the full check.
        a = action if type(action) is int and 0 <= action < self._n else self._checked(action)
        if self._fast_for[a]:
            obs, reward, terminated, truncated, info = self._fast_step(a)
        else:
            obs, reward, terminated, truncated, info = self.core.step(a)
            if self._fast:  # a full step inside a fast-stepping env: the next step's "before" state
                self._prev = tuple(x.copy() for x in self.core.last_observation)
                obs = {k: self._prev[i] for k, i in self._key_index}
            else:
                obs = self._select(obs)
        reward = float(reward)
        status = info["end_status"]  # NLE builds a new info dict every step: extend it, no copy
        if terminated and status == ABORTED:
            # NLE ends an episode that ran out of steps as "aborted" and terminated; in Gymnasium's
            # terms that is a truncation (the state was not terminal), so learners may bootstrap.
            terminated, truncated = False, True
        info["success"] = terminated and status == TASK_SUCCESSFUL
        info["reward_components"] = {"extrinsic": reward}
        if self._single is not None:
            obs = obs[self._single]
        return obs, reward, terminated, truncated, info

    def _checked(self, action: Any) -> int:
        if self._n == 0:
            from gymnasium.error import ResetNeeded

            raise ResetNeeded(f"{self.task}: call reset() before step() (the game has not started)")
        try:
            a = int(action)
            valid = 0 <= a < self._n and a == action
        except (TypeError, ValueError):
            valid = False
        if not valid:
            from sparsegym.envs.nethack.text import action_names
            from sparsegym.errors import InvalidActionError

            names = action_names(self.actions)
            raise InvalidActionError(
                f"invalid action {action!r} for {self.task}: expected an int in [0, {self._n - 1}] "
                f"({', '.join(f'{i}={n}' for i, n in enumerate(names))})"
            )
        return a

    def _fast_step(self, a: int) -> tuple:
        """NLE's ``step`` (nle 1.3, ``nle/env/base.py``; MiniHack 1.0's adds only the previous state and
        action for its reward manager), in the same order, with one copy per step.

        NLE copies the arrays of the state *before* the action to hand them to the reward function;
        those are exactly the copies this env made at the end of the previous step (nothing moves the
        game in between), so they are reused, and the copies made now are both the observation
        returned and the next step's "before" state. Rewards, ends and the game itself are unchanged
        (tests compare whole episodes against NLE's own step).
        """
        core = self.core
        if self._minihack_step:  # what MiniHack.step adds before NLE's: the state its reward manager reads
            core._previous_obs = self._prev
            core._previous_action = a
        observation, done = core.nethack.step(core.actions[a])
        truncated = core._check_abort(observation)
        if observation[core._program_state_index][0] == 1 or not core._allow_all_modes:
            observation, done = core._perform_known_steps(observation, done, exceptions=True)
        core._steps += 1
        core.last_observation = observation
        end_status = core._get_end_status(observation, done)
        reward = core._reward_fn(self._prev, a, observation, end_status)
        if end_status and not done:
            core._quit_game(observation, done)
            done = True
        self._prev = tuple(x.copy() for x in observation)
        obs = {k: self._prev[i] for k, i in self._key_index}
        return obs, reward, done, truncated, core._get_information(end_status)

    def _select(self, obs: dict[str, Any]) -> dict[str, Any]:
        # NLE hands out views of buffers it overwrites on the next step: copy, so an observation an
        # agent or wrapper keeps stays what it was.
        return {k: obs[k].copy() for k in self._keys}

    def render(self):
        if self.render_mode == "ansi":
            last = getattr(self.core, "last_observation", None)
            index = getattr(self.core, "_observation_keys", [])
            if last is not None and "tty_chars" in index:
                chars = last[index.index("tty_chars")]
                return "\n".join(bytes(row).decode("latin-1").rstrip() for row in chars)
            return "(render needs the tty_chars key)"
        return None

    def close(self):
        self.core.close()
        super().close()


def make_nethack(task: str, **kwargs: Any) -> NetHackTask:
    """Factory registered for every ``sparsegym/NetHack-*`` and ``sparsegym/MiniHack-*`` id."""
    return NetHackTask(task, **kwargs)
