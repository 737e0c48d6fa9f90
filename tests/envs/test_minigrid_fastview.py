"""The fast agent view gives exactly MiniGrid's own ``gen_obs`` image, step after step."""

import numpy as np
import pytest

pytest.importorskip("minigrid")

from minigrid.core.grid import Grid  # noqa: E402
from minigrid.minigrid_env import MiniGridEnv  # noqa: E402

import sparsegym  # noqa: E402
from sparsegym.baselines import MiniGridOracle  # noqa: E402
from sparsegym.envs.minigrid import fastview  # noqa: E402
from sparsegym.envs.registry import get_entry, list_envs  # noqa: E402


def _reference(core) -> np.ndarray:
    return MiniGridEnv.gen_obs(core)["image"]


def _check_rollout(env, steps: int, seed: int, policy=None) -> int:
    """Random (or oracle) steps; at each one the env's image must equal MiniGrid's. Returns checks made."""
    core = env.unwrapped.core
    assert isinstance(core.gen_obs, fastview.AgentView)
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    if policy is not None:
        policy.reset(seed)
    checks = 0
    tv = env.unwrapped._tv_action  # the noisy TV's frames are noise by design, not the view
    action = None
    for t in range(steps):
        if action != tv:
            np.testing.assert_array_equal(obs["image"], _reference(core), err_msg=f"step {t}")
            checks += 1
        action = policy.act(obs, info) if policy is not None else int(rng.integers(env.action_space.n))
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            np.testing.assert_array_equal(obs["image"], _reference(core))
            seed += 1
            obs, info = env.reset(seed=seed)
            action = None
            if policy is not None:
                policy.reset(seed)
    return checks


@pytest.mark.parametrize("env_id", [i for i in list_envs(family="minigrid") if not get_entry(i).base_id])
def test_fast_view_equals_minigrid_view_on_every_id(env_id):  # the Box variants observe the same view
    env = sparsegym.make(env_id, max_steps=60)
    assert _check_rollout(env, 150, seed=3) >= 100


@pytest.mark.parametrize("env_id", ["sparsegym/MiniGrid-DoorKey-8x8-v0", "sparsegym/MiniGrid-KeyCorridorS3R3-v0",
                                    "sparsegym/MiniGrid-ObstructedMaze-1Dlh-v0", "sparsegym/MiniGrid-MultiRoom-N4-S5-v0"])
def test_fast_view_equals_minigrid_view_along_oracle_episodes(env_id):
    # The oracle picks keys up, carries them, opens doors and boxes: the states random play rarely reaches.
    env = sparsegym.make(env_id)
    oracle = MiniGridOracle(env)
    _check_rollout(env, 400, seed=0, policy=oracle)


@pytest.mark.parametrize("kwargs", [{"agent_view_size": 5}, {"agent_view_size": 9}, {"agent_view_size": 11},
                                    {"see_through_walls": True},
                                    {"agent_view_size": 3, "see_through_walls": True}])
def test_fast_view_other_view_sizes_and_see_through_walls(kwargs):
    kwargs = dict(kwargs)
    see_through = kwargs.pop("see_through_walls", False)
    env = sparsegym.make("sparsegym/MiniGrid-KeyCorridorS3R3-v0", **kwargs)
    env.unwrapped.core.see_through_walls = see_through  # RoomGrid envs fix it in their constructor
    size = kwargs.get("agent_view_size", 7)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (size, size, 3)
    _check_rollout(env, 300, seed=1, policy=MiniGridOracle(env))


def test_full_view_and_set_state_still_match():
    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0")
    env.reset(seed=0)
    for a in [2, 2, 1, 2]:
        env.step(a)
    state = env.unwrapped.get_state()
    env.step(0)
    obs = env.unwrapped.set_state(state)
    np.testing.assert_array_equal(obs["image"], _reference(env.unwrapped.core))


def test_opt_out_and_overriding_envs_keep_minigrid_code_path():
    slow = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0", fast_view=False)
    fast = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0")
    assert "gen_obs" not in vars(slow.unwrapped.core)
    a, _ = slow.reset(seed=5)
    b, _ = fast.reset(seed=5)
    np.testing.assert_array_equal(a["image"], b["image"])

    class OwnView(type(fast.unwrapped.core)):
        def gen_obs(self):
            return super().gen_obs()

    core = fast.unwrapped.core
    core.__class__ = OwnView
    assert not fastview.supports(core)

    sliced = []

    class OddGrid(Grid):
        def slice(self, *args):
            sliced.append(args)
            return super().slice(*args)

    core.__class__ = OwnView.__mro__[1]
    view = fastview.AgentView(core)
    view()
    assert sliced == []
    core.grid.__class__ = OddGrid
    np.testing.assert_array_equal(view()["image"], _reference(core))
    assert len(sliced) == 2  # the view was handed to MiniGrid's gen_obs (and once more for the reference)


def test_occlusion_table_matches_minigrid_sweep_on_random_walls():
    # Views full of random walls and doors exercise far more occlusion patterns than the tasks do.
    from minigrid.core.world_object import Door, Wall

    env = sparsegym.make("sparsegym/MiniGrid-FourRooms-v0")
    env.reset(seed=0)
    core = env.unwrapped.core
    view = core.gen_obs
    rng = np.random.default_rng(0)
    for trial in range(300):
        for x in range(1, core.width - 1):
            for y in range(1, core.height - 1):
                r = rng.random()
                core.grid.set(x, y, Wall() if r < 0.25 else Door("red", is_open=rng.random() < 0.5) if r < 0.35 else None)
        core.agent_pos = (int(rng.integers(1, core.width - 1)), int(rng.integers(1, core.height - 1)))
        core.agent_dir = int(rng.integers(4))
        np.testing.assert_array_equal(view()["image"], _reference(core), err_msg=f"trial {trial}")


def test_objects_equal_by_value_fall_back_to_the_sweep():
    # A swap between two such objects cannot be seen by the per-step list comparison.
    from minigrid.core.world_object import Ball

    class ValueBall(Ball):
        def __eq__(self, other):
            return isinstance(other, Ball)

        __hash__ = Ball.__hash__

    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0")
    env.reset(seed=0)
    core = env.unwrapped.core
    core.agent_pos, core.agent_dir = (1, 3), 0
    core.grid.set(2, 3, ValueBall("red"))
    np.testing.assert_array_equal(core.gen_obs()["image"], _reference(core))
    core.grid.set(2, 3, ValueBall("blue"))  # equal to the red one by value, but drawn blue
    image = core.gen_obs()["image"]
    np.testing.assert_array_equal(image, _reference(core))
    assert not core.gen_obs._tracked
