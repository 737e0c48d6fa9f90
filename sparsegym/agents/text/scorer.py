"""A DRRN-style scorer of admissible actions (He et al., ACL 2016), small enough to train from scratch
on a laptop's CPU in minutes.

The state and each admissible action are encoded separately and an MLP scores every pair; the policy
is a softmax over the turn's admissible actions (with a temperature), and a value head reads the state.

* **Tokens**: :class:`HashTokenizer` turns text into hashed unigram and bigram ids (``2**15`` buckets by
  default; CRC32, so ids are the same in every process). Nothing is downloaded or fitted.
* **State**: five bags of word embeddings (means), one per part of the turn: the env's instructions,
  the episode's first observation (which states the task in most text games), every action taken so
  far, the last ``history`` (observation, action) turns, and the current observation. Each part hashes
  with its own salt, so "key" in the task and "key" in the current room are different features. The
  concatenated bags go through a ReLU layer to the state code ``s``.
* **Actions**: one bag per action, its own embedding table, a ReLU layer to the action code ``a``.
* **Scores**: an MLP over ``[s; a; s * a]``, one number per admissible action. Its last layer starts
  at zero, so an untrained scorer is exactly the uniform policy over the admissible actions.
* **Value**: an MLP over ``s``.

With the defaults (``2**15`` buckets, 48-dimensional embeddings, 128 hidden units) it has about 3.2 M
parameters, nearly all in the two embedding tables.

Examples:
    >>> import torch
    >>> from sparsegym.agents.text.policy import Turn
    >>> from sparsegym.agents.text.scorer import ActionScorer
    >>> scorer = ActionScorer(seed=0)
    >>> turn = Turn("You see a chest and a key.", ["take key", "open chest", "go west"], history=[])
    >>> choice = scorer.act([turn], generator=torch.Generator().manual_seed(0))[0]
    >>> choice.action in turn.actions, round(choice.logprob, 4)  # untrained: uniform over 3 actions
    (True, -1.0986)
    >>> sorted(scorer.evaluate([turn], [choice]))
    ['entropy', 'logprob', 'value']
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from sparsegym.agents.text.policy import Choice, TextPolicy, Turn, _need_actions, torch
from sparsegym.errors import ConfigError

__all__ = ["ActionScorer", "HashTokenizer"]

nn = torch.nn
_WORD = re.compile(r"[a-z0-9]+")
#: Salts of the state's parts, in the order their bags are concatenated.
STATE_PARTS = ("instructions", "task", "actions_taken", "recent", "observation")


class HashTokenizer:
    """Text to hashed unigram and bigram ids in ``[0, buckets)``, cached per (salt, text).

    Words are lower-cased runs of letters and digits; ``salt`` names the part of the input the text
    belongs to, so the same word in two parts gets two ids.

    >>> tok = HashTokenizer(buckets=2**15)
    >>> ids = tok("Take the key", salt="a")
    >>> len(ids), bool((ids >= 0).all() and (ids < 2**15).all())  # 3 words and 2 bigrams
    (5, True)
    >>> bool((tok("take THE key!", salt="a") == ids).all()), bool((tok("take the key", salt="b") == ids).all())
    (True, False)
    """

    def __init__(self, buckets: int = 2**15, bigrams: bool = True, cache_size: int = 200_000):
        if buckets < 2:
            raise ConfigError(f"buckets must be at least 2, got {buckets}")
        self.buckets, self.bigrams, self.cache_size = int(buckets), bool(bigrams), int(cache_size)
        self._cache: dict[tuple[str, str], np.ndarray] = {}

    def __call__(self, text: str, salt: str = "") -> np.ndarray:
        key = (salt, text)
        ids = self._cache.get(key)
        if ids is None:
            words = _WORD.findall(text.lower())
            grams = [f"{salt}|{w}" for w in words]
            if self.bigrams:
                grams += [f"{salt}|{a} {b}" for a, b in zip(words, words[1:])]
            ids = np.fromiter((zlib.crc32(g.encode()) % self.buckets for g in grams), dtype=np.int64,
                              count=len(grams))
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[key] = ids
        return ids


class ActionScorer(TextPolicy):
    """The scorer policy (module docstring).

    Args:
        buckets: hash buckets of each embedding table.
        embed_dim: width of the word embeddings.
        hidden: width of the state and action codes and of the MLPs.
        history: past (observation, action) turns in the ``recent`` part of the state.
        temperature: the softmax's temperature over the action scores (acting and evaluating alike).
        seed: seeds the initial parameters (under a forked RNG: the caller's torch RNG is untouched).
    """

    def __init__(self, buckets: int = 2**15, embed_dim: int = 48, hidden: int = 128, history: int = 2,
                 temperature: float = 1.0, seed: int = 0):
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        self._config = {"buckets": int(buckets), "embed_dim": int(embed_dim), "hidden": int(hidden),
                        "history": int(history), "temperature": float(temperature), "seed": int(seed)}
        self.history, self.temperature = int(history), float(temperature)
        self.tokenizer = HashTokenizer(buckets)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.state_embed = nn.EmbeddingBag(buckets, embed_dim, mode="mean")
            self.action_embed = nn.EmbeddingBag(buckets, embed_dim, mode="mean")
            for table in (self.state_embed, self.action_embed):
                nn.init.normal_(table.weight, std=0.1)
            self.state_net = nn.Sequential(nn.Linear(len(STATE_PARTS) * embed_dim, hidden), nn.ReLU())
            self.action_net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU())
            self.score_net = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            self.value_net = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
            for head in (self.score_net[-1], self.value_net[-1]):  # untrained: uniform policy, zero value
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    @property
    def device(self) -> torch.device:
        return self.state_embed.weight.device

    # -- encoding ------------------------------------------------------------------------------------
    def _state_texts(self, turn: Turn) -> tuple[str, ...]:
        history = turn.history
        task = history[0][0] if history else turn.observation
        taken = "\n".join(a for _, a in history)
        recent = "\n".join(f"{o}\n> {a}" for o, a in history[len(history) - self.history:]) if self.history else ""
        return turn.instructions, task, taken, recent, turn.observation

    def _bags(self, texts: Sequence[tuple[str, str]], table: nn.EmbeddingBag) -> torch.Tensor:
        """The mean embedding of each (salt, text), in one EmbeddingBag call."""
        ids = [self.tokenizer(text, salt) for salt, text in texts]
        lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
        offsets = np.zeros(len(ids), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
        dev = self.device
        return table(torch.from_numpy(flat).to(dev), torch.from_numpy(offsets).to(dev))

    def _forward(self, turns: list[Turn]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities ``(B, A_max)`` (``-inf`` past each turn's actions), their validity mask and
        the values ``(B,)``."""
        sizes = [_need_actions(t, self) for t in turns]
        parts = [(salt, text) for t in turns for salt, text in zip(STATE_PARTS, self._state_texts(t))]
        states = self.state_net(self._bags(parts, self.state_embed).reshape(len(turns), -1))
        actions = self.action_net(self._bags([("", a) for t in turns for a in t.actions], self.action_embed))
        owner = torch.repeat_interleave(torch.arange(len(turns), device=self.device),
                                        torch.tensor(sizes, device=self.device))
        s = states[owner]
        scores = self.score_net(torch.cat([s, actions, s * actions], dim=-1)).squeeze(-1) / self.temperature
        mask = torch.arange(max(sizes), device=self.device)[None, :] < torch.tensor(sizes, device=self.device)[:, None]
        logits = torch.full(mask.shape, float("-inf"), device=self.device)
        logits = logits.masked_scatter(mask, scores)
        values = self.value_net(states).squeeze(-1)
        return torch.log_softmax(logits, dim=-1), mask, values

    # -- the interface -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        if not turns:
            return []
        logp, _, values = self._forward(turns)
        if sample:
            index = torch.multinomial(logp.exp().cpu(), 1, generator=generator).squeeze(-1)
        else:
            index = logp.argmax(dim=-1).cpu()
        logp, values = logp.cpu(), values.cpu()
        return [Choice(t.actions[int(i)], int(i), float(logp[b, i]), float(values[b]))
                for b, (t, i) in enumerate(zip(turns, index))]

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        logp, mask, values = self._forward(turns)
        index = torch.tensor([_index_of(t, c) for t, c in zip(turns, choices)], device=self.device)
        chosen = logp.gather(1, index[:, None]).squeeze(1)
        p = logp.exp()
        entropy = -(p * logp.masked_fill(~mask, 0.0)).sum(dim=-1)
        return {"logprob": chosen, "entropy": entropy, "value": values}


def _index_of(turn: Turn, choice: Choice) -> int:
    if choice.index is not None:
        return int(choice.index)
    try:
        return turn.actions.index(choice.action)
    except ValueError:
        raise ConfigError(f"the choice {choice.action!r} is not among the turn's admissible actions") from None
