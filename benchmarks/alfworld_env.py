"""ALFWorld family: game generation time, expert success, reset/step latency and steps/s, ours against
the raw ALFWorld text env in the same run.

1. Generation: ``--games`` new games per task type into an empty cache (scene sampling, files, and the
   handcoded-expert check), seconds per game and how many candidate scenes the expert had to try.
2. Expert success: the expert-replay oracle (``sparsegym.baselines.alfworld_expert``) plays those games
   through ``sparsegym.make`` on the unseen ids; success rate per type.
3. Latency on the same games with the same seeded random admissible actions:
   * ours: ``sparsegym.make("sparsegym/ALFWorld-v0")`` (engine memoisation on);
   * raw engine: TextWorld's ``PddlEnv`` with ALFWorld's demangler/infos wrappers, in process (the
     stack ours drives, without sparsegym);
   * raw ALFWorld: ``alfworld``'s own ``AlfredTWEnv(config).init_env(batch_size=1)`` over a folder of
     the same games (textworld.gym, one worker process, as ALFWorld's README runs it).

    python benchmarks/alfworld_env.py                      # 5 games per type, 300 steps per env
    python benchmarks/alfworld_env.py --games 10 --steps 1000
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _generation(games: int, cache: Path) -> dict[str, list[Path]]:
    from sparsegym.envs.alfworld import generator as gen

    out: dict[str, list[Path]] = {}
    print(f"## Generation ({games} games per type, split 'unseen', empty cache)")
    print(f"{'task type':34s} {'s/game (mean)':>13s} {'median':>7s} {'max':>6s} {'extra tries':>11s} {'plan len':>8s}")
    for task_type in gen.TASK_TYPES:
        times, tries, lengths, folders = [], [], [], []
        for index in range(games):
            t0 = time.perf_counter()
            folder = gen.generate_game(task_type, "unseen", index, cache_dir=cache)
            times.append(time.perf_counter() - t0)
            traj = json.loads((folder / "traj_data.json").read_text())
            game = json.loads((folder / "game.tw-pddl").read_text())
            tries.append(traj["generator"]["attempt"])
            lengths.append(len(game["walkthrough"]))
            folders.append(folder)
        out[task_type] = folders
        print(f"{task_type:34s} {statistics.mean(times):13.2f} {statistics.median(times):7.2f} {max(times):6.2f} "
              f"{sum(tries):11d} {statistics.mean(lengths):8.1f}")
    return out


def _expert_success(folders: dict[str, list[Path]]) -> None:
    import sparsegym
    from sparsegym.baselines.alfworld_expert import ALFWorldExpertAgent
    from sparsegym.envs.alfworld.generator import TASK_SHORT

    short = {v: k for k, v in TASK_SHORT.items()}
    print("\n## Expert-replay oracle through sparsegym.make (unseen ids)")
    total = wins = 0
    for task_type, games in folders.items():
        env = sparsegym.make(f"sparsegym/ALFWorld-{short[task_type]}-Unseen-v0")
        agent = ALFWorldExpertAgent(env)
        won = 0
        for i, folder in enumerate(games):
            obs, info = env.reset(seed=i, options={"game_dir": folder})
            agent.reset(i)
            done = False
            while not done:
                obs, _, term, trunc, info = env.step(agent.act(obs, info))
                done = term or trunc
            won += bool(info["success"])
        total += len(games)
        wins += won
        print(f"{task_type:34s} {won}/{len(games)}")
        env.close()
    print(f"{'all':34s} {wins}/{total} = {wins / total:.0%}")


def _random_commands(rng: np.random.Generator, admissible: list[str]) -> str:
    return admissible[int(rng.integers(len(admissible)))]


def _time_ours(games: list[Path], steps: int, seed: int) -> tuple[list[float], list[float]]:
    import sparsegym

    env = sparsegym.make("sparsegym/ALFWorld-v0")
    rng = np.random.default_rng(seed)
    resets, step_times = [], []
    g = 0
    t0 = time.perf_counter()
    obs, info = env.reset(seed=seed, options={"game_dir": games[g]})
    resets.append(time.perf_counter() - t0)
    for _ in range(steps):
        t0 = time.perf_counter()
        obs, _, term, trunc, info = env.step(_random_commands(rng, info["admissible_actions"]))
        step_times.append(time.perf_counter() - t0)
        if term or trunc:
            g = (g + 1) % len(games)
            t0 = time.perf_counter()
            obs, info = env.reset(options={"game_dir": games[g]})
            resets.append(time.perf_counter() - t0)
    env.close()
    return resets, step_times


def _time_raw_engine(games: list[Path], steps: int, seed: int) -> tuple[list[float], list[float]]:
    from sparsegym.envs.alfworld._paths import import_alfworld

    import_alfworld()
    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs import PddlEnv

    env = AlfredInfos(AlfredDemangler(PddlEnv(textworld.EnvInfos(admissible_commands=True, won=True,
                                                                  extras=["gamefile"])), shuffle=False))
    rng = np.random.default_rng(seed)
    resets, step_times = [], []
    g, n = 0, 0

    def start(i: int) -> object:
        t0 = time.perf_counter()
        env.load(str(games[i] / "game.tw-pddl"))
        state = env.reset()
        resets.append(time.perf_counter() - t0)
        return state

    state = start(g)
    for _ in range(steps):
        t0 = time.perf_counter()
        state, _, done = env.step(_random_commands(rng, state["admissible_commands"]))
        step_times.append(time.perf_counter() - t0)
        n += 1
        if done or n >= 50:
            g, n = (g + 1) % len(games), 0
            state = start(g)
    env.close()
    return resets, step_times


def _time_raw_alfworld(games: list[Path], steps: int, seed: int) -> tuple[list[float], list[float]]:
    from sparsegym.envs.alfworld._paths import import_alfworld

    import_alfworld()
    from alfworld.agents.environment.alfred_tw_env import AlfredTWEnv

    data = Path(tempfile.mkdtemp(prefix="alfworld_raw_"))
    for i, folder in enumerate(games):
        shutil.copytree(folder, data / f"game_{i:03d}" / "trial_T0")
    config = {
        "env": {"goal_desc_human_anns_prob": 0, "task_types": [1, 2, 3, 4, 5, 6], "domain_randomization": False,
                "expert_type": "handcoded"},
        "dataset": {"data_path": str(data), "num_train_games": -1},
        "general": {"training_method": "dqn"},
        "rl": {"training": {"max_nb_steps_per_episode": 50}},
    }
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        env = AlfredTWEnv(config, train_eval="train").init_env(batch_size=1)
    env.seed(seed)
    rng = np.random.default_rng(seed)
    resets, step_times = [], []
    t0 = time.perf_counter()
    obs, infos = env.reset()
    resets.append(time.perf_counter() - t0)
    for _ in range(steps):
        t0 = time.perf_counter()
        obs, _, dones, infos = env.step([_random_commands(rng, infos["admissible_commands"][0])])
        step_times.append(time.perf_counter() - t0)
        if dones[0]:
            t0 = time.perf_counter()
            obs, infos = env.reset()
            resets.append(time.perf_counter() - t0)
    env.close()
    shutil.rmtree(data, ignore_errors=True)
    return resets, step_times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=5, help="games generated per task type")
    parser.add_argument("--steps", type=int, default=300, help="random steps timed per env")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="sparsegym_bench_"))
    os.environ["SPARSEGYM_HOME"] = str(home)
    try:
        folders = _generation(args.games, home / "games")
        _expert_success(folders)
        mixed = [f for i in range(args.games) for fs in folders.values() for f in fs[i:i + 1]]
        print(f"\n## Latency on the same {len(mixed)} games, seeded random admissible actions, {args.steps} steps each")
        print(f"{'env':44s} {'reset ms (median)':>17s} {'step ms (median)':>16s} {'steps/s':>8s}")
        rows = {}
        for name, fn in (("ours: sparsegym.make('sparsegym/ALFWorld-v0')", _time_ours),
                         ("raw engine: PddlEnv + ALFWorld wrappers", _time_raw_engine),
                         ("raw ALFWorld: AlfredTWEnv.init_env(1)", _time_raw_alfworld)):
            resets, steps = fn(mixed, args.steps, args.seed)
            rows[name] = steps
            print(f"{name:44s} {1000 * statistics.median(resets):17.1f} {1000 * statistics.median(steps):16.1f} "
                  f"{len(steps) / sum(steps):8.1f}")
        names = list(rows)
        for ref in names[1:]:
            ratio = (sum(rows[names[0]]) / len(rows[names[0]])) / (sum(rows[ref]) / len(rows[ref]))
            print(f"time per step, ours / {ref.split(':')[0]}: {ratio:.2f}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
