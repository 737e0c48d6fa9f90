import numpy as np
import pytest

pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.baselines import MiniGridOracle, OracleError, write_demonstrations  # noqa: E402

SOLVED = [
    "MiniGrid-DoorKey-8x8-v0", "MiniGrid-Unlock-v0", "MiniGrid-UnlockPickup-v0", "MiniGrid-BlockedUnlockPickup-v0",
    "MiniGrid-KeyCorridorS4R3-v0", "MiniGrid-MultiRoom-N6-v0", "MiniGrid-FourRooms-v0", "MiniGrid-LockedRoom-v0",
    "MiniGrid-ObstructedMaze-2Dlh-v0", "MiniGrid-ObstructedMaze-Full-v0", "MiniGrid-MemoryS13-v0", "BabyAI-PickupLoc-v0", "BabyAI-KeyInBox-v0",
    "BabyAI-PutNextLocal-v0",
]


def play(env, agent, seed):
    agent.reset(seed)
    obs, info = env.reset(seed=seed)
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        steps += 1
        if terminated or truncated:
            return info["success"], steps


@pytest.mark.parametrize("name", SOLVED)
def test_oracle_solves_held_out_seeds(name):
    env = sparsegym.make(f"sparsegym/{name}")
    oracle = MiniGridOracle(env)
    for seed in (1_000_000, 1_000_001, 1_000_002):
        success, steps = play(env, oracle, seed)
        assert success, f"{name} seed {seed}"
        assert steps < env.unwrapped.max_steps / 2


def test_oracle_is_near_optimal_on_doorkey():
    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
    success, steps = play(env, MiniGridOracle(env), 0)
    assert success and steps == 11  # the hand-made shortest solution of seed 0 has 11 steps


def test_unknown_missions_raise_a_clear_error():
    class Fake:
        mission = "juggle three balls"
        grid = None
        agent_pos = (1, 1)

    oracle = MiniGridOracle(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
    with pytest.raises(OracleError, match="no plan for the mission 'juggle three balls'"):
        oracle._target(Fake())


def test_demonstrations_file(tmp_path):
    summary = write_demonstrations("sparsegym/MiniGrid-DoorKey-5x5-v0", [0, 1, 2], tmp_path / "demos.npz")
    assert summary["episodes"] == 3 and summary["success_rate"] == 1.0
    data = np.load(tmp_path / "demos.npz")
    assert data["observations"].shape == (summary["steps"], 151)
    assert data["episode_starts"].sum() == 3 and data["actions"][:11].tolist() == [1, 3, 2, 2, 1, 5, 2, 2, 1, 2, 2]
    assert data["successes"].tolist() == [True, True, True]
