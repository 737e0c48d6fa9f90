"""Leaderboards: suites with fixed dev/test seeds, agent submissions, an evaluator (local process
pool or Ray), a results store (SQLite or PostgreSQL) and ranked reports with bootstrap CIs.

    sparsegym suites
    sparsegym evaluate --agent sparsegym.baselines:RandomAgent --suite smoke
    sparsegym submit examples/random_agent.yaml
    sparsegym leaderboard --suite smoke --format markdown

A run is identified by what ran (entry, kwargs, model-file hashes, observation mode, sparsegym
version): see :mod:`sparsegym.leaderboards.identity`.
"""

from sparsegym.leaderboards.agent import Agent, AgentLoadError, build_agent, load_factory
from sparsegym.leaderboards.evaluator import EpisodeJob, EvaluationResult, evaluate, run_episode
from sparsegym.leaderboards.identity import RunIdentity, RunIdentityError, legacy_identity, run_identity
from sparsegym.leaderboards.metrics import agent_stats, iqm, rank, stratified_bootstrap_ci
from sparsegym.leaderboards.report import leaderboard, render
from sparsegym.leaderboards.store import EpisodeRecord, ResultsStore, default_db_path
from sparsegym.leaderboards.submission import Submission, SubmissionError, load_submission, parse_submission
from sparsegym.leaderboards.suites import OBSERVATIONS, SUITES, Suite, get_suite

__all__ = [
    "Agent", "AgentLoadError", "build_agent", "load_factory",
    "EpisodeJob", "EvaluationResult", "evaluate", "run_episode",
    "RunIdentity", "RunIdentityError", "legacy_identity", "run_identity",
    "agent_stats", "iqm", "rank", "stratified_bootstrap_ci",
    "leaderboard", "render",
    "EpisodeRecord", "ResultsStore", "default_db_path",
    "Submission", "SubmissionError", "load_submission", "parse_submission",
    "OBSERVATIONS", "SUITES", "Suite", "get_suite",
]
