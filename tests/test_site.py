"""The docs site in a real browser: a leaderboard page shows its ranked rows in order, its plots load,
and the click-to-sort script sorts (through its ``?sort=`` hook, which clicks the column header).

Needs chromium and mkdocs (``pip install -e ".[docs]"``): skipped without them, unless
SPARSEGYM_REQUIRE_BROWSER is set (CI sets it where chromium is installed), in which case it fails.
SPARSEGYM_SITE_DIR names an already built site; otherwise the test builds one in a temporary folder.
"""

from __future__ import annotations

import functools
import html
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SUITE = "smoke"
TABLE = json.loads((ROOT / "docs" / "leaderboards" / f"{SUITE}.json").read_text())


def _unavailable(reason: str) -> None:
    if os.environ.get("SPARSEGYM_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    _unavailable("no chromium on PATH (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("SPARSEGYM_SITE_DIR")
    if given:
        return Path(given)
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        _unavailable('mkdocs is not installed: pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(out)],
                           cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                           timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    return out


class _Server:
    """The site over HTTP on localhost, recording each request's path and status."""

    def __init__(self, root: Path):
        self.requests: list[tuple[str, int]] = []
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                log.append((self.path.split("?", 1)[0], int(getattr(code, "value", code))))

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server(site):
    with _Server(site) as s:
        yield s


def _dom(chromium: str, url: str, profile: Path) -> str:
    out = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60,
    )
    assert "</html>" in out.stdout, out.stderr[-2000:]
    return out.stdout


def _ranking(dom: str) -> tuple[list[str], list[list[str]]]:
    """The ranking table's header cells (as tags) and its rows' cell texts, in DOM order."""
    table = re.search(r'<table[^>]*id="ranking"[^>]*>(.*?)</table>', dom, re.S)
    assert table, "no ranking table in the page"
    headers = re.findall(r"<th\b[^>]*>", table.group(1))
    rows = [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td\b[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>", 1)[1], re.S)]
    return headers, rows


def test_leaderboard_page_shows_ranked_rows_and_loads_its_plots(chromium, server, tmp_path):
    dom = _dom(chromium, f"{server.url}/leaderboards/{SUITE}/", tmp_path / "profile")
    _, rows = _ranking(dom)
    expected = TABLE["ranking"]
    assert [r[1] for r in rows] == [r["agent"] for r in expected]
    assert [r[0] for r in rows] == [str(r["rank"]) for r in expected]
    assert rows[0][2] == f"{expected[0]['iqm_return']:.3f}"
    lo, hi = expected[0]["iqm_ci"]
    assert rows[0][3] == f"[{lo:.3f}, {hi:.3f}]"

    images = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', dom)
    plots = [src for src in images if src.endswith(".png") and SUITE in src]
    assert len(plots) == 2, images
    loaded = {path for path, status in server.requests if status == 200}
    for src in plots:
        path = "/" + os.path.normpath(f"leaderboards/{SUITE}/{src}")
        assert path in loaded, f"the browser did not load {path}: {server.requests}"
    assert "/js/sortable.js" in loaded


def test_sort_script_sorts_by_a_clicked_column(chromium, server, tmp_path):
    dom = _dom(chromium, f"{server.url}/leaderboards/{SUITE}/?sort=agent&order=desc", tmp_path / "profile")
    headers, rows = _ranking(dom)
    assert [r[1] for r in rows] == sorted((r["agent"] for r in TABLE["ranking"]), reverse=True)
    agent_header = next(h for h in headers if 'data-key="agent"' in h)
    assert 'aria-sort="descending"' in agent_header

    dom = _dom(chromium, f"{server.url}/leaderboards/{SUITE}/?sort=success", tmp_path / "profile")
    _, rows = _ranking(dom)
    by_success = sorted(TABLE["ranking"], key=lambda r: r["success_rate"])
    assert [r[1] for r in rows] == [r["agent"] for r in by_success]
