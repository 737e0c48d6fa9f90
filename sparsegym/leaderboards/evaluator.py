"""Run an agent on every (env id, seed) episode of a suite split and store one record per episode.

Robust by construction:

* each episode runs inside :func:`run_episode`, which never raises: an agent that raises, exceeds the
  suite's per-step timeout, or returns an invalid action yields a failed record with the error;
* except when what failed is a service the agent needs (:class:`~sparsegym.errors.ServiceUnavailableError`:
  an LLM server that is down, overloaded or does not serve the model): that says nothing about the agent
  and would fail every later episode alike, so the run stops with
  :class:`~sparsegym.errors.EvaluationStoppedError`, storing nothing for that episode, and running it again
  resumes there (a stored failure would be skipped for good);
* every finished episode is committed to the store at once, and a run started again skips the stored
  ones, so an interrupted evaluation resumes without losing or repeating an episode;
* with the process-pool backend a worker that dies (a segfault, an OOM kill) is replaced, and the
  episodes it may have been running are retried one by one in isolation, so only the culprit fails.

Runs are identified by what ran, not by their name (:mod:`sparsegym.leaderboards.identity`): the
entry point, its kwargs, the hashes of its model files (declared, or named by a kwargs value), the
observation mode and the sparsegym version. Episodes resume only under an equal identity; a name
already bound to another identity is refused with what differs (``overwrite=True`` replaces it);
without a name, the default name carries a short identity hash, so different runs never share one.

Observation (``observation="text"``, or the suite's default): the episode runner wraps envs that
are not text-native in :class:`sparsegym.wrappers.TextObservation` and builds the agent for the
wrapped env; see :mod:`sparsegym.leaderboards.suites`.

Backends: ``local`` (the calling process when ``workers == 1``, else a pool of ``workers``
processes), ``async`` (``workers`` episodes in flight in this process on one event loop: agents with an
``aact`` coroutine, such as LLM agents, wait on their server together, so a server that batches
concurrent requests stays busy; other agents' ``act`` runs in a thread; as the episodes in flight share
one server, each action may take the suite's ``step_timeout`` times their number) and ``ray`` (one Ray task per
episode: ``ray start --head`` on one node and ``ray start --address=HEAD:6379`` on the others, then run
with ``RAY_ADDRESS=HEAD:6379``; without ``RAY_ADDRESS`` a local Ray instance with ``workers`` CPUs is
started).

Each record also keeps the episode's *progression* in [0, 1] (BALROG's measure, from the family's
tracker: :mod:`sparsegym.envs.progress`) and, for agents with ``episode_stats()``, what the agent reports
about the episode (an LLM agent: calls, tokens, invalid replies, latency).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import sparsegym
from sparsegym.envs.family import get_family
from sparsegym.envs.progress import SuccessProgress, progress_for
from sparsegym.envs.registry import get_entry
from sparsegym.errors import ConfigError, EvaluationStoppedError, ServiceUnavailableError
from sparsegym.leaderboards.agent import build_agent, check_agent_kwargs, load_factory
from sparsegym.leaderboards.identity import (
    NAME_HASH,
    RunIdentity,
    RunIdentityError,
    check_observation,
    run_identity,
)
from sparsegym.leaderboards.store import EpisodeRecord, ResultsStore
from sparsegym.leaderboards.suites import Suite, get_suite

#: Hard cap on an episode's length when its env declares no step limit.
DEFAULT_STEP_CAP = 100_000


@dataclass(frozen=True)
class EpisodeJob:
    """Everything a worker needs to run one episode (picklable, for process pools and Ray)."""

    agent: str
    entry: str
    suite: str
    split: str
    env_id: str
    seed: int
    agent_kwargs_json: str = "{}"
    base_dir: str | None = None
    step_timeout: float | None = None
    trajectory_dir: str | None = None
    observation: str = "native"
    identity: str | None = None
    isolate: str | None = None
    isolate_image: str | None = None
    in_flight: int = 1  # episodes sharing this one's agent server (the async backend): the step allowance scales

    @property
    def act_timeout(self) -> float | None:
        """Seconds the agent may take for one action: the suite's ``step_timeout`` times the number of
        episodes in flight, this one included (their agents wait on the same server, each in turn)."""
        return None if self.step_timeout is None else self.step_timeout * max(1, self.in_flight)


class StepTimeout(Exception):
    """The agent took longer than the per-step timeout to act."""


# -- one episode, in whatever process runs it --------------------------------------------------------

_ENVS: dict[tuple[str, str], gymnasium.Env] = {}
_AGENTS: dict[tuple, Any] = {}


def make_env(env_id: str, observation: str = "native") -> tuple[gymnasium.Env, dict[str, str]]:
    """The env an agent plays in ``observation`` mode, and what to stamp in the episode's versions."""
    with warnings.catch_warnings():
        # A suite pins its ids' versions on purpose (results stay comparable): gymnasium's advice to use a
        # newer version of an id (the bandits suite's LSDBandit-*-v0 beside the paper instances' -v1) is noise.
        warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading")
        env = sparsegym.make(env_id)
    stamp = {"observation": observation}
    if observation == "text":
        if isinstance(env.observation_space, gymnasium.spaces.Text):
            stamp["text_view"] = "native"  # TextWorld, ALFWorld, WebShop, SWE: already text
        else:
            from sparsegym.wrappers.text import TextObservation

            env = TextObservation(env)
            stamp["text_view"] = env.view.name  # the family's view (e.g. minigrid-text) and its version
            stamp["text_view_version"] = f"{env.view.version}+TextObservation/{TextObservation.VERSION}"
    return env, stamp


def _versions(env_id: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"sparsegym": sparsegym.__version__, "gymnasium": gymnasium.__version__, "numpy": np.__version__,
           "python": sys.version.split()[0]}
    for package in get_family(get_entry(env_id).family).packages:  # the family says what its results depend on
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def _alarm(signum: int, frame: Any) -> None:
    raise StepTimeout()


def _act_with_thread_timeout(agent: Any, obs: Any, info: dict, timeout: float) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["action"] = agent.act(obs, info)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise StepTimeout()
    if "error" in box:
        raise box["error"]
    return box["action"]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 16 else f"<array {value.shape} {value.dtype}>"
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


@dataclass(frozen=True)
class StoppedEpisode:
    """What a runner returns instead of a record when a service the agent needs was unavailable
    (:class:`~sparsegym.errors.ServiceUnavailableError`) at ``step`` of the episode: nothing is stored
    for it, and :func:`evaluate` stops the run with the ``cause``."""

    env_id: str
    seed: int
    step: int
    cause: str


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Episode:
    """One episode's bookkeeping, shared by the synchronous and the asynchronous runners: the return, the
    step count, success, progression (the family's tracker), the trajectory, and the record at the end."""

    def __init__(self, job: EpisodeJob, env: gymnasium.Env, agent: Any):
        self.job, self.env, self.agent = job, env, agent
        self.start = time.perf_counter()
        self.total, self.steps, self.success, self.error = 0.0, 0, False, None
        self.stopped: str | None = None  # a ServiceUnavailableError's message: no record for this episode
        try:
            self.cap = get_entry(job.env_id).max_episode_steps or DEFAULT_STEP_CAP
        except Exception:  # an unknown id fails when the env is made, with its own message
            self.cap = DEFAULT_STEP_CAP
        self.trajectory: list[dict[str, Any]] | None = [] if job.trajectory_dir else None
        self.progress = progress_for(env) if env is not None else SuccessProgress()

    def _native(self, obs: Any) -> Any:
        return getattr(self.env, "raw_observation", obs)  # a text view keeps the env's own observation

    def begin(self, obs: Any, info: dict[str, Any]) -> None:
        if self.trajectory is not None:
            self.trajectory.append({"t": 0, "observation": _jsonable(obs), "info": _jsonable(info)})

    def record_step(self, action: Any, obs: Any, reward: float, terminated: bool, truncated: bool,
                    info: dict[str, Any]) -> bool:
        """Account for one step; True when the episode is over."""
        self.steps += 1
        components = info.get("reward_components") if isinstance(info, dict) else None
        self.total += float(components["extrinsic"]) if components and "extrinsic" in components else float(reward)
        self.progress.update(self._native(obs), float(reward), bool(terminated), bool(truncated),
                             info if isinstance(info, dict) else {})
        if self.trajectory is not None:
            self.trajectory.append({"t": self.steps, "action": _jsonable(action), "reward": float(reward),
                                    "terminated": bool(terminated), "truncated": bool(truncated),
                                    "observation": _jsonable(obs), "info": _jsonable(info)})
        if terminated or truncated:
            self.success = bool(info.get("success", False))
            return True
        if self.steps >= self.cap:
            self.error = f"episode exceeded {self.cap} steps without ending"
            return True
        return False

    def fail(self, phase: str, action: Any, exc: BaseException) -> None:
        if isinstance(exc, ServiceUnavailableError):
            self.stopped = _cause(exc)
        elif isinstance(exc, (StepTimeout, asyncio.TimeoutError)):
            job = self.job
            shared = (f" (the suite's {job.step_timeout:g} s x {job.in_flight} episodes in flight)"
                      if job.in_flight > 1 else "")
            self.error = f"step timeout: the agent took over {job.act_timeout:g} s{shared} to act at step {self.steps}"
        else:
            where = "the agent raised" if phase == "agent.act" else f"env.step rejected action {action!r}"
            self.error = f"{where} at step {self.steps}: {type(exc).__name__}: {exc}"

    def record(self, stamp: dict[str, str]) -> EpisodeRecord | StoppedEpisode:
        job = self.job
        if self.stopped is not None:
            return StoppedEpisode(job.env_id, job.seed, self.steps, self.stopped)
        try:
            versions = _versions(job.env_id)
        except Exception:
            versions = {"sparsegym": sparsegym.__version__}
        versions.update(stamp)
        stats = None
        if self.agent is not None and hasattr(self.agent, "episode_stats"):
            try:
                stats = _jsonable(dict(self.agent.episode_stats()))
            except Exception as exc:  # the record must still be written
                stats = {"error": f"episode_stats raised {type(exc).__name__}: {exc}"}
        record = EpisodeRecord(
            agent=job.agent, suite=job.suite, split=job.split, env_id=job.env_id, seed=job.seed,
            episode_return=self.total, success=self.success and self.error is None, length=self.steps,
            wall_seconds=time.perf_counter() - self.start, error=self.error, versions=versions, identity=job.identity,
            progression=float(self.progress.value) if self.error is None else 0.0, agent_stats=stats,
        )
        if self.trajectory is not None:
            _write_trajectory(job, record, self.trajectory)
        return record


def _env_and_agent(job: EpisodeJob, envs: dict, agents: dict) -> tuple[gymnasium.Env, dict[str, str], Any]:
    cached = envs.get((job.env_id, job.observation))
    if cached is None:
        cached = envs[(job.env_id, job.observation)] = make_env(job.env_id, job.observation)
    env, stamp = cached
    key = (job.entry, job.agent_kwargs_json, job.base_dir, job.env_id, job.observation, job.identity, job.isolate,
           job.isolate_image)
    agent = agents.get(key)
    if agent is None:
        if job.isolate == "docker":  # the agent's code runs only in its container, never in this process
            from sparsegym.leaderboards.isolation import DockerAgent

            agent = DockerAgent(job.entry, job.env_id, kwargs=json.loads(job.agent_kwargs_json),
                                base_dir=job.base_dir, observation=job.observation, image=job.isolate_image)
        else:
            agent = build_agent(job.entry, env, json.loads(job.agent_kwargs_json), job.base_dir)
        agents[key] = agent
    return env, stamp, agent


def run_episode(job: EpisodeJob) -> EpisodeRecord | StoppedEpisode:
    """Play one episode and return its record, or a :class:`StoppedEpisode` when a service the agent needs
    is unavailable; never raises."""
    use_alarm = (job.step_timeout is not None and hasattr(signal, "setitimer")
                 and threading.current_thread() is threading.main_thread())
    old_handler = signal.signal(signal.SIGALRM, _alarm) if use_alarm else None
    stamp = {"observation": job.observation}
    episode = _Episode(job, None, None)  # replaced once the env and agent exist
    try:
        env, stamp, agent = _env_and_agent(job, _ENVS, _AGENTS)
        episode = _Episode(job, env, agent)
        agent.reset(job.seed)
        obs, info = env.reset(seed=job.seed)
        episode.begin(obs, info)
        while True:
            phase, action = "agent.act", None
            try:
                if job.step_timeout is None:
                    action = agent.act(obs, info)
                elif use_alarm:
                    signal.setitimer(signal.ITIMER_REAL, job.step_timeout)
                    try:
                        action = agent.act(obs, info)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                else:
                    action = _act_with_thread_timeout(agent, obs, info, job.step_timeout)
                phase = "env.step"
                obs, reward, terminated, truncated, info = env.step(action)
            except Exception as exc:
                episode.fail(phase, action, exc)
                break
            if episode.record_step(action, obs, reward, terminated, truncated, info):
                break
    except ServiceUnavailableError as exc:  # building the agent or resetting it needed the service
        episode.stopped = _cause(exc)
    except Exception as exc:
        episode.error = f"could not run the episode: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
    return episode.record(stamp)


async def arun_episode(job: EpisodeJob, env: gymnasium.Env, stamp: dict[str, str],
                       agent: Any) -> EpisodeRecord | StoppedEpisode:
    """Play one episode in an event loop: the agent's ``aact`` is awaited (its ``act`` runs in a thread when
    it has no ``aact``), so many episodes share one process while their agents wait on a server."""
    episode = _Episode(job, env, agent)
    try:
        agent.reset(job.seed)
        obs, info = env.reset(seed=job.seed)
        episode.begin(obs, info)
        act = getattr(agent, "aact", None)
        while True:
            phase, action = "agent.act", None
            try:
                pending = act(obs, info) if act is not None else asyncio.to_thread(agent.act, obs, info)
                action = await asyncio.wait_for(pending, job.act_timeout)
                phase = "env.step"
                obs, reward, terminated, truncated, info = env.step(action)
            except Exception as exc:
                episode.fail(phase, action, exc)
                break
            if episode.record_step(action, obs, reward, terminated, truncated, info):
                break
    except ServiceUnavailableError as exc:  # building the agent or resetting it needed the service
        episode.stopped = _cause(exc)
    except Exception as exc:
        episode.error = f"could not run the episode: {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
    return episode.record(stamp)


def trajectory_path(root: str | Path, agent: str, suite: str, split: str, env_id: str, seed: int) -> Path:
    return Path(root) / agent / f"{suite}-{split}" / f"{env_id.replace('/', '__')}-{seed}.jsonl"


def _write_trajectory(job: EpisodeJob, record: EpisodeRecord, steps: list[dict[str, Any]]) -> None:
    path = trajectory_path(job.trajectory_dir, job.agent, job.suite, job.split, job.env_id, job.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("w") as f:
        f.write(json.dumps({"episode": record.to_dict()}) + "\n")
        for step in steps:
            f.write(json.dumps(step) + "\n")
    tmp.replace(path)


# -- backends ----------------------------------------------------------------------------------------


def _failed(job: EpisodeJob, message: str) -> EpisodeRecord:
    return EpisodeRecord(agent=job.agent, suite=job.suite, split=job.split, env_id=job.env_id, seed=job.seed,
                         episode_return=0.0, success=False, length=0, wall_seconds=0.0, error=message,
                         versions={"sparsegym": sparsegym.__version__, "observation": job.observation},
                         identity=job.identity)


def _run_inline(jobs: list[EpisodeJob], workers: int) -> Iterator[EpisodeRecord]:
    for job in jobs:
        yield run_episode(job)


def _run_pool(jobs: list[EpisodeJob], workers: int) -> Iterator[EpisodeRecord]:
    ctx = multiprocessing.get_context("spawn")
    suspects: list[EpisodeJob] = []
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:
        futures = {pool.submit(run_episode, job): job for job in jobs}
        for future in cf.as_completed(futures):
            try:
                yield future.result()
            except cf.process.BrokenProcessPool:
                suspects.append(futures[future])
    finally:
        # On an interruption, drop the queued episodes at once (the stored ones stay stored).
        pool.shutdown(wait=False, cancel_futures=True)
    # A dead worker breaks the whole pool: retry each episode it might have been running alone.
    for job in suspects:
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as single:
            try:
                yield single.submit(run_episode, job).result()
            except cf.process.BrokenProcessPool as exc:
                yield _failed(job, f"the worker process died while running this episode ({exc})")


def _run_ray(jobs: list[EpisodeJob], workers: int) -> Iterator[EpisodeRecord]:
    from sparsegym.utils.ray import start_ray

    ray = start_ray(workers, "The Ray evaluation backend")
    remote = ray.remote(num_cpus=1, max_retries=0)(run_episode)
    pending = {remote.remote(job): job for job in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        ref = done[0]
        job = pending.pop(ref)
        try:
            yield ray.get(ref)
        except Exception as exc:  # a worker crash or a Ray error: this episode failed
            yield _failed(job, f"Ray task failed: {type(exc).__name__}: {exc}")


def _run_async(jobs: list[EpisodeJob], workers: int) -> Iterator[EpisodeRecord]:
    """``workers`` episodes in flight in this process, on one event loop in a background thread; each slot
    keeps its own env and agent (an agent holds one episode's state), built on first use."""
    results: queue.Queue = queue.Queue()
    stop = threading.Event()
    in_flight = max(1, min(workers, len(jobs)))
    todo = [replace(job, in_flight=in_flight) for job in jobs]

    async def slot() -> None:
        envs: dict = {}
        agents: dict = {}
        while todo and not stop.is_set():
            job = todo.pop(0)
            try:
                env, stamp, agent = await asyncio.to_thread(_env_and_agent, job, envs, agents)
            except ServiceUnavailableError as exc:
                results.put(StoppedEpisode(job.env_id, job.seed, 0, _cause(exc)))
                continue
            except Exception as exc:
                results.put(_failed(job, f"could not run the episode: {type(exc).__name__}: {exc}"))
                continue
            results.put(await arun_episode(job, env, stamp, agent))
        for agent in agents.values():  # isolated agents' containers go with their slot
            if _is_isolated(agent):
                agent.close()

    async def main() -> None:
        try:
            await asyncio.gather(*(slot() for _ in range(max(1, workers))))
        finally:
            results.put(None)

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="sparsegym-async-evaluator", daemon=True)
    thread.start()
    try:
        while True:
            record = results.get()
            if record is None:
                break
            yield record
    finally:
        stop.set()  # on an interruption: no new episodes; those in flight finish and are dropped
        thread.join(timeout=5)


BACKENDS: dict[str, Callable[[list[EpisodeJob], int], Iterator[EpisodeRecord]]] = {
    "local": lambda jobs, workers: (_run_inline if workers <= 1 else _run_pool)(jobs, workers),
    "async": _run_async,
    "ray": _run_ray,
}


# -- progress ----------------------------------------------------------------------------------------


class _Progress:
    """tqdm when installed, else a plain line every few seconds on stderr."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool):
        self.total, self.done, self.successes, self.finished = total, initial, 0, 0
        self.enabled = enabled
        self._bar = None
        self._start = self._last = time.monotonic()
        if enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, initial=initial, desc=desc, unit="ep", dynamic_ncols=True)
            except ImportError:
                print(f"{desc}: {initial}/{total} episodes already stored", file=sys.stderr)

    def update(self, record: EpisodeRecord) -> None:
        self.done += 1
        self.finished += 1
        self.successes += record.success
        rate = self.successes / self.finished
        if self._bar is not None:
            self._bar.set_postfix(success=f"{rate:.2f}", refresh=False)
            self._bar.update(1)
        elif self.enabled and (time.monotonic() - self._last > 2.0 or self.done == self.total):
            self._last = time.monotonic()
            elapsed = self._last - self._start
            eta = elapsed / self.finished * (self.total - self.done)
            print(f"  {self.done}/{self.total} episodes, success {rate:.2f}, ~{eta:.0f} s left", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# -- the evaluation ----------------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    agent: str
    suite: str
    split: str
    total: int
    ran: int
    skipped: int
    failed: int
    interrupted: bool = False
    records: list[EpisodeRecord] = field(default_factory=list)
    identity: RunIdentity | None = None


def default_agent_name(entry: str, identity: RunIdentity | str | None = None, digits: int = NAME_HASH) -> str:
    """The entry's short name (``factory``, or ``file-factory`` for a ``.py`` entry), then, given an
    identity, ``-`` and its first ``digits`` hex digits: ``load_ppo-1a2b3c4d``."""
    target, _, attr = entry.strip().partition(":")
    if target.endswith(".py"):
        base = f"{Path(target).stem}{'-' + attr if attr else ''}"
    else:
        base = attr or target.rsplit(".", 1)[-1]
    if identity is None:
        return base
    digest = identity.digest if isinstance(identity, RunIdentity) else identity
    return f"{base}-{digest[:digits]}"


def _free_default_name(store: ResultsStore, entry: str, identity: RunIdentity) -> str:
    """The default name, with more hash digits in the (unlikely) case that the short one is taken."""
    for digits in (NAME_HASH, 12, 16, 24, 64):
        name = default_agent_name(entry, identity, digits)
        if store.run_identities(name) <= {identity.digest}:
            return name
    raise RunIdentityError(f"every default name of {entry!r} is taken by another run; pass a name (--name)")


def identity_conflict(name: str, identity: RunIdentity, stored: dict[str, Any] | None, found: set) -> RunIdentityError:
    """The error for a name already bound to another run: both identities, what differs, what to do."""
    others = sorted(str(i)[:12] if i else "none (rows without an identity)" for i in found - {identity.digest})
    lines = [f"agent name {name!r} already holds results of a different run: stored identity {', '.join(others)}, "
             f"this run's identity {identity.short}. What differs (stored -> this run):"]
    spec = stored.get("identity_spec") if stored and stored.get("identity") in found - {identity.digest} else None
    lines += [f"  - {d}" for d in identity.differences(spec)]
    lines.append(f"To keep both, evaluate under another name (--name NEW_NAME; agent_name= in Python). To replace "
                 f"them, pass --overwrite (overwrite=True): the results stored under {name!r} are deleted.")
    return RunIdentityError("\n".join(lines))


def evaluate(
    entry: str,
    suite: str | Suite,
    split: str = "dev",
    *,
    agent_name: str | None = None,
    agent_kwargs: dict[str, Any] | None = None,
    store: ResultsStore | None = None,
    workers: int = 1,
    backend: str = "local",
    base_dir: str | Path | None = None,
    trajectory_dir: str | Path | None = None,
    details: dict[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    max_episodes: int | None = None,
    observation: str | None = None,
    model_files: dict[str, str] | None = None,
    isolate: str | None = None,
    isolate_image: str | None = None,
) -> EvaluationResult:
    """Evaluate the agent ``entry`` on ``suite``'s ``split`` seeds; records go to ``store``.

    The run's identity (:func:`sparsegym.leaderboards.identity.run_identity`) is computed from
    ``entry``, ``agent_kwargs``, ``model_files`` (``{path: sha256}``; default: ``details``'
    ``model_files``), the files the kwargs name, ``observation`` (default: the suite's) and the
    sparsegym version. Episodes already stored for (agent name, suite, split) under that identity are
    skipped, so calling this again after an interruption finishes the run. A name bound to another
    identity raises :class:`RunIdentityError` saying what differs; ``overwrite=True`` deletes the
    name's results and binds it to this run (with an equal identity, it reruns this suite split).
    Without ``agent_name`` the name is :func:`default_agent_name` with the identity's hash.
    ``max_episodes`` stops after that many new episodes (useful to test resuming).

    When a service the agent needs is unavailable (its code raised a
    :class:`~sparsegym.errors.ServiceUnavailableError`, e.g. an LLM server that cannot be reached), the run
    stops and raises :class:`~sparsegym.errors.EvaluationStoppedError` naming the episode and the cause; the
    episodes finished before are stored (its ``result`` holds them), that one is not, and calling this again
    resumes there.

    ``isolate="docker"`` runs the agent (not the env) in a container with no network that sees only the
    submission's folder (:mod:`sparsegym.leaderboards.isolation`; image ``isolate_image``, default
    ``sparsegym:<version>``); its code is then never imported in this process.
    """
    suite = get_suite(suite) if isinstance(suite, str) else suite
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    seeds = suite.seeds(split)  # validates split
    mode = check_observation(observation or suite.observation)
    if isolate is not None:
        from sparsegym.leaderboards.isolation import check_isolation

        check_isolation(isolate, isolate_image)  # unknown mode, no engine, no image: before any episode runs
    else:
        # fail fast, with the loader's message or the kwargs that do not fit, before any episode runs
        check_agent_kwargs(load_factory(entry, base_dir), entry, agent_kwargs)
    if model_files is None:
        model_files = (details or {}).get("model_files") or {}
    identity = run_identity(entry, agent_kwargs, observation=mode, model_files=model_files, base_dir=base_dir)
    store = store or ResultsStore()
    name = agent_name or _free_default_name(store, entry, identity)
    known = store.get_submission(name)
    found = store.run_identities(name)
    if found - {identity.digest}:
        if not overwrite:
            raise identity_conflict(name, identity, known, found)
        store.delete_run(name)
    elif overwrite and found:
        store.delete_run(name, suite.name, split)
    if known is None or known.get("identity") != identity.digest or details:
        store.put_submission(name, entry, details or {}, identity.digest, identity.spec)

    done = store.done_keys(name, suite.name, split, identity.digest)
    kwargs_json = json.dumps(agent_kwargs or {}, sort_keys=True)
    jobs = [
        EpisodeJob(name, entry, suite.name, split, env_id, seed, kwargs_json,
                   str(base_dir) if base_dir is not None else None, suite.step_timeout,
                   str(trajectory_dir) if trajectory_dir is not None else None, mode, identity.digest,
                   isolate, isolate_image)
        for env_id in suite.env_ids for seed in seeds if (env_id, seed) not in done
    ]
    total = len(suite.env_ids) * len(seeds)
    if max_episodes is not None:
        jobs = jobs[:max_episodes]
    result = EvaluationResult(name, suite.name, split, total=total, ran=0, skipped=len(done), failed=0,
                              identity=identity)
    bar = _Progress(total, len(done), f"{name} on {suite.name}/{split}", progress)
    records = BACKENDS[backend](jobs, workers)
    stopped: StoppedEpisode | None = None
    try:
        for record in records:
            if isinstance(record, StoppedEpisode):
                stopped = record
                break
            store.add_episode(record)
            result.ran += 1
            result.failed += record.error is not None
            result.records.append(record)
            bar.update(record)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        records.close()
        bar.close()
        if isolate is not None:
            _close_isolated()
    if stopped is not None:
        when = f"after {stopped.step} step{'s' if stopped.step != 1 else ''}" if stopped.step else "before its first step"
        raise EvaluationStoppedError(name, f"{stopped.env_id} seed {stopped.seed}, {when}", stopped.cause, result)
    return result


def _is_isolated(agent: Any) -> bool:
    """Whether ``agent`` is the host's handle of an agent running in a container."""
    from sparsegym.leaderboards.isolation import DockerAgent

    return isinstance(agent, DockerAgent)


def _close_isolated() -> None:
    """Remove the containers of isolated agents this process holds (the in-process backends' cache); pool
    workers' containers go when the workers exit."""
    for key in [k for k, a in _AGENTS.items() if _is_isolated(a)]:
        try:
            _AGENTS.pop(key).close()
        except Exception:  # noqa: BLE001 - already gone
            pass
