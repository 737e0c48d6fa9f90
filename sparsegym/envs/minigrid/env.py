"""MiniGrid tasks in the sparsegym observation contract.

Observation contract (every MiniGrid and BabyAI id):

* ``image``: ``uint8`` array ``(7, 7, 3)`` of (object, colour, state) codes, the agent-centred view
  (``view="agent"``, the default), or ``(width, height, 3)`` of the whole grid with the agent cell
  holding (agent, red, direction) for ``view="full"``. The Box bounds are the codes' true maxima
  (object 10, colour 5, state 3), which also makes stable-baselines3 treat the view as a vector,
  not as a picture for its Atari CNN (which cannot take 7x7 inputs).
* ``direction``: ``Discrete(4)``, 0 east, 1 south, 2 west, 3 north.

``obs="image"`` returns the ``image`` array alone (a ``Box``, for CleanRL-style code that expects one
array; the agent-centred view is already relative to the agent's heading, and the full view holds the
direction in the agent cell). Every id has a variant registered with it, for scripts that take only an
id: ``-Image`` before the version (``sparsegym/MiniGrid-DoorKey-5x5-Image-v0``; see the registry). The mission string is in ``info["mission"]`` (BabyAI missions change from episode to episode).
``info["success"]`` is False until the episode ends and then says whether the task was solved
(MiniGrid pays a positive reward exactly on success); ``info["reward_components"]["extrinsic"]`` is
the task's own reward, ``1 - 0.9 * steps / max_steps`` on success and 0 otherwise.

Stochastic options, each used by the curiosity literature to trap novelty seekers:

* ``noisy_tv=True`` adds an action ("watch tv", the last index) that leaves the world as it is but
  fills the view with random codes, drawn from the env's seeded RNG within the valid code ranges
  (so embedding-based encoders accept them); it still costs a step.
* ``sticky_prob=p`` repeats the previous executed action with probability ``p`` instead of the
  chosen one (Machado et al., 2018 use 0.25); ``info["executed_action"]`` reports what ran.

Episodes are truncated by MiniGrid itself at ``max_steps`` (its reward depends on it); pass
``max_steps=N`` to ``make`` to change it.

The agent-centred view is computed by :mod:`sparsegym.envs.minigrid.fastview` (identical codes, much
cheaper than MiniGrid's ``gen_obs``, which is most of a MiniGrid step); ``fast_view=False`` keeps
MiniGrid's own code path, and envs that override how the view is built always keep theirs.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from sparsegym._deps import require
from sparsegym.envs.minigrid.text import (
    ACTION_NAMES,
    AGENT_IDX,
    IDX_TO_COLOR,
    IDX_TO_OBJECT,
    NOISY_TV_ACTION_NAME,
)
from sparsegym.errors import ConfigError, InvalidActionError

_minigrid = require("minigrid", "minigrid", "The MiniGrid family")
from minigrid.minigrid_env import MiniGridEnv  # noqa: E402

from sparsegym.envs.minigrid import fastview  # noqa: E402

# Largest valid code per channel: object (agent = 10), colour (grey = 5), state (door locked = 2,
# agent direction up to 3 in the full view).
CODE_MAX = np.array([len(IDX_TO_OBJECT) - 1, len(IDX_TO_COLOR) - 1, 3], dtype=np.uint8)
_DONE = 6  # MiniGrid's "done" action: a no-op in every non-BabyAI task.
_RED = IDX_TO_COLOR.index("red")
# Attributes of a minigrid env that are configuration, rendering or RNG (handled apart), not state.
_NOT_STATE = frozenset({"window", "clock", "surface", "gen_obs", "action_space", "observation_space", "reward_range",
                        "render_mode", "render_size", "screen_size", "tile_size", "highlight", "agent_pov",
                        "_np_random", "_np_random_seed", "spec", "metadata"})


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


_DISCARD = _Discard()


def _build_core(task: str, render_mode: str | None, **kwargs: Any) -> MiniGridEnv:
    """Instantiate the upstream minigrid env registered as ``task`` (without Gymnasium wrappers)."""
    try:
        spec = gymnasium.spec(task)
    except gymnasium.error.Error as exc:
        raise ConfigError(f"{task!r} is not a minigrid task id registered by minigrid {_minigrid.__version__}") from exc
    creator = gymnasium.envs.registration.load_env_creator(spec.entry_point)
    core = creator(**{**spec.kwargs, **kwargs}, render_mode=render_mode)
    if not isinstance(core, MiniGridEnv):
        raise TypeError(f"{task!r} does not build a MiniGridEnv (got {type(core).__name__})")
    return core


class MiniGridTask(gymnasium.Env):
    """One MiniGrid/BabyAI task in the sparsegym contract (see the module docstring).

    Example:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs["image"].shape, int(obs["direction"]), info["mission"]
        ((7, 7, 3), 2, 'use the key to open the door and then get to the goal')
    """

    metadata = {"render_modes": ["rgb_array", "human", "ansi"], "render_fps": 10}

    def __init__(
        self,
        task: str,
        view: str = "agent",
        obs: str = "dict",
        noisy_tv: bool = False,
        sticky_prob: float = 0.0,
        render_mode: str | None = None,
        fast_view: bool = True,
        **task_kwargs: Any,
    ):
        if view not in ("agent", "full"):
            raise ConfigError(f"view must be 'agent' (the agent-centred 7x7 view) or 'full' (whole grid), got {view!r}")
        if obs not in ("dict", "image"):
            raise ConfigError(f"obs must be 'dict' (image and direction) or 'image' (the image array alone), got {obs!r}")
        if not 0.0 <= float(sticky_prob) < 1.0:
            raise ConfigError(f"sticky_prob must be in [0, 1), got {sticky_prob!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.task = task
        self.view = view
        self.obs_mode = obs
        self.noisy_tv = bool(noisy_tv)
        self.sticky_prob = float(sticky_prob)
        self.render_mode = render_mode
        core_mode = render_mode if render_mode in ("rgb_array", "human") else None
        self.core: MiniGridEnv = _build_core(task, core_mode, **task_kwargs)
        if fast_view and fastview.supports(self.core):
            # Same observation, computed without MiniGrid's intermediate grids (see fastview).
            self.core.gen_obs = fastview.AgentView(self.core)

        if view == "agent":
            shape = (self.core.agent_view_size, self.core.agent_view_size, 3)
        else:
            shape = (self.core.width, self.core.height, 3)
        self._image_space = spaces.Box(0, np.broadcast_to(CODE_MAX, shape).copy(), shape=shape, dtype=np.uint8)
        if obs == "dict":
            self.observation_space = spaces.Dict({"image": self._image_space, "direction": spaces.Discrete(4)})
        else:
            self.observation_space = self._image_space
        self.action_names: tuple[str, ...] = ACTION_NAMES + ((NOISY_TV_ACTION_NAME,) if self.noisy_tv else ())
        self.action_space = spaces.Discrete(len(self.action_names))
        self._n_actions = len(self.action_names)
        self._tv_action = len(ACTION_NAMES) if self.noisy_tv else -1
        self._prev_action: int | None = None

    # -- the Gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            # Our own draws (sticky actions, TV noise) use a stream independent of minigrid's.
            self._np_random = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x5BA75E])))
        # BabyAI's level generator prints every rejected sample; keep stdout for the user's program.
        with contextlib.redirect_stdout(_DISCARD):
            obs, core_info = self.core.reset(seed=seed, options=options)
        self._prev_action = None
        info = dict(core_info)
        info["success"] = False
        info["reward_components"] = {"extrinsic": 0.0}
        info["mission"] = self.core.mission
        return self._observation(obs), info

    def step(self, action: Any):
        try:
            a = int(action)
            valid = 0 <= a < self._n_actions and a == action
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise InvalidActionError(
                f"invalid action {action!r} for {self.task}: expected an int in [0, {self._n_actions - 1}] "
                f"({', '.join(f'{i}={n}' for i, n in enumerate(self.action_names))})"
            )
        info_extra = None
        if self.sticky_prob > 0.0:
            if self._prev_action is not None and self.np_random.random() < self.sticky_prob:
                a = self._prev_action
            self._prev_action = a
            info_extra = a
        if a == self._tv_action:
            obs, reward, terminated, truncated, core_info = self.core.step(_DONE)
            obs = self._pack(self._noise(), obs["direction"])
        else:
            obs, reward, terminated, truncated, core_info = self.core.step(a)
            obs = self._observation(obs)
        reward = float(reward)
        info = dict(core_info) if core_info else {}
        info["success"] = bool(terminated and reward > 0.0)
        info["reward_components"] = {"extrinsic": reward}
        info["mission"] = self.core.mission
        if info_extra is not None:
            info["executed_action"] = info_extra
        return obs, reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "ansi":
            return self.core.pprint_grid()
        if self.render_mode in ("rgb_array", "human"):
            return self.core.render()
        return None

    def close(self):
        self.core.close()
        super().close()

    # -- saving and restoring the state (Go-Explore's return step) ---------------------------------

    def get_state(self) -> dict[str, Any]:
        """A snapshot of the whole env state: every attribute of the minigrid env that is state (grid,
        agent, carried object, step count, the task's own fields such as KeyCorridor's target ``obj``,
        RoomGrid rooms, BabyAI instructions and their verifiers), plus the RNGs.

        The attributes are deep-copied *together*, so references between them survive: a task that
        keeps its target object in ``obj`` and checks ``carrying == obj`` (object identity) still
        recognises the restored grid's copy of it. (Copying the grid alone, as an earlier version did,
        left ``obj`` pointing at the old object, so a restored KeyCorridor or ObstructedMaze could never
        be won.) References back to the env itself (BabyAI verifiers keep one) stay pointed at it.
        """
        core = self.core
        fields = {k: v for k, v in vars(core).items() if k not in _NOT_STATE}
        return {
            "core": copy.deepcopy(fields, {id(core): core, id(self): self}),
            "core_rng": core.np_random.bit_generator.state,  # a fresh dict on every read
            "rng": self.np_random.bit_generator.state,
            "prev_action": self._prev_action,
        }

    def set_state(self, state: dict[str, Any]) -> dict[str, Any] | np.ndarray:
        """Restore a :meth:`get_state` snapshot (of this task); returns the observation there. The
        snapshot itself is left untouched, so it can be restored again."""
        core = self.core
        vars(core).update(copy.deepcopy(state["core"], {id(core): core, id(self): self}))
        core.np_random.bit_generator.state = state["core_rng"]
        self.np_random.bit_generator.state = state["rng"]
        self._prev_action = state["prev_action"]
        return self._observation(core.gen_obs())

    # -- helpers ----------------------------------------------------------------------------------

    @property
    def mission(self) -> str:
        return self.core.mission

    @property
    def max_steps(self) -> int:
        return self.core.max_steps

    def _observation(self, core_obs: dict[str, Any]) -> dict[str, Any] | np.ndarray:
        if self.view == "agent":
            image = core_obs["image"]
        else:
            core = self.core
            image = core.grid.encode()
            image[core.agent_pos[0], core.agent_pos[1]] = (AGENT_IDX, _RED, core.agent_dir)
        return self._pack(image, core_obs["direction"])

    def _pack(self, image: np.ndarray, direction: int) -> dict[str, Any] | np.ndarray:
        if self.obs_mode == "image":
            return image
        return {"image": image, "direction": direction}

    def _noise(self) -> np.ndarray:
        shape = self._image_space.shape
        return self.np_random.integers(0, CODE_MAX.astype(np.int64) + 1, size=shape).astype(np.uint8)

    def __str__(self) -> str:
        return f"<MiniGridTask {self.task} view={self.view}>"


def make_minigrid(task: str, **kwargs: Any) -> MiniGridTask:
    """Factory registered for every ``sparsegym/MiniGrid-*`` and ``sparsegym/BabyAI-*`` id.

    ``kwargs`` are :class:`MiniGridTask` options (``view``, ``obs``, ``noisy_tv``, ``sticky_prob``,
    ``render_mode``) and any keyword the upstream minigrid env accepts (e.g. ``max_steps``).
    """
    return MiniGridTask(task, **kwargs)
