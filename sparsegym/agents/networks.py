"""Encoders and actor-critic heads for sparsegym observations."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from sparsegym._deps import require

torch = require("torch", "torch", "sparsegym.agents")
nn = torch.nn

from sparsegym.envs.encoders import encoder_for, layer_init  # noqa: E402  (after the friendly torch check)
from sparsegym.errors import ConfigError  # noqa: E402

__all__ = ["ActorCritic", "FlatEncoder", "NumpyRolloutPolicy", "layer_init"]


def __getattr__(name: str) -> Any:
    # Family encoders moved to their families (sparsegym.envs.<family>.encoder); old imports keep working.
    from sparsegym.envs.family import all_families, load_ref

    for family in all_families():
        if family.encoder and family.encoder.rsplit(":", 1)[-1] == name:
            import warnings

            warnings.warn(f"sparsegym.agents.networks.{name} moved to {family.encoder.replace(':', '.')}",
                          DeprecationWarning, stacklevel=2)
            return load_ref(family.encoder)
    raise AttributeError(f"module 'sparsegym.agents.networks' has no attribute {name!r}")

class FlatEncoder(nn.Module):
    def __init__(self, obs_dim: int, out_dim: int = 256):
        super().__init__()
        self.net = nn.Sequential(layer_init(nn.Linear(obs_dim, out_dim)), nn.Tanh(),
                                 layer_init(nn.Linear(out_dim, out_dim)), nn.Tanh())
        self.out_dim = out_dim

    def forward(self, x: Any) -> Any:
        return self.net(x.float())


def _encoder_class(observation_space: gymnasium.Space, encoder: Any) -> type | None:
    """The family encoder class ``encoder`` asks for ("auto": the first family whose encoder accepts the
    space; a family name: that family's; a class: itself), or None for the flat MLP."""
    if encoder == "flat":
        return None
    if isinstance(encoder, type):
        return encoder
    if encoder == "auto":
        return encoder_for(observation_space)
    from sparsegym.envs.family import FamilyFeatureError, get_family

    try:
        cls = get_family(encoder).encoder_class()
    except FamilyFeatureError as exc:
        raise ConfigError(f"encoder must be 'auto', 'flat', a family with an encoder, or an encoder class: {exc}") from None
    if not cls.accepts(observation_space):
        raise ConfigError(f"the {encoder!r} encoder ({cls.__name__}) does not accept this observation space: {observation_space}")
    return cls


class ActorCritic(nn.Module):
    """Shared encoder; an optional LSTM core (``recurrent=True``); a policy head; an extrinsic value head
    and, with intrinsic rewards, a separate intrinsic value head (as in the RND paper, the two returns are
    estimated apart)."""

    def __init__(self, observation_space: gymnasium.Space, n_actions: int, hidden: int = 256, intrinsic: bool = False,
                 encoder: Any = "auto", recurrent: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(hidden, hidden) if recurrent else None
        self.hidden = hidden
        cls = _encoder_class(observation_space, encoder)
        self.encoder: Any
        self.flat_space = None if cls is not None else observation_space
        if cls is not None:  # the family's encoder (MiniGrid's CNN over codes, NetHack's glyph encoder, ...)
            self.encoder = cls(observation_space, hidden)
        else:
            self.encoder = FlatEncoder(gymnasium.spaces.flatdim(observation_space), hidden)
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic_ext = layer_init(nn.Linear(hidden, 1), std=1.0)
        self.critic_int = layer_init(nn.Linear(hidden, 1), std=1.0) if intrinsic else None

    def features(self, obs: dict[str, Any] | Any) -> Any:
        if self.flat_space is None:
            return self.encoder(obs)
        return self.encoder(self.flat_input(obs))

    def flat_input(self, obs: dict[str, Any] | Any) -> Any:
        """The flat encoder's input: a Dict observation's parts flattened (Discrete ones one-hot) and
        concatenated; a tensor passes through. PPO's update converts each rollout once with this."""
        if not isinstance(obs, dict):
            return obs
        parts = []
        for key, sub in self.flat_space.spaces.items():
            x = obs[key]
            if isinstance(sub, gymnasium.spaces.Discrete):
                parts.append(nn.functional.one_hot(x.long().reshape(-1), int(sub.n)).float())
            else:
                parts.append(x.reshape(x.shape[0], -1).float())
        return torch.cat(parts, dim=1)

    def initial_state(self, n: int, device: Any) -> tuple[Any, Any] | None:
        if self.lstm is None:
            return None
        return (torch.zeros(1, n, self.hidden, device=device), torch.zeros(1, n, self.hidden, device=device))

    def forward_sequence(self, obs: Any, state: Any, dones: Any, action: Any = None,
                         generator: Any = None, entropy: bool = True) -> tuple[tuple[Any, ...], Any]:
        """Run ``T`` steps of ``N`` envs (observations flattened time-major, ``dones`` of shape
        ``(T, N)``: 1 where that step's observation starts a new episode, which clears the LSTM state)."""
        h = self.features(obs)
        if self.lstm is None:
            return self.heads(h, action, generator, entropy), state
        T = dones.shape[0]
        h = h.reshape(T, -1, h.shape[-1])
        outputs = []
        # One LSTM call per stretch of steps in which no episode starts (states are cleared only there).
        starts = [t for t in range(1, T) if bool(dones[t].any())]
        for a, b in zip([0, *starts], [*starts, T]):
            keep = (1.0 - dones[a]).view(1, -1, 1)
            state = (state[0] * keep, state[1] * keep)
            out, state = self.lstm(h[a:b], state)
            outputs.append(out)
        h = torch.cat(outputs).reshape(-1, self.hidden)
        return self.heads(h, action, generator, entropy), state

    def forward(self, obs: Any, action: Any = None, generator: Any = None, entropy: bool = True) -> tuple[Any, ...]:
        """One step per observation (a recurrent core starts from a zero state for each)."""
        h = self.features(obs)
        if self.lstm is not None:
            h, _ = self.lstm(h[None], self.initial_state(h.shape[0], h.device))
            h = h[0]
        return self.heads(h, action, generator, entropy)

    def heads(self, h: Any, action: Any = None, generator: Any = None, entropy: bool = True) -> tuple[Any, ...]:
        """Sampled (or given) action, its log-probability, the policy's entropy (None with
        ``entropy=False``, as in rollouts), extrinsic and intrinsic values, and the logits.

        The categorical log-probabilities are computed directly (log-softmax) rather than through
        ``torch.distributions.Categorical``, whose construction and argument checks cost more than the
        arithmetic at rollout batch sizes; the values are the same (entropy clamps ``-inf`` log-probs
        to the dtype's minimum as ``Categorical`` does, so zero-probability actions add 0, not NaN)."""
        logits = self.actor(h)
        logp = torch.log_softmax(logits, dim=-1)
        if action is None:
            action = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
        logprob = logp.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        ent = None
        if entropy:
            clamped = logp.clamp(min=torch.finfo(logp.dtype).min)
            ent = -(clamped * logp.exp()).sum(-1)
        v_int = self.critic_int(h).squeeze(-1) if self.critic_int is not None else torch.zeros(h.shape[0], device=h.device)
        return action, logprob, ent, self.critic_ext(h).squeeze(-1), v_int, logits


class NumpyRolloutPolicy:
    """A numpy copy of an :class:`ActorCritic` with the flat (MLP) encoder, for sampling actions
    during CPU rollouts.

    At rollout batch sizes (one observation per env) a torch forward pass is dominated by per-op
    dispatch, not arithmetic: on an 8-env MiniGrid rollout, torch spends about 140 us per step where
    numpy needs about 25 (``benchmarks/ppo_throughput.py``). This class computes the same function
    (features, tanh MLP, policy logits, value heads) from a snapshot of the policy's weights, taken
    again by :meth:`sync` after every update. Values agree with the torch forward to float32 rounding
    (``tests/agents/test_ppo.py``); actions are drawn by inverse-CDF from a numpy generator.
    """

    def __init__(self, policy: ActorCritic, seed: int = 0):
        self.policy = policy
        self.rng = np.random.default_rng(seed)
        self.parts: list[tuple[str | None, int | None]] = []
        space = policy.flat_space
        if isinstance(space, gymnasium.spaces.Dict):
            for key, sub in space.spaces.items():
                self.parts.append((key, int(sub.n) if isinstance(sub, gymnasium.spaces.Discrete) else None))
        self.sync()

    @staticmethod
    def supports(policy: ActorCritic) -> bool:
        """Only the flat encoder without an LSTM, over spaces whose features are plain reshapes/one-hots."""
        if policy.lstm is not None or not isinstance(policy.encoder, FlatEncoder):
            return False
        space = policy.flat_space
        subs = list(space.spaces.values()) if isinstance(space, gymnasium.spaces.Dict) else [space]
        if isinstance(space, gymnasium.spaces.Dict):
            return all(isinstance(s, (gymnasium.spaces.Box, gymnasium.spaces.Discrete)) for s in subs)
        return isinstance(space, gymnasium.spaces.Box)

    def sync(self) -> None:
        """Copy the policy's current weights (call after each optimizer step that should be visible)."""
        def wb(layer: Any) -> tuple[np.ndarray, np.ndarray]:
            return (layer.weight.detach().cpu().numpy().T.astype(np.float32, copy=True),
                    layer.bias.detach().cpu().numpy().astype(np.float32, copy=True))

        net = self.policy.encoder.net
        self.l1, self.l2 = wb(net[0]), wb(net[2])
        heads = [self.policy.actor, self.policy.critic_ext]
        if self.policy.critic_int is not None:
            heads.append(self.policy.critic_int)
        ws, bs = zip(*(wb(h) for h in heads))
        self.heads_w, self.heads_b = np.concatenate(ws, axis=1), np.concatenate(bs)
        self.n_actions = self.policy.actor.out_features

    def features(self, obs: Any) -> np.ndarray:
        if not self.parts:
            x = np.asarray(obs)
            return x.reshape(x.shape[0], -1).astype(np.float32)
        cols = []
        for key, n in self.parts:
            x = np.asarray(obs[key])
            if n is None:
                cols.append(x.reshape(x.shape[0], -1).astype(np.float32))
            else:
                hot = np.zeros((x.shape[0], n), dtype=np.float32)
                hot[np.arange(x.shape[0]), x.reshape(-1).astype(np.int64)] = 1.0
                cols.append(hot)
        return np.concatenate(cols, axis=1)

    def __call__(self, obs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sampled actions, their log-probabilities, extrinsic and intrinsic values (zeros without an
        intrinsic head), for a batch of observations."""
        h = np.tanh(self.features(obs) @ self.l1[0] + self.l1[1])
        h = np.tanh(h @ self.l2[0] + self.l2[1])
        out = h @ self.heads_w + self.heads_b
        n = self.n_actions
        logits = out[:, :n]
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        cdf = np.cumsum(np.exp(logp), axis=1)
        u = self.rng.random(len(out)) * cdf[:, -1]
        action = np.minimum((u[:, None] >= cdf).sum(axis=1), n - 1)
        rows = np.arange(len(out))
        v_int = out[:, n + 1] if out.shape[1] > n + 1 else np.zeros(len(out), dtype=np.float32)
        return action, logp[rows, action], out[:, n], v_int
