"""Benchmark scripts' own pieces: the exploration benchmark's merging and README table, the contexts
table, the bandit benchmark's block oracle, and the LLM-evaluation benchmark's baseline."""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "exploration.py"


def _module(name: str = "exploration"):
    """The benchmark script ``benchmarks/<name>.py`` as a module."""
    path = BENCH.parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(BENCH.parent))  # the scripts import their sibling _results_csv, as when run directly
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH.parent))
    return module


def _row(method, seed, frames, success, env="sparsegym/MiniGrid-MultiRoom-N4-S5-v0", budget=500_000):
    return {"env": env, "method": method, "seed": seed, "budget": budget, "frames_to_0.9": frames,
            "success_at_budget": success, "minutes": 1.0}


def test_merge_replaces_runs_with_the_same_key_and_table_lists_seeds(tmp_path):
    bench = _module()
    main, lane = tmp_path / "main", tmp_path / "lane"
    main.mkdir()
    lane.mkdir()
    bench._save(main / "exploration.csv", [_row("ppo+e3b", 0, math.nan, 0.0), _row("ppo", 0, math.nan, 0.01)])
    bench._save(lane / "exploration.csv", [_row("ppo+e3b", 0, 120_000.0, 0.97), _row("ppo+e3b", 1, math.nan, 0.4),
                                           _row("go-explore", 0, 9_000.0, 1.0)])
    out = subprocess.run([sys.executable, str(BENCH), "--out", str(main), "--merge", str(lane), "--table"],
                         capture_output=True, text=True, check=True).stdout
    rows = bench._load(main / "exploration.csv")
    assert len(rows) == 4
    e3b = sorted((r for r in rows if r["method"] == "ppo+e3b"), key=lambda r: r["seed"])
    assert e3b[0]["frames_to_0.9"] == 120_000.0 and e3b[0]["success_at_budget"] == 0.97  # replaced
    assert "merged 1 folder(s)" in out
    assert "| MultiRoom-N4-S5 | PPO+E3B | 0.5M | 0, 1 | 120k / - | 0.97 / 0.40 |" in out
    assert "| MultiRoom-N4-S5 | Go-Explore (archive) | 0.5M | 0 | goal found after 9k |  |" in out
    assert "| MultiRoom-N4-S5 | PPO | 0.5M | 0 | - | 0.01 |" in out


def test_merge_of_an_empty_folder_is_an_error(tmp_path):
    result = subprocess.run([sys.executable, str(BENCH), "--out", str(tmp_path), "--merge", str(tmp_path / "nope")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no results in" in result.stderr


def test_old_rows_follow_their_method_under_a_name_that_says_what_differed():
    bench = _module()
    rows = [_row("ppo+noveld:old", 0, 60_000.0, 1.0), _row("ppo", 0, math.nan, 0.0),
            _row("go-explore:old", 0, 9_000.0, 1.0), _row("ppo+noveld", 0, 50_000.0, 1.0),
            _row("go-explore", 0, 4_000.0, 1.0), _row("ppo+noveld [int_coef=0.1]", 0, math.nan, 0.2)]
    lines = bench.table(rows).splitlines()[2:]
    names = [line.split(" | ")[1] for line in lines]
    assert names == ["PPO", "PPO+NovelD", "PPO+NovelD [int_coef=0.1]", bench.OLD["ppo+noveld:old"],
                     "Go-Explore (archive)", bench.OLD["go-explore:old"]]
    assert "MSE novelty" in bench.OLD["ppo+noveld:old"]
    assert lines[-1].endswith("| goal found after 9k |  |")  # an old archive row reads as an archive row
    assert set(bench.ORDER) == set(bench.METHODS) | set(bench.OLD)


def test_config_overrides_are_named_in_the_method_and_checked(tmp_path):
    args = [sys.executable, str(BENCH), "--out", str(tmp_path), "--envs", "sparsegym/MiniGrid-MultiRoom-N4-S5-v0",
            "--methods", "ppo", "--budget", "1024", "--seeds", "0"]
    bad = subprocess.run(args + ["--config", "int_coeff=0.1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--config takes FIELD=VALUE with a PPOConfig field, got 'int_coeff=0.1'" in bad.stderr
    subprocess.run(args + ["--config", "ent_coef=0.0", "intrinsic_recipe=two_heads"], capture_output=True, text=True,
                   check=True)
    rows = _module()._load(tmp_path / "exploration.csv")
    assert [r["method"] for r in rows] == ["ppo [ent_coef=0.0 intrinsic_recipe=two_heads]"]


def _context_row(method, k, seed, frames, success, recipe="two_heads"):
    return {"env": "sparsegym/MiniGrid-MultiRoom-N4-S5-v0", "method": method, "k": k, "seed": seed,
            "budget": 500_000, "int_coef": 0.1, "recipe": recipe, "frames_to_0.9": frames,
            "success_at_budget": success, "episodes": 100.0, "minutes": 4.0}


def test_contexts_table_groups_seeds_per_method_and_pool_in_the_benchmarks_order(tmp_path):
    bench = _module("contexts")
    rows = [_context_row("global_counts", "unlimited", 1, math.nan, 0.0),
            _context_row("global_x_episodic_counts", "unlimited", 1, 465_920.0, 0.88),
            _context_row("global_x_episodic_counts", "unlimited", 0, math.nan, 0.0),
            _context_row("episodic_counts", "10", 0, 98_304.0, 1.0),
            _context_row("episodic_counts", "1", 0, 86_016.0, 1.0),
            _context_row("episodic_counts", "1", 0, math.nan, 0.01, recipe="paper")]
    bench._save(tmp_path / "contexts.csv", rows)
    out = subprocess.run([sys.executable, str(BENCH.parent / "contexts.py"), "--out", str(tmp_path), "--table"],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()[2:]
    keys = [tuple(line.split(" | ")[1:5]) for line in lines]
    assert keys == [("paper", "500,000", "episodic_counts", "1"),
                    ("two_heads", "500,000", "episodic_counts", "1"),
                    ("two_heads", "500,000", "episodic_counts", "10"),
                    ("two_heads", "500,000", "global_counts", "unlimited"),
                    ("two_heads", "500,000", "global_x_episodic_counts", "unlimited")]
    # seeds in order, the mean of their success, a dash for a run that never reached 0.9
    assert lines[-1].endswith("| 0, 1 | 0.00 / 0.88 | 0.44 | - / 466k |")
    assert not (tmp_path / "contexts_two_heads.png").exists()  # --table only prints


def test_lsd_block_oracle_is_the_optimum_when_one_block_spans_the_horizon_and_never_above_it():
    bench = _module("bandits_regret")
    from sparsegym.envs.bandits.lsd import make_lsd

    for seed in range(3):
        env = make_lsd("monotone", k=3, tau_max=2, instance_seed=seed, horizon=6)
        whole = bench.run_env(env, bench.BlockOracle(env, d=6), 0).sum()
        assert whole == pytest.approx(env.unwrapped.optimal_value)
        for d in (1, 2, 4):
            assert bench.run_env(env, bench.BlockOracle(env, d=d), 0).sum() <= env.unwrapped.optimal_value + 1e-9
    # d = 1 plays the arm whose payoff is best in its current state, round by round: the greedy planner
    from sparsegym.agents.bandits import LSDPlanner

    env = make_lsd("monotone", k=3, tau_max=4, instance_seed=0, horizon=50)
    assert bench.run_env(env, bench.BlockOracle(env, d=1), 0).sum() == pytest.approx(
        bench.run_env(env, LSDPlanner(env, "greedy"), 0).sum())


def test_llm_eval_divides_by_the_mean_of_its_two_first_k_rounds():
    bench = _module("llm_eval")
    rows = [{"suite": "tw", "k": 1, "episodes_per_min": 4.0, "tokens_per_s": 20.0},
            {"suite": "tw", "k": 16, "episodes_per_min": 10.0, "tokens_per_s": 50.0},
            {"suite": "tw", "k": 1, "episodes_per_min": 6.0, "tokens_per_s": 30.0, "baseline_again": True},
            {"suite": "tw", "k": 16, "episodes_per_min": 900.0, "tokens_per_s": 0.0, "warm_cache_rerun": True},
            {"suite": "smoke", "k": 4, "episodes_per_min": 8.0, "tokens_per_s": 40.0}]
    base = bench.baselines(rows)
    assert base["tw"] == {"k": 1, "rounds": 2, "episodes_per_min": 5.0, "tokens_per_s": 25.0, "spread": 0.4}
    assert rows[1]["episodes_per_min"] / base["tw"]["episodes_per_min"] == 2.0
    assert base["smoke"]["rounds"] == 1 and base["smoke"]["k"] == 4 and base["smoke"]["spread"] == 0.0
