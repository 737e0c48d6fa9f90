"""The text trainers learn: the admissible-action scorer, from scratch, on one pinned TreasureHunter-L10
game (CPU, one to three minutes each on 2 cores: marked slow, so CI runs them in a step of their own,
``pytest -m slow tests/agents/text/test_learning.py``).

The game (``game_seed``) is fixed, so every task seed plays it; the random policy's success is measured
on the same task seeds as the trainer's first iterations. Success is counted over the last 32 training
episodes (4 iterations of 8), as ``StopOnSuccess`` sees it; training stops when the threshold is met.
"""

import gymnasium as gym
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("textworld")

import sparsegym  # noqa: E402, F401
from sparsegym.agents.callbacks import StopOnSuccess  # noqa: E402
from sparsegym.agents.text import TextRLConfig, TextRLTrainer, UniformPolicy, collect  # noqa: E402

ENV = "sparsegym/TextWorld-TreasureHunter-L10-v0"
GAME = 2  # game_seed: random success about 0.3 (measured below)
BUDGET = 400  # episodes
WINDOW = 32  # episodes the success rate is measured over


@pytest.fixture(scope="module")
def random_success():
    """Success of the uniform policy over the admissible actions on the task seeds training starts with."""
    envs = [gym.make(ENV, game_seed=GAME) for _ in range(8)]
    trajs = collect(envs, UniformPolicy(), task_seeds=list(range(8)), group_size=8,
                    generator=torch.Generator().manual_seed(0))
    for env in envs:
        env.close()
    return sum(t.success for t in trajs) / len(trajs)


def _learn(algo: str, threshold: float) -> tuple[StopOnSuccess, list[dict[str, float]]]:
    config = TextRLConfig(algo=algo, group_size=8, seed=0, env_kwargs={"game_seed": GAME}, stats_window=WINDOW)
    trainer = TextRLTrainer(ENV, config=config)
    stop = StopOnSuccess(threshold=threshold, min_episodes=WINDOW)
    try:
        history = trainer.learn(BUDGET, callbacks=stop, progress=False)
    finally:
        trainer.close()
    return stop, history


def test_random_policy_succeeds_about_a_third_of_the_time(random_success):
    assert 0.15 <= random_success <= 0.45


@pytest.mark.slow
def test_grpo_learns_treasure_hunter(random_success):
    stop, history = _learn("grpo", 0.8)
    curve = [round(h["batch_success"], 2) for h in history]
    assert stop.reached_at is not None, f"GRPO did not reach 0.8 within {BUDGET} episodes: {curve}"
    assert history[-1]["success_rate"] >= 0.8 > random_success + 0.3


@pytest.mark.slow
def test_rloo_learns_treasure_hunter(random_success):
    stop, history = _learn("rloo", 0.8)
    curve = [round(h["batch_success"], 2) for h in history]
    assert stop.reached_at is not None, f"RLOO did not reach 0.8 within {BUDGET} episodes: {curve}"
