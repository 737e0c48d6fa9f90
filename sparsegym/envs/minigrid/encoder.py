"""The MiniGrid observation encoder: one-hot (object, colour, state) codes, a small CNN, the direction."""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym.envs.encoders import layer_init, nn, torch

# MiniGrid code ranges (object, colour, state) for one-hot encoding.
CODES = (11, 6, 4)


class MiniGridEncoder(nn.Module):
    """One-hot (object, colour, state) codes of the view, a small CNN, plus the direction one-hot.

    Built from the observation space (a Dict with ``image`` and ``direction``) or, as before, from the
    image shape alone; ``forward`` takes the observation dict (or ``image, direction``)."""

    def __init__(self, observation_space: gymnasium.Space | tuple[int, int, int], out_dim: int = 256):
        super().__init__()
        shape = observation_space["image"].shape if isinstance(observation_space, gymnasium.spaces.Dict) else observation_space
        w, h, _ = shape
        channels = sum(CODES)
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 2)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 2)), nn.ReLU(),
            nn.Flatten(),
        )
        conv_out = 64 * (w - 2) * (h - 2)
        self.head = nn.Sequential(layer_init(nn.Linear(conv_out + 4, out_dim)), nn.ReLU())
        self.out_dim = out_dim

    @classmethod
    def accepts(cls, space: gymnasium.Space) -> bool:
        return (isinstance(space, gymnasium.spaces.Dict) and set(space.spaces) == {"image", "direction"}
                and space["image"].shape[-1] == 3)

    def forward(self, obs: Any, direction: Any = None) -> Any:
        image, direction = (obs["image"], obs["direction"]) if direction is None else (obs, direction)
        image = image.long()
        parts = [nn.functional.one_hot(image[..., i].clamp(0, n - 1), n) for i, n in enumerate(CODES)]
        x = torch.cat(parts, dim=-1).float().permute(0, 3, 1, 2)  # (B, C, W, H)
        d = nn.functional.one_hot(direction.long().reshape(-1), 4).float()
        return self.head(torch.cat([self.conv(x), d], dim=1))
