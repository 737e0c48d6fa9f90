import numpy as np
import pytest

pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.agents import GoExplore  # noqa: E402
from sparsegym.baselines import write_demonstrations  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def _success_rate(agent, env_id, seeds):
    env = sparsegym.make(env_id)
    wins = 0
    for seed in seeds:
        agent.reset(seed)
        obs, info = env.reset(seed=seed)
        while True:
            obs, _, term, trunc, info = env.step(agent.act(obs, info, deterministic=True))
            if term or trunc:
                break
        wins += info["success"]
    return wins / len(seeds)


def test_behaviour_cloning_from_oracle_demos_generalises_to_new_seeds(tmp_path):
    pytest.importorskip("torch")
    from sparsegym.agents import PPO, PPOConfig, behaviour_cloning

    write_demonstrations(DOORKEY5, list(range(100)), tmp_path / "demos.npz")
    agent = PPO(DOORKEY5, PPOConfig(device="cpu", seed=0))
    assert _success_rate(agent, DOORKEY5, range(1000, 1010)) < 0.5  # untrained
    losses = behaviour_cloning(agent, tmp_path / "demos.npz", epochs=30)
    assert losses[-1] < 0.25 * losses[0]
    assert _success_rate(agent, DOORKEY5, range(1000, 1020)) >= 0.9  # seeds never demonstrated


def test_concurrent_imitation_adds_a_bc_loss(tmp_path):
    pytest.importorskip("torch")
    from sparsegym.agents import PPO, PPOConfig

    write_demonstrations(DOORKEY5, [0, 1], tmp_path / "d.npz")
    agent = PPO(DOORKEY5, PPOConfig(device="cpu", num_envs=2, num_steps=32, demos=str(tmp_path / "d.npz"), bc_coef=0.5))
    history = agent.learn(128, progress=False)
    assert history[-1]["bc_loss"] > 0
    with pytest.raises(FileNotFoundError, match="write_demonstrations"):
        PPO(DOORKEY5, PPOConfig(device="cpu", demos=str(tmp_path / "missing.npz")))


def test_go_explore_finds_the_doorkey_8x8_goal():
    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0")
    ge = GoExplore(env, seed=0)
    result = ge.learn(60_000)
    assert result["success"] and result["frames"] <= 60_000 and result["cells"] > 10
    # The best trajectory replays to success on its layout, by the agent protocol...
    ge.reset(0)
    obs, info = env.reset(seed=0)
    for _ in range(len(ge.best_actions)):
        obs, reward, term, trunc, info = env.step(ge.act(obs, info))
    assert term and info["success"]
    # ...and becomes a demonstration for robustification.
    demos = ge.demonstrations()
    assert len(demos["actions"]) == len(ge.best_actions) and demos["observations"].shape[1] == 151


def test_go_explore_shortened_trajectory_cuts_loops_and_still_wins():
    env = sparsegym.make("sparsegym/MiniGrid-KeyCorridorS3R3-v0")
    ge = GoExplore(env, seed=10_000)
    assert ge.learn(100_000)["success"]
    short = ge.shortened_actions()
    assert len(short) < len(ge.best_actions) / 2  # random walks are mostly loops
    env.reset(seed=10_000)
    states = set()
    for i, a in enumerate(short):
        core = env.unwrapped.core
        state = (core.grid.encode().tobytes(), tuple(core.agent_pos), core.agent_dir, repr(core.carrying))
        assert state not in states, f"state revisited at step {i}: a loop was left in"
        states.add(state)
        _, reward, term, trunc, info = env.step(a)
    assert term and info["success"] and reward > 0
    demos = ge.demonstrations(shorten=True)
    assert demos["actions"].tolist() == short


def test_go_explore_returns_by_replay_where_state_cannot_be_restored():
    import gymnasium

    class NoState(gymnasium.Wrapper):  # hides get_state/set_state
        @property
        def unwrapped(self):
            return self

    env = NoState(sparsegym.make(DOORKEY5))
    ge = GoExplore(env, seed=0, cell="observation")
    assert not ge.restorable
    result = ge.learn(30_000)
    assert result["success"]


def test_minigrid_state_round_trip():
    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-Sticky-v0")
    env.reset(seed=3)
    for a in (1, 2, 2, 0, 2):
        env.step(a)
    state = env.unwrapped.get_state()
    after = [env.step(a)[0]["image"].copy() for a in (2, 2, 1, 2, 5, 3)]
    env.unwrapped.set_state(state)
    again = [env.step(a)[0]["image"].copy() for a in (2, 2, 1, 2, 5, 3)]
    assert all(np.array_equal(x, y) for x, y in zip(after, again))
