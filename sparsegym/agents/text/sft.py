"""Supervised fine-tuning of a generating text policy on written replies: a warm start before RL.

The RL methods that make a language model *write* a structured reply (``<think>/<answer>``, HiPER's
``<switch>/<subgoal>/<action>`` blocks) assume a model that already writes the format: the papers start
from instruction-tuned LLMs, often after an SFT stage (SPA-RL and HiPER fine-tune on expert or format
demonstrations first). A small model trained from scratch writes nothing of the kind, so every reply is
malformed and RL has nothing to compare. :func:`supervised_finetune` teaches the format:

* examples are ``(Turn, reply)`` pairs; the prompt is exactly the one the policy acts on
  (``policy.prompt_ids(turn)``: the chat template, history window, format instruction and, for
  :class:`~sparsegym.agents.text.algos.hiper.HiPERPolicy`, the current sub-goal from ``turn.state``);
* the loss is the mean negative log-likelihood of the reply's tokens (prompt tokens masked out), computed
  by the policy's own ``evaluate``, the function the RL losses use, so what is fitted is what acting samples.
  A reply that does not end with the policy's stop text gets the end-of-turn token appended, so the
  model learns to stop;
* :func:`format_demonstrations` builds examples from any trajectories (random play is enough to teach a
  format): each turn's played action wrapped by a ``reply`` function of the turn, the action and the
  turn's index; ``state`` (a function of the same) sets ``Turn.state`` where the prompt depends on it.
  :func:`~sparsegym.agents.text.algos.hiper.hiper_format_demonstrations` is HiPER's.

Example (the tests' tiny model):
    >>> from sparsegym.agents.text import Turn, CausalLMPolicy, tiny_causal_lm
    >>> from sparsegym.agents.text.sft import supervised_finetune
    >>> policy = CausalLMPolicy(*tiny_causal_lm(seed=0), mode="generate")
    >>> turn = Turn("A coin is here.", ["take coin", "go north"], [])
    >>> losses = supervised_finetune(policy, [(turn, "<answer>take coin</answer>")] * 8, epochs=30,
    ...                              batch_size=8, learning_rate=3e-3)
    >>> losses[-1] < losses[0] / 2
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from sparsegym.agents.text.policy import Choice, TextPolicy, Turn, torch
from sparsegym.errors import ConfigError

__all__ = ["format_demonstrations", "supervised_finetune"]


def _response_ids(policy: Any, reply: str) -> list[int]:
    ids = list(policy.tokenizer(reply, add_special_tokens=False)["input_ids"])
    stops = getattr(policy, "stop_at_answer", False) and reply.rstrip().endswith(getattr(policy, "stop_text", "\0"))
    if not stops and getattr(policy, "end_token_id", None) is not None:
        ids.append(policy.end_token_id)
    return ids


def supervised_finetune(policy: TextPolicy, examples: Sequence[tuple[Turn, str]], *, epochs: int = 1,
                        batch_size: int = 16, learning_rate: float = 1e-3, max_grad_norm: float = 1.0,
                        seed: int = 0, progress: bool = False,
                        optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Fit ``policy`` (a generating :class:`~sparsegym.agents.text.lm_policy.CausalLMPolicy` or subclass) to
    write each example's reply at its turn (module docstring); ``epochs`` shuffled passes of Adam steps on
    minibatches of ``batch_size``. Returns the loss of every step (mean token negative log-likelihood)."""
    if getattr(policy, "mode", None) != "generate" or not hasattr(policy, "tokenizer"):
        raise ConfigError("supervised_finetune fits a policy that writes its replies: a CausalLMPolicy (or "
                          "subclass) with mode='generate'")
    if not examples:
        raise ConfigError("supervised_finetune: no examples")
    if epochs < 1 or batch_size < 1:
        raise ConfigError("supervised_finetune: epochs and batch_size must be at least 1")
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = optimizer or torch.optim.Adam(params, lr=learning_rate)
    gen = torch.Generator().manual_seed(seed)
    responses = [_response_ids(policy, reply) for _, reply in examples]
    steps = epochs * -(-len(examples) // batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="sft", unit="step")
    losses: list[float] = []
    policy.train()
    try:
        for _ in range(epochs):
            order = torch.randperm(len(examples), generator=gen).tolist()
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                turns = [examples[i][0] for i in batch]
                choices = [Choice(action="", index=None, logprob=0.0, extra={"token_ids": responses[i]})
                           for i in batch]
                out = policy.evaluate(turns, choices)
                mask = out["mask"].float()
                loss = -(out["token_logprob"] * mask).sum() / mask.sum().clamp(min=1.0)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                opt.step()
                losses.append(loss.item())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.3f}")
    finally:
        policy.eval()
        if bar is not None:
            bar.close()
    return losses


def format_demonstrations(trajectories: Iterable[Any], reply: Callable[[Turn, str, int], str],
                          state: Callable[[Turn, str, int], dict | None] | None = None) -> list[tuple[Turn, str]]:
    """``(Turn, reply)`` examples from trajectories (:class:`~sparsegym.agents.text.rollout.Trajectory`):
    at each turn, ``reply(turn, action, t)`` around the action that was played, ``t`` the turn's index in
    its episode; ``state(turn, action, t)``, when given, becomes the turn's ``state`` (what the policy's
    prompt reads, e.g. HiPER's current sub-goal)."""
    out = []
    for traj in trajectories:
        for t, (turn, choice) in enumerate(zip(traj.turns, traj.choices)):
            if state is not None:
                turn = replace(turn, state=state(turn, choice.action, t))
            out.append((turn, reply(turn, choice.action, t)))
    return out
