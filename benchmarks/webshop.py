"""WebShop speed: index build time and memory, search latency, env steps/s, scripted-agent score.

For the shipped catalog (5,000 products) and a 100,000-product catalog made by the same generator:
time to load the products and build the BM25 index, the memory that adds (resident set size before and
after, in one fresh process per catalog), the median latency of a search (the scripted agent's
queries), and env steps/s when the scripted agent plays (searching, clicking, buying). The agent's
score (100 x mean reward) and success rate on the test goals are printed too.

    python benchmarks/webshop.py [--sizes 5000 100000] [--episodes 200]

Results go to ``benchmarks/results/webshop.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(n_products: int, episodes: int) -> dict:
    import gymnasium

    import sparsegym  # noqa: F401
    from sparsegym.baselines.webshop_agent import WebShopScriptedAgent
    from sparsegym.envs.webshop.catalog import catalog_dir

    t0 = time.perf_counter()
    catalog_dir(n_products, 0)
    generate_s = time.perf_counter() - t0
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    env = gymnasium.make("sparsegym/WebShop-v1", n_products=n_products)
    build_s = time.perf_counter() - t0
    rss1 = _rss_mb()
    u = env.unwrapped
    agent = WebShopScriptedAgent()
    steps, rewards, search_ms = 0, [], []
    t0 = time.perf_counter()
    for seed in range(episodes):
        agent.reset(seed)
        obs, info = env.reset(seed=seed)
        r, term = 0.0, False
        while True:
            action = agent.act(obs, info)
            if action.startswith("search["):
                s0 = time.perf_counter()
                u.index.search(action[7:-1])
                search_ms.append(1000 * (time.perf_counter() - s0))
            obs, r, term, trunc, info = env.step(action)
            steps += 1
            if term or trunc:
                break
        rewards.append(r if term else 0.0)
    play_s = time.perf_counter() - t0
    return {
        "products": n_products, "catalog_generate_s": generate_s, "load_and_index_s": build_s,
        "index_memory_mb": rss1 - rss0, "search_ms_median": statistics.median(search_ms),
        "steps_per_s": steps / play_s, "score": 100 * sum(rewards) / len(rewards),
        "success_rate": sum(x == 1.0 for x in rewards) / len(rewards), "episodes": episodes,
        "stemmer": u.index.stemmed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[5000, 100_000])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # child process mode
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "webshop.txt")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.episodes)))
        return 0
    os.environ.setdefault("SPARSEGYM_CACHE", tempfile.mkdtemp(prefix="sparsegym-bench-"))
    lines = [f"# python benchmarks/webshop.py --sizes {' '.join(map(str, args.sizes))} --episodes {args.episodes}",
             f"{'products':>9} {'generate s':>10} {'load+index s':>12} {'index MB':>9} {'search ms':>9} "
             f"{'steps/s':>8} {'score':>6} {'success':>7}"]
    print("\n".join(lines), flush=True)
    for n in args.sizes:  # a fresh process per size, so memory is measured from a clean start
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--episodes", str(args.episodes)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        line = (f"{r['products']:>9,} {r['catalog_generate_s']:>10.2f} {r['load_and_index_s']:>12.2f} "
                f"{r['index_memory_mb']:>9.0f} {r['search_ms_median']:>9.2f} {r['steps_per_s']:>8.0f} "
                f"{r['score']:>6.1f} {r['success_rate']:>7.2f}")
        print(line, flush=True)
        lines.append(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
