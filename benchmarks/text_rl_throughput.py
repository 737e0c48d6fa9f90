"""Training throughput of the text-RL trainer: env turns/s and updates/s with the ActionScorer, and tokens/s
of the causal-LM adapter against TRL's ``GRPOTrainer`` on the same tiny model and prompts.

    python benchmarks/text_rl_throughput.py                      # both parts (TRL's half needs `pip install trl`)
    python benchmarks/text_rl_throughput.py --parts scorer --scorer-iterations 10
    python benchmarks/text_rl_throughput.py --parts lm --lm-steps 12 --group-size 4 --max-new-tokens 32

Part ``scorer``: ``TextRLTrainer`` with GRPO and the default ``ActionScorer`` on
``sparsegym/TextWorld-TreasureHunter-L10-v0`` (``game_seed=2``): ``--scorer-groups`` task seeds of
``--group-size`` episodes per iteration, all envs in lockstep, one Adam step per iteration. Env turns/s and
policy updates/s are taken per iteration (collection, advantages and update together), against the same env
stepped alone with seeded random admissible actions (``raw``): ``ours/raw`` is the share of the env's own
speed that training keeps. Rounds alternate a raw block of ``--raw-steps`` steps with one trainer iteration.

Part ``lm``: a one-turn text env written here (``reset`` shows one of 16 short text-game prompts; any reply
ends the episode with reward 1 if it says take, open or key, else 0) played by
``CausalLMPolicy(mode="generate")`` on ``tiny_causal_lm()`` (saved with ``save_pretrained`` and loaded once
per trainer), trained by ``TextRLTrainer(algo="grpo")``; and TRL's ``GRPOTrainer`` on a copy of the same model
with the same prompts (the chat messages the policy builds, so the same prompt tokens), the same reward (on
the whole completion for TRL, on the action parsed from the reply for ours), group size, prompts per step,
completion length, sampling temperature, PPO clip, gradient clipping and learning rate; no vLLM, float32 on
CPU, one optimizer step per generation round (``num_iterations=1``, ``steps_per_generation=1``), no KL
(``beta=0``), no entropy bonus. Each step generates ``prompts x group`` completions and trains on them once:
tokens/s is completion tokens (end-of-turn token included, as both trainers score it) over the step's wall
time, from one step's end to the next (TRL's data loading, logging and callbacks included). TRL drives the
run; after each of its timed steps a callback runs one step of ours, so a slow spell of the shared machine
falls on both. After ``--lm-warmup`` steps of each, ``--lm-steps`` are timed. Target: ours not slower
(ratio >= 1.0).

Torch runs one thread (``--threads``). Writes ``benchmarks/results/text_rl_throughput.txt`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import gymnasium
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "sparsegym/TextWorld-TreasureHunter-L10-v0"
ENV_KWARGS = {"game_seed": 2}
TARGET = 1.0  # ours / TRL tokens per second: not slower

ROOMS = ["kitchen", "cellar", "attic", "library", "garden", "hallway", "study", "pantry"]
THINGS = ["a brass key", "a wooden chest", "an old map", "a locked door", "a red apple", "a lantern", "a rope",
          "a dusty book"]
PROMPTS = [f"You are in the {ROOMS[i % 8]}. You see {THINGS[i % 8]} and {THINGS[(3 * i + 1) % 8]}. "
           f"An exit leads {['north', 'east', 'south', 'west'][i % 4]}. What do you do?" for i in range(16)]
WORDS = ("take", "open", "key")


def reward_of(text: str) -> float:
    """The task's reward: 1 if the reply holds one of ``WORDS`` (a random tiny model's replies do about a third
    of the time, so most groups have a reward spread and a gradient), else 0."""
    return 1.0 if any(w in text.lower() for w in WORDS) else 0.0


class OneTurnEnv(gymnasium.Env):
    """One prompt, one reply: ``reset(seed=k)`` shows ``PROMPTS[k % 16]``; any reply ends the episode with
    :func:`reward_of` as its reward (no admissible actions: a generating policy answers in free text)."""

    def __init__(self) -> None:
        self.observation_space = gymnasium.spaces.Text(max_length=4096)
        self.action_space = gymnasium.spaces.Text(max_length=4096)
        self._prompt = PROMPTS[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self._prompt = PROMPTS[(seed or 0) % len(PROMPTS)]
        return self._prompt, {}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        r = reward_of(action)
        return "", r, True, False, {"success": r > 0}


def spread(xs: list[float]) -> dict:
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s: dict, digits: int = 1) -> str:
    return (f"{s['mean']:.{digits}f} +- {s['std']:.{digits}f} (min {s['min']:.{digits}f}, max "
            f"{s['max']:.{digits}f}, n={s['n']})")


# --- part a: the ActionScorer on TreasureHunter ------------------------------------------------------------

def bench_scorer(args: argparse.Namespace) -> dict:
    from sparsegym.agents.text import TextRLConfig, TextRLTrainer

    cfg = TextRLConfig(algo="grpo", group_size=args.group_size, groups_per_iteration=args.scorer_groups,
                       num_envs=args.group_size * args.scorer_groups, env_kwargs=dict(ENV_KWARGS), seed=0)
    trainer = TextRLTrainer(ENV_ID, config=cfg)
    raw = gymnasium.make(ENV_ID, **ENV_KWARGS)
    rng = np.random.default_rng(0)
    _, info = raw.reset(seed=0)
    episodes = 0

    def raw_block(n: int) -> float:
        nonlocal info, episodes
        start = time.perf_counter()
        for _ in range(n):
            acts = info["admissible_actions"]
            _, _, term, trunc, info = raw.step(acts[int(rng.integers(len(acts)))])
            if term or trunc:
                episodes += 1
                _, info = raw.reset(seed=episodes)
        return n / (time.perf_counter() - start)

    def iteration() -> dict:
        frames = trainer.frames
        start = time.perf_counter()
        trainer.learn(cfg.episodes_per_iteration, progress=False)
        wall = time.perf_counter() - start
        turns = trainer.frames - frames
        return {"wall_s": wall, "turns": turns, "turns_per_s": turns / wall,
                "updates_per_s": cfg.update_epochs * cfg.num_minibatches / wall}

    for _ in range(args.scorer_warmup):  # games generated and cached, envs made, code paths warm
        raw_block(args.raw_steps)
        iteration()
    raw_rates, ours = [], []
    for i in range(args.scorer_iterations):
        raw_rates.append(raw_block(args.raw_steps))
        ours.append(iteration())
        print(f"  scorer round {i + 1}: raw {raw_rates[-1]:.0f} turns/s, ours {ours[-1]['turns_per_s']:.0f} "
              f"turns/s ({ours[-1]['turns']} turns, {ours[-1]['wall_s']:.2f} s)", flush=True)
    trainer.close()
    raw.close()
    total_turns, total_wall = sum(o["turns"] for o in ours), sum(o["wall_s"] for o in ours)
    return {"config": {"env_id": ENV_ID, "env_kwargs": ENV_KWARGS, "group_size": cfg.group_size,
                       "groups_per_iteration": cfg.groups_per_iteration, "num_envs": cfg.num_envs,
                       "update_epochs": cfg.update_epochs, "num_minibatches": cfg.num_minibatches,
                       "raw_steps": args.raw_steps, "warmup": args.scorer_warmup,
                       "iterations": args.scorer_iterations},
            "raw_turns_per_s": spread(raw_rates), "ours_turns_per_s": spread([o["turns_per_s"] for o in ours]),
            "ours_updates_per_s": spread([o["updates_per_s"] for o in ours]),
            "ours_turns_per_s_overall": total_turns / total_wall,
            "ratio_ours_raw": (total_turns / total_wall) / statistics.fmean(raw_rates),
            "turns_per_iteration": statistics.fmean([o["turns"] for o in ours]), "rounds": ours,
            "raw_rounds": raw_rates}


# --- part b: tokens/s, CausalLMPolicy + TextRLTrainer against TRL's GRPOTrainer ------------------------------

def bench_lm(args: argparse.Namespace) -> dict:
    import torch
    import transformers

    from sparsegym.agents.text import CausalLMPolicy, TextRLConfig, TextRLTrainer, Turn, tiny_causal_lm

    try:
        import trl
    except ImportError:
        trl = None
    G, P, L = args.group_size, args.prompts_per_step, args.max_new_tokens
    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name) / "tiny"
    model, tokenizer = tiny_causal_lm(seed=0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

    def load() -> tuple:
        m = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        return m, transformers.AutoTokenizer.from_pretrained(folder)

    class CountingPolicy(CausalLMPolicy):
        """Counts the completion tokens it generates."""

        tokens = 0

        def act(self, turns, **kw):  # noqa: ANN001, ANN003, ANN201
            choices = super().act(turns, **kw)
            self.tokens += sum(len(c.extra.get("token_ids", ())) for c in choices)
            return choices

    policy = CountingPolicy(*load(), mode="generate", max_new_tokens=L, temperature=args.temperature)
    cfg = TextRLConfig(algo="grpo", group_size=G, groups_per_iteration=P, num_envs=G * P,
                       learning_rate=args.learning_rate, update_epochs=1, num_minibatches=1, clip_coef=0.2,
                       dual_clip=None, ent_coef=0.0, kl_coef=0.0, loss_agg="token-mean", seed=0)
    ours = TextRLTrainer(OneTurnEnv, policy=policy, config=cfg)
    messages = [policy.messages(Turn(p, [], [])) for p in PROMPTS]
    prompt_tokens = statistics.fmean(len(policy.prompt_ids(Turn(p, [], []))) for p in PROMPTS)

    def ours_step() -> dict:
        tokens = policy.tokens
        start = time.perf_counter()
        ours.learn(cfg.episodes_per_iteration, progress=False)
        wall = time.perf_counter() - start
        n = policy.tokens - tokens
        return {"wall_s": wall, "tokens": n, "tokens_per_s": n / wall}

    result: dict = {"config": {"model": "tiny_causal_lm(seed=0)",
                               "parameters": sum(p.numel() for p in model.parameters()),
                               "group_size": G, "prompts_per_step": P, "max_new_tokens": L,
                               "temperature": args.temperature, "learning_rate": args.learning_rate,
                               "warmup": args.lm_warmup, "steps": args.lm_steps, "prompts": len(PROMPTS),
                               "prompt_tokens": prompt_tokens},
                    "trl_version": getattr(trl, "__version__", None)}
    if trl is not None:
        import accelerate

        result["accelerate_version"] = accelerate.__version__
    ours_rows: list[dict] = []
    if trl is None:
        print("TRL is not installed (pip install trl): timing ours alone; the comparison is skipped", flush=True)
        result["trl_skipped"] = "trl is not installed (pip install trl)"
        for _ in range(args.lm_warmup):
            ours_step()
        ours_rows = [ours_step() for _ in range(args.lm_steps)]
    else:
        import datasets

        counted = {"tokens": 0}

        def says_a_word(completions, completion_ids, **kwargs):  # noqa: ANN001, ANN003, ANN201
            counted["tokens"] += sum(len(ids) for ids in completion_ids)
            return [reward_of(c[-1]["content"] if isinstance(c, list) else c) for c in completions]

        trl_rows: list[dict] = []

        class Interleave(transformers.TrainerCallback):
            """Times TRL's steps (one step's end to the next) and runs one step of ours after each timed one."""

            mark = 0.0
            tokens = 0

            def on_train_begin(self, a, state, control, **kw):  # noqa: ANN001, ANN003, ANN201
                for _ in range(args.lm_warmup):
                    ours_step()
                self.mark = time.perf_counter()

            def on_step_end(self, a, state, control, **kw):  # noqa: ANN001, ANN003, ANN201
                now = time.perf_counter()
                n = counted["tokens"] - self.tokens
                self.tokens = counted["tokens"]
                if state.global_step > args.lm_warmup:
                    trl_rows.append({"wall_s": now - self.mark, "tokens": n, "tokens_per_s": n / (now - self.mark)})
                    ours_rows.append(ours_step())
                    result["torch_threads_in_trl"] = torch.get_num_threads()  # TRL/accelerate left it as set
                    print(f"  lm step {len(trl_rows)}: trl {trl_rows[-1]['tokens_per_s']:.0f} tok/s, ours "
                          f"{ours_rows[-1]['tokens_per_s']:.0f} tok/s", flush=True)
                self.mark = time.perf_counter()

        trl_model, trl_tokenizer = load()
        # one epoch covers the whole run (TRL would otherwise rebuild its sampler every 16 / P steps)
        rounds = -(-P * (args.lm_warmup + args.lm_steps + 1) // len(messages))
        data = datasets.Dataset.from_list([{"prompt": m} for m in messages] * rounds)
        gcfg = trl.GRPOConfig(
            output_dir=str(Path(tmp.name) / "trl"), per_device_train_batch_size=G * P, num_generations=G,
            gradient_accumulation_steps=1, num_iterations=1, max_completion_length=L, temperature=args.temperature,
            top_p=1.0, top_k=0, beta=0.0, epsilon=0.2, loss_type="dapo", scale_rewards="group", entropy_coef=0.0,
            learning_rate=args.learning_rate, lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0,
            use_vllm=False, use_cpu=True, bf16=False, fp16=False, max_steps=args.lm_warmup + args.lm_steps,
            logging_steps=args.lm_warmup + args.lm_steps, save_strategy="no", report_to="none", disable_tqdm=True,
            dataloader_num_workers=0, seed=0, log_completions=False)
        trl_trainer = trl.GRPOTrainer(model=trl_model, reward_funcs=says_a_word, args=gcfg, train_dataset=data,
                                      processing_class=trl_tokenizer, callbacks=[Interleave()])
        trl_trainer.train()
        result["trl_steps"] = trl_rows
        result["trl_tokens_per_s"] = spread([r["tokens_per_s"] for r in trl_rows])
        result["trl_tokens_per_s_overall"] = sum(r["tokens"] for r in trl_rows) / sum(r["wall_s"] for r in trl_rows)
        result["trl_updates_per_s"] = spread([1 / r["wall_s"] for r in trl_rows])
        result["trl_completion_length"] = sum(r["tokens"] for r in trl_rows) / (len(trl_rows) * G * P)
    ours.close()
    tmp.cleanup()
    result["ours_steps"] = ours_rows
    result["ours_tokens_per_s"] = spread([r["tokens_per_s"] for r in ours_rows])
    result["ours_tokens_per_s_overall"] = sum(r["tokens"] for r in ours_rows) / sum(r["wall_s"] for r in ours_rows)
    result["ours_updates_per_s"] = spread([1 / r["wall_s"] for r in ours_rows])
    result["ours_completion_length"] = sum(r["tokens"] for r in ours_rows) / (len(ours_rows) * G * P)
    if "trl_tokens_per_s_overall" in result:
        result["ratio_ours_trl"] = result["ours_tokens_per_s_overall"] / result["trl_tokens_per_s_overall"]
        result["target_met"] = result["ratio_ours_trl"] >= TARGET
        result["ratio_per_step"] = spread([o["tokens_per_s"] / t["tokens_per_s"]
                                           for o, t in zip(ours_rows, result["trl_steps"])])
    return result


# --- report ------------------------------------------------------------------------------------------------

def report(args: argparse.Namespace, results: dict, load_start: float) -> str:
    import torch
    import transformers

    lines = [f"# text-RL training throughput, {os.cpu_count()} CPU cores ({platform.machine()}), torch "
             f"{torch.__version__} ({args.threads} thread), transformers {transformers.__version__}, "
             f"{time.strftime('%Y-%m-%d')}",
             f"# 1-minute load average at the start {load_start:.2f}, at the end {os.getloadavg()[0]:.2f} (other "
             "jobs shared the cores; the sides alternate, so a slow spell falls on both)",
             "# rates: mean +- std over timed rounds (min, max); 'overall' = total work / total time"]
    a = results.get("scorer")
    if a:
        c = a["config"]
        lines += ["", f"## ActionScorer + TextRLTrainer (GRPO) on {c['env_id']} {c['env_kwargs']}",
                  f"# {c['groups_per_iteration']} task seed(s) x {c['group_size']} episodes per iteration, "
                  f"{c['num_envs']} envs in lockstep, {c['update_epochs']} epoch x {c['num_minibatches']} minibatch "
                  f"(1 update) per iteration; {c['warmup']} warm-up + {c['iterations']} timed iterations, "
                  f"{a['turns_per_iteration']:.0f} turns per iteration on average; raw: {c['raw_steps']} random "
                  "admissible steps per round",
                  f"raw env, random actions      turns/s   {fmt(a['raw_turns_per_s'])}",
                  f"TextRLTrainer (collect+update) turns/s {fmt(a['ours_turns_per_s'])}; overall "
                  f"{a['ours_turns_per_s_overall']:.1f}",
                  f"TextRLTrainer                updates/s {fmt(a['ours_updates_per_s'], 3)}",
                  f"ours / raw (turns/s, overall): {a['ratio_ours_raw']:.3f}"]
    b = results.get("lm")
    if b:
        c = b["config"]
        lines += ["", "## CausalLMPolicy (generate) + TextRLTrainer (GRPO) vs TRL GRPOTrainer, tiny model",
                  f"# {c['model']}: {c['parameters']:,} parameters, float32 CPU; {c['prompts']} one-turn prompts "
                  f"of {c['prompt_tokens']:.0f} tokens on average; {c['prompts_per_step']} prompts x "
                  f"{c['group_size']} completions per step, at most {c['max_new_tokens']} new tokens, temperature "
                  f"{c['temperature']}, lr {c['learning_rate']}, 1 update per generation round, no KL; "
                  f"{c['warmup']} warm-up + {c['steps']} timed steps each, interleaved",
                  f"ours  tokens/s  {fmt(b['ours_tokens_per_s'])}; overall {b['ours_tokens_per_s_overall']:.1f}; "
                  f"updates/s {fmt(b['ours_updates_per_s'], 3)}; mean completion {b['ours_completion_length']:.1f} "
                  "tokens"]
        if "trl_tokens_per_s" in b:
            lines += [f"TRL {b['trl_version']} (accelerate {b['accelerate_version']}, torch threads during its run "
                      f"{b['torch_threads_in_trl']})",
                      f"TRL   tokens/s {fmt(b['trl_tokens_per_s'])}; overall "
                      f"{b['trl_tokens_per_s_overall']:.1f}; updates/s {fmt(b['trl_updates_per_s'], 3)}; mean "
                      f"completion {b['trl_completion_length']:.1f} tokens",
                      f"ours / TRL per step pair: {fmt(b['ratio_per_step'], 2)}",
                      f"ours / TRL (tokens/s, overall): {b['ratio_ours_trl']:.2f}  target: not slower (>= "
                      f"{TARGET:.1f}): {'met' if b['target_met'] else 'NOT met'}"]
        else:
            lines.append(f"TRL: skipped ({b['trl_skipped']})")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["scorer", "lm"], choices=["scorer", "lm"])
    parser.add_argument("--group-size", type=int, default=8, help="episodes (completions) per task seed (prompt)")
    parser.add_argument("--scorer-groups", type=int, default=1, help="task seeds per scorer iteration")
    parser.add_argument("--scorer-warmup", type=int, default=2)
    parser.add_argument("--scorer-iterations", type=int, default=40)
    parser.add_argument("--raw-steps", type=int, default=200, help="raw env steps per round")
    parser.add_argument("--prompts-per-step", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--lm-warmup", type=int, default=3)
    parser.add_argument("--lm-steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "text_rl_throughput.txt")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]
    def plain(v: object) -> object:
        return (str(v.relative_to(ROOT)) if v.is_relative_to(ROOT) else str(v)) if isinstance(v, Path) else v

    results: dict = {"args": {k: plain(v) for k, v in vars(args).items()}}
    if "scorer" in args.parts:
        print("ActionScorer on TreasureHunter:", flush=True)
        results["scorer"] = bench_scorer(args)
    if "lm" in args.parts:
        print("tiny causal LM, ours vs TRL:", flush=True)
        results["lm"] = bench_lm(args)
    text = report(args, results, load_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
