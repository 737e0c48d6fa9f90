"""The ``sparsegym`` command: list, check and play environments.

    sparsegym list [--family F] [--suite S]
    sparsegym check [ID ...] [--all | --suite S | --family F]
    sparsegym play ID [--seed N] [--view agent|full]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sparsegym.envs import registry


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _select(args: argparse.Namespace) -> list[str]:
    if args.ids:
        return list(args.ids)
    if args.all or args.suite or args.family:
        return registry.list_envs(family=args.family, suite=args.suite)
    raise SystemExit("sparsegym check: name env ids, or use --all, --suite S or --family F")


def cmd_list(args: argparse.Namespace) -> int:
    rows = [
        (e.id, e.family, ",".join(e.suites), e.extra, e.max_episode_steps or "varies", e.description)
        for e in registry.entries(family=args.family, suite=args.suite)
    ]
    print(_table(("id", "family", "suites", "extra", "max steps", "description"), rows))
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


_KEYS = {"a": "turn left", "d": "turn right", "w": "go forward", "p": "pick up", "o": "drop",
         "t": "toggle", "x": "done", "v": "watch tv"}


def cmd_play(args: argparse.Namespace, stdin=None) -> int:
    import sparsegym
    from sparsegym.errors import InvalidActionError
    from sparsegym.wrappers import TextObservation

    stdin = stdin or sys.stdin
    kwargs = {"render_mode": "ansi"}
    if args.view:
        kwargs["view"] = args.view
    env = TextObservation(sparsegym.make(args.id, **kwargs))
    keys = {k: v for k, v in _KEYS.items() if v in env.action_names}
    help_text = (
        "Type an action (" + ", ".join(env.action_names) + ") or a key: "
        + ", ".join(f"{k}={v}" for k, v in keys.items()) + "; r=reset, q=quit, ?=help"
    )
    print(help_text)
    seed = args.seed
    text, info = env.reset(seed=seed)
    episode_return, steps = 0.0, 0
    while True:
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
            outcome = "SUCCESS" if info.get("success") else ("time is up" if truncated else "failed")
            print(f"\nEpisode over after {steps} steps: {outcome}, return {episode_return:.3f}. New episode (seed {seed + 1}).")
            seed += 1
            text, info = env.reset(seed=seed)
            episode_return, steps = 0.0, 0


def build_parser() -> argparse.ArgumentParser:
    import sparsegym

    parser = argparse.ArgumentParser(prog="sparsegym", description="Sparse-reward benchmark environments for RL and LLM agents.")
    parser.add_argument("--version", action="version", version=f"sparsegym {sparsegym.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered environments")
    p.add_argument("--family", choices=registry.families())
    p.add_argument("--suite", choices=registry.suites())
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("check", help="run the env checker, a determinism check and a random rollout")
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="check every registered id")
    p.add_argument("--family", choices=registry.families())
    p.add_argument("--suite", choices=registry.suites())
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("play", help="play an environment in the terminal")
    p.add_argument("id")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--view", choices=("agent", "full"), default=None)
    p.set_defaults(func=cmd_play)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sparsegym.errors import SparseGymError

    try:
        return int(args.func(args) or 0)
    except SparseGymError as exc:
        print(f"sparsegym: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
