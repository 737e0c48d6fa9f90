"""Properties the papers promise, for shaping, gating, subgoals and counts."""

import warnings

import numpy as np
import pytest

pytest.importorskip("minigrid")

import sparsegym  # noqa: E402
from sparsegym.envs.minigrid import subgoals as sg  # noqa: E402
from sparsegym.envs.minigrid.potentials import doorkey_progress, minigrid_distance_to_goal  # noqa: E402
from sparsegym.wrappers import (  # noqa: E402
    CountBonus,
    GatedReward,
    PotentialShaping,
    SubgoalReward,
    TextObservation,
)
from sparsegym.wrappers.shaping import discounted_return  # noqa: E402

DOORKEY5 = "sparsegym/MiniGrid-DoorKey-5x5-v0"
SOLUTION = [1, 3, 2, 2, 1, 5, 2, 2, 1, 2, 2]  # seed 0
LONGER = [0, 1, 1, 3, 0, 1, 2, 2, 1, 5, 2, 2, 1, 2, 2]  # the same, with a detour of turns


def _run(env, actions, seed=0):
    obs, info = env.reset(seed=seed)
    phi0 = info.get("potential")
    rewards, extrinsic, infos = [], [], []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        extrinsic.append(info["reward_components"]["extrinsic"])
        infos.append(info)
        assert r == pytest.approx(sum(info["reward_components"].values()))  # the components contract
        if term or trunc:
            break
    return rewards, extrinsic, infos, phi0, term, trunc


@pytest.mark.parametrize("potential", [minigrid_distance_to_goal(), doorkey_progress(scale=2.0)])
@pytest.mark.parametrize("gamma", [0.9, 0.99, 1.0])
def test_shaped_return_is_original_minus_initial_potential(potential, gamma):
    env = PotentialShaping(sparsegym.make(DOORKEY5), potential, gamma=gamma)
    rewards, extrinsic, _, phi0, terminated, _ = _run(env, SOLUTION)
    assert terminated
    assert discounted_return(rewards, gamma) == pytest.approx(discounted_return(extrinsic, gamma) - phi0)


def test_shaping_keeps_the_ranking_of_trajectories_from_one_start():
    gamma = 0.99
    returns = {}
    for shaped in (False, True):
        for name, plan in (("short", SOLUTION), ("long", LONGER)):
            env = sparsegym.make(DOORKEY5)
            if shaped:
                env = PotentialShaping(env, minigrid_distance_to_goal(), gamma=gamma)
            rewards, *_ = _run(env, plan)
            returns[shaped, name] = discounted_return(rewards, gamma)
    assert returns[False, "short"] > returns[False, "long"]
    assert returns[True, "short"] > returns[True, "long"]
    assert returns[True, "short"] - returns[True, "long"] == pytest.approx(returns[False, "short"] - returns[False, "long"])


def test_truncated_episode_keeps_the_last_potential():
    gamma = 0.95
    env = PotentialShaping(sparsegym.make(DOORKEY5, max_steps=6), minigrid_distance_to_goal(), gamma=gamma)
    rewards, extrinsic, infos, phi0, terminated, truncated = _run(env, [2] * 10)
    assert truncated and not terminated and len(rewards) == 6
    phi_T = infos[-1]["potential"]
    assert phi_T != 0.0
    assert discounted_return(rewards, gamma) == pytest.approx(discounted_return(extrinsic, gamma) + gamma**6 * phi_T - phi0)


def test_distance_potential_values():
    env = PotentialShaping(sparsegym.make(DOORKEY5), minigrid_distance_to_goal(scale=1.0), gamma=1.0)
    _, info = env.reset(seed=0)
    # From (1, 3) the goal at (3, 3) is 6 moves away through the door at (2, 1): the wall between blocks.
    assert info["potential"] == -6.0
    with pytest.raises(ValueError, match="needs a task with a goal square"):
        PotentialShaping(sparsegym.make("sparsegym/MiniGrid-Unlock-v0"), minigrid_distance_to_goal()).reset(seed=0)


def _doorkey_subgoals(**kw):
    return SubgoalReward(sparsegym.make(DOORKEY5), [sg.picked_up("key", "yellow"), sg.opened_door("yellow")], bonus=0.1, **kw)


def test_subgoals_pay_once_per_episode():
    env = _doorkey_subgoals()
    env.reset(seed=0)
    env.step(1)
    _, r, *_, info = env.step(3)  # pick up the key
    assert r == pytest.approx(0.1) and info["subgoals_new"] == ["picked up yellow key"]
    _, r, *_, info = env.step(4)  # drop it
    _, r, *_, info = env.step(3)  # and pick it up again: no second payment
    assert r == 0.0 and info["subgoals_new"] == [] and info["subgoals_achieved"] == ["picked up yellow key"]
    _, info = env.reset(seed=0)
    assert info["subgoals_achieved"] == []
    env.step(1)
    _, r, *_ = env.step(3)
    assert r == pytest.approx(0.1)  # a new episode pays again


def test_ordered_subgoals_pay_only_in_order():
    env = SubgoalReward(sparsegym.make(DOORKEY5), [sg.opened_door("yellow", bonus=0.5), sg.picked_up("key")], ordered=True)
    env.reset(seed=0)
    env.step(1)
    _, r, *_, info = env.step(3)  # the key first: out of order, nothing
    assert r == 0.0 and info["subgoals_new"] == []
    for a in (2, 2, 1):
        env.step(a)
    _, r, *_, info = env.step(5)  # open the door: the first subgoal, then the second (still holding the key)
    assert info["subgoals_new"] == ["opened yellow door", "picked up key"]
    assert r == pytest.approx(0.6)


def test_subgoal_spec_and_instructions(tmp_path):
    spec = [{"type": "instruction", "text": "pick up the yellow key"},
            {"type": "opened_door", "color": "yellow", "bonus": 0.3},
            {"type": "reached_position", "pos": [3, 3], "name": "at goal"},
            {"type": "entered_room", "top_left": [3, 1], "size": [1, 3]}]
    path = tmp_path / "subgoals.json"
    import json

    path.write_text(json.dumps({"subgoals": spec}))
    goals = sg.from_spec(path)
    assert [g.name for g in goals] == ["pick up the yellow key", "opened yellow door", "at goal", "entered room at (3, 1)"]
    env = SubgoalReward(sparsegym.make(DOORKEY5), goals, bonus=0.1)
    _, _, infos, *_ = _run(env, SOLUTION)
    assert infos[-1]["subgoals_achieved"] == ["pick up the yellow key", "opened yellow door", "entered room at (3, 1)", "at goal"]
    assert sum(i["reward_components"].get("subgoals", 0.0) for i in infos) == pytest.approx(0.1 + 0.3 + 0.1 + 0.1)


@pytest.mark.parametrize(
    "spec,match",
    [([{"type": "teleport"}], "unknown type 'teleport'"),
     ([{"type": "picked_up", "object": "sword"}], "unknown object type 'sword'"),
     ([{"type": "picked_up", "colour": "red"}], "unknown field 'colour'"),
     ([{"type": "instruction", "text": "dance"}], "cannot read instruction 'dance'"),
     ([], "non-empty list")],
)
def test_bad_subgoal_specs_say_what_is_wrong(spec, match):
    with pytest.raises(ValueError, match=match):
        sg.from_spec(spec)


def test_instruction_forms():
    assert sg.from_instruction("Open the red door.").name == "Open the red door."
    for text in ("pick up a ball", "go to the purple box", "go to (3, 4)", "grab the green key"):
        sg.from_instruction(text)


def _gated(threshold=1.0, **kw):
    return GatedReward(SubgoalReward(sparsegym.make(DOORKEY5, **kw), [sg.picked_up("key"), sg.opened_door()], bonus=0.1),
                       threshold=threshold)


def test_gate_releases_step_rewards_when_the_outcome_passes():
    rewards, extrinsic, infos, _, terminated, _ = _run(_gated(), SOLUTION)
    assert terminated and infos[-1]["success"]
    assert all(r == e for r, e in zip(rewards[:-1], extrinsic[:-1]))  # withheld while the episode runs
    assert infos[-1]["gate"] == {"withheld": pytest.approx(0.2), "released": True, "outcome": 1.0}
    assert sum(rewards) == pytest.approx(sum(extrinsic) + 0.2)


def test_gate_withholds_step_rewards_when_the_outcome_fails():
    rewards, extrinsic, infos, _, terminated, truncated = _run(_gated(max_steps=8), SOLUTION)
    assert truncated and not infos[-1]["success"]
    assert infos[-1]["gate"]["released"] is False and infos[-1]["gate"]["withheld"] == pytest.approx(0.2)
    assert sum(rewards) == pytest.approx(sum(extrinsic)) == 0.0


def test_gate_options():
    with pytest.raises(ValueError, match="never gated"):
        GatedReward(sparsegym.make(DOORKEY5), gated=["extrinsic"])
    with pytest.raises(ValueError, match="outcome must be"):
        GatedReward(sparsegym.make(DOORKEY5), outcome="vibes")
    # a return threshold above what the episode earns withholds even on success
    env = GatedReward(SubgoalReward(sparsegym.make(DOORKEY5), [sg.picked_up("key")], bonus=0.1), outcome="return",
                      threshold=0.99)
    rewards, extrinsic, infos, *_ = _run(env, SOLUTION)
    assert infos[-1]["gate"]["released"] is False and sum(rewards) == pytest.approx(sum(extrinsic))


def test_count_bonus_shrinks_with_visits_and_episodic_counts_restart():
    env = CountBonus(sparsegym.make(DOORKEY5), beta=1.0, key="position")
    env.reset(seed=0)
    bonuses = [env.step(a)[4]["reward_components"]["count"] for a in (1, 0, 1, 0, 1)]
    # states: B(1), A(2), B(2), A(3), B(3)
    assert bonuses == pytest.approx([1, 1 / np.sqrt(2), 1 / np.sqrt(2), 1 / np.sqrt(3), 1 / np.sqrt(3)])
    env.reset(seed=0)
    assert env.step(1)[4]["visit_count"] == 4  # global: still counting

    ep = CountBonus(sparsegym.make(DOORKEY5), beta=1.0, key="position", episodic=True)
    ep.reset(seed=0)
    ep.step(1)
    ep.reset(seed=0)
    *_, info = ep.step(1)
    assert info["visit_count"] == 1 and info["reward_components"]["episodic_count"] == 1.0


def test_first_visit_bonus_pays_once_per_episode():
    env = CountBonus(sparsegym.make(DOORKEY5), beta=0.5, key="grid", first_visit=True)
    env.reset(seed=0)
    assert [env.step(a)[1] for a in (1, 0, 1)] == [0.5, 0.0, 0.0]
    env.reset(seed=0)
    assert env.step(1)[1] == 0.5


def test_count_keys():
    with pytest.raises(ValueError, match="unknown state key 'smell'"):
        CountBonus(sparsegym.make(DOORKEY5), key="smell")
    text_env = CountBonus(TextObservation(sparsegym.make(DOORKEY5)), key="text", beta=1.0)
    text_env.reset(seed=0)
    _, r, *_ = text_env.step("turn right")
    assert r == 1.0


def test_wrapped_envs_pass_the_env_checker():
    from gymnasium.utils.env_checker import check_env

    # Episodic counts: global counts (like learned bonuses) carry state across episodes on purpose, so
    # the same seed need not give the same bonus twice, which the checker's determinism test demands.
    stack = GatedReward(CountBonus(PotentialShaping(SubgoalReward(sparsegym.make(DOORKEY5), [sg.picked_up("key")]),
                                                    minigrid_distance_to_goal()), key="position", episodic=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*is different from the unwrapped version.*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        check_env(stack, skip_render_check=True)


def test_documented_stacking_order_keeps_every_component():
    env = TextObservation(GatedReward(CountBonus(PotentialShaping(
        SubgoalReward(sparsegym.make(DOORKEY5), [sg.picked_up("key")]), minigrid_distance_to_goal()), key="position")))
    text, _ = env.reset(seed=0)
    assert text.startswith("Mission:")
    commands = ["turn right", "pick up", "go forward", "go forward", "turn right", "toggle", "go forward",
                "go forward", "turn right", "go forward", "go forward"]
    total, extrinsic = 0.0, 0.0
    for c in commands:
        text, r, term, trunc, info = env.step(c)
        total += r
        extrinsic += info["reward_components"]["extrinsic"]
        assert set(info["reward_components"]) >= {"extrinsic", "shaping", "count"}
        assert r == pytest.approx(sum(info["reward_components"].values()))
    assert term and info["success"] and info["gate"]["released"]
    assert info["subgoals_achieved"] == ["picked up key"]
    assert extrinsic == pytest.approx(1 - 0.9 * 11 / 250)  # the task's own reward is untouched
