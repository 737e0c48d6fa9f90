"""Write benchmarks/README.md from the benchmark scripts and the results kept in benchmarks/results/.

    python scripts/gen_benchmarks_readme.py          # rewrite benchmarks/README.md
    python scripts/gen_benchmarks_readme.py --check  # exit 1 if it is out of date

Each benchmark script (benchmarks/NAME.py, not starting with "_") gets a section: what it measures
(the script's docstring), how to run it (the docstring's `python benchmarks/...` lines), how to read
its numbers (NOTES below), and every kept result whose file name starts with NAME (or is assigned to
it in OWNERS): text files verbatim, CSV files as tables (with a summary where one is defined),
images linked. Nothing is run: regenerating needs only the files.
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib
import math
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
README = BENCH / "README.md"

# Page order; scripts not listed here follow in alphabetical order.
ORDER = ["env_throughput", "wrapper_overhead", "import_time", "ppo_throughput", "exploration", "noisy_tv",
         "bandits_regret", "text_envs", "text_agents", "text_rollout_workers", "text_rl_throughput",
         "alfworld_env", "webshop", "swe"]
# Result files whose name does not start with the script that writes them.
OWNERS = {"go_explore_demos.txt": "exploration"}

# How to read each benchmark's numbers: targets and what a value means. Measured figures belong in the
# results files, not here.
NOTES = {
    "text_rollout_workers": (
        "`ray/local` is the steps/s of the Ray actors over the same envs stepped in process (above 1: the "
        "workers win). Both sides play the same episodes (the script checks it). The actors overlap env "
        "steps only as far as free cores allow: on a 2-core machine shared with other jobs the gain is "
        "small; with a core per worker and slow envs (ALFWorld) it should approach the worker count. "
        "Starting Ray and its actors (`pool s`) costs seconds once per trainer."
    ),
    "env_throughput": (
        "`ratio` is time per step, sparsegym's env over the raw env it wraps (lower is faster; the target is "
        "at most 1.10). Rounds alternate between the two, and the ratio is taken per round, so a slow spell "
        "of a shared machine affects both sides. sparsegym's MiniGrid ids are faster than raw minigrid because "
        "they compute the agent's view from arrays kept in step with the grid instead of through MiniGrid's "
        "`gen_obs` (identical codes; `make(id, fast_view=False)` uses MiniGrid's code, and then the ratio was "
        "about 1.01). The NetHack file compares with the raw env on the same observation keys, and its last "
        "column gives the raw env on upstream's default (full) keys."
    ),
    "wrapper_overhead": (
        "Ratios are time per step against the bare env (target: each counting or shaping wrapper under "
        "1.15x). Intrinsic modules are timed on batches of transitions (target: under 50 microseconds per "
        "transition to compute on CPU). E3B at the authors' 256 features is over that target: its per-env "
        "256 x 256 matrix is read twice and written once per transition, so the update is memory-bound."
    ),
    "import_time": "The target is `import sparsegym` under 0.5 s; nothing heavy is imported until an env is made.",
    "ppo_throughput": (
        "`vs SB3` is frames per second of training over stable-baselines3's PPO with the same envs, rollout, "
        "epochs and minibatches (target: 2x). sparsegym's 64-wide MLP shares one trunk between policy and "
        "value where SB3's `MultiInputPolicy` has one each, so it does about half SB3's network arithmetic; "
        "the rows that turn off the lean vector env, the numpy rollout policy or in-process envs show what "
        "each of the trainer's own speed-ups is worth (on 2 cores, worker processes lose more to inter-process "
        "traffic than they gain). The last row is SB3 on MiniGrid's own view code: sparsegym's view speeds up "
        "any learner."
    ),
    "exploration": (
        "Frames to 0.9 success are per seed (\"-\": never within the budget). PPO's success is its rate over "
        "its last 100 training episodes; all PPO runs use the default MiniGrid CNN encoder. Go-Explore rows "
        "are its exploration phase on one layout per seed (frames until its archive reaches the goal), not a "
        "policy's success rate. `go_explore_demos.txt` compares the length of Go-Explore's best trajectory "
        "as found, with its loops cut out, and the oracle's. Rows marked *old* were measured before RND, E3B, "
        "NovelD and Go-Explore were made to follow their papers (2026-12-02) and are kept for comparison; "
        "the label says what differed. PPO+E3B rows that the 2026-12-02 fixes change (the return normaliser's "
        "running return no longer restarts at episode ends; the one-head reward is clipped) were rerun or "
        "removed; `PPO+E3B [FIELD=VALUE ...]` rows are variants run with `--config`. The full configuration (4 envs, 7 methods, 3M "
        "frames, 3 seeds) is days of CPU, so the kept table is at 0.5M frames (DoorKey, MultiRoom) and 1M "
        "(KeyCorridor, ObstructedMaze). The MiniHack rows are PPO+E3B with its authors' recipe on three of "
        "the E3B paper's tasks at 0.1M frames, what the CPU allowed (about 230 frames per second with other runs "
        "going; the paper trains for 50M frames). References: RL-Zoo's PPO has a mean reward of 0.0 on MultiRoom-N4-S5 "
        "after 10M steps; E3B's authors report MiniHack, VizDoom and Habitat only, so there are no published "
        "MiniGrid numbers for E3B to compare with."
    ),
    "noisy_tv": (
        "Read `tv/novel` and `novel/seen` together. A noise-robust bonus pays the TV less than genuinely new "
        "states (`tv/novel` below 1) while still paying new states more than seen ones (`novel/seen` above "
        "1); a low `tv/novel` with `novel/seen` below 1 (ICM here) means the bonus stopped measuring novelty "
        "altogether. Aleatoric curiosity's bonus is sparse (zero wherever the error is within twice the "
        "expected noise) and depends on `eta`; `aleatoric_authors` is the authors' preset (`eta` 1, unclipped, "
        "so its mean may be negative). `hindsight_code_mmd` (named `hindsight` in runs before the rename) is "
        "sparsegym's gated hindsight code with an MMD independence penalty, an idea from Curiosity in Hindsight "
        "(Jarrett et al., ICML 2023), not the paper's BYOL-Hindsight: its row is no measurement of that method."
    ),
    "bandits_regret": (
        "Cumulative regret at the horizon, averaged over seeds (lower is better). The paper's worst-case "
        "bound grows as sqrt(T), a log-log slope of 0.5; on instances with a gap a learner that locks onto "
        "the best arm flattens out well below that. `bandits_regret_dlb` is the DLB paper's own synthetic "
        "system (rho 0.2, three noise levels) at the paper's horizon, T = 1e6, and 10 seeds (`--budget full "
        "--parts dlb`). DynLin-UCB as in the paper grows sublinearly (log-log slope about 0.56 from 1e5 to "
        "1e6 rounds; 0.62 with the authors' lam = log T, whose regret is 2.5x lower). Against LinUCB, which "
        "ignores the hidden state, the outcome depends on the noise: at sigma 0.001 LinUCB settles on a "
        "wrong action on some seeds and its regret grows linearly (143,820 +- 111,477 against DynLin-UCB's "
        "24,893); at sigma 0.01 the two are level (25,013 and 24,959); at sigma 0.1 LinUCB's wider radius "
        "covers the bias of ignoring the state and it has a tenth of DynLin-UCB's regret (2,562 against "
        "25,767). So DynLin-UCB's safety is reproduced (sublinear everywhere, never linear), its advantage "
        "over LinUCB only at low noise. At T = 20,000 (the small budget) DynLin-UCB had as much regret as "
        "LinUCB at sigma 0.001 and more at 0.01 and 0.1: its radius is conservative early. `dynlin-ucb (fixed)` is the earlier "
        "sparsegym reading (every post-burn-in round fed to the regression, the plain OFUL radius), not the "
        "paper's: it has the lowest regret of the learners here (1,051 to 1,388) but no guarantee, since "
        "its samples are correlated and its radius too narrow for them. "
        "`bandits_regret_lsd` (T = 5000, 10 seeds): the LP planner earns 0.947 and 0.934 of the DP "
        "optimum on the two v1 ids (greedy 0.833 and 0.851; the a-priori ratio 0.632 is not proven there, "
        "as they have no idle arm). ISI-CombUCB1's regret against its own comparator, the block policy it "
        "learns (d = 4) played with the model known, is sublinear (log-log slope 0.70 and 0.62 over the "
        "second half); against the LP planner it grows on `Recharging-v1`, where that block policy earns "
        "less than the planner. The LSDOptimistic heuristic (ours, no paper) ends above the planner on both, "
        "so the planner's rounding leaves value on these ids. The v0 table (`bandits_regret.csv`, T = 5000, "
        "10 seeds) has both DynLin-UCB readings on the leaderboard instances, which were chosen where "
        "ignoring the dynamics costs most: at this horizon the paper's DynLin-UCB is still exploring "
        "(slopes 0.84 to 0.99, above random on three of the five), while the fixed reading has the lowest "
        "regret after the oracle on four of the five (LinUCB on the continuous one)."
    ),
    "text_envs": (
        "`ratio` is time per step, ours over the raw TextWorld engine playing the same game with the same "
        "commands and requested infos (lower is faster). Generation is measured on an empty cache; resets "
        "are of cached games."
    ),
    "text_agents": (
        "Each row is one algorithm on one env, trained from scratch for the same number of episodes per seed: "
        "pinned TextWorld games (every group of 8 episodes plays the same game), and WebShop's training goals and "
        "ALFWorld pick-and-place games (a new task for each group). `final success` is the training success rate "
        "over the latest 32 episodes at the end of the budget (mean±std over seeds), `final return` their mean "
        "return (WebShop's is its score in [0, 1]); `mean success` averages the batch success over the whole run, "
        "so it also rewards learning early; `episodes to 0.8` lists each seed (\"-\": not within the budget); "
        "runs of one seed share their first iteration, so seeds pair up across algorithms. Random and oracle rows "
        "are the uniform policy over admissible actions and the family's oracle (TextWorld's walkthrough, "
        "ALFWorld's expert, the scripted WebShop agent) on the same tasks: floor and ceiling. Algorithms run with "
        "the settings their notes found necessary on these envs (the file's header lists them), so ppo-text also "
        "takes 4 epochs at lr 1e-2; the `grpo+e4` and `gigpo+e4` rows are controls with that same update, to "
        "separate the critic from the larger steps. Rows `grpo@lm` and `gigpo@lm` train a causal language model "
        "(the tests' tiny random Llama, 0.1 M parameters, from scratch) that scores each admissible action by its "
        "mean token log-probability. On the cooking game, `grpo:sparse`, `grpo:direct` and `grpo:gated` are the "
        "turn-reward controls (success only; score steps paid at once; the same steps paid only on success, "
        "G-RA). With 3 seeds a difference smaller than the spread is not a difference. The policies are small "
        "and learn from scratch, so this does not test the papers' claims at their scale (instruction-tuned "
        "LLMs on ALFWorld and WebShop). The CSV holds every iteration; it is summarised here at fractions of "
        "the budget."
    ),
    "alfworld_env": (
        "Step latency on the same games with the same seeded random admissible commands, against the raw "
        "engine stack and ALFWorld's own `AlfredTWEnv`. Every timed reset loads a new game, so it includes "
        "translating that game's PDDL."
    ),
    "webshop": (
        "Score is 100 x the mean reward of the scripted agent on the test goals, as the WebShop paper "
        "reports it; success is the fraction of episodes with reward 1."
    ),
    "swe": (
        "Yield is the fraction of tried mutations kept as tasks (some tests catch the bug and some still "
        "pass). Latencies are medians in the local sandbox, namespaces included; grading runs the project's "
        "tests. The kept figures were measured with the sandbox before it moved to bubblewrap and a seccomp "
        "filter, and have not been measured again since."
    ),
    "text_rl_throughput": (
        "`ours / raw` is the trainer's env turns/s (collection, advantages and the update together) over the same "
        "env stepped alone with random admissible actions: 1 would mean training costs nothing beyond the env; "
        "the gap is the ActionScorer's choices and the update. `ours / TRL` is completion tokens/s of "
        "`CausalLMPolicy` + `TextRLTrainer` over TRL's `GRPOTrainer` on the same tiny model, prompts, reward and "
        "batch shape (target: at least 1.0, not slower), steps interleaved; the per-step-pair line shows its "
        "spread. On a model this small per-step overheads (Python, the trainer's bookkeeping) weigh as much as "
        "the arithmetic, so the ratio measures the two trainers' machinery more than the model; it says nothing "
        "about GPU runs, where TRL would use vLLM. Ours also recomputes the old log-probabilities in an extra "
        "forward pass that TRL skips when it updates once per generation round, a cost counted against ours."
    ),
    "llm_eval": (
        "`x(K=1)` is each row's rate over the same suite's rate with one episode in flight (target: 16 in flight "
        "at least 2x). `ceiling tok/s` is the server's completion tokens/s on the run's own requests replayed by "
        "K concurrent clients with no env or agent in the loop, measured right after each row; `share` is the "
        "evaluator's tokens/s over it (target: at least 0.8 at every K). Values above 1 mean the evaluator "
        "outran the replay: the replay is a reference measured under the same conditions, not a strict upper "
        "bound (its cause was not investigated). `occupancy` is requests in flight "
        "on average (Little's law). `prefill/req` is the prompt tokens the server computed per request (the "
        "rest came from its prompt cache) and `reply/req` the tokens it generated; `prompt ms` and `gen ms` are "
        "the server's own mean milliseconds per request on each (llama.cpp's `timings`; with K in flight they "
        "overlap). With one request in flight SmolLM2 generates a token in about 30 ms here, and 16 sequences "
        "decoded together do not make that 16 times cheaper on two cores, while the new prompt tokens cost "
        "about the same in any batch: TextWorld's ~50 new prompt tokens per request against MiniGrid's ~2-11 "
        "is why it gains less. A TextWorld step takes about 1 ms (see text_envs). Each round starts with the "
        "server's prompt cache emptied and the games already made; an earlier version of this benchmark "
        "measured 1.57x on TextWorld at 16 in flight with neither (the second round found the first's "
        "prompts in the slots, and the first alone made the games). The first K is run twice in the current "
        "version; the kept results predate that, and in two runs this session one TextWorld K = 1 round took "
        "210 s and another 272 s, so read ratios near a target with that spread in mind (16 in flight: 2.16x "
        "in the run with the faster K = 1 round, kept as `results/llm_eval_textworld.txt`; 2.59x in "
        "`results/llm_eval.txt`). The warm-cache lines must say 0 requests."
    ),
    "llm_feedback": (
        "Every number here comes from a scripted judge (`ScriptedJudge`: labels from regular expressions over "
        "the game's messages for the task's progress events, with the stated noise), never from a language "
        "model; it measures the reward machinery and PPO's use of it. `return` and `success` are the task's "
        "own (extrinsic) over the last 100 training episodes at equal env steps; `LLM req / 1k steps` counts "
        "answered requests, and `hit rate` the steps whose caption was already judged (retrieval and "
        "classification). The throughput line compares random play through the wrapper with the bare env in "
        "alternated rounds (target: at least 0.9x); its blocking row shows what waiting for each new "
        "caption's label would cost."
    ),
    "llm_subgoals": (
        "The \"LLM\" of the main rows is the scripted annotator (rules that read the prompt's text, with a chosen "
        "noise rate), served over HTTP like a model, not a language model. Ratios are each subgoal method's mean "
        "success (and mean success over training, `auc`) over plain PPO's at the same frames: above 1, the "
        "subgoals helped. `requests` counts the LLM calls of a run: one per distinct level its envs met. CALM's "
        "precision and recall score the labels against the env's own events; at noise 0 transition mode should "
        "be exact, and trajectory mode loses recall to its `{subgoal: time}` answer format, which holds one time "
        "per subgoal per window (a key dropped and picked up again is labelled once). The tiny local model's "
        "lines show the protocol on a real model's replies."
    ),
    "lm_policy_scoring": (
        "`cand/s` is admissible actions scored per second for one turn; `scored tok/s` counts the candidates' "
        "own tokens (the useful work), `model tok/s` every token run through the model (the prompt once with "
        "the KV cache, once per candidate without). `time/KV` is each method's time over the KV-cache "
        "method's on the same turn and model: above 1 means re-encoding is slower. Measured here (SmolLM2 left "
        "out), a 474-token prompt and 5 candidates: re-encoding the prompt for each candidate took 2.1-3.8x "
        "the KV-cache method's time, on the tests' tiny model and on a 2.9 M-parameter one; the gap grows with "
        "the prompt's length over the candidates' and with the number of candidates."
    ),
}


# ------------------------------------------------------------------------------------------------------
# Reading the scripts


def scripts() -> list[str]:
    names = sorted(p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_"))
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def describe(name: str) -> tuple[str, list[str]]:
    """The script's docstring without its command lines, and those command lines."""
    doc = ast.get_docstring(ast.parse((BENCH / f"{name}.py").read_text())) or ""
    commands, kept = [], []
    for line in doc.splitlines():
        if line.strip().startswith("python benchmarks/"):
            commands.append(line.strip())
        else:
            # A list nested under a numbered item with 3-space indentation needs 4 (Python-Markdown).
            kept.append(re.sub(r"^ {1,3}(?=[*-] )", "    ", line))
    text = "\n".join(kept).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text, commands or [f"python benchmarks/{name}.py"]


def owner(filename: str, names: list[str]) -> str | None:
    if filename in OWNERS:
        return OWNERS[filename]
    matches = [n for n in names if filename.startswith(n)]
    return max(matches, key=len) if matches else None


# ------------------------------------------------------------------------------------------------------
# Rendering results


def _fmt(value: str) -> str:
    try:
        x = float(value)
    except ValueError:
        return value
    if math.isnan(x):
        return "-"
    if x.is_integer() and "." not in value:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _range(values: list[float], unit: str = "") -> str:
    return f"{min(values):.2f}{unit}-{max(values):.2f}{unit} (median {statistics.median(values):.2f}{unit})"


def _ratio_summary(path: Path) -> str:
    header, rows = _read_csv(path)
    col = {h: i for i, h in enumerate(header)}
    ratios = [float(r[col["ratio"]]) for r in rows]
    worst = max(rows, key=lambda r: float(r[col["ratio"]]))
    text = (f"Over {len(rows)} ids, ratio {_range(ratios, 'x')}; the slowest relative to raw is "
            f"`{worst[0]}`.")
    if "upstream_default_keys_steps_per_s" in col:
        speedup = [float(r[col["ours_steps_per_s"]]) / float(r[col["upstream_default_keys_steps_per_s"]])
                   for r in rows]
        text += f" Against upstream's default keys, ours runs {_range(speedup, 'x')} as many steps per second."
    if "generate_s_per_game" in col:
        gen = [float(r[col["generate_s_per_game"]]) for r in rows]
        reset = [float(r[col["reset_ms_cached"]]) for r in rows]
        text += (f" Generating a game takes {min(gen):.1f}-{max(gen):.1f} s; resetting a cached game "
                 f"{min(reset):.0f}-{max(reset):.0f} ms.")
    return text


def _benchmark(name: str):
    """A benchmark script of benchmarks/ as a module (it imports its siblings, as when run directly)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def _exploration_table(path: Path) -> str:
    exploration = _benchmark("exploration")
    return exploration.table(exploration._load(path))


def _text_agents_table(path: Path) -> str:
    return _benchmark("text_agents").checkpoints(path)


def _bandits_table(path: Path) -> str:
    """Final regret per instance and agent, and the log-log slopes the benchmark prints."""
    slope = _benchmark("bandits_regret").slope
    header, rows = _read_csv(path)
    ts = [float(h[1:]) for h in header[2:]]
    envs: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        envs.setdefault(r[0], {})[r[1]] = [float(v) for v in r[2:]]
    out = []
    for family, learner in (("DynLin", "dynlin-ucb"), ("LSD", "optimistic (online)")):
        ids = [e for e in envs if family in e]
        agents = list(envs[ids[0]])
        table_rows = [[f"`{e.split('/')[-1]}`", *[f"{envs[e][a][-1]:.0f}" for a in agents],
                       f"{slope(_array(ts), _array(envs[e][learner])):.2f}"] for e in ids]
        out.append(_markdown_table(["instance", *agents, f"{learner} slope"], table_rows))
    return (f"Final regret at T = {ts[-1]:,.0f}, and the log-log slope of the learner's regret over the second "
            f"half of the horizon:\n\n" + "\n\n".join(out))


def _contexts_table(path: Path) -> str:
    contexts = _benchmark("contexts")
    return contexts.table(contexts._load(path))


def _llm_subgoals_rows(path: Path) -> str:
    header, rows = _read_csv(path)
    parts = sorted({r[0] for r in rows})
    return (f"{len(rows)} runs ({', '.join(f'{sum(r[0] == p for r in rows)} {p}' for p in parts)}), one row each; "
            "`results/llm_subgoals.txt` tabulates them.")


def _array(values: list[float]):
    import numpy as np

    return np.asarray(values)


# CSV files with their own rendering; others become a plain table.
RENDER_CSV: dict[str, Callable[[Path], str]] = {
    "exploration.csv": _exploration_table,
    "contexts.csv": _contexts_table,
    "bandits_regret.csv": _bandits_table,
    "text_agents.csv": _text_agents_table,
    "llm_subgoals.csv": _llm_subgoals_rows,
}
SUMMARISE_CSV: dict[str, Callable[[Path], str]] = {
    "env_throughput.csv": _ratio_summary,
    "env_throughput_nethack.csv": _ratio_summary,
    "text_envs.csv": _ratio_summary,
}


def render_result(path: Path) -> str:
    link = f"[`results/{path.name}`](results/{path.name})"
    if path.suffix in (".png", ".svg", ".jpg"):
        return f"{link}:\n\n![{path.stem}](results/{path.name})"
    if path.suffix == ".csv":
        if path.name in RENDER_CSV:
            body = RENDER_CSV[path.name](path)
        else:
            header, rows = _read_csv(path)
            body = _markdown_table(header, rows)
        summary = SUMMARISE_CSV[path.name](path) + "\n\n" if path.name in SUMMARISE_CSV else ""
        return f"{link}:\n\n{summary}{body}"
    if path.suffix == ".json" and path.with_suffix(".txt").is_file():  # the raw numbers behind a text report
        return f"{link}: every timed round's numbers behind `results/{path.with_suffix('.txt').name}`."
    return f"{link}:\n\n```text\n{path.read_text().rstrip()}\n```"


# ------------------------------------------------------------------------------------------------------


def render() -> str:
    names = scripts()
    results: dict[str | None, list[Path]] = {}
    for path in sorted(RESULTS.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            results.setdefault(owner(path.name, names), []).append(path)
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by scripts/gen_benchmarks_readme.py from benchmarks/*.py and benchmarks/results/; "
        "do not edit -->",
        "",
        "Scripts that measure sparsegym's speed and its methods' results, run from the repository's root as "
        "`python benchmarks/NAME.py`. Their outputs are kept in `results/`, and this page is generated from "
        "them (`python scripts/gen_benchmarks_readme.py`). Unless a file says otherwise, the figures come "
        "from the project's development machines: 2 shared CPU cores, CPU torch. Ratios measured side by "
        "side in one run travel between machines better than absolute rates.",
        "",
        *[f"* [{n}](#{n})" for n in names],
        "",
    ]
    for name in names:
        text, commands = describe(name)
        lines += [f"## {name}", "", text, "", "```bash", *commands, "```", ""]
        if name in NOTES:
            lines += ["**Reading the numbers.** " + NOTES[name], ""]
        kept = results.get(name, [])
        if kept:
            lines += ["**Kept results.**", ""]
            for path in kept:
                lines += [render_result(path), ""]
        else:
            lines += ["No results kept yet.", ""]
    if results.get(None):
        lines += ["## Other results", ""]
        for path in results[None]:
            lines += [render_result(path), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is out of date")
    parser.add_argument("--readme", type=Path, default=README, help="the page to write or check")
    args = parser.parse_args()
    new = render()
    old = args.readme.read_text() if args.readme.exists() else ""
    if args.check:
        if new != old:
            print(f"{args.readme} is out of date: run python scripts/gen_benchmarks_readme.py", file=sys.stderr)
            return 1
        print(f"{args.readme} is up to date")
        return 0
    if new != old:
        tmp = args.readme.with_suffix(".tmp")
        tmp.write_text(new)
        tmp.replace(args.readme)
        print(f"wrote {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
