"""The intrinsic-reward protocol, running statistics and small network helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sparsegym._deps import require

torch = require("torch", "torch", "Learned intrinsic rewards")
nn = torch.nn


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


class RunningMeanStd:
    """Running mean and variance over the leading axis (parallel-batch update of Chan et al.)."""

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = epsilon

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        batch_mean, batch_var, n = x.mean(axis=0), x.var(axis=0), x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        self.var = m2 / total
        self.count = total

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var + 1e-8)


class IntrinsicModule(ABC):
    """Base class of every intrinsic reward (see :mod:`sparsegym.intrinsic`).

    Attributes:
        name: the reward-component name the wrappers use.
        normalize_returns: whether wrappers should divide the bonus by a running std of intrinsic
            returns (RND's recipe); modules whose bonus has a meaningful scale leave it False.
        episodic: whether ``compute`` updates per-env episodic state.
        episodic_returns: whether a learner should end intrinsic returns with the episode (E3B's
            recipe) instead of letting them run across episodes (RND's, the default).
    """

    name = "intrinsic"
    normalize_returns = False
    episodic = False
    episodic_returns = False

    def __init__(self, obs_dim: int, n_actions: int | None = None, device: str | None = None, seed: int = 0):
        self.obs_dim, self.n_actions = int(obs_dim), n_actions
        self.device = pick_device(device)
        self.seed = seed
        torch.manual_seed(seed)

    # -- helpers --------------------------------------------------------------------------------

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
            raise ValueError(f"{type(self).__name__} needs n_actions (a Discrete action space)")
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
        return {k: v.state_dict() for k, v in vars(self).items() if isinstance(v, (nn.Module, torch.optim.Optimizer))}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, v in state.items():
            getattr(self, k).load_state_dict(v)


def normalize_obs(module: IntrinsicModule, obs: Any, rms: RunningMeanStd, clip: float) -> Any:
    """``obs`` standardised with running statistics and clipped to ``[-clip, clip]`` (RND's recipe),
    as a tensor on the module's device."""
    x = module.tensor(obs)
    mean = torch.as_tensor(rms.mean, dtype=torch.float32, device=module.device)
    std = torch.as_tensor(rms.std, dtype=torch.float32, device=module.device)
    return ((x - mean) / std).clamp(-clip, clip)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
