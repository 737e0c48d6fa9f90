"""Demonstrations in text: the family's oracle playing an episode, written as an agent would see it.

Few-shot prompts (:class:`sparsegym.agents.llm.LLMAgent` with ``prompt="few-shot"``) show such a
transcript. The oracle is the one the family's descriptor names (``Family.oracle``); it plays a seed
far from every leaderboard seed, on a fresh env of the same id, through the same text surface.
"""

from __future__ import annotations

from functools import lru_cache

import gymnasium

#: Demonstration episodes use seeds from here on (leaderboard seeds are far below).
DEMO_SEED_BASE = 900_000_000


@lru_cache(maxsize=64)
def _transcript(env_id: str, text_native: bool, episodes: int, max_steps: int) -> str:
    import sparsegym
    from sparsegym.envs.family import get_family, load_ref
    from sparsegym.envs.registry import get_entry
    from sparsegym.wrappers.text import TextObservation

    family = get_family(get_entry(env_id).family)
    if family.oracle is None:
        return ""
    out: list[str] = []
    for episode in range(episodes):
        base = sparsegym.make(env_id)
        surface = base if text_native else TextObservation(base)
        oracle = load_ref(family.oracle)(base)  # an agent factory, as leaderboards build agents
        seed = DEMO_SEED_BASE + episode
        oracle.reset(seed)
        text, info = surface.reset(seed=seed)
        native_obs = getattr(surface, "raw_observation", text)
        lines = []
        won = False
        for _ in range(max_steps):
            action = oracle.act(native_obs, info)
            name = action if isinstance(action, str) else surface.action_names[int(action)]
            lines.append(f"Observation:\n{text}\nAction: {name}")
            text, reward, terminated, truncated, info = surface.step(action)
            native_obs = getattr(surface, "raw_observation", text)
            if terminated or truncated:
                won = bool(info.get("success"))
                break
        lines.append(f"Observation:\n{text}\n(The episode ended{' with the task done' if won else ''}.)")
        out.append("\n\n".join(lines))
        base.close()
    return "\n\n---\n\n".join(out)


def oracle_transcript(env: gymnasium.Env, episodes: int = 1, max_steps: int = 30) -> str:
    """The family oracle's play of ``episodes`` demonstration seeds of ``env``'s id, as text (empty when the
    family has no oracle or ``env`` is not a registered id). Cached per id."""
    if env.spec is None:
        return ""
    text_native = isinstance(getattr(env.unwrapped, "observation_space", None), gymnasium.spaces.Text)
    try:
        return _transcript(env.spec.id, text_native, int(episodes), int(max_steps))
    except Exception as exc:  # a demonstration is a bonus: the agent plays without one, and says why
        return f"(no demonstration: the oracle could not play: {type(exc).__name__}: {exc})"
