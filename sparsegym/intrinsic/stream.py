"""``IntrinsicStream``: one intrinsic module applied to a stream of batched transitions.

Every user of an intrinsic reward (the single-env wrapper, the vector wrapper, trainers) needs the same
plumbing around :meth:`compute`: remember each env's current observation, score transitions that end
an episode on their real final observation, leave out rows that are not transitions, clear the
module's episodic state when an episode ends, normalise the bonus, and collect transitions to train the
module on. This class is that plumbing, once. It imports neither torch nor Gymnasium's wrappers.

Autoreset modes (Gymnasium's :class:`~gymnasium.vector.AutoresetMode`):

* ``NEXT_STEP`` (Gymnasium's default vector envs, and a single env driven by ``reset``): the step
  that ends an episode returns the real last observation; the env's *next* step only returns the reset
  observation. That row is not a transition: it earns no bonus and does not enter the statistics or
  the training batch.
* ``SAME_STEP`` (``sparsegym.agents.vector.LeanSyncVectorEnv``, CleanRL's convention): the step that
  ends an episode returns the reset observation and puts the real last one in ``infos["final_obs"]``,
  which is what the transition is scored on.

Normalisation (``normalize``), following the module's ``normalization`` attribute by default:

* ``"return"``: divide by a running std of the discounted intrinsic return (Burda et al.'s RND).
  That running return is a scale estimate, not the learner's return: it runs on across episode
  ends (as in RND, and in this library before the stream), whether or not the learner cuts its own
  intrinsic returns there. Restarting it at episode ends (``restart_returns=True``) makes it smaller
  and the bonus larger; measured, that alone broke PPO+E3B with return normalisation on
  MultiRoom-N4-S5 (seed 2: 0.85 success at 450k frames running on, 0.07 restarted);
* ``"step"``: divide by a running std of the bonus itself (the reward normalisation of E3B's code);
* ``"none"``: the bonus as computed.

Only real transitions update the statistics, one value per transition, so a ``NEXT_STEP`` vector env,
a ``SAME_STEP`` one and (with one env) the single-env wrapper normalise alike.

State keys: when the infos carry ``state_key`` (one hashable per env, e.g. from
:class:`sparsegym.wrappers.StateKeyInfo`: the agent's position, NetHack's message, MiniGrid's full
state), the batch given to the module carries them as ``keys`` (for ``next_obs``; a ``SAME_STEP``
episode end takes its key from ``infos["final_info"]["state_key"]``) and ``obs_keys`` (for ``obs``),
and count-based modules count those instead of observations. Pass the reset's infos to :meth:`reset`.

A module with ``bind_envs(num_envs)`` is told the number of envs (RND scales the predictor's share
of each batch with it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import gymnasium
import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.utils.spaces import flat_dim, flatten_batch, flatten_observation
from sparsegym.utils.stats import RunningMeanStd

NEXT_STEP, SAME_STEP = "next_step", "same_step"
NORMALIZATIONS = ("return", "step", "none")


def autoreset_mode_name(mode: Any) -> str:
    """``"next_step"`` or ``"same_step"`` for an :class:`~gymnasium.vector.AutoresetMode`, its value
    (``"NextStep"``) or either name; ``None`` means ``NEXT_STEP`` (Gymnasium's default). Other modes
    (``DISABLED``) raise ``ValueError``."""
    if mode is None:
        return NEXT_STEP
    text = str(getattr(mode, "value", mode)).replace("_", "").replace(" ", "").lower()
    if text == "nextstep":
        return NEXT_STEP
    if text == "samestep":
        return SAME_STEP
    raise ConfigError(f"intrinsic rewards need the NEXT_STEP or SAME_STEP autoreset mode, got {mode}")


def check_module_size(module: Any, space: gymnasium.Space) -> None:
    """Refuse a module built for another observation size, naming the fix."""
    expected = flat_dim(space)
    if getattr(module, "obs_dim", expected) != expected:
        raise ConfigError(f"the module was built for observations of size {module.obs_dim}, but this env's "
                         f"flattened observations have size {expected}: build it with flat_dim(observation_space)")


class ReturnNormalizer:
    """Divide rewards by a running std of their discounted return (RND's intrinsic normalisation).

    ``returns`` holds each env's running return ``R <- gamma * R + r``; :meth:`restart` zeroes some.

    Examples:
        >>> norm = ReturnNormalizer(num_envs=1, gamma=0.5)
        >>> [round(float(norm(np.array([r]))[0]), 3) for r in (1.0, 1.0)]  # returns 1, then 1.5
        [100.01, 3.998]

    The statistics start from a tiny pseudo-count at 0, so the first std is about ``0.01 * |R|``
    (hence a large first value); after the second return the std is about 0.25.
    """

    def __init__(self, num_envs: int = 1, gamma: float = 0.99):
        self.gamma = float(gamma)
        self.returns = np.zeros(num_envs)
        self.rms = RunningMeanStd(var=0.0)

    def __call__(self, rewards: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Normalise ``rewards`` (one per env, or one per env of ``rows``): their returns advance and
        enter the statistics."""
        if rows is None:
            self.returns = self.returns * self.gamma + rewards
            self.rms.update(self.returns)
        else:
            self.returns[rows] = self.returns[rows] * self.gamma + rewards
            self.rms.update(self.returns[rows])
        return rewards / (np.sqrt(self.rms.var) + 1e-8)

    def restart(self, rows: Any) -> None:
        self.returns[rows] = 0.0


class StepNormalizer:
    """Divide rewards by a running std of the rewards themselves."""

    def __init__(self) -> None:
        self.rms = RunningMeanStd(var=0.0)

    def __call__(self, rewards: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        self.rms.update(rewards)
        return rewards / (np.sqrt(self.rms.var) + 1e-8)

    def restart(self, rows: Any) -> None:
        return None


def module_normalization(module: Any) -> str:
    """What ``module`` asks for: its ``normalization``, else ``"return"`` if ``normalize_returns``."""
    mode = getattr(module, "normalization", None)
    if mode is None:
        mode = "return" if getattr(module, "normalize_returns", False) else "none"
    if mode not in NORMALIZATIONS:
        raise ConfigError(f"{type(module).__name__}.normalization must be one of {NORMALIZATIONS}, got {mode!r}")
    return mode


class IntrinsicStream:
    """Bonuses of an intrinsic module for the transitions of ``num_envs`` envs, step after step.

    Args:
        module: an intrinsic module (``compute``/``update``/``reset``, see :mod:`sparsegym.intrinsic`).
        num_envs: how many envs each step carries.
        observation_space: the single env's observation space; observations passed in are batches of
            it and are flattened here. ``None``: they are flat float rows already.
        autoreset_mode: ``NEXT_STEP`` or ``SAME_STEP`` (see the module docstring).
        normalize: ``"return"``, ``"step"``, ``"none"``, True (``"return"``), False (``"none"``) or
            None (what the module asks for: ``module.normalization`` / ``module.normalize_returns``).
        gamma: the discount of the running return that ``"return"`` normalisation divides by.
        restart_returns: whether that running return restarts when an episode ends (default
            False: it runs on, see the module docstring).
        update_every: train the module on the collected transitions every this many steps (the
            ``update_every * num_envs`` transitions of those steps); ``None``: collect, and let the
            caller decide when with :meth:`update` (a trainer, once per rollout); 0: never train.
        learn: False freezes the module (nothing is collected, nothing trained).

    After each :meth:`step`, :attr:`losses` holds the module's losses if it trained on that step,
    else None.

    Examples:
        >>> import numpy as np
        >>> from sparsegym.intrinsic import EpisodicCount
        >>> stream = IntrinsicStream(EpisodicCount(1), num_envs=2, autoreset_mode="same_step", normalize=False)
        >>> stream.reset(np.array([[0.0], [0.0]]))
        >>> done = np.array([False, True])  # env 1 ends its episode at [1.] and is reset to [0.]
        >>> stream.step([0, 0], np.array([[1.0], [0.0]]), done, done * False, {"final_obs": [None, np.array([1.0])]})
        array([1., 1.])
        >>> stream.step([0, 0], np.array([[0.0], [1.0]]), done * False, done * False)  # env 0: N([0.]) = 2
        array([0.70710677, 1.        ])
    """

    def __init__(self, module: Any, num_envs: int, observation_space: gymnasium.Space | None = None, *,
                 autoreset_mode: Any = NEXT_STEP, normalize: bool | str | None = None, gamma: float = 0.99,
                 restart_returns: bool = False, update_every: int | None = 128, learn: bool = True):
        self.module, self.num_envs = module, int(num_envs)
        self.space = observation_space
        if observation_space is not None:
            check_module_size(module, observation_space)
        self.mode = autoreset_mode_name(autoreset_mode)
        if normalize is None:
            normalize = module_normalization(module)
        elif isinstance(normalize, bool):
            normalize = "return" if normalize else "none"
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {NORMALIZATIONS}, True, False or None, got {normalize!r}")
        self.normalization = normalize
        self.restart_returns = bool(restart_returns)
        self.normalizer: ReturnNormalizer | StepNormalizer | None = (
            ReturnNormalizer(self.num_envs, gamma) if normalize == "return" else
            StepNormalizer() if normalize == "step" else None)
        self.update_every = update_every
        self.collect = bool(learn) and update_every != 0
        self.losses: dict[str, float] | None = None
        bind = getattr(module, "bind_envs", None)
        if callable(bind):
            bind(self.num_envs)
        self._obs: np.ndarray | None = None
        self._keys: np.ndarray | None = None  # each env's current state key, when the infos carry them
        self._dead = np.zeros(self.num_envs, dtype=bool)  # NEXT_STEP: the next row of this env is a reset
        self._buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._steps = 0  # steps collected since the last update

    # -- flattening -------------------------------------------------------------------------------

    def _flat(self, obs: Any, n: int) -> np.ndarray:
        if self.space is None or isinstance(self.space, gymnasium.spaces.Box):
            # a copy: the stream keeps these rows, and the caller may write into its arrays later
            return np.array(obs, dtype=np.float32).reshape(n, -1)
        return flatten_batch(self.space, obs, n)

    def _flat_one(self, obs: Any) -> np.ndarray:
        if self.space is None:
            return np.asarray(obs, dtype=np.float32).reshape(-1)
        return flatten_observation(self.space, obs)

    # -- the stream -------------------------------------------------------------------------------

    @staticmethod
    def _info_keys(infos: Mapping[str, Any] | None, n: int) -> np.ndarray | None:
        """``infos["state_key"]`` as an object array of ``n`` keys, or None when absent."""
        if not infos or infos.get("state_key") is None:
            return None
        keys = np.empty(n, dtype=object)
        keys[:] = list(infos["state_key"])
        return keys

    def reset(self, obs: Any, env_ids: Iterable[int] | None = None, infos: Mapping[str, Any] | None = None) -> None:
        """Episodes start at ``obs`` (a batch for ``env_ids``, default every env): the module forgets
        their episodic state (and, with ``restart_returns``, their running returns restart).
        ``infos``: the reset's infos (for state keys)."""
        ids = np.arange(self.num_envs) if env_ids is None else np.asarray(list(env_ids), dtype=np.int64)
        keys = self._info_keys(infos, len(ids))
        if keys is not None:
            if self._keys is None:
                self._keys = np.full(self.num_envs, None, dtype=object)
            self._keys = self._keys.copy()
            self._keys[ids] = keys
        flat = self._flat(obs, len(ids))
        if self._obs is None:
            if len(ids) != self.num_envs:
                raise ConfigError("the first reset of an IntrinsicStream must cover every env")
            self._obs = np.empty((self.num_envs, flat.shape[1]), dtype=np.float32)
        else:  # a new array: the old one may be in the training buffer as the last step's next_obs
            self._obs = self._obs.copy()
        self._obs[ids] = flat
        self._dead[ids] = False
        self.module.reset(ids.tolist())
        if self.normalizer is not None and self.restart_returns:
            self.normalizer.restart(ids)

    def step(self, actions: Any, next_obs: Any, terminated: Any, truncated: Any,
             infos: Mapping[str, Any] | None = None) -> np.ndarray:
        """The bonus of each env's transition (float64, 0 where a row is not a transition), given what
        the vector env's ``step(actions)`` returned."""
        if self._obs is None:
            raise RuntimeError("call reset(observations) before step()")
        n = self.num_envs
        flat_next = self._flat(next_obs, n)
        done = np.logical_or(terminated, truncated)
        any_done = bool(done.any())
        real_next = flat_next
        if self.mode == SAME_STEP and any_done:  # score the transition on the real last observation
            final = (infos or {}).get("final_obs")
            if final is None:
                raise ConfigError("a SAME_STEP vector env must report infos['final_obs'] when an episode ends")
            real_next = flat_next.copy()
            for i in np.flatnonzero(done):
                real_next[i] = self._flat_one(final[i])
        next_keys = self._info_keys(infos, n)
        real_keys = next_keys
        if next_keys is not None and self.mode == SAME_STEP and any_done:
            final_keys = ((infos or {}).get("final_info") or {}).get("state_key")
            if final_keys is None:
                raise ConfigError("state keys with a SAME_STEP vector env need infos['final_info']['state_key']")
            real_keys = next_keys.copy()
            for i in np.flatnonzero(done):
                real_keys[i] = final_keys[i]
        actions = np.asarray(actions)
        bonus = np.zeros(n)
        live = None if not self._dead.any() else np.flatnonzero(~self._dead)
        rows = slice(None) if live is None else live
        if live is None:
            batch = {"obs": self._obs, "next_obs": real_next, "action": actions, "env_ids": np.arange(n)}
        elif len(live):
            batch = {"obs": self._obs[live], "next_obs": real_next[live], "action": actions[live], "env_ids": live}
        else:
            batch = None
        if batch is not None and real_keys is not None:
            batch["keys"] = real_keys[rows]
            if self._keys is not None:
                batch["obs_keys"] = self._keys[rows]
        if batch is not None:
            values = np.asarray(self.module.compute(batch), dtype=np.float64)
            if self.normalizer is not None:
                values = self.normalizer(values, live)
            if live is None:
                bonus = values
            else:
                bonus[live] = values
            if self.collect:
                self._buffer.append((batch["obs"], batch["action"], batch["next_obs"]))
                self._steps += 1
        if any_done:  # the episodes that ended: episodic memory (and, if asked, running returns) restart
            ended = np.flatnonzero(done)
            self.module.reset(ended.tolist())
            if self.normalizer is not None and self.restart_returns:
                self.normalizer.restart(ended)
        self._obs = flat_next
        self._keys = next_keys
        if self.mode == NEXT_STEP:
            self._dead = done
        self.losses = None
        if self.update_every and self._steps >= self.update_every:
            self.losses = self.update()
        return bonus

    def update(self) -> dict[str, float]:
        """Train the module on the transitions collected since the last update; returns its losses
        (``{}`` when none were collected)."""
        if not self._buffer:
            return {}
        obs, actions, next_obs = (np.concatenate(x) for x in zip(*self._buffer))
        self._buffer.clear()
        self._steps = 0
        return self.module.update({"obs": obs, "action": actions, "next_obs": next_obs})
