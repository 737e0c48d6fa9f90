"""The NetHack observation encoder: glyph embeddings around the agent, a small CNN, the bottom line."""

from __future__ import annotations

from typing import Any

import gymnasium

from sparsegym.envs.encoders import layer_init, nn, torch


class NetHackEncoder(nn.Module):
    """Glyph embeddings of a ``crop x crop`` window around the agent, a small CNN over them, and the
    (log-scaled) bottom-line statistics: the usual NetHack encoder, scaled down for CPU training.
    ``forward`` takes the observation dict (or ``glyphs, blstats``)."""

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

    @classmethod
    def accepts(cls, space: gymnasium.Space) -> bool:
        return isinstance(space, gymnasium.spaces.Dict) and "glyphs" in space.spaces and "blstats" in space.spaces

    def forward(self, obs: Any, blstats: Any = None) -> Any:
        glyphs, blstats = (obs["glyphs"], obs["blstats"]) if blstats is None else (obs, blstats)
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
