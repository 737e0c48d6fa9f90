"""Regenerate the published baseline leaderboards in docs/leaderboards/ with sparsegym's own evaluator.

    python scripts/make_baseline_leaderboard.py [--suites smoke minigrid-easy minigrid-hard babyai minigrid-stochastic] [--workers 2]
    python scripts/make_baseline_leaderboard.py --suites textworld --llm naive cot constrained

``--llm STYLE ...`` adds zero-shot rows of SmolLM2-135M-Instruct (``sparsegym serve``'s default model,
started here) played through the text surface (``observation: text``) with the evaluator's ``async``
backend: ``smollm2-naive``, ``smollm2-cot`` (chain of thought) and ``smollm2-constrained`` (naive, replies
restricted to the admissible actions by grammar), keeping ``--llm-history`` past turns in the prompt.

Runs every baseline that exists on each suite's test split into docs/leaderboards/results.db (resumable:
stored episodes are skipped), then writes <suite>.json, <suite>.html and the plots, and regenerates the
site's pages from the JSON (scripts/gen_leaderboard_pages.py, which also runs alone).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sparsegym.envs.family import get_family  # noqa: E402
from sparsegym.envs.registry import get_entry  # noqa: E402
from sparsegym.leaderboards import ResultsStore, evaluate, get_suite, leaderboard, render  # noqa: E402
from sparsegym.leaderboards.report import plot_png  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
from gen_leaderboard_pages import expected_files  # noqa: E402


def baselines_of(suite) -> dict[str, str]:
    """The reference agents of a suite: its family's (``Family.baselines``; a suite plays one family)."""
    families = {get_entry(env_id).family for env_id in suite.env_ids}
    if len(families) != 1:
        raise SystemExit(f"suite {suite.name!r} mixes families {sorted(families)}: name its baselines here")
    return dict(get_family(families.pop()).baselines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suites", nargs="+", default=["smoke", "minigrid-easy", "minigrid-hard", "babyai", "minigrid-stochastic", "bandits"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "leaderboards")
    parser.add_argument("--db", type=Path, default=None, help="default: OUT/results.db (not committed)")
    parser.add_argument("--llm", nargs="*", default=[], choices=sorted(LLM_ROWS), help="zero-shot SmolLM2 rows to add")
    parser.add_argument("--llm-history", type=int, default=4, help="past turns in the LLM agents' prompts")
    parser.add_argument("--llm-workers", type=int, default=16, help="LLM episodes in flight")
    parser.add_argument("--llm-engine", default=None, help="LocalServer engine (default: sparsegym serve's)")
    parser.add_argument("--skip-baselines", action="store_true", help="only the LLM rows")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    server = None
    if args.llm:
        from sparsegym.llm.server import LocalServer

        server = LocalServer(**({"engine": args.llm_engine} if args.llm_engine else {})).start()
    try:
        _run(args, server)
    finally:
        if server is not None:
            server.stop()
    for path, text in expected_files(args.out).items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


#: The published zero-shot LLM rows: name -> LLMAgent keyword arguments.
#: The reply budgets are the same on every suite (32 tokens for an answer, 128 with thinking), also where
#: LLMAgent's own default is larger (512 on software repair): the rows compare prompts and decoding, and
#: SmolLM2 fills whatever budget it gets.
LLM_ROWS = {
    "naive": {"prompt": "naive", "constrained": False, "max_tokens": 32},
    "cot": {"prompt": "cot", "constrained": False, "max_tokens": 128},
    "constrained": {"prompt": "naive", "constrained": True, "max_tokens": 32},
}


def llm_summary(store, suite_name: str, split: str = "test") -> str:
    """One line per agent that reported LLM statistics on ``suite_name``: model calls, the share of
    replies that named no valid action, that lacked their style's answer line ("no format": no ``ACTION:``
    after chain-of-thought) and that were cut at ``max_tokens`` ("cut"), cache hits, tokens and the mean wait
    per call (the leaderboard's tables rank by return and success only; these say why an LLM row is where
    it is). "n/a" where some episode was stored before the agent counted it."""
    totals: dict[str, dict[str, float]] = {}
    for record in store.episodes(suite=suite_name, split=split):
        stats = record.agent_stats or {}
        if "calls" not in stats:
            continue
        t = totals.setdefault(record.agent, {"episodes": 0})
        t["episodes"] += 1
        for key in ("calls", "requests", "cache_hits", "invalid_replies", "prompt_tokens", "completion_tokens",
                    "llm_seconds"):
            t[key] = t.get(key, 0) + stats.get(key, 0)
        for key in ("unformatted_replies", "truncated_replies"):
            t[key] = t.get(key, 0) + stats[key] if key in stats and t.get(key, 0) is not None else None
    lines = [f"{'agent':<22} {'episodes':>8} {'calls':>7} {'invalid':>8} {'no format':>9} {'cut':>6} "
             f"{'cache hits':>10} {'prompt tok/call':>15} {'reply tok/call':>14} {'s/call':>7}"]

    def share(count, calls):
        return "n/a" if count is None else f"{count / calls:.1%}"

    for agent, t in sorted(totals.items()):
        calls = max(1, t["calls"])
        served = t["requests"]  # calls the server answered (cache hits cost no tokens)
        prompt = f"{t['prompt_tokens'] / served:.0f}" if served else "n/a"  # n/a: every reply from the cache
        reply = f"{t['completion_tokens'] / served:.1f}" if served else "n/a"
        lines.append(f"{agent:<22} {t['episodes']:>8.0f} {t['calls']:>7.0f} {t['invalid_replies'] / calls:>8.1%} "
                     f"{share(t['unformatted_replies'], calls):>9} {share(t['truncated_replies'], calls):>6} "
                     f"{t['cache_hits'] / calls:>10.1%} {prompt:>15} {reply:>14} {t['llm_seconds'] / calls:>7.2f}")
    return "\n".join(lines) if totals else ""


def _run(args: argparse.Namespace, server) -> None:
    with ResultsStore(args.db or args.out / "results.db") as store:
        for suite_name in args.suites:
            suite = get_suite(suite_name)
            if not args.skip_baselines:
                for name, entry in baselines_of(suite).items():
                    evaluate(entry, suite, "test", agent_name=name, store=store, workers=args.workers)
            for style in args.llm:
                kwargs = {**LLM_ROWS[style], "base_url": server.base_url, "model": server.model,
                          "history": args.llm_history, "max_concurrency": args.llm_workers}
                evaluate("sparsegym.agents:LLMAgent", suite, "test", agent_name=f"smollm2-{style}", store=store,
                         observation="text", agent_kwargs=kwargs, backend="async", workers=args.llm_workers)
            stats = leaderboard(store, suite, "test")
            for fmt, ext in (("json", "json"), ("html", "html")):
                path = args.out / f"{suite.name}.{ext}"
                path.write_text(render(stats, suite, "test", fmt) + "\n")
                print(f"wrote {path}")
            for fig, png in plot_png(stats, suite).items():
                (args.out / f"{suite.name}_{fig}").write_bytes(png)
            print(render(stats, suite, "test", "table"))
            summary = llm_summary(store, suite.name)
            if summary:
                path = args.out / f"{suite.name}_llm.txt"
                path.write_text(f"# LLM agents on {suite.name}/test (scripts/make_baseline_leaderboard.py)\n{summary}\n")
                print(summary)
                print(f"wrote {path}")


if __name__ == "__main__":
    from sparsegym.errors import EvaluationStoppedError

    try:
        raise SystemExit(main())
    except EvaluationStoppedError as exc:  # the LLM server went away: say so in one line; rerunning resumes
        raise SystemExit(f"make_baseline_leaderboard.py: {exc}") from None
