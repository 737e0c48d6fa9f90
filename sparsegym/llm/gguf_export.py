"""Write a GGUF file from a transformers Llama checkpoint, so llama.cpp (and :class:`LocalServer`) serves it.

A text-agent trainer saves its policy with ``model.save_pretrained(folder)`` and
``tokenizer.save_pretrained(folder)``; :func:`export_gguf` turns that folder into one GGUF file that
``sparsegym serve --model FILE`` (or ``LocalServer(model=FILE)``) serves behind the OpenAI API:

>>> from sparsegym.llm.gguf_export import export_gguf           # doctest: +SKIP
>>> export_gguf("runs/text-grpo/policy", "runs/text-grpo/policy.f16.gguf")   # doctest: +SKIP
PosixPath('runs/text-grpo/policy.f16.gguf')
>>> from sparsegym.llm.server import LocalServer                # doctest: +SKIP
>>> with LocalServer(model="runs/text-grpo/policy.f16.gguf") as srv:          # doctest: +SKIP
...     print(srv.base_url)

What is written (the keys and tensor names llama.cpp's ``llama`` architecture reads):

- hyper-parameters from ``config.json``: context length (``max_position_embeddings``), widths, block
  count, heads and key/value heads, head size when it is not ``hidden_size / heads``, RMS-norm epsilon,
  RoPE base and RoPE scaling (``linear``, or ``llama3`` as a ``rope_freqs`` tensor);
- every weight, renamed (``model.layers.3.self_attn.q_proj.weight`` -> ``blk.3.attn_q.weight``, ...),
  with the query and key projections' rows reordered from transformers' rotate-half RoPE layout to the
  interleaved layout llama.cpp rotates; ``lm_head`` is left out when the embeddings are tied (llama.cpp
  then reuses ``token_embd``);
- the tokenizer from ``tokenizer.json`` (byte-level BPE, as GPT-2, SmolLM2 and Llama 3 use): the
  vocabulary in id order (added tokens marked control or user-defined), the merges, the pre-tokenizer's
  llama.cpp name (detected from ``tokenizer.json``, or given as ``pre_tokenizer=``), the BOS/EOS/UNK/PAD
  ids, whether BOS/EOS are added (found by encoding a string with the ``tokenizers`` library), and the
  chat template (``chat_template.jinja`` or ``tokenizer_config.json``), which llama.cpp's server then uses
  to format chat requests.

``dtype="f16"`` (default) stores matrices as float16 and the norms as float32 (half the size; log-probs
within ~5e-2 of the checkpoint's on a small random model); ``dtype="f32"`` keeps every weight as float32
(llama.cpp's log-probs match transformers' within 3e-5 with a float32 KV cache; its default float16 KV
cache alone moves them by up to ~1e-2). Quantise further with llama.cpp's own tools if needed.

Needs ``pip install "sparsegym[lm]"`` (``gguf``, ``safetensors``, ``tokenizers``; ``torch`` to read
bfloat16 or ``pytorch_model.bin`` checkpoints). Not supported (a :class:`~sparsegym.errors.ConfigError`
says so): architectures other than Llama, SentencePiece tokenizers, other RoPE scalings (YaRN, dynamic).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sparsegym._deps import require
from sparsegym.errors import ConfigError

__all__ = ["export_gguf", "detect_pre_tokenizer"]

# transformers' per-layer parameter names -> llama.cpp's (blk.N.<name>).
_LAYER_NAMES = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_GLOBAL_NAMES = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
# Split patterns (in tokenizer.json) that llama.cpp knows by name; keys are the regex strings.
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLITS = {_LLAMA3_SPLIT: "llama-bpe", _QWEN2_SPLIT: "qwen2"}


def export_gguf(checkpoint_dir: str | Path, out_path: str | Path, *, dtype: str = "f16", name: str | None = None,
                pre_tokenizer: str | None = None) -> Path:
    """Write ``out_path`` (a GGUF file) from the ``save_pretrained`` folder of a ``LlamaForCausalLM``.

    Args:
        checkpoint_dir: folder with ``config.json``, the weights (``model.safetensors``, sharded
            safetensors with their index, or ``pytorch_model.bin``) and ``tokenizer.json`` (plus
            ``tokenizer_config.json`` / ``chat_template.jinja`` when the tokenizer has them).
        out_path: the GGUF file to write (its folder is created; written to a temporary name, then moved).
        dtype: ``"f16"`` (matrices as float16, norms float32) or ``"f32"``.
        name: ``general.name`` in the file (default: the checkpoint folder's name).
        pre_tokenizer: llama.cpp's name for the pre-tokenizer (``"gpt-2"``, ``"smollm"``, ``"llama-bpe"``,
            ``"qwen2"``, ...) when :func:`detect_pre_tokenizer` cannot tell it from ``tokenizer.json``.

    Returns:
        The path written.
    """
    gguf = require("gguf", "lm", "export_gguf")
    if dtype not in ("f16", "f32"):
        raise ConfigError(f"export_gguf: dtype must be 'f16' or 'f32', not {dtype!r}")
    folder = Path(checkpoint_dir)
    config = _read_json(folder / "config.json", "the model's config (save_pretrained writes it)")
    arch = config.get("model_type")
    if arch != "llama":
        raise ConfigError(f"export_gguf: {folder} holds a {arch!r} model (model_type in config.json); only Llama-"
                          "architecture checkpoints (LlamaForCausalLM, as SmolLM2 and Llama 2/3) are supported")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    try:
        hp = _write_hyperparameters(gguf, writer, config, name or folder.resolve().name, dtype)
        _write_tokenizer(gguf, writer, folder, config, pre_tokenizer)
        _write_tensors(gguf, writer, folder, config, hp, dtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    tmp.replace(out)
    return out


# --- hyper-parameters --------------------------------------------------------------------------------------------

def _rope(config: dict) -> tuple[float, dict]:
    """RoPE base and scaling, from transformers 5's ``rope_parameters`` or 4.x's ``rope_theta``/``rope_scaling``."""
    params = dict(config.get("rope_parameters") or {})
    scaling = dict(config.get("rope_scaling") or {})
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    merged = {**scaling, **params}
    kind = merged.get("rope_type", merged.get("type", "default")) or "default"
    merged["rope_type"] = kind
    return float(theta), merged


def _write_hyperparameters(gguf, writer, config: dict, name: str, dtype: str) -> dict:
    n_embd = int(config["hidden_size"])
    n_head = int(config["num_attention_heads"])
    n_head_kv = int(config.get("num_key_value_heads") or n_head)
    head_dim = int(config.get("head_dim") or n_embd // n_head)
    theta, rope = _rope(config)
    writer.add_name(name)
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(n_embd)
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(theta)
    writer.add_rope_dimension_count(head_dim)
    if head_dim != n_embd // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_vocab_size(int(config["vocab_size"]))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)
    if rope["rope_type"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(rope["factor"]))
    elif rope["rope_type"] not in ("default", "llama3"):
        raise ConfigError(f"export_gguf: RoPE scaling {rope['rope_type']!r} is not supported (default, linear and "
                          "llama3 are)")
    return {"n_head": n_head, "n_head_kv": n_head_kv, "head_dim": head_dim, "theta": theta, "rope": rope}


def _llama3_rope_factors(theta: float, head_dim: int, rope: dict) -> np.ndarray:
    """Per-frequency divisors of Llama 3.1's RoPE scaling (llama.cpp reads them from ``rope_freqs.weight``)."""
    factor = float(rope["factor"])
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old_ctx = float(rope.get("original_max_position_embeddings", 8192))
    low_wavelen, high_wavelen = old_ctx / low, old_ctx / high
    out = []
    for i in range(0, head_dim, 2):
        wavelen = 2 * math.pi / (theta ** (-i / head_dim))
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


# --- tokenizer ---------------------------------------------------------------------------------------------------

def detect_pre_tokenizer(tokenizer_json: dict) -> str:
    """llama.cpp's name for the pre-tokenizer described in a ``tokenizer.json`` (byte-level BPE only).

    ``ByteLevel`` with GPT-2's regex -> ``"gpt-2"``; ``Digits(individual_digits)`` then that -> ``"smollm"``;
    Llama 3's or Qwen 2's ``Split`` regex then ``ByteLevel`` without its regex -> ``"llama-bpe"`` / ``"qwen2"``.
    Anything else raises :class:`~sparsegym.errors.ConfigError` (pass ``pre_tokenizer=`` to
    :func:`export_gguf`: a wrong name tokenizes text differently from the checkpoint's tokenizer).

    >>> detect_pre_tokenizer({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}})
    'gpt-2'
    """
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    kinds = [s.get("type") for s in steps]

    def byte_level(step: dict, regex: bool) -> bool:
        return (step.get("type") == "ByteLevel" and bool(step.get("use_regex", True)) == regex
                and not step.get("add_prefix_space", False))

    if len(steps) == 1 and byte_level(steps[0], regex=True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and byte_level(steps[1], regex=True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"] and byte_level(steps[1], regex=False):
        pattern = (steps[0].get("pattern") or {}).get("Regex")
        if pattern in _SPLITS and steps[0].get("behavior") == "Isolated":
            return _SPLITS[pattern]
    raise ConfigError(
        f"export_gguf: cannot tell llama.cpp's name for this pre-tokenizer ({json.dumps(pre)[:300]}); pass "
        "pre_tokenizer= (e.g. 'gpt-2', 'smollm', 'llama-bpe', 'qwen2'; see llama.cpp's llama-vocab.cpp)")


def _token_id(value: Any, vocab: dict[str, int]) -> int | None:
    if isinstance(value, dict):  # {"content": "<|im_end|>", ...}
        value = value.get("content")
    if isinstance(value, str):
        return vocab.get(value)
    return None


def _write_tokenizer(gguf, writer, folder: Path, config: dict, pre_tokenizer: str | None) -> None:
    tok = _read_json(folder / "tokenizer.json", "the fast tokenizer (tokenizer.save_pretrained writes it)")
    model = tok.get("model") or {}
    if model.get("type") != "BPE" or model.get("byte_fallback"):
        raise ConfigError(f"export_gguf: only byte-level BPE tokenizers are supported (GPT-2, SmolLM2, Llama 3 "
                          f"style); {folder / 'tokenizer.json'} holds a {model.get('type')!r} model"
                          + (" with byte fallback (SentencePiece style)" if model.get("byte_fallback") else ""))
    pre = pre_tokenizer or detect_pre_tokenizer(tok)
    vocab: dict[str, int] = dict(model["vocab"])
    added = {t["content"]: t for t in tok.get("added_tokens", [])}
    for content, t in added.items():
        vocab[content] = int(t["id"])
    size = max(int(config["vocab_size"]), max(vocab.values()) + 1)
    if size > int(config["vocab_size"]):
        raise ConfigError(f"export_gguf: the tokenizer has {max(vocab.values()) + 1} tokens but the model's "
                          f"vocab_size is {config['vocab_size']}; resize the embeddings before saving")
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    for text, idx in vocab.items():
        tokens[idx] = text
        if text in added:
            types[idx] = gguf.TokenType.CONTROL if added[text].get("special") else gguf.TokenType.USER_DEFINED
        else:
            types[idx] = gguf.TokenType.NORMAL
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)

    tconf = _read_json(folder / "tokenizer_config.json", None) or {}
    ids: dict[str, int | None] = {}
    for key in ("bos", "eos", "unk", "pad"):
        ids[key] = _token_id(tconf.get(f"{key}_token"), vocab)
        if ids[key] is None:
            fallback = config.get(f"{key}_token_id")
            ids[key] = fallback[0] if isinstance(fallback, list) and fallback else fallback
    for key, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                     ("unk", writer.add_unk_token_id), ("pad", writer.add_pad_token_id)):
        if ids[key] is not None:
            add(int(ids[key]))
    add_bos, add_eos = _added_specials(folder, tconf, ids)
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(add_eos)
    template = _chat_template(folder, tconf)
    if template:
        writer.add_chat_template(template)


def _added_specials(folder: Path, tconf: dict, ids: dict) -> tuple[bool, bool]:
    """Whether encoding adds BOS / EOS: asked of the tokenizer itself (its post-processor decides), else the
    config's ``add_bos_token``/``add_eos_token``."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return bool(tconf.get("add_bos_token", False)), bool(tconf.get("add_eos_token", False))
    tk = Tokenizer.from_file(str(folder / "tokenizer.json"))
    plain = tk.encode("hello", add_special_tokens=False).ids
    full = tk.encode("hello", add_special_tokens=True).ids
    add_bos = len(full) > len(plain) and ids["bos"] is not None and full[0] == ids["bos"]
    add_eos = len(full) > len(plain) and ids["eos"] is not None and full[-1] == ids["eos"]
    return add_bos, add_eos


def _chat_template(folder: Path, tconf: dict) -> str | None:
    jinja = folder / "chat_template.jinja"  # transformers 5 saves the template beside the config
    if jinja.is_file():
        return jinja.read_text()
    template = tconf.get("chat_template")
    if isinstance(template, list):  # named templates: [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template}
        template = named.get("default") or next(iter(named.values()), None)
    return template or None


# --- tensors -----------------------------------------------------------------------------------------------------

def _gguf_name(hf_name: str) -> str | None:
    """``model.layers.3.mlp.up_proj.weight`` -> ``blk.3.ffn_up.weight``; None for buffers llama.cpp recomputes."""
    stem, _, kind = hf_name.rpartition(".")
    if stem.endswith("rotary_emb") or kind == "inv_freq":
        return None
    if stem in _GLOBAL_NAMES:
        return f"{_GLOBAL_NAMES[stem]}.{kind}"
    parts = stem.split(".")
    if len(parts) >= 4 and parts[:2] == ["model", "layers"] and ".".join(parts[3:]) in _LAYER_NAMES:
        return f"blk.{int(parts[2])}.{_LAYER_NAMES['.'.join(parts[3:])]}.{kind}"
    raise ConfigError(f"export_gguf: the checkpoint has a tensor {hf_name!r} that a Llama model does not; is it a "
                      "plain LlamaForCausalLM (merge LoRA adapters first: peft's merge_and_unload)?")


def _rope_rows(w: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder a q/k projection's output rows from rotate-half pairs (i, i + d/2) to adjacent pairs (2i, 2i+1)."""
    head = w.shape[0] // n_head
    return w.reshape(n_head, 2, head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _read_tensors(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Every (name, float32 array) of the checkpoint: safetensors (one file or sharded) or pytorch_model.bin."""
    files = _weight_files(folder)
    if files[0].suffix == ".safetensors":
        safetensors = require("safetensors", "lm", "export_gguf")
        try:
            import torch  # noqa: F401  (bfloat16 checkpoints need torch to be read)
            framework = "pt"
        except ImportError:
            framework = "numpy"
        for f in files:
            with safetensors.safe_open(str(f), framework=framework) as st:
                for key in st.keys():
                    t = st.get_tensor(key)
                    yield key, (t.float().numpy() if framework == "pt" else np.asarray(t, dtype=np.float32))
    else:
        torch = require("torch", "lm", "export_gguf (pytorch_model.bin checkpoints)")
        for f in files:
            for key, t in torch.load(str(f), map_location="cpu", weights_only=True).items():
                yield key, t.float().numpy()


def _weight_files(folder: Path) -> list[Path]:
    for single, index in (("model.safetensors", "model.safetensors.index.json"),
                          ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if (folder / single).is_file():
            return [folder / single]
        if (folder / index).is_file():
            shards = sorted(set(_read_json(folder / index, "")["weight_map"].values()))
            return [folder / s for s in shards]
    raise ConfigError(f"export_gguf: no weights in {folder} (model.safetensors, its sharded index, or "
                      "pytorch_model.bin); save the model with save_pretrained(folder)")


def _write_tensors(gguf, writer, folder: Path, config: dict, hp: dict, dtype: str) -> None:
    tied = bool(config.get("tie_word_embeddings", False))
    seen = set()
    for hf_name, w in _read_tensors(folder):
        name = _gguf_name(hf_name)
        if name is None or (tied and name == "output.weight"):
            continue
        if name.startswith("blk.") and (".attn_q." in name or ".attn_k." in name):
            w = _rope_rows(w, hp["n_head"] if ".attn_q." in name else hp["n_head_kv"])
        if dtype == "f16" and w.ndim == 2:
            w = w.astype(np.float16)
        writer.add_tensor(name, np.ascontiguousarray(w, dtype=w.dtype if w.ndim == 2 else np.float32))
        seen.add(name)
    if hp["rope"]["rope_type"] == "llama3":
        writer.add_tensor("rope_freqs.weight", _llama3_rope_factors(hp["theta"], hp["head_dim"], hp["rope"]))
    need = {"token_embd.weight", "output_norm.weight"} | ({"output.weight"} if not tied else set())
    for i in range(int(config["num_hidden_layers"])):
        need |= {f"blk.{i}.{n}.weight" for n in _LAYER_NAMES.values()}
    if need - seen:
        raise ConfigError(f"export_gguf: the checkpoint lacks {sorted(need - seen)[:5]} (of {len(need - seen)} "
                          "missing tensors)")


def _read_json(path: Path, what: str | None) -> dict | None:
    if not path.is_file():
        if what is None:
            return None
        raise ConfigError(f"export_gguf: {path} is missing ({what})")
    return json.loads(path.read_text())
