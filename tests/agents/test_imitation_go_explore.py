import gymnasium
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


# -- the paper's selection weights, counter reset and downscaled cell ------------------------------------


class _Line(gymnasium.Env):
    """Positions 0..4 on a line; actions: 0 left, 1 right, 2 stay. Restorable, so no replay frames."""

    observation_space = gymnasium.spaces.Box(0, 4, (1,), np.int64)
    action_space = gymnasium.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return np.array([self.pos]), {}

    def step(self, action):
        self.pos = int(np.clip(self.pos + (-1, 1, 0)[action], 0, 4))
        return np.array([self.pos]), 0.0, False, False, {}

    def get_state(self):
        return self.pos

    def set_state(self, state):
        self.pos = state
        return np.array([self.pos])


def _cell(pos):
    from sparsegym.agents.go_explore import observation_cell

    return observation_cell(None, np.array([pos]))


def test_go_explore_selection_weights_are_one_over_sqrt_times_seen_plus_one():
    from sparsegym.agents.go_explore import Cell, selection_weights

    cells = [Cell(0.0, [], seen=0, chosen=5), Cell(0.0, [], seen=3, chosen=0), Cell(0.0, [], seen=8, chosen=3)]
    assert np.allclose(selection_weights(cells), [1.0, 0.5, 1 / 3])
    assert np.allclose(selection_weights(cells, "times_chosen"), [1 / np.sqrt(6), 1.0, 0.5])
    with pytest.raises(Exception, match="unknown selection"):
        selection_weights(cells, "times_visited")


def test_go_explore_counts_seen_once_per_iteration_and_resets_counts_of_an_improved_cell():
    from sparsegym.agents.go_explore import selection_weights

    ge = GoExplore(_Line(), cell="observation_hash")
    ge.learn(0)  # archives the start cell only
    a, b, c = _cell(0), _cell(1), _cell(2)
    ge.iterate(a, [1, 1])  # 0 -> 1 -> 2: two new cells, whose counts start (and are reset) at 0
    assert (ge.archive[a].chosen, ge.archive[a].seen) == (1, 1)
    assert (ge.archive[b].seen, ge.archive[c].seen, ge.archive[b].actions) == (0, 0, [1])
    ge.iterate(a, [1, 0, 1])  # 0 -> 1 -> 0 -> 1: b seen once although passed twice, a not again
    assert (ge.archive[a].chosen, ge.archive[a].seen, ge.archive[b].seen, ge.archive[c].seen) == (2, 2, 1, 0)
    keys = list(ge.archive)
    weights = dict(zip(keys, selection_weights([ge.archive[k] for k in keys])))
    assert np.isclose(weights[a], 1 / np.sqrt(3)) and np.isclose(weights[b], 1 / np.sqrt(2)) and weights[c] == 1.0

    # A cell whose trajectory improves is tried again as if new.
    for reset, before, after in ((True, (1, 1), (0, 0)), (False, (1, 2), (1, 3))):
        ge = GoExplore(_Line(), cell="observation_hash", reset_counts_on_update=reset)
        ge.learn(0)
        ge.iterate(a, [2, 1])  # reaches b in 2 steps: new (seen once, reset to 0 when resetting)
        ge.iterate(b, [2])  # b chosen and seen once more, its 3-step path no better
        assert (ge.archive[b].chosen, ge.archive[b].seen) == before
        ge.iterate(a, [1])  # reaches b in 1 step: improved
        assert ge.archive[b].actions == [1]
        assert (ge.archive[b].chosen, ge.archive[b].seen) == after  # reset, or seen once more


def test_downscaled_cell_groups_nearby_frames_and_separates_distant_ones():
    from sparsegym.agents.go_explore import cell_function, downscale, downscaled_cell, observation_cell

    assert downscale(np.array([[0, 255, 255, 255]]), (2, 1), 8).tolist() == [[4, 7]]  # means 127.5, 255: bins 4, 7
    # area averaging: 4x4 -> 2x2 averages each 2x2 block; 4 levels over [0, 255]
    frame = np.array([[0, 0, 255, 255], [0, 0, 255, 255], [255, 255, 0, 0], [255, 255, 0, 128]])
    assert downscale(frame, (2, 2), 4).tolist() == [[0, 3], [3, 0]]

    def sprite(row, col):  # an 80x88 RGB frame with a white 4x4 sprite
        f = np.zeros((80, 88, 3), np.uint8)
        f[row:row + 4, col:col + 4] = 255
        return f

    # 80x88 -> 8 x 11 blocks of 10x8 pixels: a sprite moved a pixel within its block keeps the cell
    # (block mean 16 * 255 / 80 = 51 -> bin 1 of 8), one in another block does not
    near = {downscaled_cell(None, sprite(22, 17)), downscaled_cell(None, sprite(22, 18)),
            downscaled_cell(None, sprite(23, 17)), downscaled_cell(None, sprite(24, 19))}
    assert len(near) == 1
    shape, data = near.pop()
    small = np.frombuffer(data, np.uint8).reshape(shape)
    assert shape == (8, 11) and small[2, 2] == 1 and small.sum() == 1
    assert downscaled_cell(None, sprite(62, 58)) != (shape, data)
    assert observation_cell(None, sprite(22, 17)) != observation_cell(None, sprite(22, 18))  # the old cell
    # dict observations use their image; a family without a cell falls back to the downscaled cell
    obs = {"image": sprite(22, 17), "direction": 0}
    assert downscaled_cell(None, obs) == (shape, data)
    line = _Line()
    assert cell_function(line, "auto") is downscaled_cell
    assert cell_function(line, "auto", fallback="observation_hash") is observation_cell
    assert cell_function(line, "observation") is observation_cell


def test_go_explore_solves_doorkey_with_the_old_selection_options():
    ge = GoExplore(sparsegym.make(DOORKEY5), seed=0, selection="times_chosen", reset_counts_on_update=False,
                   fallback_cell="observation_hash")
    assert ge.learn(20_000)["success"]
