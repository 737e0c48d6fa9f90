"""``LLMRewardCode``: a bonus computed by reward code that a language model wrote (or that you give).

In the manner of Text2Reward (Xie et al. 2023, arXiv 2309.11489), Eureka (Ma et al. 2023, arXiv
2310.12931) and Auto MC-Reward (Li et al. 2023, arXiv 2312.09238): the model is shown the task and the
env family's documented symbolic state (``Family.symbolic_state``: MiniGrid's grid objects, NetHack's
bottom line, message and surroundings) and writes ``def reward(prev_state, action, state)``. The code
is checked, then run after every step in a separate, limited worker process
(:class:`~sparsegym.llm.reward_evaluator.RewardCodeEvaluator`; read its docstring for what that
protects against and what it does not). Feedback rounds that revise the code from training statistics:
:func:`sparsegym.wrappers.reward_refinement.refine_reward_code`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from sparsegym.errors import ConfigError
from sparsegym.llm.reward_code import (
    CodeDraft,
    RewardCodeWriter,
    RewardTask,
    client_for,
    code_version,
    symbolic_module,
)
from sparsegym.llm.reward_evaluator import Evaluation, RewardCodeEvaluator
from sparsegym.llm.reward_sandbox import FUNCTION_NAME
from sparsegym.wrappers._components import add_component

__all__ = ["LLMRewardCode", "RewardCodeTally"]


@dataclass
class RewardCodeTally:
    """Running statistics of the code's bonus, for reports and for the next refinement round.

    ``episode_bonus`` holds the bonus (after ``coef``) summed over each finished episode; ``parts_fired``
    and ``parts_sum`` count the steps where each named component was non-zero and sum its raw values.
    """

    steps: int = 0
    nonzero_steps: int = 0
    bonus_sum: float = 0.0
    episode_bonus: list[float] = field(default_factory=list)
    parts_fired: Counter[str] = field(default_factory=Counter)
    parts_sum: dict[str, float] = field(default_factory=dict)
    error_kinds: Counter[str] = field(default_factory=Counter)
    error_messages: Counter[str] = field(default_factory=Counter)
    _current: float | None = None

    def add(self, result: Evaluation, bonus: float) -> None:
        self.steps += 1
        self.nonzero_steps += bonus != 0.0
        self.bonus_sum += bonus
        self._current = (self._current or 0.0) + bonus
        for name, value in (result.parts or {}).items():
            self.parts_fired[name] += value != 0.0
            self.parts_sum[name] = self.parts_sum.get(name, 0.0) + value
        if result.error is not None:
            self.error_kinds[result.kind or "exception"] += 1
            self.error_messages[result.error[:160]] += 1

    def end_episode(self) -> None:
        if self._current is not None:
            self.episode_bonus.append(self._current)
        self._current = None


class LLMRewardCode(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``coef * reward(prev_state, action, state)`` from LLM-written (or given) reward code.

    Args:
        env: the env; its family must document a symbolic state (MiniGrid/BabyAI and NetHack/MiniHack
            do), unless ``state_fn`` is given.
        client: an :class:`~sparsegym.llm.LLMClient`; None makes one for ``base_url``/``model`` (extra
            ``llm``). Not used when ``code`` is given.
        code: reward code to run instead of asking a model.
        coef: the bonus weight (applied after clipping).
        task: a description of the task for the prompt, instead of the family's.
        critic: have a second request review the code before use (one rewrite on ``VERDICT: REVISE``).
        temperature: sampling temperature of the requests (0 with a seed: cached).
        seed: the requests' seed.
        max_tokens: the longest reply.
        timeout: seconds one call of the code may take (then the bonus is 0 and the worker restarts).
        memory_mb: the worker's address-space limit.
        clip: the code's result is clipped to ``[-clip, clip]`` (or ``(low, high)``) before ``coef``.
        isolation: ``"auto"``, ``"bwrap"`` or ``"rlimits"`` (see :mod:`sparsegym.llm.reward_evaluator`).
        state_fn: ``(env, observation) -> dict`` of plain data, instead of the family's symbolic state.
        schema: the text describing ``state_fn``'s fields (needed to ask a model with ``state_fn``).
        name: the reward-component name.

    The code is asked for once, at construction (the same request is answered from the client's
    cache next time). Each step ``info["reward_components"][name]`` holds the bonus (0.0 when the call
    failed: ``info["reward_code_error"]`` then says why); ``info["reward_code_parts"]`` holds the raw
    components when the code returns a dict. :attr:`code`, :attr:`version`, :attr:`draft` (how it was
    written), :attr:`tally` (running statistics) and :attr:`evaluator` (``counts``, ``restarts``) are
    there to read; :meth:`close` stops the worker. The env's spec records the code that runs (not the
    client), so an env re-made from it asks no model.

    Examples:
        >>> import sparsegym
        >>> code = '''
        ... def reward(prev_state, action, state):
        ...     got_key = prev_state["carrying"] is None and state["carrying"] == ("key", "yellow")
        ...     return 0.2 if got_key else 0.0
        ... '''
        >>> env = LLMRewardCode(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), code=code)
        >>> _ = env.reset(seed=0)
        >>> _ = env.step(1)
        >>> _, reward, _, _, info = env.step(3)  # pick up the key in front
        >>> reward, info["reward_components"]
        (0.2, {'extrinsic': 0.0, 'llm_reward_code': 0.2})
        >>> env.close()
    """

    def __init__(self, env: gymnasium.Env, client: Any = None, *, code: str | None = None, coef: float = 1.0,
                 task: str | None = None, base_url: str | None = None, model: str | None = None,
                 critic: bool = False, temperature: float = 0.0, seed: int | None = 0, max_tokens: int = 1500,
                 timeout: float = 1.0, memory_mb: int = 256, clip: float | tuple[float, float] = 1.0,
                 isolation: str = "auto", state_fn: Callable[[gymnasium.Env, Any], dict[str, Any]] | None = None,
                 schema: str | None = None, name: str = "llm_reward_code"):
        gymnasium.Wrapper.__init__(self, env)
        low_high = (-float(clip), float(clip)) if isinstance(clip, (int, float)) else (float(clip[0]), float(clip[1]))
        if state_fn is None:
            self._state_fn = symbolic_module(env).symbolic_state
        else:
            self._state_fn = state_fn
        self.coef, self.name = float(coef), name
        self.task: RewardTask | None = None
        self.draft: CodeDraft | None = None
        if code is None:
            if state_fn is not None and schema is None:
                raise ConfigError("a model can only write code for a state_fn it is told about: pass schema= (each "
                                  "field, its type and meaning) with state_fn, or pass code=")
            if state_fn is not None:
                self.task = RewardTask(name=getattr(env.spec, "id", type(env.unwrapped).__name__),
                                       description=task or "Solve the environment's task.", schema=str(schema),
                                       actions=tuple(str(a) for a in range(getattr(env.action_space, "n", 0))),
                                       clip=low_high, timeout=float(timeout))
            else:
                self.task = RewardTask.from_env(env, task, clip=low_high, timeout=float(timeout))
            writer = RewardCodeWriter(client_for(client, base_url, model), temperature=temperature, seed=seed,
                                      max_tokens=max_tokens, critic=critic)
            self.draft = writer.write(self.task)
            code = self.draft.code
        self.code: str = code
        self.version = code_version(code)
        self.evaluator = RewardCodeEvaluator(code, function=FUNCTION_NAME, timeout=timeout, memory_mb=memory_mb,
                                             clip=low_high, isolation=isolation)
        self.tally = RewardCodeTally()
        self._prev: dict[str, Any] | None = None
        # The spec records the code that runs, not the client: re-making the env from it asks no model.
        gymnasium.utils.RecordConstructorArgs.__init__(
            self, client=None, code=self.code, coef=coef, task=task, base_url=base_url, model=model, critic=critic,
            temperature=temperature, seed=seed, max_tokens=max_tokens, timeout=timeout, memory_mb=memory_mb,
            clip=clip, isolation=isolation, state_fn=state_fn, schema=schema, name=name)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.tally.end_episode()
        self._prev = self._state_fn(self.env, obs)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        state = self._state_fn(self.env, obs)
        result = self.evaluator(self._prev, action, state)
        self._prev = state
        bonus = self.coef * result.value
        self.tally.add(result, bonus)
        if result.error is not None:
            info["reward_code_error"] = result.error
        if result.parts is not None:
            info["reward_code_parts"] = result.parts
        if terminated or truncated:
            self.tally.end_episode()
        return obs, add_component(info, reward, self.name, bonus), terminated, truncated, info

    def close(self) -> None:
        self.evaluator.close()
        super().close()
