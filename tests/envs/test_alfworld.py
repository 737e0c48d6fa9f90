"""ALFWorld family: generated games in ALFWorld's format, won by ALFWorld's expert; the env's contract,
determinism, old/new command syntax, clear errors for bad game files, and the real-dataset path.

Games are generated into a per-session cache (a few games: ~1-3 s each on one core)."""

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("textworld")
pytest.importorskip("alfworld")

import sparsegym  # noqa: E402
from sparsegym.checks import check_env_id  # noqa: E402
from sparsegym.envs.alfworld import generator as gen  # noqa: E402
from sparsegym.envs.alfworld.actions import normalize, to_legacy  # noqa: E402
from sparsegym.envs.alfworld.env import ALFWorldEnv, GameFileError, read_game  # noqa: E402
from sparsegym.envs.registry import list_envs  # noqa: E402

IDS = list_envs(family="alfworld")
SMALL = {"num_games": 2}  # a pool of two games per task type keeps generation in tests small


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """Every test of this module generates into one temporary cache ($SPARSEGYM_CACHE)."""
    home = tmp_path_factory.mktemp("sparsegym_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("SPARSEGYM_CACHE", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def games(cache):
    """Game 0 of the train split for every task type."""
    return {t: gen.generate_game(t, "train", 0) for t in gen.TASK_TYPES}


def _play(env, commands):
    obs, info = env.reset(seed=0)
    for command in commands:
        obs, reward, terminated, truncated, info = env.step(command)
        if terminated or truncated:
            break
    return obs, reward, terminated, truncated, info


def test_ids_and_suite():
    assert len(IDS) == 14
    assert "sparsegym/ALFWorld-v0" in IDS and "sparsegym/ALFWorld-PickTwo-Unseen-v0" in IDS
    from sparsegym.leaderboards.suites import get_suite

    suite = get_suite("alfworld")
    assert len(suite.env_ids) == 6 and all(i.endswith("-Unseen-v0") for i in suite.env_ids)
    assert suite.extras == ["text"]


@pytest.mark.parametrize("task_type", gen.TASK_TYPES)
def test_generated_game_of_each_type_is_won_by_the_expert(games, task_type):
    folder = games[task_type]
    traj, game = read_game(folder)
    assert traj["task_type"] == task_type and game["solvable"] is True
    assert set(traj["pddl_params"]) >= {"object_target", "parent_target", "toggle_target", "mrecep_target", "object_sliced"}
    assert "UNKNOWN GOAL" not in game["grammar"] and "(:goal" in game["pddl_problem"]
    # the stored walkthrough wins in the env...
    env = ALFWorldEnv(task=task_type)
    obs, info = env.reset(options={"game_dir": folder})
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-") and info["task"]
    for command in game["walkthrough"]:
        assert not info["success"]
        obs, reward, terminated, truncated, info = env.step(command)
        assert info["action_error"] is None, (command, obs)
    assert terminated and not truncated and reward == 1.0 and info["success"]
    assert info["reward_components"] == {"extrinsic": 1.0}
    # ...and ALFWorld's handcoded expert wins the game file again from scratch.
    assert gen.expert_walkthrough(folder / "game.tw-pddl", seed=1) is not None


def test_generation_is_deterministic_and_cached(games, tmp_path):
    again = gen.generate_game("pick_heat_then_place_in_recep", "train", 0, cache_dir=tmp_path)
    first = games["pick_heat_then_place_in_recep"]
    for name in ("traj_data.json", "game.tw-pddl"):
        assert (again / name).read_text() == (first / name).read_text()
    stamp = (again / "game.tw-pddl").stat().st_mtime_ns
    assert gen.generate_game("pick_heat_then_place_in_recep", "train", 0, cache_dir=tmp_path) == again
    assert (again / "game.tw-pddl").stat().st_mtime_ns == stamp  # read from the cache, not rewritten


def test_splits_use_disjoint_floor_plans():
    train, seen, unseen = (set(gen.floor_plans(s)) for s in gen.SPLITS)
    assert train == seen and not train & unseen and len(train | unseen) == 120
    assert set(gen.floor_plans("train", "pick_heat_then_place_in_recep")) <= set(range(1, 31))
    assert gen.game_seed("pick_and_place_simple", "train", 3) != gen.game_seed("pick_and_place_simple", "seen", 3)


def test_unseen_game_comes_from_a_held_out_floor_plan(cache):
    folder = gen.generate_game("pick_and_place_simple", "unseen", 0)
    traj, _ = read_game(folder)
    assert traj["scene"]["scene_num"] in gen.floor_plans("unseen")


def test_check_env_on_one_id(games):
    result = check_env_id("sparsegym/ALFWorld-PickAndPlace-v0", seed=0, env_kwargs=SMALL)
    assert result.ok, result.problems


def test_same_seed_same_game_and_observations(games):
    def run(seed):
        env = sparsegym.make("sparsegym/ALFWorld-v0", **SMALL)
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        out = [obs]
        for _ in range(8):
            obs, *_ = env.step(info["admissible_actions"][int(rng.integers(len(info["admissible_actions"])))])
            out.append(obs)
        return info["gamefile"], out

    a, b = run(5), run(5)
    assert a == b
    assert any(run(s) != a for s in (6, 7, 8))


def test_old_and_new_syntax_both_place_the_object(games):
    plan = read_game(games["pick_and_place_simple"])[1]["walkthrough"]
    assert plan[-1].startswith("move ")
    for last in (plan[-1], to_legacy(plan[-1]), to_legacy(plan[-1]).replace("in/on", "in").upper()):
        env = ALFWorldEnv(task="PickAndPlace")
        env.reset(options={"game_dir": games["pick_and_place_simple"]})
        for command in plan[:-1]:
            env.step(command)
        obs, reward, terminated, _, info = env.step(last)
        assert obs.startswith("You move the ") and terminated and info["success"], last


def test_normalize_forms():
    assert normalize("put apple 1 in/on fridge 1") == "move apple 1 to fridge 1"
    assert normalize("put apple 1 on countertop 1") == "move apple 1 to countertop 1"
    assert normalize("Place  Mug 2 into  Cabinet 3") == "move mug 2 to cabinet 3"
    assert normalize("move apple 1 to fridge 1") == "move apple 1 to fridge 1"
    assert normalize("take apple 1 from fridge 1") == "take apple 1 from fridge 1"
    assert to_legacy("move apple 1 to fridge 1") == "put apple 1 in/on fridge 1"


def test_unknown_command_is_an_action_error_not_an_exception(games):
    env = ALFWorldEnv(task="Clean")
    obs, info = env.reset(options={"game_dir": games["pick_clean_then_place_in_recep"]})
    obs, reward, terminated, truncated, info = env.step("fly to the moon")
    assert obs == "Nothing happens." and reward == 0.0 and not terminated
    assert "admissible_actions" in info["action_error"] and info["admissible_actions"]
    _, _, _, _, info = env.step("look")
    assert info["action_error"] is None


def test_step_limit_truncates(games):
    env = ALFWorldEnv(task="Cool", max_steps=3)
    env.reset(options={"game_dir": games["pick_cool_then_place_in_recep"]})
    ends = [env.step("look")[3] for _ in range(3)]
    assert ends == [False, False, True]


@pytest.mark.parametrize("name", ["game.tw-pddl", "traj_data.json"])
def test_malformed_game_file_names_the_file(games, tmp_path, name):
    folder = tmp_path / "bad"
    shutil.copytree(games["pick_and_place_simple"], folder)
    (folder / name).write_text("{ this is not json")
    env = ALFWorldEnv(task="PickAndPlace")
    with pytest.raises(GameFileError, match=str(folder / name)):
        env.reset(options={"game_dir": folder})


def test_broken_pddl_problem_names_the_file(games, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(games["pick_and_place_simple"], folder)
    game = json.loads((folder / "game.tw-pddl").read_text())
    game["pddl_problem"] = game["pddl_problem"].replace("(:init", "(:innit", 1)
    (folder / "game.tw-pddl").write_text(json.dumps(game))
    with pytest.raises(GameFileError, match="game.tw-pddl"):
        ALFWorldEnv().reset(options={"game_dir": folder})


def test_real_data_tree_is_loaded(games, tmp_path, monkeypatch):
    """A tiny tree in the real dataset's layout (json_2.1.1/<split>/<task>/<trial>/) is played instead."""
    root = tmp_path / "alfworld_data" / "json_2.1.1"
    for split, task_types in (("train", gen.TASK_TYPES[:2]), ("valid_unseen", gen.TASK_TYPES[:1])):
        for t in task_types:
            dest = root / split / f"{t}-Thing-None-Place-1" / "trial_T0"
            shutil.copytree(games[t], dest)
            game = json.loads((dest / "game.tw-pddl").read_text())
            del game["walkthrough"]  # real games may lack one; the expert plays them instead
            (dest / "game.tw-pddl").write_text(json.dumps(game))
    sliced = root / "train" / "pick_and_place_simple-Sliced-None-Place-1" / "trial_T0"  # skipped, as ALFWorld does
    shutil.copytree(games["pick_and_place_simple"], sliced)
    monkeypatch.setenv("ALFWORLD_DATA", str(tmp_path / "alfworld_data"))

    env = sparsegym.make("sparsegym/ALFWorld-v0")
    assert env.unwrapped.real_data == root and env.unwrapped.num_games == 2
    obs, info = env.reset(seed=0)
    assert info["gamefile"].startswith(str(root / "train"))
    assert ALFWorldEnv(task="PickAndPlace", split="unseen").num_games == 1
    with pytest.raises(FileNotFoundError):
        ALFWorldEnv(task="Heat", split="unseen")
    # the expert oracle solves a real-format game without a stored walkthrough
    from sparsegym.baselines.alfworld_expert import ALFWorldExpertAgent

    agent = ALFWorldExpertAgent(env)
    agent.reset(seed=0)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    assert info["success"]
    # data_dir="generated" ignores $ALFWORLD_DATA
    assert ALFWorldEnv(data_dir="generated", **SMALL).real_data is None


def test_expert_agent_succeeds_on_generated_games(games):
    from sparsegym.baselines.alfworld_expert import ALFWorldExpertAgent

    env = sparsegym.make("sparsegym/ALFWorld-v0", **SMALL)
    agent = ALFWorldExpertAgent(env)
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        agent.reset(seed)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
            done = terminated or truncated
        assert info["success"], info["gamefile"]


@pytest.mark.slow
@pytest.mark.parametrize("env_id", IDS)
def test_every_id_passes_the_checks(env_id):
    result = check_env_id(env_id, seed=0)
    assert result.ok, result.problems


@pytest.mark.slow
@pytest.mark.parametrize("task_type", gen.TASK_TYPES)
def test_expert_wins_many_games_per_type(task_type):
    for index in range(10):
        folder = gen.generate_game(task_type, "unseen", index)
        assert read_game(folder)[1]["solvable"]


def test_engine_memo_changes_nothing(games):
    """The scoped memoisation of the engine's parsing gives the same text and commands as without it."""
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs import PddlEnv

    from sparsegym.envs.alfworld._speedups import engine_memo

    folder = games["pick_two_obj_and_place"]
    game = read_game(folder)[1]
    commands = game["walkthrough"] + ["look", "inventory", "not a command"]

    def run(memo):
        env = AlfredInfos(AlfredDemangler(PddlEnv(textworld.EnvInfos(admissible_commands=True, won=True)),
                                          shuffle=False))
        with engine_memo(memo):
            env.load(game)
            out = []
            for _ in range(2):  # the second reset hits the translation cache
                state = env.reset()
                out.append((state.feedback, state["admissible_commands"]))
                for command in commands:
                    state, _, _ = env.step(command)
                    out.append((state.feedback, state["admissible_commands"], state["won"]))
        env.close()
        return out

    assert run(True) == run(False)
