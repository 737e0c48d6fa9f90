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


def is_minigrid_space(space: gymnasium.Space) -> bool:
    return (isinstance(space, gymnasium.spaces.Dict) and set(space.spaces) == {"image", "direction"}
            and space["image"].shape[-1] == 3)


class ActorCritic(nn.Module):
    """Shared encoder; a policy head; an extrinsic value head and, with intrinsic rewards, a separate
    intrinsic value head (as in the RND paper, the two returns are estimated apart)."""

    def __init__(self, observation_space: gymnasium.Space, n_actions: int, hidden: int = 256, intrinsic: bool = False,
                 encoder: str = "auto"):
        super().__init__()
        if encoder not in ("auto", "minigrid", "flat"):
            raise ValueError(f"encoder must be 'auto', 'minigrid' or 'flat', got {encoder!r}")
        self.minigrid = is_minigrid_space(observation_space) and encoder != "flat"
        if encoder == "minigrid" and not self.minigrid:
            raise ValueError("the 'minigrid' encoder needs a MiniGrid Dict observation (image, direction)")
        self.flat_space = None if self.minigrid else observation_space
        if self.minigrid:
            self.encoder: Any = MiniGridEncoder(observation_space["image"].shape, hidden)
        else:
            self.encoder = FlatEncoder(gymnasium.spaces.flatdim(observation_space), hidden)
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic_ext = layer_init(nn.Linear(hidden, 1), std=1.0)
        self.critic_int = layer_init(nn.Linear(hidden, 1), std=1.0) if intrinsic else None

    def features(self, obs: dict[str, Any] | Any) -> Any:
        if self.minigrid:
            return self.encoder(obs["image"], obs["direction"])
        if isinstance(obs, dict):  # a Dict space read through the flat encoder
            parts = []
            for key, sub in self.flat_space.spaces.items():
                x = obs[key]
                if isinstance(sub, gymnasium.spaces.Discrete):
                    parts.append(nn.functional.one_hot(x.long().reshape(-1), int(sub.n)).float())
                else:
                    parts.append(x.reshape(x.shape[0], -1).float())
            obs = torch.cat(parts, dim=1)
        return self.encoder(obs)

    def forward(self, obs: Any, action: Any = None, generator: Any = None) -> tuple[Any, ...]:
        h = self.features(obs)
        logits = self.actor(h)
        dist = torch.distributions.Categorical(logits=logits)
        if action is None:
            probs = dist.probs
            action = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        v_int = self.critic_int(h).squeeze(-1) if self.critic_int is not None else torch.zeros(h.shape[0], device=h.device)
        return action, dist.log_prob(action), dist.entropy(), self.critic_ext(h).squeeze(-1), v_int, logits
