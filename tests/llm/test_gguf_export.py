"""sparsegym.llm.gguf_export: a tiny random Llama (made here, with a BPE tokenizer trained here) exported to
GGUF gives llama.cpp the same next-token log-probs as transformers, tokenizes text the same way, carries the
chat template, and is served by LocalServer. The layout and detection helpers are checked without llama.cpp."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from sparsegym.errors import ConfigError
from sparsegym.llm import gguf_export
from sparsegym.llm.gguf_export import detect_pre_tokenizer, export_gguf

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
CORPUS = ["You are in a dark room. There is a coin on the table and a door to the north.",
          "> take coin\nTaken. Your score has gone up by 1 point.", "> go north\nYou can't go that way.",
          "The 3 keys are 42 steps away; 17 doors, 250 coins.", "open the wooden door, then examine the chest"]
PROMPTS = ["You are in a room. There is a coin", "> open door\nThe door is 12 steps away.",
           "<|im_start|>user\ntake the coin<|im_end|>\n<|im_start|>assistant\n"]


# --- helpers checked without llama.cpp ---------------------------------------------------------------------------

def _rotate_half_rope(q: np.ndarray, pos: int, theta: float) -> np.ndarray:
    """transformers' Llama RoPE on one head: pairs (i, i + d/2)."""
    d = q.shape[0]
    freqs = pos * theta ** (-np.arange(0, d, 2) / d)
    cos, sin = np.cos(np.concatenate([freqs, freqs])), np.sin(np.concatenate([freqs, freqs]))
    rot = np.concatenate([-q[d // 2:], q[:d // 2]])
    return q * cos + rot * sin


def _interleaved_rope(q: np.ndarray, pos: int, theta: float) -> np.ndarray:
    """llama.cpp's (non-NeoX) RoPE on one head: pairs (2i, 2i + 1)."""
    d = q.shape[0]
    ang = pos * theta ** (-np.arange(0, d, 2) / d)
    a, b = q[0::2], q[1::2]
    out = np.empty_like(q)
    out[0::2], out[1::2] = a * np.cos(ang) - b * np.sin(ang), a * np.sin(ang) + b * np.cos(ang)
    return out


def test_query_rows_are_reordered_for_interleaved_rope():
    rng = np.random.default_rng(0)
    n_head, d, width = 3, 8, 12
    w, x = rng.normal(size=(n_head * d, width)), rng.normal(size=width)
    gguf_q = gguf_export._rope_rows(w, n_head) @ x
    hf_q = w @ x
    for h in range(n_head):
        sl = slice(h * d, (h + 1) * d)
        hf = _rotate_half_rope(hf_q[sl], pos=5, theta=100.0)
        ours = _interleaved_rope(gguf_q[sl], pos=5, theta=100.0)
        # the rotated vectors are the same up to the same row order: attention scores q.k are unchanged
        np.testing.assert_allclose(gguf_export._rope_rows(hf[None].T, 1).ravel(), ours, atol=1e-12)


def test_pre_tokenizer_names():
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    assert detect_pre_tokenizer({"pre_tokenizer": byte_level}) == "gpt-2"
    digits = {"type": "Digits", "individual_digits": True}
    assert detect_pre_tokenizer({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [digits, byte_level]}}) == "smollm"
    split = {"type": "Split", "pattern": {"Regex": gguf_export._LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False}
    seq = {"type": "Sequence", "pretokenizers": [split, {**byte_level, "use_regex": False}]}
    assert detect_pre_tokenizer({"pre_tokenizer": seq}) == "llama-bpe"
    with pytest.raises(ConfigError, match="pass pre_tokenizer="):
        detect_pre_tokenizer({"pre_tokenizer": {"type": "Whitespace"}})


def test_tensor_names():
    assert gguf_export._gguf_name("model.layers.11.self_attn.o_proj.weight") == "blk.11.attn_output.weight"
    assert gguf_export._gguf_name("model.layers.0.post_attention_layernorm.weight") == "blk.0.ffn_norm.weight"
    assert gguf_export._gguf_name("lm_head.weight") == "output.weight"
    assert gguf_export._gguf_name("model.layers.0.self_attn.rotary_emb.inv_freq") is None
    with pytest.raises(ConfigError, match="merge LoRA"):
        gguf_export._gguf_name("model.layers.0.self_attn.q_proj.lora_A.default.weight")


def test_llama3_rope_factors_span_one_to_factor():
    f = gguf_export._llama3_rope_factors(500000.0, 64, {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                       "original_max_position_embeddings": 8192})
    assert f.shape == (32,) and f[0] == 1.0 and f[-1] == 8.0 and np.all(np.diff(f) >= 0)


# --- a tiny checkpoint ---------------------------------------------------------------------------------------------

_LM = [m for m in ("transformers", "torch", "gguf", "tokenizers") if importlib.util.find_spec(m) is None]
needs_lm = pytest.mark.skipif(bool(_LM), reason=f'needs pip install "sparsegym[lm]" (missing {_LM})')
needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                 reason='needs llama-cpp-python: pip install "sparsegym[llm-server]"')


def _tokenizer(digits: bool):
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                        if digits else byte_level)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(CORPUS * 10, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                                unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def _checkpoint(folder, *, digits=False, tied=False, rope=None):
    import torch
    import transformers

    tok = _tokenizer(digits)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=tied, bos_token_id=1,
        eos_token_id=2, initializer_range=0.3, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0} if rope is None else rope)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # norms away from 1, so that a misplaced norm weight shows
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return model, tok


def _hf_logprobs(model, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    return torch.log_softmax(logits, -1).numpy()


def _llama(path):
    import llama_cpp

    # float32 KV cache: the default float16 cache alone moves log-probs by ~1e-2 on this model's large activations
    return llama_cpp.Llama(model_path=str(path), logits_all=True, n_ctx=256, n_threads=1, n_threads_batch=1,
                           type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, verbose=False)


def _llama_logprobs(llm, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    logits = np.asarray(llm.scores[:len(ids)], dtype=np.float64)
    return logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)


CASES = {
    "gpt2-pre": {},
    "smollm-pre-tied": {"digits": True, "tied": True},
    "llama3-rope": {"rope": {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 16}},
    "linear-rope": {"rope": {"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0}},
}


@needs_lm
@needs_llama
@pytest.mark.parametrize("case", list(CASES))
def test_llama_cpp_matches_transformers(tmp_path, case):
    model, tok = _checkpoint(tmp_path / "ckpt", **CASES[case])
    out = export_gguf(tmp_path / "ckpt", tmp_path / "model.gguf", dtype="f32")
    llm = _llama(out)
    for text in PROMPTS:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids, text
        ours, ref = _llama_logprobs(llm, ids), _hf_logprobs(model, ids)
        assert np.abs(ours - ref).max() < 1e-3, (text, np.abs(ours - ref).max())
        assert np.std(ref[-1]) > 0.1  # the logits are not flat: the comparison means something
    assert llm.metadata["tokenizer.chat_template"] == CHATML
    assert llm.metadata["tokenizer.ggml.pre"] == ("smollm" if CASES[case].get("digits") else "gpt-2")
    assert int(llm.metadata["tokenizer.ggml.eos_token_id"]) == tok.convert_tokens_to_ids("<|im_end|>")
    assert llm.token_eos() == tok.convert_tokens_to_ids("<|im_end|>")


@needs_lm
@needs_llama
def test_f16_is_close_and_half_the_size(tmp_path):
    model, tok = _checkpoint(tmp_path / "ckpt")
    f32 = export_gguf(tmp_path / "ckpt", tmp_path / "m32.gguf", dtype="f32")
    f16 = export_gguf(tmp_path / "ckpt", tmp_path / "m16.gguf")
    assert f16.stat().st_size < 0.6 * f32.stat().st_size
    ids = tok(PROMPTS[0], add_special_tokens=False)["input_ids"]
    assert np.abs(_llama_logprobs(_llama(f16), ids) - _hf_logprobs(model, ids)).max() < 5e-2


@needs_lm
def test_export_errors(tmp_path):
    _checkpoint(tmp_path / "ckpt")
    with pytest.raises(ConfigError, match="dtype"):
        export_gguf(tmp_path / "ckpt", tmp_path / "x.gguf", dtype="q8")
    cfg = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({**cfg, "model_type": "gpt2"}))
    with pytest.raises(ConfigError, match="only Llama"):
        export_gguf(tmp_path / "ckpt", tmp_path / "x.gguf")
    with pytest.raises(ConfigError, match="config.json is missing"):
        export_gguf(tmp_path / "nothing", tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


@needs_lm
@pytest.mark.llm_server
def test_local_server_serves_the_exported_model(tmp_path):
    from sparsegym.llm.server import LocalServer, llama_cpp_available

    if llama_cpp_available():
        pytest.skip(f"needs llama-cpp-python[server] (missing {llama_cpp_available()})")
    _checkpoint(tmp_path / "ckpt")
    path = export_gguf(tmp_path / "ckpt", tmp_path / "policy.gguf")
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with LocalServer(path, parallel=1, n_ctx=256) as srv:
        body = {"model": srv.model, "max_tokens": 8, "temperature": 0,
                "messages": [{"role": "user", "content": "take the coin"}]}
        req = urllib.request.Request(srv.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with opener.open(req, timeout=60) as r:
            out = json.loads(r.read())
    assert srv.model == "policy" and out["model"] == "policy"
    assert out["usage"]["prompt_tokens"] > 5 and out["usage"]["completion_tokens"] >= 1
