"""Encoders and actor-critic heads for sparsegym observations."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from sparsegym._deps import require

torch = require("torch", "torch", "sparsegym.agents")
nn = torch.nn

# MiniGrid code ranges (object, colour, state) for one-hot encoding.
_MINIGRID_CODES = (11, 6, 4)


def layer_init(layer: Any, std: float = float(np.sqrt(2)), bias: float = 0.0) -> Any:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class MiniGridEncoder(nn.Module):
    """One-hot (object, colour, state) codes of the view, a small CNN, plus the direction one-hot."""

    def __init__(self, image_shape: tuple[int, int, int], out_dim: int = 256):
        super().__init__()
        w, h, _ = image_shape
        channels = sum(_MINIGRID_CODES)
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 2)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 2)), nn.ReLU(),
            nn.Flatten(),
        )
        conv_out = 64 * (w - 2) * (h - 2)
        self.head = nn.Sequential(layer_init(nn.Linear(conv_out + 4, out_dim)), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, image: Any, direction: Any) -> Any:
        image = image.long()
        parts = [nn.functional.one_hot(image[..., i].clamp(0, n - 1), n) for i, n in enumerate(_MINIGRID_CODES)]
        x = torch.cat(parts, dim=-1).float().permute(0, 3, 1, 2)  # (B, C, W, H)
        d = nn.functional.one_hot(direction.long().reshape(-1), 4).float()
        return self.head(torch.cat([self.conv(x), d], dim=1))


class FlatEncoder(nn.Module):
    def __init__(self, obs_dim: int, out_dim: int = 256):
        super().__init__()
        self.net = nn.Sequential(layer_init(nn.Linear(obs_dim, out_dim)), nn.Tanh(),
                                 layer_init(nn.Linear(out_dim, out_dim)), nn.Tanh())
        self.out_dim = out_dim

    def forward(self, x: Any) -> Any:
        return self.net(x.float())


class NetHackEncoder(nn.Module):
    """Glyph embeddings of a ``crop x crop`` window around the agent, a small CNN over them, and the
    (log-scaled) bottom-line statistics: the usual NetHack encoder, scaled down for CPU training."""

    def __init__(self, observation_space: gymnasium.Space, out_dim: int = 256, crop: int = 9, embed: int = 16):
        super().__init__()
        self.crop, self.max_glyph = crop, int(observation_space["glyphs"].high.max()) + 1
        self.embedding = nn.Embedding(self.max_glyph, embed)
        self.conv = nn.Sequential(layer_init(nn.Conv2d(embed, 32, 3, padding=1)), nn.ReLU(),
                                  layer_init(nn.Conv2d(32, 32, 3, padding=1)), nn.ReLU(), nn.Flatten())
        n_stats = int(observation_space["blstats"].shape[0])
        self.stats = nn.Sequential(layer_init(nn.Linear(n_stats, 64)), nn.ReLU())
        self.head = nn.Sequential(layer_init(nn.Linear(32 * crop * crop + 64, out_dim)), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, glyphs: Any, blstats: Any) -> Any:
        glyphs, blstats = glyphs.long(), blstats.float()
        b, h, w = glyphs.shape
        r = self.crop // 2
        padded = nn.functional.pad(glyphs, (r, r, r, r), value=0)
        x = blstats[:, 0].long().clamp(0, w - 1)
        y = blstats[:, 1].long().clamp(0, h - 1)
        offsets = torch.arange(self.crop, device=glyphs.device)
        rows = (y[:, None] + offsets[None, :])[:, :, None].expand(b, self.crop, self.crop)
        cols = (x[:, None] + offsets[None, :])[:, None, :].expand(b, self.crop, self.crop)
        crop = padded[torch.arange(b, device=glyphs.device)[:, None, None], rows, cols]
        emb = self.embedding(crop.clamp(0, self.max_glyph - 1)).permute(0, 3, 1, 2)
        stats = torch.sign(blstats) * torch.log1p(blstats.abs())
        return self.head(torch.cat([self.conv(emb), self.stats(stats)], dim=1))


def is_nethack_space(space: gymnasium.Space) -> bool:
    return isinstance(space, gymnasium.spaces.Dict) and "glyphs" in space.spaces and "blstats" in space.spaces


def is_minigrid_space(space: gymnasium.Space) -> bool:
    return (isinstance(space, gymnasium.spaces.Dict) and set(space.spaces) == {"image", "direction"}
            and space["image"].shape[-1] == 3)


class ActorCritic(nn.Module):
    """Shared encoder; an optional LSTM core (``recurrent=True``); a policy head; an extrinsic value head
    and, with intrinsic rewards, a separate intrinsic value head (as in the RND paper, the two returns are
    estimated apart)."""

    def __init__(self, observation_space: gymnasium.Space, n_actions: int, hidden: int = 256, intrinsic: bool = False,
                 encoder: str = "auto", recurrent: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(hidden, hidden) if recurrent else None
        self.hidden = hidden
        if encoder not in ("auto", "minigrid", "nethack", "flat"):
            raise ValueError(f"encoder must be 'auto', 'minigrid', 'nethack' or 'flat', got {encoder!r}")
        self.nethack = is_nethack_space(observation_space) and encoder in ("auto", "nethack")
        self.minigrid = is_minigrid_space(observation_space) and encoder in ("auto", "minigrid")
        if encoder == "minigrid" and not self.minigrid:
            raise ValueError("the 'minigrid' encoder needs a MiniGrid Dict observation (image, direction)")
        if encoder == "nethack" and not self.nethack:
            raise ValueError("the 'nethack' encoder needs a NetHack Dict observation with glyphs and blstats")
        self.encoder: Any
        self.flat_space = None if (self.minigrid or self.nethack) else observation_space
        if self.nethack:
            self.encoder = NetHackEncoder(observation_space, hidden)
        elif self.minigrid:
            self.encoder = MiniGridEncoder(observation_space["image"].shape, hidden)
        else:
            self.encoder = FlatEncoder(gymnasium.spaces.flatdim(observation_space), hidden)
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic_ext = layer_init(nn.Linear(hidden, 1), std=1.0)
        self.critic_int = layer_init(nn.Linear(hidden, 1), std=1.0) if intrinsic else None

    def features(self, obs: dict[str, Any] | Any) -> Any:
        if self.nethack:
            return self.encoder(obs["glyphs"], obs["blstats"])
        if self.minigrid:
            return self.encoder(obs["image"], obs["direction"])
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
