"""TextWorld family with TextWorld installed: generation and cache, the env contract, rewards, splits,
the oracle on the leaderboard."""

from __future__ import annotations

import time

import gymnasium
import pytest

from sparsegym.envs.registry import get_entry
from sparsegym.envs.textworld.games import GameSpec

textworld = pytest.importorskip("textworld")


def _play(env, commands):
    total, rewards = 0.0, []
    for cmd in commands:
        obs, r, term, trunc, info = env.step(cmd)
        rewards.append(r)
        total += r
        if term or trunc:
            break
    return obs, rewards, term, trunc, info


@pytest.mark.parametrize("env_id", [
    "sparsegym/TextWorld-W2-O3-Q4-v0",
    "sparsegym/TextWorld-Simple-Test-v0",
    "sparsegym/TextWorld-CoinCollector-L5-v0",
    "sparsegym/TextWorld-TreasureHunter-L10-Test-v0",
    "sparsegym/TextWorld-Cooking-v0",
])
def test_walkthrough_wins_with_success(env_id):
    env = gymnasium.make(env_id)
    obs, info = env.reset(seed=5)
    assert obs in env.observation_space and "$$" not in obs  # banner dropped
    assert info["admissible_actions"] == sorted(info["admissible_actions"]) and info["admissible_actions"]
    assert info["success"] is False and info["max_score"] >= 1
    plan = env.unwrapped.walkthrough
    assert plan and "walkthrough" not in info  # the answer is not handed to agents
    obs, rewards, term, trunc, info = _play(env, plan)
    assert term and not trunc
    assert info["success"] is True and info["won"] is True
    assert sum(rewards) == info["score"] == info["max_score"]
    assert info["reward_components"] == {"extrinsic": rewards[-1]}
    # the game is over: a further command is refused, the episode stays terminated
    obs, r, term, trunc, info = env.step("look")
    assert term and r == 0.0 and "game is over" in info["action_error"]


def test_dense_and_sparse_rewards_sum_to_the_same_final_score():
    dense = gymnasium.make("sparsegym/TextWorld-Simple-v0", reward="dense")
    sparse = gymnasium.make("sparsegym/TextWorld-Simple-v0", reward="sparse")
    dense.reset(seed=1)
    sparse.reset(seed=1)
    plan = dense.unwrapped.walkthrough
    assert plan == sparse.unwrapped.walkthrough
    _, r_dense, *_ , info_d = _play(dense, plan)
    _, r_sparse, *_ , info_s = _play(sparse, plan)
    assert sum(r_dense) == sum(r_sparse) == info_d["max_score"] > 1
    assert sum(1 for r in r_dense if r) > 1          # dense pays along the way
    assert [r for r in r_sparse if r] == [sum(r_sparse)] and r_sparse[-1] > 0  # sparse only on the win


def test_same_seed_same_game_and_observations_other_seed_other_game():
    def run(seed):
        env = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0")
        obs, info = env.reset(seed=seed)
        out = [obs]
        for cmd in ["look", "inventory", info["admissible_actions"][0]]:
            out.append(env.step(cmd)[0])
        return env.unwrapped.game_path, out

    path_a, obs_a = run(7)
    path_b, obs_b = run(7)
    path_c, _ = run(8)
    assert path_a == path_b and obs_a == obs_b
    assert path_c != path_a


def test_train_and_test_splits_use_disjoint_games():
    train = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0")
    test = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-Test-v0")
    train.reset(seed=0)
    test.reset(seed=0)
    assert "/train/" in str(train.unwrapped.game_path) and "/test/" in str(test.unwrapped.game_path)
    train_seed = int(train.unwrapped.game_path.parent.name)
    test_seed = int(test.unwrapped.game_path.parent.name)
    assert train_seed < 1_000_000 <= test_seed


def test_games_are_cached_and_reused():
    from sparsegym.envs.textworld.games import game_file

    spec = GameSpec.make("coin_collector", level=2)
    t0 = time.perf_counter()
    first = game_file(spec, "train", 42)
    made = time.perf_counter() - t0
    mtime = first.stat().st_mtime_ns
    t0 = time.perf_counter()
    second = game_file(spec, "train", 42)
    reused = time.perf_counter() - t0
    assert first == second and second.stat().st_mtime_ns == mtime
    assert reused < made / 5


def test_several_sentences_are_refused_and_episode_goes_on():
    env = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0")
    env.reset(seed=2)
    obs, r, term, trunc, info = env.step("look. inventory")
    assert "One command per step" in obs and info["action_error"] == obs
    assert not term and not trunc and r == 0.0
    obs, r, term, trunc, info = env.step("look")
    assert info["action_error"] is None and "-=" in obs  # the room description


def test_control_characters_in_a_command_do_not_crash_the_interpreter():
    """A language model's reply can hold backspaces and other control bytes; frotz's line editor crashed the
    whole process on them (a segmentation fault), so the test plays them in a child process."""
    import subprocess
    import sys

    code = (
        "import gymnasium, sparsegym\n"
        "env = gymnasium.make('sparsegym/TextWorld-W2-O3-Q4-v0')\n"
        "env.reset(seed=2)\n"
        "for c in list(range(0, 9)) + list(range(11, 32)) + [127]:\n"
        "    obs, *_ = env.step('ta' + chr(c) + 'ke ' + chr(c))\n"
        "obs, r, term, trunc, info = env.step('look')\n"
        "print('ok', info['action_error'] is None and '-=' in obs)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok True")


def test_step_limit_truncates():
    env = gymnasium.make("sparsegym/TextWorld-CoinCollector-L5-v0")
    env.reset(seed=0)
    limit = get_entry("sparsegym/TextWorld-CoinCollector-L5-v0").max_episode_steps
    for _ in range(limit):
        obs, r, term, trunc, info = env.step("look")
    assert trunc and not term and info["success"] is False


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="reward must be 'dense' or 'sparse'"):
        gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0", reward="shaped")
    with pytest.raises(ValueError, match="unknown extra_infos"):
        gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0", extra_infos=("map",))


def test_extra_infos_description_and_inventory():
    env = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0", extra_infos=("description", "inventory"))
    _, info = env.reset(seed=0)
    assert info["description"].startswith("-=") and "carrying" in info["inventory"].lower()


# check_env, determinism and a random rollout for every id: tests/envs/test_registered.py.


def test_oracle_and_random_on_the_leaderboard_suite(tmp_path):
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.store import ResultsStore
    from sparsegym.leaderboards.suites import Suite

    suite = Suite("tw-mini", ("sparsegym/TextWorld-W2-O3-Q4-Test-v0", "sparsegym/TextWorld-Simple-Test-v0"),
                  episodes=2, description="two test games of two ids")
    with ResultsStore(tmp_path / "r.db") as store:
        walk = evaluate("sparsegym.baselines:WalkthroughAgent", suite, "test", store=store, progress=False)
        randa = evaluate("sparsegym.baselines:RandomAgent", suite, "test", store=store, progress=False)
        oracle = store.episodes(agent=walk.agent)  # default names: the factory and 8 digits of the run identity
        rand = store.episodes(agent=randa.agent)
    assert len(oracle) == 4 and all(r.success and r.error is None for r in oracle)
    assert all(r.error is None for r in rand)
    assert sum(r.episode_return for r in rand) < sum(r.episode_return for r in oracle)


def test_cli_play_wins_a_game_from_typed_commands(capsys):
    import io
    from types import SimpleNamespace

    from sparsegym import cli

    env = gymnasium.make("sparsegym/TextWorld-W2-O3-Q4-v0")
    env.reset(seed=4)
    typed = "?\n" + "\n".join(env.unwrapped.walkthrough) + "\nq\n"
    args = SimpleNamespace(id="sparsegym/TextWorld-W2-O3-Q4-v0", seed=4, view=None)
    assert cli.cmd_play(args, stdin=io.StringIO(typed)) == 0
    out = capsys.readouterr().out
    assert "commands: " in out and "look" in out
    assert "SUCCESS, return 1.000" in out
