"""Family descriptors (sparsegym.envs.family): finding a family, and what each family answers."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

import sparsegym
from sparsegym.envs.family import FamilyFeatureError, all_families, family_of, get_family, require_family
from sparsegym.envs.registry import families

DOORKEY = "sparsegym/MiniGrid-DoorKey-5x5-v0"


def test_every_registered_family_has_its_descriptor():
    assert [f.name for f in all_families()] == families()
    with pytest.raises(FamilyFeatureError, match="unknown family 'chess'; known families: alfworld, bandits"):
        get_family("chess")


def test_family_of_finds_the_family_of_any_env():
    env = sparsegym.make(DOORKEY)
    assert family_of(env).name == "minigrid"
    assert family_of(gymnasium.wrappers.RecordEpisodeStatistics(env)).name == "minigrid"
    assert family_of(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-Image-v0")).name == "minigrid"
    assert family_of(sparsegym.make("sparsegym/DynLinBandit-Rho03-v0")).name == "bandits"
    import minigrid  # noqa: F401  (registers the raw ids)

    assert family_of(gymnasium.make("MiniGrid-Empty-5x5-v0")).name == "minigrid"  # recognised by the family
    assert family_of(gymnasium.make("CartPole-v1")) is None
    with pytest.raises(FamilyFeatureError, match="CartPoleEnv belongs to none"):
        require_family(gymnasium.make("CartPole-v1"), "this test")


def test_what_a_family_lacks_is_a_clear_error():
    with pytest.raises(FamilyFeatureError, match="the bandits family provides no state key 'position'|no state key"):
        get_family("bandits").state_key("position")
    with pytest.raises(FamilyFeatureError, match="text view .its envs are text-native already"):
        get_family("textworld").make_text_view(None)
    with pytest.raises(FamilyFeatureError, match="no state key 'smell'; it has: full, grid, position"):
        get_family("minigrid").state_key("smell")
    with pytest.raises(FamilyFeatureError, match="no potential 'warmth'; it has: distance_to_goal, doorkey_progress"):
        get_family("minigrid").potential("warmth")


def test_minigrid_state_keys_and_cell_read_the_symbolic_state():
    env = sparsegym.make(DOORKEY)
    fam = get_family("minigrid")
    obs, _ = env.reset(seed=0)
    core = env.unwrapped.core
    assert fam.state_key("position")(env, obs) == (*map(int, core.agent_pos), int(core.agent_dir))
    before_full, before_cell = fam.state_key("full")(env, obs), fam.go_explore_cell()(env, obs)
    obs, *_ = env.step(1)  # turn right: same cell, new heading
    assert fam.go_explore_cell()(env, obs) == before_cell and fam.state_key("full")(env, obs) != before_full
    obs, *_ = env.step(0)  # and back: the full state recurs
    assert fam.state_key("full")(env, obs) == before_full


def test_nethack_keys_read_the_bottom_line_and_message():
    pytest.importorskip("nle")
    from nle import nethack

    from sparsegym.envs.nethack import keys

    assert (keys.BL_X, keys.BL_Y, keys.BL_DEPTH, keys.BL_DLEVEL) == (
        nethack.NLE_BL_X, nethack.NLE_BL_Y, nethack.NLE_BL_DEPTH, nethack.NLE_BL_DLEVEL)
    env = sparsegym.make("sparsegym/MiniHack-Room-5x5-v0")
    obs, _ = env.reset(seed=0)
    fam = get_family("nethack")
    depth, dlevel, x, y = fam.state_key("position")(env, obs)
    assert (x, y) == (int(obs["blstats"][0]), int(obs["blstats"][1])) and depth >= 1
    assert isinstance(fam.state_key("message")(env, obs), str)
    assert fam.go_explore_cell()(env, obs) == (depth, dlevel, x, y)


def test_nethack_text_view_is_forgiving_and_strict_on_request():
    pytest.importorskip("nle")
    from sparsegym.errors import InvalidActionError
    from sparsegym.wrappers import TextObservation

    env = TextObservation(sparsegym.make("sparsegym/MiniHack-Room-5x5-v0"))
    text, info = env.reset(seed=0)
    assert text.startswith("Message:") and "north" in info["admissible_actions"]
    default = env.action_names[env.view.default_action]
    text, r, term, trunc, info = env.step("dance wildly")
    assert info["invalid_actions"] == 1 and f"Played '{default}' instead." in text
    assert "Actions (reply with exactly one):" in env.instructions() and "- north" in env.instructions()
    strict = TextObservation(sparsegym.make("sparsegym/MiniHack-Room-5x5-v0"), strict_actions=True)
    strict.reset(seed=0)
    with pytest.raises(InvalidActionError, match="Valid actions: north"):
        strict.step("dance wildly")


def test_encoders_are_found_by_observation_space():
    pytest.importorskip("torch")
    from sparsegym.envs.encoders import encoder_for
    from sparsegym.envs.minigrid.encoder import MiniGridEncoder

    space = sparsegym.make(DOORKEY).observation_space
    assert encoder_for(space) is MiniGridEncoder
    assert encoder_for(gymnasium.spaces.Box(0, 1, (4,))) is None
    import torch

    enc = MiniGridEncoder(space, 32)
    obs = {k: torch.as_tensor(np.stack([v, v])) for k, v in space.sample().items()}
    assert enc(obs).shape == (2, 32)


def test_potentials_and_cells_by_name():
    from sparsegym.agents.go_explore import cell_function, downscaled_cell, observation_cell
    from sparsegym.wrappers import PotentialShaping

    env = PotentialShaping(sparsegym.make("sparsegym/MiniGrid-FourRooms-v0"), "distance_to_goal")
    _, info = env.reset(seed=0)
    assert -1.0 <= info["potential"] < 0.0
    bandit = sparsegym.make("sparsegym/DynLinBandit-Rho03-v0")
    assert cell_function(bandit, "auto") is downscaled_cell  # no domain-knowledge cell: the downscaled frame
    assert cell_function(bandit, "auto", fallback="observation_hash") is observation_cell
    with pytest.raises(FamilyFeatureError, match="the bandits family provides no Go-Explore cell"):
        cell_function(bandit, "family")


def test_the_bandit_text_view_keeps_the_record_a_player_would():
    from sparsegym.errors import InvalidActionError
    from sparsegym.wrappers import TextObservation

    env = TextObservation(sparsegym.make("sparsegym/LSDBandit-Recharging-v0"))
    text, info = env.reset(seed=0)
    assert text.startswith("Round 1 of 1000.") and "Arm 2: not pulled yet." in text
    assert info["admissible_actions"] == ["pull arm 0", "pull arm 1", "pull arm 2"]
    rewards = []
    for reply in ("pull arm 1", "Arm 1", "1", "pull arm 0"):
        text, r, *_ = env.step(reply)
        rewards.append(r)
    assert text.startswith("Round 5 of 1000.") and f"got reward {rewards[-1]:.3f}" in text
    assert f"Arm 1: pulled 3 times, mean reward {sum(rewards[:3]) / 3:.3f}." in text
    assert env.parse("pull arm 2") == 2
    with pytest.raises(InvalidActionError, match="Valid actions: pull arm 0, pull arm 1, pull arm 2"):
        env.parse("pull arm 7")
    text, *_ = env.reset(seed=1)
    assert "Arm 1: not pulled yet." in text  # the record starts over with the episode
