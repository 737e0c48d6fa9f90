from pathlib import Path

import pytest

pytest.importorskip("minigrid")

from sparsegym.leaderboards.suites import Suite  # noqa: E402

AGENTS = str(Path(__file__).with_name("sample_agents.py"))


@pytest.fixture
def tiny_suite():
    return Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/MiniGrid-MultiRoom-N2-S4-v0"),
                 episodes=4, description="test", step_timeout=0.5)


@pytest.fixture
def store(tmp_path):
    from sparsegym.leaderboards.store import ResultsStore

    with ResultsStore(tmp_path / "results.db") as s:
        yield s
