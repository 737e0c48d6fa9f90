"""Evaluating LLM agents at speed: episodes in flight vs the server's own ceiling, measured side by side.

LLM evaluation is bound by the model server, so the evaluator's ``async`` backend keeps many episodes in
flight in one process and the server serves their requests together. For each suite and each number of
episodes in flight K, this script runs ``sparsegym.agents:LLMAgent`` (SmolLM2-135M-Instruct behind
``sparsegym serve``, constrained decoding, no cache) on the suite's first envs and measures:

* episodes per minute and completion tokens per second, and their ratio to K = 1;
* mean occupancy: how many requests were in flight on average (the sum of request latencies over the
  wall time, Little's law);
* the ceiling, measured in the same run right after: the server's completion tokens per second on the
  run's own requests replayed by K concurrent clients, each sending one recorded episode's requests in
  order (so the server's prompt cache sees what it saw in the run), with no env or agent in the loop;
  and the evaluator's share of it.

Then the first K once more (``--no-baseline-again`` skips it): the machine's speed drifts during a run,
so the ratios divide by the mean of the two first-K rounds, and the table says how far apart they were.
And the largest K once more with a warm cache: it must make zero requests.

Before the rounds, every env is reset once on every seed (TextWorld makes each game on first use and
keeps it on disk, a second of CPU the first round alone would pay). Every round (and every ceiling)
starts with llama-server's prompt cache emptied, since all rounds play the
same seeds and would otherwise find one another's prompts in the slots. Each row also says where a
request's server time went: prompt tokens the server computed per request (``prefill/req``: not reused
from its prompt cache) against the tokens it generated (``reply/req``), and the server's own mean
milliseconds on the prompt and on generating (llama.cpp's ``timings``). On a CPU, batching shares the
generation steps of concurrent requests but barely shortens prompt processing, so the more of a request's
time is prompt, the less 16 in flight can gain over 1.

    python benchmarks/llm_eval.py [--concurrency 1 4 8 16] [--episodes 8] [--max-steps 20] [--engine E] [--parallel N]
                                  [--suites textworld smoke] [--no-baseline-again]

``--engine`` picks ``LocalServer``'s engine: ``llama-server`` (llama.cpp's C++ server with continuous
batching; the default when ``sparsegym serve --build-engine`` has built it) or ``python``
(llama-cpp-python's server, ``--parallel`` processes of one thread each behind the balancer).

Results: ``benchmarks/results/llm_eval.txt``, ``.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SUITES = {  # a TextWorld and a MiniGrid suite, trimmed to short tasks (a few envs, a few episodes)
    "textworld": ("sparsegym/TextWorld-CoinCollector-L5-Test-v0", "sparsegym/TextWorld-W2-O3-Q4-Test-v0"),
    "smoke": ("sparsegym/MiniGrid-MultiRoom-N2-S4-v0", "sparsegym/BabyAI-GoToRedBallGrey-v0"),
}


#: Past turns in the prompt. BALROG keeps 16; on 2 CPU cores a 135M model reads ~90 prompt tokens/s, and 16
#: turns of MiniGrid text are ~1,300 tokens (14 s a call). The benchmark measures the evaluator against the
#: server, not the agent's play, so it sends the instructions and the current observation only.
HISTORY = 0

#: Turns per episode. The agent (a 135M model) seldom solves these tasks, so most episodes would run to the
#: env's own limit (50-100 turns: two hours of the 1-in-flight run alone on 2 cores). The benchmark measures
#: throughput, so it caps episodes here (``--max-steps``); every K plays the same capped episodes.
MAX_STEPS = 20


def cap_episodes(max_steps: int) -> None:
    """Make every env the evaluator builds in this process end after ``max_steps`` turns (truncation)."""
    import gymnasium

    import sparsegym

    original = sparsegym.make

    def make(env_id, **kwargs):
        env = original(env_id, **kwargs)
        return gymnasium.wrappers.TimeLimit(env, max_steps)

    sparsegym.make = make


def _suite(name: str, episodes: int):
    from sparsegym.leaderboards.suites import Suite

    return Suite(name, SUITES[name], episodes=episodes, description=f"{name}, trimmed for the benchmark",
                 step_timeout=600.0)


def run_eval(server, suite, k: int, cache: str | bool, store_path: Path) -> dict:
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.store import ResultsStore

    kwargs = {"base_url": server.base_url, "model": server.model, "cache": cache, "constrained": True,
              "max_concurrency": max(k, 1), "max_tokens": 24, "history": HISTORY}
    with ResultsStore(store_path) as store:
        start = time.perf_counter()
        result = evaluate("sparsegym.agents:LLMAgent", suite, "dev", store=store, progress=False, observation="text",
                          agent_kwargs=kwargs, backend="async", workers=k, agent_name=f"k{k}-{store_path.stem}")
        wall = time.perf_counter() - start
        rows = store.episodes(agent=result.agent)
    stats = [r.agent_stats or {} for r in rows]
    tokens = sum(s.get("completion_tokens", 0) for s in stats)
    busy = sum(s.get("llm_seconds", 0.0) for s in stats)
    prompt = sum(s.get("prompt_tokens", 0) for s in stats)
    reused = sum(s.get("cached_prompt_tokens", 0) for s in stats)
    requests = sum(s.get("requests", 0) for s in stats)
    return {"k": k, "episodes": len(rows), "failed": result.failed, "wall_s": wall,
            "episodes_per_min": 60 * len(rows) / wall, "tokens_per_s": tokens / wall,
            "requests": requests, "calls": sum(s.get("calls", 0) for s in stats),
            "occupancy": busy / wall, "completion_tokens": tokens, "prompt_tokens": prompt,
            "cached_prompt_tokens": reused,
            # Prompt tokens the server computed (not reused from its prompt cache) per request: the prefill
            # work, which batching does not shorten on a CPU, against the completion tokens it does.
            "prefill_per_request": (prompt - reused) / max(1, requests),
            "completion_per_request": tokens / max(1, requests)}


#: Every request the agents made, per (agent, episode), in order: what the ceiling replays.
RECORDED: dict[tuple[int, int | None], list[dict]] = {}


def record_requests() -> None:
    """Make LLMAgent remember each request it sends (the benchmark's process runs the episodes)."""
    from sparsegym.agents.llm import LLMAgent

    original = LLMAgent._request

    def recording(self, observation, info):
        request = original(self, observation, info)
        RECORDED.setdefault((id(self), self._episode_seed), []).append(request)
        return request

    LLMAgent._request = recording


#: llama.cpp's server timings of every answered request of the round (``timings`` in its replies: the
#: milliseconds it spent on the prompt and on generating), to split a request's time into prefill and decode.
TIMINGS: list[dict] = []


def record_timings() -> None:
    """Make LLMAgent keep the server's ``timings`` of each reply it gets (where the server sends them)."""
    from sparsegym.agents.llm import LLMAgent

    original = LLMAgent._decide

    def keeping(self, observation, info, result, seconds):
        for raw in result.raw or []:
            timings = (getattr(raw, "model_extra", None) or {}).get("timings")
            if isinstance(timings, dict):
                TIMINGS.append(timings)
        return original(self, observation, info, result, seconds)

    LLMAgent._decide = keeping


def timing_summary() -> dict:
    """Mean prompt and generation milliseconds per request, from the server's own timings."""
    if not TIMINGS:
        return {}
    n = len(TIMINGS)
    return {"server_prompt_ms": sum(t.get("prompt_ms", 0.0) for t in TIMINGS) / n,
            "server_predicted_ms": sum(t.get("predicted_ms", 0.0) for t in TIMINGS) / n,
            "server_timed_requests": n}


def warm_envs(suite) -> None:
    """Reset every env of the suite on every seed the rounds play, untimed: TextWorld makes each game
    (about a second of CPU) on its first use and keeps it on disk, so the first round alone would pay."""
    from sparsegym.leaderboards.evaluator import make_env

    for env_id in suite.env_ids:
        env, _ = make_env(env_id, "text")
        try:
            for seed in suite.seeds("dev"):
                env.reset(seed=seed)
        finally:
            env.close()


def clear_prompt_cache(server) -> None:
    """Empty every slot of llama-server's prompt cache, so that no round starts with the prompts of the one
    before (every round plays the same seeds, so at temperature 0 it sends many of the same prompts)."""
    if server.engine != "llama-server":
        return  # llama-cpp-python's server keeps one prompt per process and offers no way to drop it
    import httpx

    root = server.base_url.rsplit("/v1", 1)[0]
    for slot in range(server.parallel):
        httpx.post(f"{root}/slots/{slot}?action=erase", timeout=60).raise_for_status()


def ceiling(server, episodes: list[list[dict]], k: int, budget: int) -> float:
    """The server's completion tokens/s on the run's own requests, with no env or agent in the loop: k
    replayers, each sending one recorded episode's requests in their order (as the agent did, so the
    server's prompt cache sees the same prefixes), taking the next episode when one is done, until
    ``budget`` requests were answered; one untimed warm-up request per replayer first."""
    from sparsegym.llm import LLMClient

    queue = [list(e) for e in episodes if e]

    async def go() -> float:
        async with LLMClient(server.base_url, server.model, cache=False, max_concurrency=k) as client:
            async def send(req: dict) -> int:
                res = await client.achat(req["messages"], max_tokens=req["max_tokens"], temperature=req["temperature"],
                                         seed=req["seed"], response_format=req["response_format"])
                return res.usage.completion_tokens

            await asyncio.gather(*(send(queue[i % len(queue)][0]) for i in range(k)))  # warm-up
            state = {"sent": 0, "tokens": 0, "next": 0}

            async def replayer() -> None:
                while state["sent"] < budget and state["next"] < len(queue):
                    episode = queue[state["next"]]
                    state["next"] += 1
                    for req in episode:
                        if state["sent"] >= budget:
                            return
                        state["sent"] += 1
                        # Await first, then add: ``state["tokens"] += await ...`` reads the total before the
                        # await, so concurrent replayers would overwrite each other's counts.
                        tokens = await send(req)
                        state["tokens"] += tokens

            start = time.perf_counter()
            await asyncio.gather(*(replayer() for _ in range(k)))
            return state["tokens"] / (time.perf_counter() - start)

    return asyncio.run(go())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--episodes", type=int, default=8, help="episodes per env (2 envs per suite)")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--engine", choices=["llama-server", "python"], default=None,
                        help="LocalServer engine (default: llama-server when built, else python)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="python engine: processes (default 2); llama-server: slots (default 16)")
    parser.add_argument("--no-baseline-again", dest="baseline_again", action="store_false",
                        help="do not run the first K again at the end (its mean with the first round is the baseline)")
    parser.add_argument("--ceiling-requests", type=int, default=160, help="requests the ceiling replays")
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS, help="turns per episode (0: the env's own limit)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "llm_eval.txt")
    args = parser.parse_args()

    from sparsegym.llm.engine import EngineMissingError, find_llama_server
    from sparsegym.llm.server import LocalServer

    if args.engine is None:
        try:
            find_llama_server()
            args.engine = "llama-server"
        except EngineMissingError:
            args.engine = "python"
    if args.parallel is None:
        args.parallel = 2 if args.engine == "python" else max(16, max(args.concurrency))
    record_requests()
    record_timings()
    if args.max_steps:
        cap_episodes(args.max_steps)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, LocalServer(
            parallel=args.parallel, engine=args.engine,
            # lets clear_prompt_cache empty the slots between rounds (llama-server allows slot actions only then)
            extra_args=["--slot-save-path", tmp] if args.engine == "llama-server" else ()) as server:
        engine_desc = (f"llama.cpp's llama-server, {server.parallel} slots with continuous batching, "
                       f"{server.threads} threads" if args.engine == "llama-server" else
                       f"llama.cpp (llama-cpp-python) x {server.parallel} processes of {server.threads} thread(s)")
        for name in args.suites:
            suite = _suite(name, args.episodes)
            warm_envs(suite)
            # The first K again at the end: the machine's speed drifts over a run (measured here: one K = 1
            # round 20% slower than another), so the ratios divide by the mean of the two first-K rounds.
            again = [args.concurrency[0]] if args.baseline_again and len(args.concurrency) > 1 else []
            for i, k in enumerate([*args.concurrency, *again]):
                RECORDED.clear()
                TIMINGS.clear()
                clear_prompt_cache(server)
                row = {"suite": name, **run_eval(server, suite, k, False, Path(tmp) / f"{name}-{k}.db")}
                row.update(timing_summary())
                clear_prompt_cache(server)
                row["ceiling_tokens_per_s"] = ceiling(server, list(RECORDED.values()), k, args.ceiling_requests)
                row["share_of_ceiling"] = row["tokens_per_s"] / row["ceiling_tokens_per_s"]
                if i >= len(args.concurrency):
                    row["baseline_again"] = True
                rows.append(row)
                print(json.dumps(row))
            # A warm cache: run the largest K twice into one cache; the second run must make no request.
            k = max(args.concurrency)
            cache = str(Path(tmp) / f"{name}-cache.sqlite")
            run_eval(server, suite, k, cache, Path(tmp) / f"{name}-warm1.db")
            warm = run_eval(server, suite, k, cache, Path(tmp) / f"{name}-warm2.db")
            rows.append({"suite": name, "warm_cache_rerun": True, **warm})
            print(json.dumps(rows[-1]))

    lines = ["# LLM evaluation at speed (sparsegym evaluator, async backend) vs the server's own ceiling",
             f"# server: {engine_desc}, SmolLM2-135M-Instruct Q4_1; "
             f"agent: LLMAgent constrained, max_tokens 24, history {HISTORY}; {args.episodes} episodes x 2 envs per suite"
             + (f", episodes capped at {args.max_steps} turns" if args.max_steps else ""),
             "suite      K  episodes/min  x(K=1)  tokens/s  x(K=1)  occupancy  ceiling tok/s  share  failed"
             "  prefill/req  reply/req  prompt ms  gen ms"]
    base = baselines(rows)
    for r in rows:
        if r.get("warm_cache_rerun"):
            continue
        b = base[r["suite"]]
        lines.append(f"{r['suite']:<10} {r['k']:>2}  {r['episodes_per_min']:>12.2f}  {r['episodes_per_min'] / b['episodes_per_min']:>6.2f}"
                     f"  {r['tokens_per_s']:>8.1f}  {r['tokens_per_s'] / b['tokens_per_s']:>6.2f}  {r['occupancy']:>9.2f}"
                     f"  {r['ceiling_tokens_per_s']:>13.1f}  {r['share_of_ceiling']:>5.2f}  {r['failed']:>6}"
                     f"  {r.get('prefill_per_request', float('nan')):>11.1f}  {r.get('completion_per_request', float('nan')):>9.1f}"
                     f"  {r.get('server_prompt_ms', float('nan')):>9.0f}  {r.get('server_predicted_ms', float('nan')):>6.0f}")
    for suite, b in base.items():
        if b["rounds"] > 1:
            lines.append(f"{suite}: K={b['k']} ran first and again last ({b['spread']:.0%} apart in episodes/min); "
                         f"x(K={b['k']}) divides by the mean of the two")
    for r in rows:
        if r.get("warm_cache_rerun"):
            lines.append(f"{r['suite']}: warm-cache rerun at K={r['k']}: {r['requests']} requests for {r['calls']} calls")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"engine": args.engine, "parallel": args.parallel,
                                                         "rows": rows}, indent=1) + "\n")
    _plot(rows, args.out.with_suffix(".png"))
    print("\n".join(lines))
    return 0


def baselines(rows: list[dict]) -> dict[str, dict]:
    """Per suite, the rates the ``x(K=1)`` columns divide by: the mean over the rounds at the suite's first K
    (two when ``--baseline-again`` ran it again at the end), and how far apart those rounds were."""
    out: dict[str, dict] = {}
    for suite in dict.fromkeys(r["suite"] for r in rows):
        timed = [r for r in rows if r["suite"] == suite and not r.get("warm_cache_rerun")]
        first = [r for r in timed if r["k"] == timed[0]["k"]]
        epm = [r["episodes_per_min"] for r in first]
        out[suite] = {"k": timed[0]["k"], "rounds": len(first), "episodes_per_min": sum(epm) / len(epm),
                      "tokens_per_s": sum(r["tokens_per_s"] for r in first) / len(first),
                      "spread": (max(epm) - min(epm)) / (sum(epm) / len(epm))}
    return out


def _plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for suite in dict.fromkeys(r["suite"] for r in rows):
        rs = [r for r in rows if r["suite"] == suite and not r.get("warm_cache_rerun") and not r.get("baseline_again")]
        ax.plot([r["k"] for r in rs], [r["tokens_per_s"] for r in rs], "o-", label=f"{suite}: evaluator")
        ax.plot([r["k"] for r in rs], [r["ceiling_tokens_per_s"] for r in rs], "x--", label=f"{suite}: server ceiling")
    ax.set_xlabel("episodes (requests) in flight")
    ax.set_ylabel("completion tokens / s")
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
