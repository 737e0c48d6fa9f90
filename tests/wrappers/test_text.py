"""The text view describes what the agent sees; every text action round-trips; bad ones raise."""

import gymnasium
import numpy as np
import pytest

from sparsegym.envs.minigrid import text as mgtext
from sparsegym.errors import InvalidActionError, SparseGymError

minigrid = pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.wrappers import TextObservation  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def test_encoding_tables_match_installed_minigrid():
    from minigrid.core import constants as c

    assert list(mgtext.IDX_TO_OBJECT) == [c.IDX_TO_OBJECT[i] for i in range(len(c.IDX_TO_OBJECT))]
    assert list(mgtext.IDX_TO_COLOR) == [c.IDX_TO_COLOR[i] for i in range(len(c.IDX_TO_COLOR))]
    assert list(mgtext.IDX_TO_STATE) == sorted(c.STATE_TO_IDX, key=c.STATE_TO_IDX.get)
    assert [tuple(v) for v in c.DIR_TO_VEC] == list(mgtext.DIR_TO_VEC)
    from minigrid.core.actions import Actions

    assert [mgtext.parse_action(n) for n in mgtext.ACTION_NAMES] == [a.value for a in Actions]


def test_describes_a_known_position_exactly():
    env = TextObservation(sparsegym.make(DOORKEY5))
    text, info = env.reset(seed=0)
    assert text == (
        "Mission: use the key to open the door and then get to the goal\n"
        "You are facing west.\n"
        "You are carrying nothing.\n"
        "Directly in front of you: a wall.\n"
        "You see:\n"
        "- a yellow key 1 step to the right\n"
        "Nearest walls: 1 step ahead, 1 step to the left, 3 steps to the right."
    )
    text, *_ = env.step("turn right")
    assert "You are facing north." in text
    assert "Directly in front of you: a yellow key." in text
    assert "- a locked yellow door 2 steps ahead and 1 step to the right" in text
    text, *_ = env.step("pick up")
    assert "You are carrying a yellow key." in text
    assert "Directly in front of you: nothing." in text


def test_full_view_text_uses_the_agents_frame():
    env = TextObservation(sparsegym.make(DOORKEY5, view="full"))
    text, _ = env.reset(seed=0)
    # Facing west at (1, 3): the goal at (3, 3) is behind, the door at (2, 1) behind and to the right.
    assert "- the green goal 2 steps behind" in text
    assert "- a locked yellow door 1 step behind and 2 steps to the right" in text
    assert text.index("yellow key") < text.index("green goal")  # nearest first


def test_text_view_plays_a_whole_episode_to_success():
    env = TextObservation(sparsegym.make(DOORKEY5))
    env.reset(seed=0)
    plan = ["turn right", "pick up", "go forward", "forward", "Turn right.", "open", "go forward",
            "move forward", "right", "GO FORWARD", "go_forward"]
    for command in plan:
        text, reward, terminated, truncated, info = env.step(command)
    assert terminated and info["success"] and reward > 0
    assert info["action_index"] == 2


@pytest.mark.parametrize("index,name", list(enumerate(mgtext.ACTION_NAMES)))
def test_every_canonical_action_round_trips(index, name):
    env = TextObservation(sparsegym.make(DOORKEY5))
    env.reset(seed=0)
    assert env.parse(name) == index
    assert env.parse(name.upper() + "!") == index
    assert env.parse(f"  {name}  ") == index
    assert env.parse(index) == index
    *_, info = env.step(name)
    assert info["action_index"] == index
    assert info["admissible_actions"] == list(mgtext.ACTION_NAMES)


@pytest.mark.parametrize(
    "alias,index",
    [("left", 0), ("rotate right", 1), ("forward", 2), ("move ahead", 2), ("pickup", 3), ("take", 3),
     ("put down", 4), ("open", 5), ("unlock", 5), ("use", 5)],
)
def test_aliases(alias, index):
    assert mgtext.parse_action(alias) == index


@pytest.mark.parametrize("bad", ["jump", "", "turn around", "go forward twice", "watch tv"])
def test_a_reply_naming_no_action_plays_the_default_and_is_counted(bad):
    env = TextObservation(sparsegym.make(DOORKEY5))
    env.reset(seed=0)
    core = env.unwrapped.core
    before = (tuple(core.agent_pos), core.agent_dir, core.step_count)
    text, reward, terminated, truncated, info = env.step(bad)
    assert info["action_index"] == 6 and info["invalid_actions"] == 1  # "done": nothing moves, a step passes
    assert (tuple(core.agent_pos), core.agent_dir) == before[:2] and core.step_count == before[2] + 1
    assert "Valid actions: turn left, turn right, go forward, pick up, drop, toggle, done" in info["action_error"]
    assert text.startswith("Invalid action: ") and "Played 'done' instead." in text.splitlines()[0]
    text, reward, terminated, truncated, info = env.step("turn left")
    assert info["action_error"] is None and info["invalid_actions"] == 1
    env.step(bad)
    assert env.reset(seed=1)[1]["invalid_actions"] == 0


@pytest.mark.parametrize("bad", ["jump", "", "watch tv"])
def test_strict_actions_raise_before_anything_is_played(bad):
    env = TextObservation(sparsegym.make(DOORKEY5), strict_actions=True)
    env.reset(seed=0)
    steps = env.unwrapped.core.step_count
    with pytest.raises(InvalidActionError) as info:
        env.step(bad)
    assert "Valid actions: turn left, turn right, go forward, pick up, drop, toggle, done" in str(info.value)
    assert env.unwrapped.core.step_count == steps


@pytest.mark.parametrize("bad", [7, -1, 1.5, None])
def test_a_bad_index_is_a_bug_and_raises_even_when_forgiving(bad):
    env = TextObservation(sparsegym.make(DOORKEY5))
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match="Valid actions"):
        env.step(bad)


def test_noisy_tv_action_is_available_in_text():
    env = TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-8x8-NoisyTV-v0"))
    env.reset(seed=0)
    assert env.parse("watch tv") == 7 and env.parse("change channel") == 7
    text, *_ = env.step("watch tv")
    assert isinstance(text, str) and env.observation_space.contains(text)


def test_works_on_raw_minigrid_envs():
    env = TextObservation(gymnasium.make("MiniGrid-DoorKey-5x5-v0"))
    text, info = env.reset(seed=0)
    assert text.startswith("Mission: use the key to open the door")
    assert info["mission"] == "use the key to open the door and then get to the goal"
    text, *_ = env.step("turn right")
    assert "Directly in front of you: a yellow key." in text


def test_observations_fit_the_text_space_on_every_minigrid_id():
    for env_id in sparsegym.list_envs(family="minigrid"):
        env = TextObservation(sparsegym.make(env_id))
        env.action_space.seed(0)
        text, _ = env.reset(seed=0)
        assert env.observation_space.contains(text), env_id
        for _ in range(20):
            text, *_ = env.step(int(np.random.default_rng(0).integers(0, 3)))
            assert env.observation_space.contains(text), env_id


def _textworld_like():
    """An env of a text-native family, but with a Discrete action space so that only the view is missing."""
    from sparsegym.envs.family import get_family  # noqa: F401

    class Fake(gymnasium.Env):
        family = "textworld"
        observation_space = gymnasium.spaces.Discrete(2)
        action_space = gymnasium.spaces.Discrete(2)

    return Fake()


def test_rejects_envs_of_no_family_and_families_without_a_view():
    with pytest.raises(SparseGymError, match="TextObservation needs to know the env's family, and CartPoleEnv"):
        TextObservation(gymnasium.make("CartPole-v1"))
    with pytest.raises(SparseGymError, match="the textworld family provides no text view .its envs are text-native"):
        TextObservation(_textworld_like())


def test_describe_runs_on_arrays_without_an_env():
    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = 1  # empty floor everywhere
    image[3, 4] = (6, 2, 0)  # a blue ball two steps ahead of the agent at (3, 6)
    out = mgtext.describe(image, direction=0)
    assert "- a blue ball 2 steps ahead" in out
    assert "You are facing east." in out


def test_same_text_from_the_image_only_observation():
    a = TextObservation(sparsegym.make(DOORKEY5))
    b = TextObservation(sparsegym.make(DOORKEY5, obs="image"))
    assert a.reset(seed=3)[0] == b.reset(seed=3)[0]
    assert a.step("turn left")[0] == b.step("turn left")[0]
