"""Group rollouts: grouping, same start within a group, histories, rewards, invalid actions, determinism."""

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text.policy import Choice, TextPolicy, UniformPolicy  # noqa: E402
from sparsegym.agents.text.rollout import collect, env_instructions, summarize  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402


def _collect(corridor, n_envs=3, seed=0, **kw):
    envs = [corridor() for _ in range(n_envs)]
    return collect(envs, UniformPolicy(), task_seeds=[5, 6], group_size=4,
                   generator=torch.Generator().manual_seed(seed), **kw)


def test_groups_share_their_start_and_come_back_in_order(corridor):
    trajs = _collect(corridor)
    assert [(t.group, t.task_seed) for t in trajs] == [(0, 5)] * 4 + [(1, 6)] * 4
    for g in (0, 1):
        firsts = {t.turns[0].observation for t in trajs[4 * g:4 * g + 4]}
        assert len(firsts) == 1  # the same task seed starts every episode of a group in the same state


def test_turns_carry_history_instructions_and_actions(corridor):
    trajs = _collect(corridor)
    rules = env_instructions(corridor())
    assert rules.startswith("Find the coin")
    for t in trajs:
        assert len(t.turns) == len(t.choices) == len(t.rewards) == len(t.invalid) == t.length >= 1
        for k, (turn, choice) in enumerate(zip(t.turns, t.choices)):
            assert turn.instructions == rules and turn.actions == ["go east", "go west", "look", "take coin"]
            assert turn.history == [(p.observation, c.action) for p, c in zip(t.turns[:k], t.choices[:k])]
            assert choice.action == turn.actions[choice.index]
        assert t.dones == [False] * (t.length - 1) + [True]
        assert t.success == (t.episode_return == 1.0) and t.terminated != t.truncated
        assert t.invalid_actions == 0
    stats = summarize(trajs)
    assert set(stats) == {"batch_success", "batch_return", "episode_length", "invalid_actions"}


def test_seeded_collections_repeat(corridor):
    a, b, c = _collect(corridor, seed=1), _collect(corridor, seed=1), _collect(corridor, seed=2)
    key = lambda trajs: [[ch.action for ch in t.choices] for t in trajs]  # noqa: E731
    assert key(a) == key(b) and key(a) != key(c)
    assert key(_collect(corridor, n_envs=8, seed=1)) == key(_collect(corridor, n_envs=8, seed=1))


class _Babbler(TextPolicy):
    """Says something the env does not know, then always "take coin"."""

    def act(self, turns, *, sample=True, generator=None):
        return [Choice("dance" if not t.history else "take coin", None, 0.0) for t in turns]


def test_invalid_actions_are_counted_and_max_turns_truncates(corridor):
    trajs = collect([corridor()], _Babbler(), task_seeds=[0], group_size=2)
    assert [t.invalid for t in trajs] == [[True, False]] * 2 and [t.invalid_actions for t in trajs] == [1, 1]
    looker = collect([corridor(max_steps=50)], UniformPolicy(), task_seeds=[0], group_size=1, max_turns=1, sample=False)
    assert looker[0].length == 1 and looker[0].truncated and not looker[0].terminated  # "go east", cut at 1 turn
    with pytest.raises(ConfigError):
        collect([], UniformPolicy(), [0], 1)
    with pytest.raises(ConfigError):
        collect([corridor()], UniformPolicy(), [0], 0)


def test_env_instructions_default():
    import gymnasium as gym

    assert env_instructions(gym.make("CartPole-v1")) == ""
