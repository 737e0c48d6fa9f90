"""Small text models trained on an LLM's judgements of captions: ONI's classifier and ONI's/Motif's
Bradley-Terry reward model, over raw bytes (torch; extra ``torch``).

* :class:`CaptionEncoder`: a byte-level CNN (embedding, ``layers`` 1-d convolutions with ReLU, max-pool over
  positions, an MLP). ONI's encoder is the same kind (a character CNN over the message bytes, 6 conv layers,
  an MLP of 512-512, dropout 0.1); the default here is smaller (3 layers of 64 channels, MLP 128) because it
  trains on 2 CPU cores next to the agent; ``CaptionEncoder(layers=6, hidden=512, dropout=0.1)`` is ONI's size.
* :class:`CaptionClassifier`: P(label FOO | caption), trained with binary cross-entropy (ONI: Adam lr 1e-4,
  batch 256, 32 steps per new batch of labels).
* :class:`CaptionRewardModel`: a scalar r(caption), trained on pairs with the Bradley-Terry cross-entropy
  with soft labels y in {1, 0, 0.5}: ``-y log s(r1 - r2) - (1 - y) log s(r2 - r1)`` (ONI and Motif), gradients
  clipped at norm 10 (ONI).
* :func:`save_reward_model` / :func:`load_reward_model`: one file with the weights, the architecture and the
  normalisation (mean, std, threshold) a frozen model is used with (Motif's offline mode).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from sparsegym._deps import require

torch = require("torch", "torch", "sparsegym.llm.reward_models")
nn = torch.nn
F = torch.nn.functional

#: Bytes of a caption the models read (NetHack's message line is at most 256; most are under 80).
MAX_BYTES = 128


def encode_captions(captions: Sequence[str], max_len: int = MAX_BYTES, device: Any = None) -> Any:
    """A ``[len(captions), max_len]`` long tensor of UTF-8 bytes shifted by one (0 pads); an empty caption is
    a row of padding."""
    out = torch.zeros((len(captions), max_len), dtype=torch.long)
    for i, text in enumerate(captions):
        raw = text.encode("utf-8", "replace")[:max_len]
        if raw:
            out[i, : len(raw)] = torch.frombuffer(bytearray(raw), dtype=torch.uint8).long() + 1
    return out.to(device) if device is not None else out


class CaptionEncoder(nn.Module):
    """Bytes -> a feature vector (see the module docstring)."""

    def __init__(self, embed: int = 32, channels: int = 64, layers: int = 3, kernel: int = 5, hidden: int = 128,
                 dropout: float = 0.0, max_len: int = MAX_BYTES):
        super().__init__()
        self.config = {"embed": embed, "channels": channels, "layers": layers, "kernel": kernel, "hidden": hidden,
                       "dropout": dropout, "max_len": max_len}
        self.max_len = max_len
        self.embed = nn.Embedding(257, embed, padding_idx=0)
        convs, width = [], embed
        for _ in range(layers):
            convs += [nn.Conv1d(width, channels, kernel, padding=kernel // 2), nn.ReLU()]
            width = channels
        self.convs = nn.Sequential(*convs)
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.out_dim = hidden

    def forward(self, tokens: Any) -> Any:
        x = self.convs(self.embed(tokens).transpose(1, 2))  # [B, C, L]
        mask = (tokens > 0).unsqueeze(1)
        # Max over real bytes; an empty caption (all padding) reads as zeros.
        x = x.masked_fill(~mask, float("-inf")).amax(dim=2)
        x = torch.where(torch.isfinite(x), x, torch.zeros_like(x))
        return self.mlp(x)


class _Head(nn.Module):
    kind = "head"

    def __init__(self, **encoder: Any):
        super().__init__()
        self.encoder = CaptionEncoder(**encoder)
        self.head = nn.Linear(self.encoder.out_dim, 1)

    def forward(self, tokens: Any) -> Any:
        return self.head(self.encoder(tokens)).squeeze(-1)

    @torch.no_grad()
    def score(self, captions: Sequence[str], batch_size: int = 512) -> list[float]:
        """The head's output for each caption (logits for the classifier, rewards for the reward model)."""
        was = self.training
        self.eval()
        device = next(self.parameters()).device
        out: list[float] = []
        for i in range(0, len(captions), batch_size):
            out += self(encode_captions(captions[i:i + batch_size], self.encoder.max_len, device)).tolist()
        self.train(was)
        return out


class CaptionClassifier(_Head):
    """The logit of P(FOO | caption) (ONI-Classification)."""

    kind = "classifier"

    def fit(self, captions: Sequence[str], labels: Sequence[int], *, steps: int = 32, batch_size: int = 256,
            optimizer: Any = None, lr: float = 1e-4, generator: Any = None) -> float:
        """``steps`` Adam steps on minibatches drawn with replacement; returns the last step's loss."""
        if not captions:
            return float("nan")
        optimizer = optimizer or torch.optim.Adam(self.parameters(), lr=lr)
        device = next(self.parameters()).device
        tokens = encode_captions(captions, self.encoder.max_len)
        target = torch.as_tensor(labels, dtype=torch.float32)
        loss = torch.tensor(float("nan"))
        self.train()
        for _ in range(steps):
            idx = torch.randint(len(captions), (min(batch_size, max(len(captions), 1)),), generator=generator)
            loss = F.binary_cross_entropy_with_logits(self(tokens[idx].to(device)), target[idx].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return float(loss.detach())


def bradley_terry_loss(first: Any, second: Any, preference: Any) -> Any:
    """Mean soft-label Bradley-Terry cross-entropy: ``preference`` is P(first is better) (1, 0 or 0.5)."""
    logits = torch.stack([first, second], dim=-1)
    target = torch.stack([preference, 1 - preference], dim=-1)
    return -(target * F.log_softmax(logits, dim=-1)).sum(-1).mean()


class CaptionRewardModel(_Head):
    """A scalar reward per caption, learned from pairwise preferences (ONI-Ranking, Motif)."""

    kind = "reward_model"

    def fit(self, pairs: Sequence[tuple[str, str, float]], *, steps: int = 32, batch_size: int = 256,
            optimizer: Any = None, lr: float = 1e-4, clip: float = 10.0, generator: Any = None) -> float:
        """``steps`` Adam steps on minibatches of ``(first, second, P(first better))``; returns the last loss."""
        if not pairs:
            return float("nan")
        optimizer = optimizer or torch.optim.Adam(self.parameters(), lr=lr)
        device = next(self.parameters()).device
        first = encode_captions([p[0] for p in pairs], self.encoder.max_len)
        second = encode_captions([p[1] for p in pairs], self.encoder.max_len)
        pref = torch.as_tensor([p[2] for p in pairs], dtype=torch.float32)
        loss = torch.tensor(float("nan"))
        self.train()
        for _ in range(steps):
            idx = torch.randint(len(pairs), (min(batch_size, len(pairs)),), generator=generator)
            loss = bradley_terry_loss(self(first[idx].to(device)), self(second[idx].to(device)), pref[idx].to(device))
            optimizer.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(self.parameters(), clip)
            optimizer.step()
        return float(loss.detach())


_KINDS = {"classifier": CaptionClassifier, "reward_model": CaptionRewardModel}


def save_reward_model(path: str | os.PathLike[str], model: _Head, **meta: Any) -> None:
    """Write ``model`` with its architecture and ``meta`` (e.g. ``mean``, ``std``, ``threshold``) atomically."""
    tmp = f"{os.fspath(path)}.tmp"
    torch.save({"kind": model.kind, "config": model.encoder.config, "state": model.state_dict(), "meta": meta}, tmp)
    os.replace(tmp, path)


def load_reward_model(path: str | os.PathLike[str]) -> tuple[_Head, dict[str, Any]]:
    """The model and the ``meta`` :func:`save_reward_model` stored."""
    from sparsegym.errors import ConfigError

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ConfigError(f"no reward model file at {path}: train one with `sparsegym annotate train`") from None
    if not isinstance(data, dict) or data.get("kind") not in _KINDS:
        raise ConfigError(f"{path} is not a caption reward model written by sparsegym (save_reward_model)")
    model = _KINDS[data["kind"]](**data["config"])
    model.load_state_dict(data["state"])
    model.eval()
    return model, dict(data.get("meta") or {})


def train_reward_model(pairs: Sequence[tuple[str, str, float]] = (), labels: dict[str, int] | None = None, *,
                       epochs: int = 10, batch_size: int = 1024, lr: float = 1e-4, quantile: float = 0.5,
                       seed: int = 0, progress: bool = False, **encoder: Any) -> tuple[_Head, dict[str, Any]]:
    """Motif's offline step: a reward model trained on annotated pairs (or, with ``labels``, a classifier
    on labels) for ``epochs`` passes, then the statistics it is used with, frozen.

    For a reward model ``meta`` holds the mean and std of its rewards over the dataset's captions and the
    threshold: the normalised reward at the dataset's ``quantile`` (Motif's ``eps_threshold_quantile``, 0.5:
    the median), so that about half of the dataset's captions pay. Motif trains with batch 1024 at lr 1e-5
    for 10 epochs over about 500,000 pairs; the default lr here is 1e-4 because datasets made on a CPU are
    hundreds of times smaller (raise ``epochs`` too when they are).
    """
    from sparsegym.errors import ConfigError

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    if labels is not None:
        if not labels:
            raise ConfigError("no labels to train on: annotate captions first (sparsegym annotate run --captions)")
        model: _Head = CaptionClassifier(**encoder)
        size = len(labels)
    else:
        if not pairs:
            raise ConfigError("no preferences to train on: annotate pairs first (sparsegym annotate run --pairs)")
        model = CaptionRewardModel(**encoder)
        size = len(pairs)
    steps_per_epoch = max(1, -(-size // batch_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    epochs_iter: Any = range(epochs)
    if progress:
        try:
            from tqdm.auto import tqdm

            epochs_iter = tqdm(epochs_iter, desc="training", unit="epoch")
        except ImportError:  # pragma: no cover
            pass
    losses = []
    for _ in epochs_iter:
        if labels is not None:
            losses.append(model.fit(list(labels), list(labels.values()), steps=steps_per_epoch, batch_size=batch_size,
                                    optimizer=optimizer, generator=generator))
        else:
            losses.append(model.fit(pairs, steps=steps_per_epoch, batch_size=batch_size, optimizer=optimizer,
                                    generator=generator))
    meta: dict[str, Any] = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "size": size,
                            "final_loss": losses[-1] if losses else None}
    if labels is None:
        captions = list(dict.fromkeys(c for a, b, _ in pairs for c in (a, b)))
        scores = torch.tensor(model.score(captions))
        mean, std = float(scores.mean()), float(scores.std(unbiased=False)) or 1.0
        normalised = (scores - mean) / std
        meta.update(mean=mean, std=std, quantile=quantile, threshold=float(torch.quantile(normalised, quantile)))
    model.eval()
    return model, meta
