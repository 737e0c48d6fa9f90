"""MiniGrid family behaviour: spaces, success and rewards, views, noisy TV and sticky actions."""

import numpy as np
import pytest

pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.envs.minigrid.env import CODE_MAX, MiniGridTask  # noqa: E402
from sparsegym.errors import InvalidActionError  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"
# Seed 0 of DoorKey-5x5: agent at (1, 3) facing west, key at (1, 2), locked door at (2, 1), goal at (3, 3).
SOLUTION = [1, 3, 2, 2, 1, 5, 2, 2, 1, 2, 2]


def test_observation_space_contract():
    env = sparsegym.make(DOORKEY5)
    space = env.observation_space
    assert set(space.spaces) == {"image", "direction"}
    assert space["image"].dtype == np.uint8 and space["image"].shape == (7, 7, 3)
    assert space["image"].high[0, 0].tolist() == [10, 5, 3]
    assert space["direction"].n == 4
    obs, info = env.reset(seed=0)
    assert space.contains(obs)
    assert info["mission"] == "use the key to open the door and then get to the goal"
    assert info["success"] is False and info["reward_components"] == {"extrinsic": 0.0}


def test_scripted_solution_succeeds_with_minigrid_reward():
    env = sparsegym.make(DOORKEY5)
    env.reset(seed=0)
    for i, a in enumerate(SOLUTION):
        obs, reward, terminated, truncated, info = env.step(a)
        if i < len(SOLUTION) - 1:
            assert not terminated and reward == 0.0 and info["success"] is False
    assert terminated and not truncated
    assert info["success"] is True
    expected = 1 - 0.9 * len(SOLUTION) / 250
    assert reward == pytest.approx(expected)
    assert info["reward_components"]["extrinsic"] == reward


def test_time_out_is_truncation_without_success():
    env = sparsegym.make("sparsegym/MiniGrid-MultiRoom-N2-S4-v0")
    env.reset(seed=0)
    for t in range(1, 41):
        _, reward, terminated, truncated, info = env.step(6)  # "done" is a no-op here
        if t < 40:
            assert not truncated
    assert truncated and not terminated and reward == 0.0 and info["success"] is False


def test_max_steps_override_changes_the_limit_and_the_reward():
    env = sparsegym.make(DOORKEY5, max_steps=100)
    env.reset(seed=0)
    for a in SOLUTION:
        _, reward, *_ = env.step(a)
    assert reward == pytest.approx(1 - 0.9 * len(SOLUTION) / 100)


@pytest.mark.parametrize("bad", [7, -1, 2.5, "forward", None, np.array([1, 2])])
def test_invalid_action_raises_listing_valid_actions(bad):
    env = sparsegym.make(DOORKEY5)
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"0=turn left.*6=done"):
        env.unwrapped.step(bad)


def test_numpy_integer_actions_are_accepted():
    env = sparsegym.make(DOORKEY5)
    env.reset(seed=0)
    obs, *_ = env.step(np.int64(1))
    assert int(obs["direction"]) == 3


def test_full_view_holds_the_whole_grid_and_the_agent():
    env = sparsegym.make(DOORKEY5, view="full")
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (5, 5, 3)
    core = env.unwrapped.core
    x, y = core.agent_pos
    assert obs["image"][x, y].tolist() == [10, 0, core.agent_dir]
    assert obs["image"][1, 2, 0] == 5  # the key
    assert obs["image"][2, 1].tolist() == [4, 4, 2]  # a locked yellow door
    env.step(1)
    obs, *_ = env.step(3)  # pick up the key: it leaves the grid
    assert obs["image"][1, 2, 0] == 1
    assert env.observation_space.contains(obs)


def test_bad_options_are_rejected_with_the_fix():
    with pytest.raises(ValueError, match="view must be 'agent'"):
        MiniGridTask("MiniGrid-DoorKey-5x5-v0", view="top")
    with pytest.raises(ValueError, match=r"sticky_prob must be in \[0, 1\)"):
        MiniGridTask("MiniGrid-DoorKey-5x5-v0", sticky_prob=1.5)
    with pytest.raises(ValueError, match="not a minigrid task id"):
        MiniGridTask("MiniGrid-Nope-v0")


def test_noisy_tv_action_shows_noise_and_leaves_the_world_alone():
    env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0")
    assert env.action_space.n == 8
    assert env.unwrapped.action_names[-1] == "watch tv"
    obs0, _ = env.reset(seed=1)
    core = env.unwrapped.core
    pos, direction = tuple(core.agent_pos), core.agent_dir
    screens = []
    for t in range(1, 4):
        obs, reward, terminated, truncated, _ = env.step(7)
        assert env.observation_space.contains(obs)
        assert tuple(core.agent_pos) == pos and core.agent_dir == direction
        assert core.step_count == t and reward == 0.0
        screens.append(obs["image"])
    assert not np.array_equal(screens[0], screens[1]) and not np.array_equal(screens[1], screens[2])
    assert not np.array_equal(screens[0], obs0["image"])
    assert (screens[0].reshape(-1, 3) <= CODE_MAX).all()
    # Any other action shows the real view again.
    obs, *_ = env.step(0)
    env2 = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-v0")
    env2.reset(seed=1)
    real, *_ = env2.step(0)
    assert np.array_equal(obs["image"], real["image"])


def test_noisy_tv_noise_is_seeded():
    def screens(seed):
        env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0")
        env.reset(seed=seed)
        return [env.step(7)[0]["image"] for _ in range(3)]

    assert all(np.array_equal(a, b) for a, b in zip(screens(4), screens(4)))
    assert not all(np.array_equal(a, b) for a, b in zip(screens(4), screens(5)))


def test_sticky_actions_repeat_at_the_configured_rate():
    p = 0.25
    env = sparsegym.make("sparsegym/MiniGrid-FourRooms-v0", sticky_prob=p, max_steps=100_000)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    prev, repeats, overridden, n = None, 0, 0, 4000
    for _ in range(n):
        chosen = int(rng.integers(0, 3))  # turns and forward only, so nothing ends the episode early
        *_, terminated, truncated, info = env.step(chosen)
        executed = info["executed_action"]
        if prev is not None:
            repeats += executed == prev
            overridden += executed != chosen
        prev = executed
        if terminated or truncated:
            env.reset()
            prev = None
    # P(executed == previous) = p + (1 - p) / 3 with 3 equally likely choices.
    assert repeats / n == pytest.approx(p + (1 - p) / 3, abs=0.035)
    # An override happens when stickiness fires and the previous action differs: p * 2/3.
    assert overridden / n == pytest.approx(p * 2 / 3, abs=0.03)


def test_sticky_variant_is_registered_and_deterministic():
    def executed(seed):
        env = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-Sticky-v0")
        env.reset(seed=seed)
        return [env.step(i % 3)[4]["executed_action"] for i in range(60)]

    a = executed(3)
    assert a == executed(3)
    assert a != [i % 3 for i in range(60)]  # some actions were repeated


def test_render_modes():
    env = sparsegym.make(DOORKEY5, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.splitlines()[3].startswith("WG<<")  # the agent, facing west, at (1, 3)
    env = sparsegym.make(DOORKEY5, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8
    with pytest.raises(ValueError, match="render_mode must be one of"):
        sparsegym.make(DOORKEY5, render_mode="pdf")


def test_babyai_missions_change_between_episodes_and_stdout_stays_clean(capsys):
    env = sparsegym.make("sparsegym/BabyAI-GoToLocal-v0")
    missions = {env.reset(seed=s)[1]["mission"] for s in range(8)}
    assert len(missions) > 1
    assert "Sampling rejected" not in capsys.readouterr().out


def test_image_only_observation_for_cleanrl_style_code():
    env = sparsegym.make(DOORKEY5, obs="image")
    assert env.observation_space.shape == (7, 7, 3)
    obs, _ = env.reset(seed=0)
    ref = sparsegym.make(DOORKEY5)
    ref_obs, _ = ref.reset(seed=0)
    assert isinstance(obs, np.ndarray) and np.array_equal(obs, ref_obs["image"])
    tv = sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0", obs="image")
    tv.reset(seed=0)
    noisy, *_ = tv.step(7)
    assert tv.observation_space.contains(noisy)
    with pytest.raises(ValueError, match="obs must be 'dict'"):
        sparsegym.make(DOORKEY5, obs="pixels")


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs(mode):
    import gymnasium

    envs = gymnasium.make_vec(DOORKEY5, num_envs=3, vectorization_mode=mode)
    try:
        obs, infos = envs.reset(seed=[0, 1, 2])
        assert obs["image"].shape == (3, 7, 7, 3) and obs["direction"].shape == (3,)
        assert obs["direction"][0] == 2  # seed 0 faces west, as in the single env
        for _ in range(300):  # past DoorKey-5x5's 250-step limit: every sub-env has ended once
            obs, rewards, terms, truncs, infos = envs.step(envs.action_space.sample())
        assert "success" in infos and infos["success"].dtype == bool
    finally:
        envs.close()


@pytest.mark.parametrize("env_id", ["sparsegym/MiniGrid-KeyCorridorS3R3-v0", "sparsegym/MiniGrid-ObstructedMaze-1Dlh-v0",
                                    "sparsegym/MiniGrid-UnlockPickup-v0", "sparsegym/BabyAI-PickupLoc-v0",
                                    "sparsegym/BabyAI-GoToLocal-v0", "sparsegym/MiniGrid-DoorKey-8x8-v0"])
def test_restored_state_can_still_be_won(env_id):
    # Tasks that remember their target object (KeyCorridor's obj, BabyAI's instructions) must find it in
    # the restored grid: the oracle wins after every restore, and twice from the same snapshot.
    from sparsegym.baselines import MiniGridOracle

    env = sparsegym.make(env_id)
    oracle = MiniGridOracle(env)
    obs, info = env.reset(seed=4)
    oracle.reset(4)
    obs, _, terminated, truncated, info = env.step(oracle.act(obs, info))  # a step in: not the reset state
    assert not (terminated or truncated)
    state = env.unwrapped.get_state()
    lengths = []
    for _ in range(2):
        obs = env.unwrapped.set_state(state)
        oracle.reset(4)
        steps, terminated, truncated = 0, False, False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(oracle.act(obs, info))
            steps += 1
        assert info["success"] is True and reward > 0, f"restored {env_id} was not won"
        lengths.append(steps)
    assert lengths[0] == lengths[1]
