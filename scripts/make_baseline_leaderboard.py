"""Regenerate the published baseline leaderboards in docs/leaderboards/ with sparsegym's own evaluator.

    python scripts/make_baseline_leaderboard.py [--suites smoke minigrid-easy minigrid-hard] [--workers 2]

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
    parser.add_argument("--suites", nargs="+", default=["smoke", "minigrid-easy", "minigrid-hard", "bandits"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "leaderboards")
    parser.add_argument("--db", type=Path, default=None, help="default: OUT/results.db (not committed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with ResultsStore(args.db or args.out / "results.db") as store:
        for suite_name in args.suites:
            suite = get_suite(suite_name)
            for name, entry in baselines_of(suite).items():
                evaluate(entry, suite, "test", agent_name=name, store=store, workers=args.workers)
            stats = leaderboard(store, suite, "test")
            for fmt, ext in (("json", "json"), ("html", "html")):
                path = args.out / f"{suite.name}.{ext}"
                path.write_text(render(stats, suite, "test", fmt) + "\n")
                print(f"wrote {path}")
            for fig, png in plot_png(stats, suite).items():
                (args.out / f"{suite.name}_{fig}").write_bytes(png)
            print(render(stats, suite, "test", "table"))
    for path, text in expected_files(args.out).items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
