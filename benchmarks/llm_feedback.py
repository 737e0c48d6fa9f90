"""LLM-feedback rewards (ONI's three variants) against no intrinsic reward and counts, with a scripted judge.

No language model that runs on these CPUs judges NetHack messages usefully, so the "LLM" here is
``sparsegym.llm.feedback.ScriptedJudge`` behind ``ScriptedLLMServer``: the same prompts go over the same
HTTP path to a loopback server whose answers come from ground truth (a caption is helpful when it reports
one of the task's progress events, below) with a chosen rate of wrong answers. Every output says
"scripted judge". What it measures is the reward machinery (annotation in the background, the label
table, the classifier, the Bradley-Terry model, the count scaling) and PPO's use of it, not a model's
judgement.

* **Learning**: PPO (sparsegym.agents.PPO, the family's glyph encoder, 8 envs) with no intrinsic reward,
  with episodic counts of the message (``ppo+counts``), and with ``LLMFeedbackReward`` in each variant
  (``oni-retrieval``, ``oni-classification``, ``oni-ranking``), at equal env steps, 3 seeds; label noise
  0 % by default, and 20 % and 40 % for retrieval (``--noise``). Reported: the task's own return and
  success over the last 100 episodes (extrinsic only), LLM requests per 1,000 env steps and the hit rate
  (steps whose caption was already judged).
* **The real model, for the protocol** (``--real-model``): the distinct captions of random play on each task
  go to SmolLM2-135M-Instruct served by ``sparsegym.llm.server.LocalServer`` (llama.cpp) with the same
  prompts; reported are requests, how many replies parsed to a label, the labels' agreement with the
  scripted truth and the latency. It shows the path works with a real model; a 135M model's verdicts are
  not expected to be good, and no learning run uses them.
* **Throughput**: env steps/s of uniform random play with the wrapper and an annotator whose server takes
  0.2 s per answer, against the bare env, in the same run (target: >= 0.9x), and with a blocking
  annotator (each new caption waits for its label) to show what the background thread saves.

    python benchmarks/llm_feedback.py [--tasks ...] [--steps 100000] [--seeds 0 1 2] [--throughput-only]
    python benchmarks/llm_feedback.py --real-model --throughput-only   # the protocol with SmolLM2

Results: ``benchmarks/results/llm_feedback.{csv,txt,png}`` (the CSV is written after each run and a run
already in it is skipped, so an interrupted benchmark resumes).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from pathlib import Path

import numpy as np
from _results_csv import read_rows, write_rows

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"

#: Task -> (env id, the progress events a caption reports, as regular expressions over NetHack messages).
TASKS: dict[str, tuple[str, list[str]]] = {
    "KeyRoom-S5": ("sparsegym/MiniHack-KeyRoom-S5-v0", [r"you see here a key", r"- a key", r"unlock", r"door opens"]),
    "Eat": ("sparsegym/MiniHack-Eat-v0", [r"you see here", r"delicious", r"you finish eating", r"this .* tastes"]),
    "NetHack-Score": ("sparsegym/NetHack-Score-v0", [r"you kill", r"you destroy", r"gold piece",
                                                      r"welcome to experience level", r"you hit the"]),
}
METHODS = ["ppo", "ppo+counts", "oni-retrieval", "oni-classification", "oni-ranking"]
FIELDS = ["task", "method", "noise", "seed", "steps", "episodes", "return_last100", "success_last100",
          "requests_per_1k", "hit_rate", "unparsed", "errors", "wall_s"]
JUDGE = "scripted judge"


def truth_for(task: str):
    patterns = [re.compile(p, re.IGNORECASE) for p in TASKS[task][1]]
    return lambda caption: float(any(p.search(caption) for p in patterns))


class _Recorder:
    """Episode returns (extrinsic only) and successes of the wrapped envs, shared by a run's envs."""

    def __init__(self) -> None:
        self.returns: list[float] = []
        self.successes: list[float] = []
        self.lookups = 0
        self.hits = 0


def _make_env(env_id: str, method: str, recorder: _Recorder, annotator, kwargs: dict):
    import gymnasium

    import sparsegym
    from sparsegym.wrappers.llm_feedback import LLMFeedbackReward

    class Record(gymnasium.Wrapper):
        def reset(self, **kw):
            self._ret = 0.0
            return self.env.reset(**kw)

        def step(self, action):
            obs, r, term, trunc, info = self.env.step(action)
            self._ret += float(info.get("reward_components", {}).get("extrinsic", r))
            if term or trunc:
                recorder.returns.append(self._ret)
                recorder.successes.append(float(bool(info.get("success"))))
            return obs, r, term, trunc, info

    class Hits(gymnasium.Wrapper):  # outside the LLM wrapper: was this step's caption already judged?
        def step(self, action):
            out = self.env.step(action)
            caption = out[-1].get("llm_feedback", {}).get("caption")
            if caption is not None:
                recorder.lookups += 1
                recorder.hits += annotator.is_labelled(caption) if method != "oni-ranking" else 0
            return out

    env = Record(sparsegym.make(env_id))
    if method.startswith("oni-"):
        env = Hits(LLMFeedbackReward(env, annotator, method.split("-", 1)[1], **kwargs))
    return env


def run(task: str, method: str, noise: float, seed: int, steps: int) -> dict:
    import gymnasium

    from sparsegym.agents import PPO, PPOConfig
    from sparsegym.llm.feedback import Annotator, FeedbackStore, ScriptedJudge
    from sparsegym.llm.testing import ScriptedLLMServer

    env_id = TASKS[task][0]
    recorder = _Recorder()
    judge = ScriptedJudge(truth_for(task), noise=noise, seed=seed)
    server = ScriptedLLMServer(reply=judge).start() if method.startswith("oni-") else None
    annotator = None
    if server is not None:
        annotator = Annotator(base_url=server.base_url, store=FeedbackStore(":memory:"), max_in_flight=4,
                              goal="score" if task == "NetHack-Score" else f"solve the MiniHack task {task}")
    # ONI's defaults (coef 0.4, beta 3); ranking pays normalised rewards in about [-0.5, 2], so its scale
    # matches ONI's too. The extrinsic reward is left as the task gives it.
    kwargs = {"coef": 0.4, "beta": 3.0, "seed": seed}
    # ONI trains its models with lr 1e-4 for 32 steps per new batch of labels, sized for tens of thousands of
    # labels; a MiniHack task prints a few dozen distinct messages, so at those settings the models barely move
    # from their initialisation (measured: classification paid nothing, and its run equalled plain PPO's).
    # Here: lr 3e-3 and 200 steps per round, every 512 env steps while new answers arrive.
    if method in ("oni-classification", "oni-ranking"):
        kwargs.update(update_every=512, train_steps=200, lr=3e-3, batch_size=64)
    temp_id = f"bench/LLMFeedback-{task}-{method.replace('+', '-')}-{seed}-v0"
    gymnasium.register(temp_id, entry_point=lambda: _make_env(env_id, method, recorder, annotator, kwargs),
                       disable_env_checker=True, order_enforce=False)
    config = PPOConfig(seed=seed, device="cpu")
    if method == "ppo+counts":
        config.intrinsic = "counts"
    start = time.perf_counter()
    try:
        PPO(temp_id, config).learn(steps, progress=False)
    finally:
        gymnasium.registry.pop(temp_id, None)
        if annotator is not None:
            annotator.close()
        if server is not None:
            server.stop()
    wall = time.perf_counter() - start
    stats = annotator.stats if annotator is not None else None
    last = slice(-100, None)
    return {"task": task, "method": method, "noise": noise, "seed": seed, "steps": steps,
            "episodes": len(recorder.returns),
            "return_last100": float(np.mean(recorder.returns[last])) if recorder.returns else math.nan,
            "success_last100": float(np.mean(recorder.successes[last])) if recorder.successes else math.nan,
            "requests_per_1k": 1000 * stats.requests / steps if stats else 0.0,
            "hit_rate": recorder.hits / recorder.lookups if recorder.lookups and method != "oni-ranking" else math.nan,
            "unparsed": stats.unparsed if stats else 0, "errors": stats.errors if stats else 0,
            "wall_s": round(wall, 1)}


def throughput(task: str, steps: int = 5_000, delay: float = 0.2, rounds: int = 12) -> dict:
    """Steps/s of random play: one env instance without the wrapper (``wrapped.env``) against the same instance
    wrapped with the background annotator, in ``rounds`` rounds in one process, the two orders alternating
    (ABBA) so that the machine's drift cancels; the median of the rounds' ratios is reported (one round's
    ratio swings by +-30% on this VM, hence many short rounds). Then once with a blocking annotator.
    The annotator answers one warm-up request first, so the OpenAI SDK's import and the client's start-up
    (seconds of one core, once per process) are not charged to the steps."""
    import sparsegym
    from sparsegym.llm.feedback import Annotator, FeedbackStore, ScriptedJudge
    from sparsegym.llm.testing import ScriptedLLMServer
    from sparsegym.wrappers.llm_feedback import LLMFeedbackReward

    env_id = TASKS[task][0]

    def play(env, seed: int, blocking: Annotator | None = None) -> float:
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        start = time.perf_counter()
        for _ in range(steps):
            _, _, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
            if blocking is not None:
                blocking.wait()
            if term or trunc:
                env.reset()
        return steps / (time.perf_counter() - start)

    bare_rates, wrapped_rates = [], []
    with ScriptedLLMServer(reply=ScriptedJudge(truth_for(task)), delay=delay) as server:
        bare = sparsegym.make(env_id)
        with Annotator(base_url=server.base_url, store=FeedbackStore(":memory:"), max_in_flight=4) as ann:
            ann.annotate_labels(["warm-up"])
            wrapped = LLMFeedbackReward(sparsegym.make(env_id), ann)
            for r in range(rounds):  # the same env instance with and without the wrapper, in ABBA order
                if r % 2 == 0:
                    bare_rates.append(play(wrapped.env, r))
                    wrapped_rates.append(play(wrapped, r))
                else:
                    wrapped_rates.append(play(wrapped, r))
                    bare_rates.append(play(wrapped.env, r))
            requests = ann.stats.requests + ann.pending - 1
            wrapped.close()
        with Annotator(base_url=server.base_url, store=FeedbackStore(":memory:"), max_in_flight=4) as ann:
            ann.annotate_labels(["warm-up"])
            blocked = LLMFeedbackReward(sparsegym.make(env_id), ann)
            blocking = play(blocked, 0, ann)
            blocked.close()
        bare.close()
    ratios = sorted(w / b for w, b in zip(wrapped_rates, bare_rates))
    return {"bare": float(np.median(bare_rates)), "background": float(np.median(wrapped_rates)),
            "ratio": ratios[len(ratios) // 2], "ratios": ratios, "requests": requests, "blocking": blocking,
            "blocking_ratio": blocking / float(np.median(bare_rates))}


REAL_FIELDS = ["task", "captions", "requests", "labels", "unparsed", "errors", "helpful_said", "helpful_true",
               "agreement", "seconds_per_request", "max_tokens", "model"]


def real_model(tasks: list[str], steps: int = 2000, max_captions: int = 12, max_tokens: int = 160) -> list[dict]:
    """The ONI label protocol with the real local model on each task's distinct random-play captions."""
    from sparsegym.llm import server as server_mod
    from sparsegym.llm.feedback import Annotator, FeedbackStore
    from sparsegym.wrappers.llm_feedback import collect_captions

    rows = []
    with server_mod.LocalServer(parallel=2) as srv:
        for task in tasks:
            captions = list(dict.fromkeys(c for c in collect_captions(TASKS[task][0], steps, seed=0) if c))
            truth = truth_for(task)
            # the helpful captions first, so the few asked include some of each kind
            captions = sorted(captions, key=lambda c: -truth(c))[:max_captions]
            goal = "score" if task == "NetHack-Score" else f"solve the MiniHack task {task}"
            start = time.perf_counter()
            with Annotator(base_url=srv.base_url, model=srv.model, store=FeedbackStore(":memory:"), goal=goal,
                           max_tokens=max_tokens, max_in_flight=2) as ann:
                ann.annotate_labels(captions)
                wall = time.perf_counter() - start
                answered = ann.store.labels(ann.prompt, unparsed=True)
                labelled = {c: v for c, v in answered.items() if v is not None}
                rows.append({
                    "task": task, "captions": len(captions), "requests": ann.stats.requests,
                    "labels": len(labelled), "unparsed": ann.stats.unparsed, "errors": ann.stats.errors,
                    "helpful_said": sum(labelled.values()), "helpful_true": int(sum(truth(c) for c in captions)),
                    "agreement": (float(np.mean([v == truth(c) for c, v in labelled.items()])) if labelled
                                  else math.nan),
                    "seconds_per_request": wall / max(ann.stats.requests, 1), "max_tokens": max_tokens,
                    "model": Path(str(srv.model)).name,
                })
            print(rows[-1], flush=True)
    return rows


def _load(path: Path) -> list[dict]:
    return read_rows(path, floats=[k for k in FIELDS if k not in ("task", "method")])


def _save(path: Path, rows: list[dict], fields: list[str] = FIELDS) -> None:
    write_rows(path, rows, fields)


def table(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["method"], r["noise"], r["steps"]), []).append(r)
    lines = ["task          | method              | noise | steps  | seeds | return (last 100) | success (last 100) "
             "| LLM req / 1k steps | hit rate | unparsed | errors",
             "--------------+---------------------+-------+--------+-------+-------------------+--------------------"
             "+--------------------+----------+----------+-------"]
    for (task, method, noise, steps), rs in groups.items():
        def ms(key: str, rs: list[dict] = rs) -> str:
            vals = [r[key] for r in rs if not math.isnan(r[key])]
            return f"{np.mean(vals):.2f}±{np.std(vals):.2f}" if vals else "-"
        lines.append(f"{task:<13} | {method:<19} | {noise:>5.0%} | {int(steps):>6} | {len(rs):>5} | {ms('return_last100'):>17} "
                     f"| {ms('success_last100'):>18} | {ms('requests_per_1k'):>18} | {ms('hit_rate'):>8} "
                     f"| {sum(r['unparsed'] for r in rs):>8.0f} | {sum(r['errors'] for r in rs):>6.0f}")
    side = []
    for (task, method, noise, steps), rs in groups.items():
        base = groups.get((task, "ppo", 0.0, steps))
        if method == "ppo" or not base:
            continue
        a = np.mean([r["return_last100"] for r in rs])
        b = np.mean([r["return_last100"] for r in base])
        side.append(f"* {task}, {method} (noise {noise:.0%}) over ppo: return {a:.2f} / {b:.2f}"
                    + (f" = {a / b:.2f}x" if b > 0 else ""))
    return "\n".join(lines) + ("\n\nAgainst plain PPO at equal steps:\n" + "\n".join(side) if side else "")


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        labels, means, errs = [], [], []
        for key in dict.fromkeys((r["method"], r["noise"]) for r in rows if r["task"] == task):
            vals = [r["return_last100"] for r in rows if (r["task"], r["method"], r["noise"]) == (task, *key)]
            labels.append(key[0] + (f"\nnoise {key[1]:.0%}" if key[1] else ""))
            means.append(np.mean(vals))
            errs.append(np.std(vals))
        ax.bar(range(len(labels)), means, yerr=errs, color=[f"C{i}" for i in range(len(labels))])
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{task}")
        ax.set_ylabel("extrinsic return, last 100 episodes")
    fig.suptitle(f"PPO with ONI rewards from a {JUDGE} (not a language model): mean and std over seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--noise", nargs="+", type=float, default=[0.0, 0.2, 0.4],
                        help="label noise rates; rates above 0 run oni-retrieval only")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per run")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true", help="only the learning runs (and the table)")
    parser.add_argument("--throughput-steps", type=int, default=5_000, help="env steps per throughput round")
    parser.add_argument("--real-model", action="store_true",
                        help="also run the label protocol with SmolLM2 on the local llama.cpp server")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "llm_feedback.csv"
    lines = [f"# LLM-feedback rewards with a {JUDGE} (labels from the task's progress events, not a language model)"]
    tp_path = args.out / "llm_feedback_throughput.txt"
    if not args.skip_throughput:
        tp = throughput(args.tasks[0], args.throughput_steps)
        line = (f"# throughput on {args.tasks[0]} (uniform random play, one env instance with and without the "
                f"wrapper, {len(tp['ratios'])} ABBA rounds of {args.throughput_steps} steps, judge answers after "
                f"0.2 s): bare {tp['bare']:.0f} steps/s; with the background annotator "
                f"{tp['background']:.0f}: median ratio {tp['ratio']:.2f}x (rounds: "
                f"{', '.join(f'{r:.2f}' for r in tp['ratios'])}; target >= 0.9; {tp['requests']} requests); with a "
                f"blocking annotator (each new caption waits for its label) {tp['blocking']:.0f} "
                f"({tp['blocking_ratio']:.2f}x)")
        tp_path.write_text(line + "\n")
        print(line)
    if tp_path.exists():
        lines.append(tp_path.read_text().strip())
    if not args.throughput_only:
        rows = _load(csv_path)
        done = {(r["task"], r["method"], r["noise"], r["seed"], r["steps"]) for r in rows}
        todo = [(t, m, 0.0, s) for s in args.seeds for t in args.tasks for m in args.methods]
        todo += [(t, "oni-retrieval", n, s) for s in args.seeds for t in args.tasks for n in args.noise if n > 0
                 and "oni-retrieval" in args.methods]
        todo = [k for k in todo if (*k, float(args.steps)) not in done and (*k, args.steps) not in done]
        from tqdm import tqdm

        for task, method, noise, seed in (bar := tqdm(todo, desc="llm_feedback", unit="run", file=sys.stdout)):
            bar.set_postfix_str(f"{task} {method} noise {noise} seed {seed}")
            rows.append(run(task, method, noise, seed, args.steps))
            _save(csv_path, rows)
    real_path = args.out / "llm_feedback_real_model.csv"
    if args.real_model:
        _save(real_path, real_model(args.tasks), REAL_FIELDS)
    if real_path.exists():
        with real_path.open(newline="") as f:
            real = list(csv.DictReader(f))
        lines.append("# the protocol with a real model (not a judge of quality): each task's distinct captions of 2,000 "
                     "random steps, helpful ones first, asked once each")
        for r in real:
            agreement = float(r["agreement"])
            lines.append(f"#   {r['task']}: {r['model']}, {r['captions']} captions -> {r['requests']} requests, "
                         f"{r['labels']} parsed to a label, {r['unparsed']} unparsed (recorded), {r['errors']} errors; "
                         f"said helpful {r['helpful_said']} (truth {r['helpful_true']}), agreement with the truth "
                         + ("-" if math.isnan(agreement) else f"{agreement:.2f}")
                         + f"; {float(r['seconds_per_request']):.1f} s/request at max_tokens {r['max_tokens']}")
    rows = _load(csv_path)
    if rows:
        steps = "/".join(str(n) for n in sorted({int(r["steps"]) for r in rows}))  # what the rows ran, not --steps
        lines.append(f"# PPO (glyph encoder, 8 envs, CPU, torch threads 1), {steps} env steps per run; "
                     "return and success are the task's own (extrinsic) over the last 100 training episodes")
        lines.append(table(rows))
        _plot(rows, args.out / "llm_feedback.png")
    text = "\n".join(lines) + "\n"
    (args.out / "llm_feedback.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
