"""Made ``legacy_store_v0.db``: a results store written by sparsegym 0.1.0 *before* runs had an
identity (commit 5f5003a), the input of ``test_identity.py``'s migration tests. Kept to show how the
file was made; run with that commit's code from this folder (``cd tests/leaderboards/data && python
make_legacy_store.py``), not with today's, whose schema differs.

What it holds (suite "smoke" cut to DoorKey-5x5 and MultiRoom-N2-S4, 4 seeds per split):

* ``random``: ``sparsegym.baselines:RandomAgent`` recorded as a submission (kwargs and model files in
  ``details``): the whole test split, and 3 of the 8 dev episodes (an interrupted run);
* ``sample_agents-Forward``: ``../sample_agents.py:Forward`` evaluated the way ``sparsegym evaluate``
  did (no ``details``, so its kwargs were never recorded): the whole test split.
"""

from pathlib import Path

from sparsegym.leaderboards.evaluator import evaluate
from sparsegym.leaderboards.store import ResultsStore
from sparsegym.leaderboards.suites import Suite

HERE = Path(__file__).resolve().parent
SUITE = Suite("smoke", ("sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/MiniGrid-MultiRoom-N2-S4-v0"),
              episodes=4, description="test", step_timeout=None)
DETAILS = {"authors": ["sparsegym developers"], "agent_kwargs": {}, "model_files": {},
           "metadata": {"description": "legacy store for the migration test"}}

if __name__ == "__main__":
    path = HERE / "legacy_store_v0.db"
    path.unlink(missing_ok=True)
    with ResultsStore(path) as store:
        evaluate("sparsegym.baselines:RandomAgent", SUITE, "test", store=store, agent_name="random",
                 details=DETAILS, progress=False)
        evaluate("sparsegym.baselines:RandomAgent", SUITE, "dev", store=store, agent_name="random",
                 details=DETAILS, progress=False, max_episodes=3)
        evaluate("../sample_agents.py:Forward", SUITE, "test", store=store, base_dir=HERE, progress=False)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store._conn.execute("PRAGMA journal_mode=DELETE")
    print(f"wrote {path}")
