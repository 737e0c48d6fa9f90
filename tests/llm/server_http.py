"""HTTP and process helpers shared by the local-server tests (test_server.py, test_engine.py): plain
urllib without proxies (a proxy variable must not route loopback requests), and a wait for a process to end."""

from __future__ import annotations

import json
import os
import time
import urllib.request

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = 30) -> dict:
    with NO_PROXY.open(url, timeout=timeout) as r:
        return json.loads(r.read())


def http_post(url: str, body: dict, timeout: float = 120) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with NO_PROXY.open(req, timeout=timeout) as r:
        return json.loads(r.read())


def process_gone(pid: int, within: float = 10.0) -> bool:
    """Whether ``pid`` ends within ``within`` seconds (a zombie child of this process counts as gone)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False
