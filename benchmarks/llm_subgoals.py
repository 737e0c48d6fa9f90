"""LLM subgoals: Words as Beacons' subgoal bonus vs plain PPO, and CALM's labelling precision and recall.

No language model can be trained against on these machines, so the "LLM" of the main parts is the
**scripted annotator** (``sparsegym.envs.minigrid.annotator.ScriptedAnnotator``, model name
``scripted-annotator``): rules that read the prompt's text and answer from the ground truth it shows, with a
chosen noise rate, served by ``ScriptedLLMServer`` so the wrappers use the same HTTP path as with a real
model. Every output names it. The tiny local model (SmolLM2-135M behind ``LocalServer``) runs the same
protocol on a few levels (``--local-model``), to show what a real small model's replies look like to it.

1. **Words as Beacons** (``LLMSubgoals``, alpha = 0.2): PPO (``sparsegym.agents.PPO``, flat MLP, 8 envs x 128
   steps) on each env with no subgoals (``ppo``), with the scripted annotator's subgoals (``ppo+wab-scripted``:
   it plans from the level's text by rule) and with the oracle's plan (``ppo+wab-oracle``: the events of the
   scripted oracle's solution). Success is the success rate of the last 100 training episodes; ``auc`` is the
   mean of that rate over training (nan counted as 0) and ``frames_to_0.5`` the first frame count at which it
   reached 0.5 (over at least 20 episodes). Ratios compare each subgoal method with plain PPO at equal frames.
2. **CALM** (``LLMSubgoalCredit``): episodes of a noisy oracle (a random action 20% of the time, and when the
   oracle finds no plan, so keys are dropped and picked up again) labelled by the scripted annotator at noise 0, 20% and 40%, in transition and
   trajectory mode; precision, recall and F1 of its labels against the env's true subgoal events (objects
   picked up, doors opened, goal reached).
3. The cache: a second pass over the same levels makes zero requests, and a run with no client works.

    python benchmarks/llm_subgoals.py [--budget 60000] [--seeds 0 1 2] [--calm-episodes 10] [--local-model]

Results accumulate in ``benchmarks/results/llm_subgoals.csv`` (one row per run, written atomically after each;
a run already there is not repeated unless ``--rerun``), and ``llm_subgoals.txt`` and ``.png`` are remade from
it (the txt also keeps the cache check and the local model's transcript of the last invocation).
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from pathlib import Path

import gymnasium
from _results_csv import read_rows, write_rows

import sparsegym

ENVS = ["sparsegym/MiniGrid-KeyCorridorS3R1-v0", "sparsegym/MiniGrid-ObstructedMaze-1Dlh-v0"]
METHODS = ["ppo", "ppo+wab-scripted", "ppo+wab-oracle"]
CALM_NOISE = [0.0, 0.2, 0.4]
FIELDS = ["part", "env", "method", "seed", "budget", "noise", "success_at_budget", "auc", "frames_to_0.5", "requests",
          "precision", "recall", "f1", "tp", "fp", "fn", "minutes"]
NUMERIC = FIELDS[5:]
SCRIPTED = "scripted annotator (rules over the prompt's text; not a language model)"


# -- part 1: Words as Beacons vs plain PPO ------------------------------------------------------------------

def _wrapped_id(env_id: str, method: str, base_url: str | None, store: str | None) -> str:
    """A Gymnasium id for ``env_id`` with the method's wrapper, so PPO can build its vector env from an id."""
    from sparsegym.envs.minigrid.annotator import MODEL_NAME
    from sparsegym.wrappers import LLMSubgoals

    gid = f"llm-subgoals-bench/{env_id.split('/')[-1]}-{method.replace('+', '-')}-{time.monotonic_ns()}"

    def make(**kwargs):
        env = sparsegym.make(env_id, **kwargs)
        if method == "ppo+wab-scripted":
            env = LLMSubgoals(env, base_url=base_url, model=MODEL_NAME, cache=store)
        elif method == "ppo+wab-oracle":
            env = LLMSubgoals(env, plan="oracle")
        return env

    gymnasium.register(gid, entry_point=make)
    return gid


def run_ppo(env_id: str, method: str, budget: int, seed: int, server) -> dict[str, float]:
    from sparsegym.agents import PPO, PPOConfig

    store = str(Path(tempfile.mkdtemp()) / "answers.sqlite")  # a fresh cache: every level seen is one request
    server.reset_counts()
    gid = _wrapped_id(env_id, method, server.base_url, store)
    config = PPOConfig(seed=seed, device="cpu", encoder="flat", hidden=64, num_envs=8, num_steps=128)
    agent = PPO(gid, config)
    history = agent.learn(budget, progress=False)
    rates = [h["success_rate"] for h in history]
    reached = next((h["frames"] for h in history if h["episodes"] >= 20 and h["success_rate"] >= 0.5), math.nan)
    return {"success_at_budget": rates[-1] if rates and not math.isnan(rates[-1]) else 0.0,
            "auc": sum(0.0 if math.isnan(r) else r for r in rates) / max(1, len(rates)),
            "frames_to_0.5": float(reached), "requests": float(server.count("/v1/chat/completions"))}


# -- part 2: CALM's labels ----------------------------------------------------------------------------------

def run_calm(env_id: str, mode: str, noise: float, episodes: int) -> tuple[dict[str, float], dict]:
    from sparsegym.baselines import MiniGridOracle, OracleError
    from sparsegym.envs.minigrid.annotator import ScriptedAnnotator
    from sparsegym.llm import LLMClient
    from sparsegym.llm.testing import ScriptedLLMServer
    from sparsegym.wrappers import LLMSubgoalCredit, evaluate_credit

    annotator = ScriptedAnnotator(noise=noise)
    with ScriptedLLMServer(reply=annotator, models=[annotator.model_name]) as server:
        client = LLMClient(server.base_url, annotator.model_name, cache=False)
        env = LLMSubgoalCredit(sparsegym.make(env_id), client, mode=mode, record=True, cache=False)
        oracle, rng = MiniGridOracle(env), random.Random(0)
        for episode in range(episodes):
            obs, info = env.reset(seed=1000 + episode)
            oracle.reset(1000 + episode)
            done = False
            while not done:
                action = rng.randrange(7)
                if rng.random() >= 0.2:
                    try:
                        action = oracle.act(obs, info)
                    except OracleError:  # a random action left it nowhere to put a key down: random again
                        pass
                obs, _, terminated, truncated, info = env.step(action)
                done = terminated or truncated
        env.flush()
        requests = server.count("/v1/chat/completions")
        env.close()
    result = evaluate_credit(env.credit_records())
    row = {k: float(result["all"][k]) for k in ("precision", "recall", "f1", "tp", "fp", "fn")}
    return {**row, "requests": float(requests)}, result


# -- part 3: the cache ------------------------------------------------------------------------------------

def cache_check(env_id: str, levels: int = 20) -> list[str]:
    from sparsegym.envs.minigrid.annotator import MODEL_NAME, ScriptedAnnotator
    from sparsegym.llm.testing import ScriptedLLMServer
    from sparsegym.wrappers import LLMSubgoals

    store = str(Path(tempfile.mkdtemp()) / "answers.sqlite")
    lines = []
    with ScriptedLLMServer(reply=ScriptedAnnotator(), models=[MODEL_NAME]) as server:
        for attempt in ("first pass", "second pass"):
            server.reset_counts()
            env = LLMSubgoals(sparsegym.make(env_id), base_url=server.base_url, model=MODEL_NAME, cache=store)
            for seed in range(levels):
                env.reset(seed=seed)
            lines.append(f"{attempt}: {levels} levels of {env_id.split('/')[-1]}, {server.count()} HTTP requests, "
                         f"{env.stats['cache_hits']} from the cache")
    env = LLMSubgoals(sparsegym.make(env_id), cache=store)  # no client, no server
    for seed in range(levels):
        env.reset(seed=seed)
    lines.append(f"no client: {levels} levels answered from the cache ({env.stats['cache_hits']} hits)")
    return lines


def local_model(levels: int = 2) -> list[str]:
    """The tiny local model through the same protocol (a few levels and one CALM labelling episode)."""
    from sparsegym.baselines import MiniGridOracle
    from sparsegym.llm import LLMClient
    from sparsegym.llm.server import LocalServer
    from sparsegym.llm.subgoal_prompts import CALM_PROMPT_VERSION
    from sparsegym.wrappers import LLMSubgoalCredit, LLMSubgoals, evaluate_credit

    lines = []
    start = time.perf_counter()
    with LocalServer(n_ctx=2048) as server:
        client = LLMClient(server.base_url, server.model, cache=False, timeout=300)
        env = LLMSubgoals(sparsegym.make(ENVS[0]), client, cache=False, max_tokens=160)
        for seed in range(levels):
            _, info = env.reset(seed=seed)
            reply = " ".join(str(env.level_record.get("reply")).split())
            lines.append(f"level {seed}: reply {reply[:300]!r}")
            lines.append(f"  -> subgoals {info['llm_subgoals']}; error: {info.get('llm_subgoals_error')}")
        credit = LLMSubgoalCredit(sparsegym.make(ENVS[0]), client, blocking=True, record=True, cache=False,
                                  max_tokens=96)
        obs, info = credit.reset(seed=0)
        record = credit.store.get(kind="calm_decomposition", env=credit.env_id, mission=info["mission"],
                                  prompt=CALM_PROMPT_VERSION, model="*") or {}
        reply = " ".join(str(record.get("reply")).split())
        lines.append(f"CALM decomposition: reply {reply[:300]!r}")
        lines.append(f"  -> subgoals {info['llm_credit_subgoals']}; error: {info.get('llm_credit_error')}")
        oracle = MiniGridOracle(credit)
        oracle.reset(0)
        done = False
        while not done:
            obs, _, terminated, truncated, info = credit.step(oracle.act(obs, info))
            done = terminated or truncated
        result = evaluate_credit(credit.credit_records())["all"]
        lines.append(f"CALM transition labels on one oracle episode: {credit.stats['requests']} requests, "
                     f"{credit.stats['label_errors']} unparseable; precision {result['precision']:.2f}, recall "
                     f"{result['recall']:.2f}")
        credit.close()
    lines.append(f"({server.model}, {time.perf_counter() - start:.0f} s)")
    return lines


# -- results ----------------------------------------------------------------------------------------------

def _key(r: dict) -> tuple:
    return (r["part"], r["env"], r["method"], int(r["seed"]), int(r["budget"]), round(float(r["noise"]), 3))


def _load(path: Path) -> list[dict]:
    return read_rows(path, floats=NUMERIC, ints=("seed", "budget"), blank_is_nan=True)


def _save(path: Path, rows: list[dict]) -> None:
    write_rows(path, rows, FIELDS, key=_key)


def _mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b):
        return "n/a"
    if b == 0:
        return "inf (plain 0)" if a > 0 else "- (both 0)"
    return f"{a / b:.2f}x"


def report(rows: list[dict], extra: list[str]) -> str:
    lines = [f"LLM subgoals benchmark. The 'LLM' of every row is the {SCRIPTED}.", ""]
    ppo = [r for r in rows if r["part"] == "ppo"]
    if ppo:
        lines.append("Words as Beacons (alpha = 0.2) vs plain PPO; flat-MLP PPO, 8 envs x 128 steps; success = last "
                     "100 training episodes")
        lines.append(f"{'env':<24} {'method':<18} {'budget':>7} {'seeds':>5} {'success':>18} {'auc':>6} "
                     f"{'frames to 0.5':>22} {'requests':>9}")
        groups: dict[tuple, list[dict]] = {}
        for r in ppo:
            groups.setdefault((r["env"], r["budget"], r["method"]), []).append(r)
        for (env_id, budget, method), runs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                     METHODS.index(kv[0][2]))):
            runs.sort(key=lambda r: r["seed"])
            succ = " / ".join(f"{r['success_at_budget']:.2f}" for r in runs)
            reach = " / ".join("-" if math.isnan(r["frames_to_0.5"]) else f"{r['frames_to_0.5'] / 1000:.0f}k"
                               for r in runs)
            lines.append(f"{env_id.split('/')[-1].removeprefix('MiniGrid-').removesuffix('-v0'):<24} {method:<18} "
                         f"{budget:>7} {len(runs):>5} {succ:>18} {_mean([r['auc'] for r in runs]):>6.3f} {reach:>22} "
                         f"{_mean([r['requests'] for r in runs]):>9.0f}")
        lines.append("")
        lines.append("Ratios at equal frames (mean over seeds; subgoal method / plain PPO):")
        for env_id, budget in sorted({(r["env"], r["budget"]) for r in ppo}):
            base = [r for r in ppo if (r["env"], r["budget"], r["method"]) == (env_id, budget, "ppo")]
            for method in METHODS[1:]:
                runs = [r for r in ppo if (r["env"], r["budget"], r["method"]) == (env_id, budget, method)]
                if not base or not runs:
                    continue
                lines.append(f"  {env_id.split('/')[-1]} @ {budget}: {method}: success "
                             f"{_ratio(_mean([r['success_at_budget'] for r in runs]), _mean([r['success_at_budget'] for r in base]))}"
                             f", auc {_ratio(_mean([r['auc'] for r in runs]), _mean([r['auc'] for r in base]))}")
        lines.append("")
    calm = [r for r in rows if r["part"] == "calm"]
    if calm:
        lines.append("CALM labels vs the env's true subgoal events (noisy-oracle episodes; scripted annotator with "
                     "label noise)")
        lines.append(f"{'env':<24} {'mode':<16} {'episodes':>8} {'noise':>6} {'precision':>9} {'recall':>7} {'f1':>6} "
                     f"{'tp':>4} {'fp':>4} {'fn':>4} {'requests':>8}")
        for r in sorted(calm, key=_key):
            lines.append(f"{r['env'].split('/')[-1].removeprefix('MiniGrid-').removesuffix('-v0'):<24} {r['method']:<16} "
                         f"{r['budget']:>8} {r['noise']:>6.1f} {r['precision']:>9.2f} {r['recall']:>7.2f} {r['f1']:>6.2f} "
                         f"{r['tp']:>4.0f} {r['fp']:>4.0f} {r['fn']:>4.0f} {r['requests']:>8.0f}")
        lines.append("")
    return "\n".join(lines + extra) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    ppo = [r for r in rows if r["part"] == "ppo"]
    calm = [r for r in rows if r["part"] == "calm"]
    envs = sorted({r["env"] for r in ppo})
    panels = len(envs) + (1 if calm else 0)
    if not panels:
        return
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.0), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        budget = max(r["budget"] for r in ppo if r["env"] == env_id)
        methods = [m for m in METHODS if any(r["env"] == env_id and r["method"] == m and r["budget"] == budget for r in ppo)]
        for i, m in enumerate(methods):
            vals = [r["success_at_budget"] for r in ppo if (r["env"], r["method"], r["budget"]) == (env_id, m, budget)]
            ax.bar(i, _mean(vals), color=f"C{i}")
            ax.scatter([i] * len(vals), vals, color="k", s=10, zorder=3)
        ax.set_xticks(range(len(methods)), [m.replace("ppo+", "PPO+") for m in methods], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(f"success at {budget / 1000:g}k frames")
        ax.set_title(env_id.split("/")[-1], fontsize=9)
    if calm:
        ax = axes[0][-1]
        for i, (env_id, mode) in enumerate(sorted({(r["env"], r["method"]) for r in calm})):
            pts = sorted((r["noise"], r["precision"], r["recall"]) for r in calm if (r["env"], r["method"]) == (env_id, mode))
            label = f"{env_id.split('-')[1][:8]} {mode.removeprefix('calm-')}"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=f"C{i}", label=f"{label} P")
            ax.plot([p[0] for p in pts], [p[2] for p in pts], "s--", color=f"C{i}", label=f"{label} R")
        ax.set_xlabel("scripted annotator's noise")
        ax.set_ylim(0, 1.05)
        ax.set_title("CALM labels: precision (P), recall (R)", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(f"'LLM' = {SCRIPTED}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=ENVS)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--budget", type=int, default=60_000, help="PPO frames per run")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--calm-episodes", type=int, default=10)
    parser.add_argument("--calm-noise", nargs="+", type=float, default=CALM_NOISE)
    parser.add_argument("--skip-ppo", action="store_true")
    parser.add_argument("--skip-calm", action="store_true")
    parser.add_argument("--local-model", action="store_true", help="also run the protocol on the tiny local model")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--rerun", action="store_true", help="repeat runs already in the results file")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "llm_subgoals.csv"
    rows = _load(path)
    done = {_key(r) for r in rows}

    def add(row: dict) -> None:
        nonlocal rows
        rows = [r for r in rows if _key(r) != _key(row)] + [row]
        _save(path, rows)

    blank = {k: math.nan for k in NUMERIC}
    if not args.skip_ppo:
        from sparsegym.envs.minigrid.annotator import MODEL_NAME, ScriptedAnnotator
        from sparsegym.llm.testing import ScriptedLLMServer

        with ScriptedLLMServer(reply=ScriptedAnnotator(noise=0.0), models=[MODEL_NAME]) as server:
            for env_id in args.envs:
                for method in args.methods:
                    for seed in args.seeds:
                        row = {**blank, "part": "ppo", "env": env_id, "method": method, "seed": seed,
                               "budget": args.budget, "noise": 0.0}
                        if _key(row) in done and not args.rerun:
                            continue
                        start = time.perf_counter()
                        row.update(run_ppo(env_id, method, args.budget, seed, server))
                        row["minutes"] = (time.perf_counter() - start) / 60
                        print(f"{env_id.split('/')[-1]:<32} {method:<18} seed {seed}: success {row['success_at_budget']:.2f} "
                              f"auc {row['auc']:.3f} requests {row['requests']:.0f} ({row['minutes']:.1f} min)", flush=True)
                        add(row)
    if not args.skip_calm:
        for env_id in args.envs:
            for mode in ("transition", "trajectory"):
                for noise in args.calm_noise:
                    row = {**blank, "part": "calm", "env": env_id, "method": f"calm-{mode}", "seed": 0,
                           "budget": args.calm_episodes, "noise": noise}
                    if _key(row) in done and not args.rerun:
                        continue
                    start = time.perf_counter()
                    values, result = run_calm(env_id, mode, noise, args.calm_episodes)
                    row.update(values, minutes=(time.perf_counter() - start) / 60)
                    kinds = ", ".join(f"{k} P {v['precision']:.2f} R {v['recall']:.2f}" for k, v in result["kinds"].items())
                    print(f"{env_id.split('/')[-1]:<32} calm-{mode:<11} noise {noise:.1f}: precision "
                          f"{row['precision']:.2f} recall {row['recall']:.2f} ({kinds})", flush=True)
                    add(row)
    extra = ["Cache (scripted annotator; a fresh cache file):", *("  " + line for line in cache_check(args.envs[0]))]
    if args.local_model:
        extra += ["", "Tiny local model through the same protocol (not the scripted annotator):",
                  *("  " + line for line in local_model())]
    text = report(rows, extra)
    (args.out / "llm_subgoals.txt").write_text(text)
    plot(rows, args.out / "llm_subgoals.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
