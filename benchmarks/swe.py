"""Software repair: task-maker yield and time per repository; reset, step and grading latency.

* Maker: for each vendored project, mutation sites found, mutations tried, tasks kept (at least one
  test caught the bug and at least one still passed) and seconds, as ``make_tasks`` runs them in the
  local sandbox.
* Env: median latency of ``reset`` (a sandboxed copy of the project with the bug put in), of a cheap
  ``run`` step (``ls``), of a file ``view`` step, and of grading (``submit`` after the gold patch,
  which runs the task's tests), over the shipped tasks, for each runtime asked for: the local sandbox
  and the Docker runtime (a container per episode; needs an engine and ``bash docker/build.sh swe``),
  side by side in one run, with the Docker/local ratio of each.

    python benchmarks/swe.py [--max-tasks 12] [--episodes 24] [--runtimes local docker] [--skip-maker]

Results go to ``benchmarks/results/swe.txt``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPOS = {
    "inflection": "python -m pytest -rA -p no:cacheprovider -q --tb=no test_inflection.py",
    "semver": "python -m pytest -rA -p no:cacheprovider -q --tb=no -o addopts= tests",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-tasks", type=int, default=12)
    parser.add_argument("--episodes", type=int, default=24)
    parser.add_argument("--runtimes", nargs="+", default=["local", "docker"], choices=["local", "docker"])
    parser.add_argument("--skip-maker", action="store_true", help="only the env latencies")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "swe.txt")
    args = parser.parse_args()

    import gymnasium
    from tqdm import tqdm

    import sparsegym  # noqa: F401
    from sparsegym.baselines.swe_agents import GoldPatchAgent
    from sparsegym.envs.swe.env import data_dir
    from sparsegym.envs.swe.maker import make_tasks

    lines = [f"# python benchmarks/swe.py --max-tasks {args.max_tasks} --episodes {args.episodes} "
             f"--runtimes {' '.join(args.runtimes)}"]
    if not args.skip_maker:
        lines.append(f"{'repository':<12} {'sites':>6} {'tried':>6} {'kept':>5} {'yield':>6} {'seconds':>8} {'s/task':>7}")
        print("\n".join(lines), flush=True)
        for name, cmd in REPOS.items():
            r = make_tasks(data_dir() / "repos" / name, cmd, repo_name=name, max_tasks=args.max_tasks, max_tries=200)
            line = (f"{name:<12} {r.sites:>6} {r.tried:>6} {r.kept:>5} {r.kept / max(r.tried, 1):>6.0%} "
                    f"{r.seconds:>8.1f} {r.seconds / max(r.kept, 1):>7.2f}")
            print(line, flush=True)
            lines.append(line)

    ms = lambda xs: 1000 * statistics.median(xs)  # noqa: E731
    measured: dict[str, dict[str, float]] = {}
    more = [""]
    for runtime in args.runtimes:
        try:
            env = gymnasium.make("sparsegym/SWE-Mutation-v0", runtime=runtime)
        except Exception as exc:  # noqa: BLE001 - no engine or no sandbox here: say so, measure the rest
            more.append(f"{runtime}: not measured ({exc})")
            print(more[-1], flush=True)
            continue
        agent = GoldPatchAgent(env)
        resets, runs, views, grades, resolved = [], [], [], [], 0
        for seed in tqdm(range(args.episodes), desc=f"swe {runtime}", unit="episode"):
            t = time.perf_counter()
            obs, info = env.reset(seed=seed)
            resets.append(time.perf_counter() - t)
            t = time.perf_counter()
            env.step("run ls")
            runs.append(time.perf_counter() - t)
            t = time.perf_counter()
            env.step(f"view {env.unwrapped.task.extra['bug']['path']}")
            views.append(time.perf_counter() - t)
            agent.reset(seed)
            env.step(agent.act(obs, info))
            t = time.perf_counter()
            _, r, *_ = env.step("submit")
            grades.append(time.perf_counter() - t)
            resolved += r == 1.0
        env.close()
        measured[runtime] = {"reset": ms(resets), "run": ms(runs), "view": ms(views), "grading": ms(grades)}
        m = measured[runtime]
        more.append(f"{runtime} runtime over {args.episodes} shipped tasks (median ms): reset {m['reset']:.0f}, "
                    f"run step {m['run']:.0f}, view step {m['view']:.1f}, grading {m['grading']:.0f}; gold patch "
                    f"resolved {resolved}/{args.episodes}")
        print(more[-1], flush=True)
    if "local" in measured and "docker" in measured:
        more.append("docker / local (median latency): " + ", ".join(
            f"{k} {measured['docker'][k] / measured['local'][k]:.1f}x" for k in measured["local"]))
        print(more[-1])
    lines += more
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
