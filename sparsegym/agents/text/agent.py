"""A text policy as a leaderboard agent: ``reset(seed)`` and ``act(observation, info) -> action``.

The agent keeps the episode's (observation, action) history and builds the same
:class:`~sparsegym.agents.text.policy.Turn` the trainers build (the env's instructions, the history, the
observation and ``info["admissible_actions"]``), so a trained policy plays a leaderboard as it trained.

    sparsegym evaluate --agent sparsegym.agents:load_text_agent \\
        --agent-kwargs '{"path": "runs/TextWorld-TreasureHunter-L10-v0-grpo-s0"}' --suite textworld

Examples:
    >>> import gymnasium as gym, sparsegym
    >>> from sparsegym.agents.text.agent import TextAgent
    >>> from sparsegym.agents.text.policy import UniformPolicy
    >>> env = gym.make("sparsegym/TextWorld-TreasureHunter-L10-v0")            # doctest: +SKIP
    >>> agent = TextAgent(UniformPolicy(), env=env, sample=True)                  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0); agent.reset(0)                             # doctest: +SKIP
    >>> agent.act(obs, info) in info["admissible_actions"]                        # doctest: +SKIP
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium

from sparsegym.agents.text.policy import TextPolicy, Turn, torch
from sparsegym.agents.text.rollout import env_instructions
from sparsegym.errors import ConfigError

__all__ = ["TextAgent", "load_text_agent"]


class TextAgent:
    """Plays a :class:`~sparsegym.agents.text.policy.TextPolicy` (module docstring).

    Args:
        policy: the policy.
        env: the env it plays (for its instructions); None: no instructions.
        sample: sample from the policy (seeded by each ``reset``'s seed) instead of its greedy choice.
    """

    def __init__(self, policy: TextPolicy, env: gymnasium.Env | None = None, sample: bool = False):
        self.policy, self.sample = policy, bool(sample)
        self.policy.eval()
        self.instructions = env_instructions(env) if env is not None else ""
        self.history: list[tuple[str, str]] = []
        self.state: dict | None = None  # the policy's Choice.extra["state"], handed to its next Turn
        self._generator = torch.Generator().manual_seed(0)

    def reset(self, seed: int | None = None) -> None:
        self.history, self.state = [], None
        self._generator = torch.Generator().manual_seed(0 if seed is None else int(seed))

    def act(self, observation: str, info: dict[str, Any] | None = None) -> str:
        info = info or {}
        turn = Turn(str(observation), list(info.get("admissible_actions") or []), list(self.history), self.instructions,
                    self.state)
        choice = self.policy.act([turn], sample=self.sample, generator=self._generator)[0]
        self.history.append((turn.observation, choice.action))
        self.state = choice.extra.get("state")
        return choice.action


def load_text_agent(env: gymnasium.Env | None = None, path: str | None = None, sample: bool = False,
                    device: str | None = None) -> TextAgent:
    """Leaderboard factory of a saved text policy: ``path`` is a trainer's folder (a run folder, or one
    of its checkpoints) or a policy's own folder. ``sample``: sample instead of the greedy choice."""
    if path is None:
        raise ConfigError("load_text_agent needs the saved run's folder: --agent-kwargs '{\"path\": \"runs/...\"}'")
    folder = Path(path)
    if (folder / "policy").is_dir():
        folder = folder / "policy"
    return TextAgent(TextPolicy.load(folder, device=device), env=env, sample=sample)
