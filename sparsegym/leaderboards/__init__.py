"""Leaderboards: suites with fixed dev/test seeds, agent submissions, an evaluator (local process
pool, episodes in flight on one event loop for LLM agents, or Ray), a results store (SQLite or
PostgreSQL) and ranked reports with bootstrap CIs and BALROG's progression.

    sparsegym suites
    sparsegym evaluate --agent sparsegym.baselines:RandomAgent --suite smoke
    sparsegym submit examples/random_agent.yaml
    sparsegym leaderboard --suite smoke --format markdown

A run is identified by what ran (entry, kwargs, model-file hashes, observation mode, sparsegym
version): see :mod:`sparsegym.leaderboards.identity`.
"""

from sparsegym._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("Agent", "AgentLoadError", "build_agent", "load_factory"), ".agent"),
    **dict.fromkeys(("EpisodeJob", "EvaluationResult", "evaluate", "run_episode"), ".evaluator"),
    **dict.fromkeys(("RunIdentity", "RunIdentityError", "legacy_identity", "run_identity"), ".identity"),
    **dict.fromkeys(("agent_stats", "iqm", "rank", "stratified_bootstrap_ci"), ".metrics"),
    **dict.fromkeys(("leaderboard", "render"), ".report"),
    **dict.fromkeys(("EpisodeRecord", "ResultsStore", "default_db_path"), ".store"),
    **dict.fromkeys(("Submission", "SubmissionError", "load_submission", "parse_submission"), ".submission"),
    **dict.fromkeys(("OBSERVATIONS", "SUITES", "Suite", "get_suite"), ".suites"),
})
