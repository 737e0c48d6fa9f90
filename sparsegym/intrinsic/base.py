"""The intrinsic-reward protocol, observation encoders, and small network helpers."""

from __future__ import annotations

import contextlib
import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np

from sparsegym._deps import require
from sparsegym.errors import ConfigError
from sparsegym.utils.stats import RunningMeanStd

torch = require("torch", "torch", "Learned intrinsic rewards")
nn = torch.nn

#: An observation encoder for a module: a factory ``(observation_space, out_dim) -> torch.nn.Module``
#: (called once per network that reads observations, so each gets its own initialisation), or a
#: ``torch.nn.Module`` (deep-copied for each such network). It maps a batch of observations to
#: ``(batch, out_dim)`` features; see :meth:`IntrinsicModule.obs_mlp` for what it is given.
Encoder = Callable[[gymnasium.Space, int], Any] | Any | None

__all__ = ["Encoder", "EncodedMLP", "IntrinsicModule", "RunningMeanStd", "minibatches", "mlp", "normalize_obs",
           "pick_device", "structure_observations"]


def pick_device(device: str | None = None) -> Any:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def mlp(sizes: Iterable[int], activation: type = nn.ReLU, last_activation: bool = False) -> Any:
    sizes = list(sizes)
    layers: list[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(activation())
    return nn.Sequential(*layers)


def structure_observations(space: gymnasium.Space | None, x: Any) -> Any:
    """Flat observation rows ``(B, D)`` (a tensor) back in the shape of ``space``: Box parts reshaped
    (float), Discrete parts as integer indices, a Dict as a dict of tensors. ``None`` or a flat Box
    space leaves ``x`` as it is."""
    if space is None:
        return x
    if isinstance(space, gymnasium.spaces.Box):
        return x if len(space.shape) == 1 else x.reshape(x.shape[0], *space.shape)
    if isinstance(space, gymnasium.spaces.Discrete):
        return x.argmax(dim=1) + int(space.start)
    if isinstance(space, gymnasium.spaces.Dict):
        out, start = {}, 0
        for key, sub in space.spaces.items():
            width = gymnasium.spaces.flatdim(sub)
            out[key] = structure_observations(sub, x[:, start:start + width])
            start += width
        return out
    raise TypeError(f"an intrinsic module's encoder cannot read observations of {space}")


class EncodedMLP(nn.Module):
    """An encoder, an activation, then the rest of an MLP: what :meth:`IntrinsicModule.obs_mlp` builds
    in place of a flat MLP when the module was given an encoder."""

    def __init__(self, encoder: Any, rest: Any, space: gymnasium.Space | None, activation: bool = True):
        super().__init__()
        self.encoder, self.rest, self.space, self.activation = encoder, rest, space, activation

    def features(self, x: Any) -> Any:
        """The encoder's output (after the activation) for flat observation rows ``x``."""
        h = self.encoder(structure_observations(self.space, x))
        return torch.relu(h) if self.activation else h

    def forward(self, x: Any) -> Any:
        return self.rest(self.features(x))


class IntrinsicModule(ABC):
    """Base class of every intrinsic reward (see :mod:`sparsegym.intrinsic`).

    Attributes:
        name: the reward-component name the wrappers use.
        normalization: how an :class:`~sparsegym.intrinsic.stream.IntrinsicStream` scales the bonus:
            ``"return"`` (divide by a running std of the discounted intrinsic return, RND's recipe),
            ``"step"`` (by a running std of the bonus itself) or ``None`` (as computed). Defaults to
            ``"return"`` where the older flag ``normalize_returns`` is set, else ``None``.
        normalize_returns: the older spelling of ``normalization = "return"``.
        episodic: whether ``compute`` updates per-env episodic state.
        episodic_returns: whether a learner should end intrinsic returns with the episode (E3B's
            recipe) instead of letting them run across episodes (RND's, the default).

    Construction draws parameters from ``torch`` under ``seed`` without touching the caller's global
    random state (:meth:`seeded`): the same seed gives the same parameters, and building a module in
    the middle of someone's experiment does not change what their next ``torch.rand`` returns.

    Modules whose networks read observations accept ``encoder`` (see :data:`Encoder`) and
    ``observation_space`` (the space the flat rows come from, so that the encoder is given structured
    observations); without an encoder they read the flat rows with an MLP, as before.
    """

    name = "intrinsic"
    normalization: str | None = None
    normalize_returns = False
    episodic = False
    episodic_returns = False

    def __init__(self, obs_dim: int, n_actions: int | None = None, device: str | None = None, seed: int = 0, *,
                 encoder: Encoder = None, observation_space: gymnasium.Space | None = None):
        self.obs_dim, self.n_actions = int(obs_dim), n_actions
        self.device = pick_device(device)
        self.seed = int(seed)
        self._encoder = (encoder,)  # a tuple, so that a Module given here is not mistaken for a part of the state
        self.observation_space = observation_space
        if observation_space is not None and gymnasium.spaces.flatdim(observation_space) != self.obs_dim:
            raise ConfigError(f"observation_space flattens to {gymnasium.spaces.flatdim(observation_space)} "
                             f"values, but obs_dim is {self.obs_dim}")

    # -- helpers --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def seeded(self) -> Iterator[None]:
        """Draw from torch's CPU generator seeded with ``self.seed`` inside the block, and give the
        caller's generator state back afterwards. Networks are built on the CPU, then moved."""
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(self.seed)
            yield

    @property
    def has_encoder(self) -> bool:
        return self._encoder[0] is not None

    def make_encoder(self, out_dim: int) -> Any:
        """A fresh encoder with ``out_dim`` features (a factory's product, or a copy of the module)."""
        spec = self._encoder[0]
        space = self.observation_space or gymnasium.spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float32)
        if isinstance(spec, nn.Module):
            encoder = copy.deepcopy(spec)
        elif callable(spec):
            encoder = spec(space, out_dim)
        else:
            raise TypeError(f"encoder must be a factory (observation_space, out_dim) -> Module or a Module, got {spec!r}")
        if getattr(encoder, "out_dim", out_dim) != out_dim:
            raise ConfigError(f"the encoder gives {encoder.out_dim} features where {out_dim} are needed")
        return encoder

    def obs_mlp(self, sizes: Sequence[int], last_activation: bool = False) -> Any:
        """``mlp(sizes)`` over flat observations (``sizes[0] == obs_dim``). With an encoder, the first
        layer is the encoder instead (``out_dim = sizes[1]``), given the observations structured by
        ``observation_space`` (a dict of tensors for a Dict space; Discrete parts as indices; the flat
        rows when no space was given), and followed by the same activation."""
        sizes = list(sizes)
        if not self.has_encoder:
            return mlp(sizes, last_activation=last_activation)
        rest = mlp(sizes[1:], last_activation=last_activation)
        return EncodedMLP(self.make_encoder(sizes[1]), rest, self.observation_space,
                          activation=len(sizes) > 2 or last_activation)

    def tensor(self, x: Any, dtype: Any = None) -> Any:
        dtype = dtype or torch.float32
        if isinstance(x, torch.Tensor):
            return x.to(self.device, dtype)
        return torch.as_tensor(np.asarray(x), dtype=dtype, device=self.device)

    @staticmethod
    def env_ids(batch: Mapping[str, Any], size: int) -> np.ndarray:
        ids = batch.get("env_ids")
        return np.arange(size) if ids is None else np.asarray(ids, dtype=np.int64)

    def one_hot(self, actions: Any) -> Any:
        if self.n_actions is None:
            raise ConfigError(f"{type(self).__name__} needs n_actions (a Discrete action space)")
        a = self.tensor(actions, torch.int64).reshape(-1)
        return torch.nn.functional.one_hot(a, self.n_actions).float()

    # -- the protocol ---------------------------------------------------------------------------

    @abstractmethod
    def compute(self, batch: Mapping[str, Any]) -> np.ndarray: ...

    @abstractmethod
    def update(self, batch: Mapping[str, Any]) -> dict[str, float]: ...

    def reset(self, env_ids: Iterable[int]) -> None:
        """Forget episodic state (a no-op for global-only modules)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """The networks, optimizers and inner modules (e.g. NovelD's RND), by attribute name."""
        return {k: v.state_dict() for k, v in vars(self).items()
                if isinstance(v, (nn.Module, torch.optim.Optimizer, IntrinsicModule))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            getattr(self, k).load_state_dict(v)


def normalize_obs(module: IntrinsicModule, obs: Any, rms: RunningMeanStd, clip: float) -> Any:
    """``obs`` standardised with running statistics and clipped to ``[-clip, clip]`` (RND's recipe),
    as a tensor on the module's device. A module with an encoder gets ``obs`` as it is: the encoder
    reads structured observations and does its own input processing."""
    x = module.tensor(obs)
    if module.has_encoder:
        return x
    mean = torch.as_tensor(rms.mean, dtype=torch.float32, device=module.device)
    std = torch.as_tensor(rms.std, dtype=torch.float32, device=module.device)
    return ((x - mean) / std).clamp(-clip, clip)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def _register_torch_free_modules() -> None:
    # Modules that need no torch (so that torch-free wrappers can use them) implement the protocol
    # without inheriting; they still count as IntrinsicModules.
    from sparsegym.intrinsic.counts import EpisodicCount

    IntrinsicModule.register(EpisodicCount)


_register_torch_free_modules()
