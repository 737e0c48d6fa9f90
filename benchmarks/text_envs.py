"""Text worlds: game generation time, reset and step latency, steps/s, ours against the raw engine.

For each selected TextWorld id, a few fresh games are made (generation time per game), then the
sparsegym env and the raw TextWorld environment (``textworld.start`` with the same requested infos:
admissible commands, score, won/lost, moves) play the same game with the same command sequence
(random admissible commands, fixed seed), alternating for several rounds. The median time per step of
each gives the ratio ours / raw. Results are printed and written to
``benchmarks/results/text_envs.csv``.

    python benchmarks/text_envs.py                          # TextWorld (an id per challenge), then ALFWorld
    python benchmarks/text_envs.py --family textworld --steps 500 sparsegym/TextWorld-W2-O3-Q4-v0

ALFWorld's part is ``benchmarks/alfworld_env.py`` (generation and expert check per task type, the
expert oracle's success, reset/step latency ours against the raw engine stack and ALFWorld's own
``AlfredTWEnv`` on the same games); this script runs it after TextWorld's, in the same run.

Games go to a temporary cache unless ``SPARSEGYM_CACHE`` is set, so generation is measured cold.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_IDS = [
    "sparsegym/TextWorld-W2-O3-Q4-v0",
    "sparsegym/TextWorld-W4-O6-Q8-v0",
    "sparsegym/TextWorld-Simple-v0",
    "sparsegym/TextWorld-CoinCollector-L5-v0",
    "sparsegym/TextWorld-TreasureHunter-L10-v0",
    "sparsegym/TextWorld-Cooking-v0",
]


def _commands(env, steps: int, seed: int) -> list[str]:
    """A fixed command sequence: random admissible commands of a seeded playthrough."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    out = []
    for _ in range(steps):
        cmd = info["admissible_actions"][int(rng.integers(len(info["admissible_actions"])))]
        out.append(cmd)
        _, _, term, trunc, info = env.step(cmd)
        if term or trunc:
            _, info = env.reset(seed=seed)
    return out


def _time_ours(env, commands: list[str], seed: int) -> float:
    env.reset(seed=seed)
    start = time.perf_counter()
    for cmd in commands:
        _, _, term, trunc, _ = env.step(cmd)
        if term or trunc:
            env.reset(seed=seed)
    return (time.perf_counter() - start) / len(commands)


def _time_raw(raw, commands: list[str]) -> float:
    raw.reset()
    start = time.perf_counter()
    for cmd in commands:
        _, _, done = raw.step(cmd)
        if done:
            raw.reset()
    return (time.perf_counter() - start) / len(commands)


def bench(env_id: str, games: int, steps: int, rounds: int) -> dict:
    import gymnasium
    import textworld

    import sparsegym  # noqa: F401
    from sparsegym.envs.textworld.games import quiet_textworld

    env = gymnasium.make(env_id).unwrapped  # no TimeLimit: the raw engine has none either
    gen, resets = [], []
    for seed in range(games):
        t0 = time.perf_counter()
        env.reset(seed=seed)  # makes the game (cold cache)
        gen.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        env.reset(seed=seed)  # same game again: cached
        resets.append(time.perf_counter() - t0)
    seed = 0
    commands = _commands(env, steps, seed)
    env.reset(seed=seed)
    infos = textworld.EnvInfos(admissible_commands=True, score=True, max_score=True, won=True, lost=True, moves=True)
    with quiet_textworld():
        raw = textworld.start(str(env.game_path), request_infos=infos)
        ours_t, raw_t = [], []
        for _ in range(rounds):
            ours_t.append(_time_ours(env, commands, seed))
            raw_t.append(_time_raw(raw, commands))
        raw.close()
    env.close()
    ours, rawm = statistics.median(ours_t), statistics.median(raw_t)
    return {
        "env_id": env_id,
        "generate_s_per_game": statistics.median(gen) - statistics.median(resets),
        "reset_ms_cached": 1000 * statistics.median(resets),
        "step_ms_ours": 1000 * ours,
        "step_ms_raw": 1000 * rawm,
        "steps_per_s_ours": 1 / ours,
        "steps_per_s_raw": 1 / rawm,
        "ratio": ours / rawm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", default=DEFAULT_IDS)
    parser.add_argument("--games", type=int, default=3, help="fresh games made per id (generation time)")
    parser.add_argument("--steps", type=int, default=300, help="commands per timing round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds (median taken)")
    parser.add_argument("--family", choices=("textworld", "alfworld", "all"), default="all")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "text_envs.csv"))
    args = parser.parse_args()
    if not os.environ.get("SPARSEGYM_CACHE"):
        os.environ["SPARSEGYM_CACHE"] = tempfile.mkdtemp(prefix="sparsegym-bench-")
    if args.family in ("textworld", "all"):
        textworld_table(args)
    if args.family in ("alfworld", "all"):
        print("\n# ALFWorld (benchmarks/alfworld_env.py)", flush=True)
        script = Path(__file__).parent / "alfworld_env.py"
        subprocess.run([sys.executable, str(script), "--games", str(args.games), "--steps", str(args.steps)], check=True)


def textworld_table(args: argparse.Namespace) -> None:
    rows = []
    header = f"{'env id':44s} {'gen s/game':>10s} {'reset ms':>9s} {'step ms':>8s} {'raw ms':>7s} {'ours/s':>7s} {'raw/s':>7s} {'ratio':>6s}"
    print(header)
    for env_id in args.ids:
        r = bench(env_id, args.games, args.steps, args.rounds)
        rows.append(r)
        print(f"{r['env_id']:44s} {r['generate_s_per_game']:10.2f} {r['reset_ms_cached']:9.1f} {r['step_ms_ours']:8.2f} "
              f"{r['step_ms_raw']:7.2f} {r['steps_per_s_ours']:7.0f} {r['steps_per_s_raw']:7.0f} {r['ratio']:6.2f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"median ratio ours/raw: {statistics.median(r['ratio'] for r in rows):.2f} (written to {args.out})")


if __name__ == "__main__":
    main()
