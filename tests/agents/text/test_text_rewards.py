"""Step rewards in text training: direct vs gated accumulation of step-level terms (ScoreReward,
SubgoalReward, GatedReward stacked from data), checked against hand-computed returns; the trainer
reports the wrapped returns and the env's own success."""

from typing import Any

import pytest

torch = pytest.importorskip("torch")

from sparsegym.agents.text import TextRLConfig, TextRLTrainer  # noqa: E402
from sparsegym.agents.text.policy import Choice, TextPolicy  # noqa: E402
from sparsegym.agents.text.rollout import collect  # noqa: E402
from sparsegym.errors import ConfigError  # noqa: E402
from sparsegym.wrappers.stack import apply_wrappers, check_wrappers  # noqa: E402

DIRECT = [{"wrapper": "ScoreReward", "scale": 0.1}]
GATED = [*DIRECT, "GatedReward"]


@pytest.fixture
def scored(corridor):
    class ScoredCorridor(corridor):
        """The corridor with a running score: the easternmost room reached (TextWorld-like info keys)."""

        def _reset(self, options: dict[str, Any] | None):
            obs, info = super()._reset(options)
            self.best = self.room
            return obs, {**info, "score": self.best, "max_score": self.n - 1}

        def _step(self, action: str):
            obs, reward, terminated, truncated, info = super()._step(action)
            self.best = max(self.best, self.room)
            return obs, reward, terminated, truncated, {**info, "score": self.best, "max_score": self.n - 1}

    return ScoredCorridor


class Scripted(TextPolicy):
    """From room 0 walks east to the coin and takes it (a win); from room 1 goes east once and takes the
    coin in room 2 (a loss). One dummy parameter, so the trainer can run its update."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def act(self, turns, *, sample=True, generator=None):
        out = []
        for t in turns:
            first = (t.history[0][0] if t.history else t.observation).splitlines()[-1]
            steps_east = 3 if first.startswith("Room 0.") else 1
            action = "go east" if len(t.history) < steps_east else "take coin"
            out.append(Choice(action, t.actions.index(action), 0.0))
        return out

    def evaluate(self, turns, choices):
        zeros = self.w * torch.zeros(len(turns))
        return {"logprob": zeros, "entropy": zeros}

    def config(self):
        return {}


# Task seed 1 starts in room 0 (the walk wins), task seed 0 in room 1 (the walk loses); corridor of 4 rooms.
# Score (easternmost room): win 0 -> 1 -> 2 -> 3 then the coin (extrinsic 1); loss 1 -> 2 then the wrong "take coin".
EXPECTED = {  # stack -> (rewards of the win, rewards of the loss)
    "none": ([0.0, 0.0, 0.0, 1.0], [0.0, 0.0]),
    "direct": ([0.1, 0.1, 0.1, 1.0], [0.1, 0.0]),  # each score point pays 0.1 at once, won or lost
    "gated": ([0.0, 0.0, 0.0, 1.3], [0.0, 0.0]),  # withheld; paid on the last step of the win only
}
STACKS = {"none": [], "direct": DIRECT, "gated": GATED}


@pytest.mark.parametrize("stack", list(STACKS))
def test_direct_and_gated_step_rewards_give_the_hand_computed_returns(scored, stack):
    envs = [apply_wrappers(scored(), STACKS[stack])]
    win, loss = collect(envs, Scripted(), task_seeds=[1, 0], group_size=1)
    assert [c.action for c in win.choices] == ["go east"] * 3 + ["take coin"]
    assert [c.action for c in loss.choices] == ["go east", "take coin"]
    assert win.rewards == pytest.approx(EXPECTED[stack][0]) and loss.rewards == pytest.approx(EXPECTED[stack][1])
    assert (win.success, loss.success) == (True, False)  # the env's own, whatever the stack


@pytest.mark.parametrize("stack", list(STACKS))
def test_the_trainer_reports_wrapped_returns_and_the_envs_success(scored, stack):
    cfg = TextRLConfig(group_size=2, groups_per_iteration=2, num_envs=2, env_wrappers=STACKS[stack])
    trainer = TextRLTrainer(lambda: scored(), Scripted(), config=cfg)  # task seeds 0 (loss) and 1 (win)
    history = trainer.learn(4, progress=False)
    win, loss = sum(EXPECTED[stack][0]), sum(EXPECTED[stack][1])
    assert list(trainer._returns) == pytest.approx([loss, loss, win, win])
    assert list(trainer._successes) == [0.0, 0.0, 1.0, 1.0]
    assert history[0]["batch_return"] == pytest.approx((win + loss) / 2) and history[0]["batch_success"] == 0.5
    trainer.close()


def test_normalized_scores_and_a_return_outcome_gate(scored):
    # normalize: each point is 1/max_score (= 1/3) of scale 1, so the win's score terms sum to 1.
    env = apply_wrappers(scored(), [{"wrapper": "ScoreReward", "normalize": True}])
    win, loss = collect([env], Scripted(), task_seeds=[1, 0], group_size=1)
    assert win.rewards == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0]) and loss.rewards == pytest.approx([1 / 3, 0.0])
    # A gate on the extrinsic return with threshold 0.5 releases the win's terms and drops the loss's.
    env = apply_wrappers(scored(), [*DIRECT, {"wrapper": "GatedReward", "outcome": "return", "threshold": 0.5}])
    win, loss = collect([env], Scripted(), task_seeds=[1, 0], group_size=1)
    assert win.rewards == pytest.approx([0.0, 0.0, 0.0, 1.3]) and loss.rewards == [0.0, 0.0]
    env.reset(seed=1)
    for action in ["go east"] * 3:
        *_, info = env.step(action)
    assert info["gate"] == {"withheld": pytest.approx(0.3)} and info["reward_components"]["score"] == pytest.approx(0.1)
    *_, info = env.step("take coin")
    assert info["gate"]["released"] is True and info["reward_components"]["gate"] == pytest.approx(0.3)


def test_wrapper_stacks_are_checked_with_clear_errors(scored):
    assert check_wrappers(["GatedReward"]) == [{"wrapper": "GatedReward"}]
    with pytest.raises(ConfigError, match="unknown wrapper 'Gated'; use one of ScoreReward, SubgoalReward"):
        check_wrappers(["Gated"])
    with pytest.raises(ConfigError, match=r"wrapper entry 0 \(ScoreReward\): .*'scal'.*; it takes key, scale"):
        check_wrappers([{"wrapper": "ScoreReward", "scal": 0.1}])
    with pytest.raises(ConfigError, match="must be JSON data"):
        check_wrappers([{"wrapper": "SubgoalReward", "subgoals": [object()]}])
    with pytest.raises(ConfigError, match="a wrapper stack is a list"):
        check_wrappers("GatedReward")
    with pytest.raises(ConfigError, match="must be a wrapper name or a mapping with a 'wrapper' name"):
        TextRLConfig(env_wrappers=[{"scale": 0.1}]).validate()
    with pytest.raises(ConfigError, match=r"ScoreReward reads info\['points'\], which this env does not report"):
        apply_wrappers(scored(), [{"wrapper": "ScoreReward", "key": "points"}]).reset(seed=0)


def test_env_wrappers_survive_save_and_load(scored, tmp_path):
    cfg = TextRLConfig(group_size=2, num_envs=1, env_wrappers=GATED, policy_kwargs={"hidden": 8, "embed_dim": 8})
    trainer = TextRLTrainer(lambda: scored(), config=cfg)
    trainer.save(tmp_path / "run")
    again = TextRLTrainer.load(tmp_path / "run", env=lambda: scored())
    assert again.config.env_wrappers == [{"wrapper": "ScoreReward", "scale": 0.1}, "GatedReward"]
    assert type(again._make_env()).__name__ == "GatedReward"


def test_textworld_dense_sparse_direct_and_gated_on_a_walkthrough():
    pytest.importorskip("textworld")
    import gymnasium as gym

    import sparsegym  # noqa: F401

    env_id = "sparsegym/TextWorld-Simple-v0"  # tw-simple: a score point for each step of the quest
    returns, components = {}, {}
    stacks = {"dense": ("dense", []), "sparse": ("sparse", []), "direct": ("sparse", DIRECT),
              "gated": ("sparse", GATED),
              "subgoals": ("sparse", [{"wrapper": "SubgoalReward", "bonus": 0.5,
                                       "subgoals": [{"type": "score_reached", "points": 1}]}, "GatedReward"])}
    base = {mode: gym.make(env_id, reward=mode, game_seed=2) for mode in ("dense", "sparse")}  # one engine each
    for name, (mode, stack) in stacks.items():
        env = apply_wrappers(base[mode], stack)
        _, info = env.reset(seed=0)
        rewards = []
        for action in env.unwrapped.walkthrough:
            _, r, term, trunc, info = env.step(action)
            rewards.append(r)
        assert term and info["success"] and info["won"]
        returns[name], components[name] = rewards, info["reward_components"]
        top = info["max_score"]
    for env in base.values():
        env.close()
    assert top == 10 and returns["dense"].count(1.0) == 10
    # dense pays the score changes as the game awards them, sparse the final score on the winning step.
    assert sum(returns["dense"]) == sum(returns["sparse"]) == returns["sparse"][-1] == top
    assert returns["direct"][:-1] == pytest.approx([0.1 * r for r in returns["dense"][:-1]])
    # direct: the sparse reward plus 0.1 per score point, as earned; gated: the same total, all on the last step.
    assert sum(returns["direct"]) == pytest.approx(top * 1.1)
    assert returns["gated"][:-1] == [0.0] * (len(returns["gated"]) - 1)
    assert returns["gated"][-1] == pytest.approx(top * 1.1)
    # the subgoal (score reached 1) pays 0.5, withheld until the win.
    assert returns["subgoals"][-1] == pytest.approx(top + 0.5) and sum(returns["subgoals"]) == pytest.approx(top + 0.5)
    assert components["subgoals"]["extrinsic"] == top
