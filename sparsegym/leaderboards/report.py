"""Ranked leaderboard tables (plain text, Markdown, JSON, HTML with plots) from the results store."""

from __future__ import annotations

import base64
import html
import io
import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from sparsegym.errors import ConfigError
from sparsegym.leaderboards.metrics import AgentStats, agent_stats, rank
from sparsegym.leaderboards.store import ResultsStore
from sparsegym.leaderboards.suites import Suite, get_suite

FORMATS = ("table", "markdown", "json", "html")


def leaderboard(store: ResultsStore, suite: str | Suite, split: str = "test", reps: int = 2000) -> list[AgentStats]:
    """Every agent with results on ``suite``/``split``, ranked best first."""
    suite = get_suite(suite) if isinstance(suite, str) else suite
    suite.seeds(split)
    by_agent = defaultdict(list)
    for r in store.episodes(suite=suite.name, split=split):
        if r.env_id in suite.env_ids:
            by_agent[r.agent].append(r)
    expected = len(suite.env_ids) * suite.episodes
    return rank([agent_stats(a, rs, suite.env_ids, expected, reps=reps) for a, rs in by_agent.items()])


def _ci(ci: tuple[float, float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _rows(stats: list[AgentStats]) -> list[list[str]]:
    rows = []
    for i, s in enumerate(stats, 1):
        done = f"{s.episodes}/{s.expected_episodes}" if s.expected_episodes else str(s.episodes)
        prog = "-" if s.progression is None else f"{s.progression:.3f} +/- {s.progression_se or 0.0:.3f}"
        rows.append([str(i), s.agent, f"{s.iqm_return:.3f}", _ci(s.iqm_ci), f"{s.success_rate:.3f}",
                     _ci(s.success_ci), prog, f"{s.mean_return:.3f}", done + ("" if s.complete else " (partial)"),
                     str(s.errors)])
    return rows


HEADERS = ["rank", "agent", "IQM return", "95% CI", "success", "95% CI", "progression", "mean return", "episodes",
           "errors"]


def render(stats: list[AgentStats], suite: Suite, split: str, fmt: str = "table") -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    title = f"sparsegym leaderboard: suite {suite.name!r}, split {split!r} ({len(suite.env_ids)} envs x {suite.episodes} episodes)"
    if fmt == "json":
        return json.dumps({"suite": suite.name, "split": split, "env_ids": list(suite.env_ids),
                           "episodes_per_env": suite.episodes,
                           "ranking": [dict(asdict(s), rank=i) for i, s in enumerate(stats, 1)]}, indent=2)
    rows = _rows(stats)
    if fmt == "markdown":
        lines = [f"### {title}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines += ["", "IQM: interquartile mean of episode returns over (seeds x envs); 95% CIs from a stratified "
                  "bootstrap over seeds within each env (2,000 replicates). Progression: mean share of the task "
                  "achieved per episode (BALROG's measure; success where a task is won or not), +/- its standard "
                  "error."]
        return "\n".join(lines)
    if fmt == "table":
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
        line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        out = [title, "", line(HEADERS), line(["-" * w for w in widths])] + [line(r) for r in rows]
        if not rows:
            out.append("(no results yet)")
        return "\n".join(out)
    return _html(stats, suite, split, title, rows)


def plot_png(stats: list[AgentStats], suite: Suite) -> dict[str, bytes]:
    """PNG figures: aggregate IQM with CIs, and per-env success rates. Needs matplotlib."""
    from sparsegym._deps import require

    require("matplotlib", "leaderboard", "Leaderboard plots")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    names = [s.agent for s in stats][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(stats) + 1.5))
    values = [s.iqm_return for s in stats][::-1]
    lo = [s.iqm_return - s.iqm_ci[0] for s in stats][::-1]
    hi = [s.iqm_ci[1] - s.iqm_return for s in stats][::-1]
    ax.barh(names, values, xerr=[lo, hi], color="#4C72B0", capsize=4)
    ax.set_xlabel("IQM of episode return (95% stratified-bootstrap CI)")
    ax.set_title(f"{suite.name}: aggregate")
    low = min(0.0, min((s.iqm_ci[0] for s in stats), default=0.0))
    ax.set_xlim(low * 1.05, max(1.0, max((s.iqm_ci[1] for s in stats), default=1.0)) * 1.05)
    ax.axvline(0.0, color="black", linewidth=0.8)
    fig.tight_layout()
    figures["aggregate_iqm.png"] = _png(fig)
    plt.close(fig)

    envs = [e.split("/", 1)[-1] for e in suite.env_ids]
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(envs)), 4.5))
    width = 0.8 / max(1, len(stats))
    for k, s in enumerate(stats):
        rate = {e.env_id: e.success_rate for e in s.per_env}
        ax.bar([i + k * width for i in range(len(envs))], [rate.get(e, 0.0) for e in suite.env_ids], width, label=s.agent)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(envs))], envs, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel("success rate")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{suite.name}: success per env")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["success_per_env.png"] = _png(fig)
    plt.close(fig)
    return figures


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _html(stats: list[AgentStats], suite: Suite, split: str, title: str, rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    try:
        figures = plot_png(stats, suite) if stats else {}
        images = "".join(
            f'<figure><img alt="{html.escape(n)}" src="data:image/png;base64,{base64.b64encode(b).decode()}"></figure>'
            for n, b in figures.items()
        )
    except ImportError as exc:
        images = f"<p><em>{html.escape(str(exc))}</em></p>"
    env_rows = "".join(
        "<tr><td>" + html.escape(s.agent) + "</td><td>" + html.escape(e.env_id) + f"</td><td>{e.success_rate:.3f}</td>"
        f"<td>{e.mean_return:.3f}</td><td>{e.mean_length:.1f}</td><td>{e.episodes}</td><td>{e.errors}</td></tr>"
        for s in stats for e in s.per_env
    )
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f3f3f3}}img{{max-width:100%}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<table><tr>{head}</tr>{body}</table>
<p>IQM: interquartile mean of episode returns over (seeds x envs); 95% CIs from a stratified bootstrap over
seeds within each env (2,000 replicates). Ranked by IQM, then success rate.</p>
{images}
<h2>Per environment</h2>
<table><tr><th>agent</th><th>env</th><th>success</th><th>mean return</th><th>mean length</th><th>episodes</th><th>errors</th></tr>{env_rows}</table>
</body></html>
"""
