"""A causal language model (transformers) as a :class:`~sparsegym.agents.text.policy.TextPolicy`.

Two ways to act, chosen by ``mode``:

- ``"score"`` (GLAM-style, Carta et al. 2023): every admissible action ``a`` gets the score
  ``s(a) = sum_j log p(a_j | prompt, a_<j)`` (its tokens, plus the chat template's end-of-turn token, so
  that ``"take"`` and ``"take coin"`` are different complete answers), and the policy is
  ``softmax(s / temperature)`` over the admissible actions. ``score_norm="mean"`` divides ``s(a)`` by
  ``a``'s token count (the mean token log-probability): a model that is not yet a language model (the
  randomly initialised ones of tests and benchmarks) gives every token about ``-log V``, so summed scores
  all but fix the policy on the action with the fewest tokens, which length normalisation does not. The
  prompt is encoded once; its key/value cache is copied across a batch of candidates
  (``candidate_batch_size`` at a time), which then runs only the candidates' own tokens (``kv_cache=False``
  re-encodes prompt + candidate for each candidate: the reference the cached path is tested against).
  ``evaluate`` recomputes the same log-softmax with gradients; only the candidates' tokens are scored (the
  prompt is context, outside the loss mask).
- ``"generate"``: free text, sampled token by token at ``temperature`` (no top-k/top-p, so the recorded
  log-probabilities are those of the distribution ``evaluate`` recomputes), stopped at the end-of-turn
  token, at ``</answer>`` or after ``max_new_tokens``. The reply is parsed as
  ``<think>...</think><answer>ACTION</answer>`` (:func:`parse_response`); a reply that breaks the format
  gets ``extra["format_penalty"] = -format_penalty`` (0.0 otherwise), a reward term the trainer adds to
  the turn's reward. ``extra["token_ids"]`` keeps the generated tokens, so that ``evaluate`` returns the
  sum of exactly their log-probabilities (prompt and observation tokens masked out), the mean token
  entropy, and per-token tensors (``token_logprob``, ``token_entropy``, ``mask``) for token-level losses.

The prompt is the model's chat template over: the turn's instructions (or ``system_prompt``) as the system
message, the episode's history as user (observation) / assistant (action) messages (the last
``history_window`` pairs; the oldest are dropped further while the prompt exceeds ``max_prompt_tokens``),
and the current observation with the admissible actions listed (and, when generating, the format
instruction) as the last user message.

An optional critic (``value_head=True``) is a linear layer on the last prompt token's final hidden state:
``Choice.value`` when acting and ``"value"`` in ``evaluate``. LoRA adapters (peft) are added with
``lora=`` (a dict of ``peft.LoraConfig`` fields, a ``LoraConfig``, or ``True`` for r=8 on q/k/v/o); then
only the adapters (and the value head) are trainable. The language model runs in eval mode even while
the policy trains (no dropout: the log-probabilities recorded when acting are reproduced exactly).

>>> import torch
>>> from sparsegym.agents.text import CausalLMPolicy, Turn, tiny_causal_lm
>>> model, tokenizer = tiny_causal_lm(seed=0)
>>> policy = CausalLMPolicy(model, tokenizer, mode="score")
>>> turn = Turn("You see a coin.", ["take coin", "go north"], history=[])
>>> [choice] = policy.act([turn], generator=torch.Generator().manual_seed(0))
>>> choice.action in turn.actions
True
>>> out = policy.evaluate([turn], [choice])
>>> abs(out["logprob"].item() - choice.logprob) < 1e-5
True

Built from a folder or a GGUF file with :meth:`CausalLMPolicy.from_pretrained`; saved with
:meth:`~CausalLMPolicy.save` (``save_pretrained`` folders, plus the LoRA adapters and the value head) and
turned into a GGUF file that ``sparsegym serve`` serves with :meth:`~CausalLMPolicy.export_gguf` (LoRA
merged) or :func:`sparsegym.llm.gguf_export.export_gguf` on a saved folder without LoRA.
Needs ``pip install "sparsegym[lm]"`` (and ``"sparsegym[lora]"`` for LoRA).
"""

from __future__ import annotations

import inspect
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from sparsegym._deps import require
from sparsegym.agents.text.policy import Choice, TextPolicy, Turn
from sparsegym.errors import ConfigError

__all__ = ["CausalLMPolicy", "parse_response", "match_action", "tiny_causal_lm", "DEFAULT_FORMAT_INSTRUCTION"]

#: Prompt room kept for the candidate when scoring actions (tokens); an action longer than this may
#: still fit, as the budget only trims past turns.
_SCORE_RESERVE = 64

DEFAULT_FORMAT_INSTRUCTION = ("Think step by step inside <think>...</think>, then give exactly one action "
                              "inside <answer>...</answer>.")
DEFAULT_LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
_FORMAT = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.S)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.S)
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_TAG = re.compile(r"</?(?:think|answer)>")
_SETTINGS = ("mode", "temperature", "system_prompt", "list_actions", "history_window", "max_prompt_tokens",
             "kv_cache", "candidate_batch_size", "end_of_action", "score_norm", "max_new_tokens",
             "format_penalty", "format_instruction", "stop_at_answer")
SCORE_NORMS = ("sum", "mean")
_POLICY_FILE = "policy.json"
_FORMAT_NAME = "sparsegym.CausalLMPolicy"


# --- parsing ------------------------------------------------------------------------------------------------

def parse_response(text: str) -> tuple[str, bool]:
    """``(action, format_ok)`` of a generated reply.

    The format is one ``<think>...</think>`` block, then one non-empty ``<answer>...</answer>`` block, and
    nothing else but white space. The action is the answer's text; in a malformed reply, the last
    (possibly unclosed) ``<answer>`` block's text, else the last non-empty line outside ``<think>``.

    >>> parse_response("<think>the coin is here</think> <answer>take coin</answer>")
    ('take coin', True)
    >>> parse_response("<answer>go north</answer>")
    ('go north', False)
    >>> parse_response("I will open the door.\\nopen door")
    ('open door', False)
    """
    m = _FORMAT.fullmatch(text)
    if m and m.group(2).strip() and not _TAG.search(m.group(1)) and not _TAG.search(m.group(2)):
        return m.group(2).strip(), True
    answers = [a.strip() for a in _ANSWER.findall(text)]
    if answers and answers[-1]:
        return _TAG.sub("", answers[-1]).strip(), False
    lines = [ln.strip() for ln in _TAG.sub("", _THINK.sub("", text)).splitlines() if ln.strip()]
    return (lines[-1] if lines else ""), False


def _norm(s: str) -> str:
    return " ".join(s.lower().split()).rstrip(".!")


def match_action(action: str, actions: Sequence[str]) -> int | None:
    """Index of ``action`` in ``actions`` (case and white space ignored, a final period dropped), else None.

    >>> match_action("Take  Coin.", ["go north", "take coin"])
    1
    """
    key = _norm(action)
    for i, a in enumerate(actions):
        if _norm(a) == key:
            return i
    return None


# --- the policy ---------------------------------------------------------------------------------------------

class CausalLMPolicy(TextPolicy):
    """A transformers causal LM as a text policy (see the module's docstring).

    Args:
        model: a ``transformers`` causal LM (``AutoModelForCausalLM``), or a peft model around one.
        tokenizer: its tokenizer (a chat template is used when it has one; else ``role: text`` lines).
        mode: ``"score"`` (a softmax over the admissible actions' log-likelihoods) or ``"generate"``.
        temperature: softmax temperature over the actions' scores (score) or of token sampling (generate).
        value_head: add a critic: a linear layer on the last prompt token's final hidden state.
        lora: add LoRA adapters (peft): a dict of ``peft.LoraConfig`` fields (``DEFAULT_LORA`` fills the
            rest), a ``LoraConfig``, or True (``DEFAULT_LORA``).
        system_prompt: the system message when a turn has no ``instructions``.
        list_actions: list the admissible actions in the last user message.
        history_window: how many past (observation, action) pairs the prompt shows (None: all).
        max_prompt_tokens: drop the oldest history pairs while the prompt is longer than this (default: the
            model's ``max_position_embeddings`` less room for the reply; see :meth:`prompt_budget`).
        kv_cache: score mode: encode the prompt once and reuse its key/value cache for the candidates.
        candidate_batch_size: score mode: candidates run together (None: all of a turn's at once).
        end_of_action: score mode: score the end-of-turn token after each action (a complete answer).
        score_norm: score mode: ``"sum"`` (GLAM's summed token log-probabilities) or ``"mean"`` (divided
            by the action's token count; see the module docstring).
        max_new_tokens: generate mode: the most tokens a reply has.
        format_penalty: generate mode: ``extra["format_penalty"]`` is ``-format_penalty`` for a malformed
            reply.
        format_instruction: generate mode: appended to the last user message ("" for none).
        stop_at_answer: generate mode: stop a reply at ``</answer>``.
    """

    #: generate mode: with ``stop_at_answer``, a reply stops once its text holds this (a subclass with
    #: another format changes it: HiPER's ``</action>``)
    stop_text = "</answer>"

    def __init__(self, model: Any, tokenizer: Any, *, mode: str = "score", temperature: float = 1.0,
                 value_head: bool = False, lora: Any = None, system_prompt: str = "",
                 list_actions: bool = True, history_window: int | None = None,
                 max_prompt_tokens: int | None = None, kv_cache: bool = True,
                 candidate_batch_size: int | None = None, end_of_action: bool = True,
                 score_norm: str = "sum", max_new_tokens: int = 128,
                 format_penalty: float = 0.1, format_instruction: str = DEFAULT_FORMAT_INSTRUCTION,
                 stop_at_answer: bool = True):
        super().__init__()
        if mode not in ("score", "generate"):
            raise ConfigError(f"CausalLMPolicy: mode must be 'score' or 'generate', not {mode!r}")
        if not temperature > 0:
            raise ConfigError(f"CausalLMPolicy: temperature must be > 0 (sample=False acts greedily), "
                              f"not {temperature}")
        if score_norm not in SCORE_NORMS:
            raise ConfigError(f"CausalLMPolicy: score_norm must be one of {SCORE_NORMS}, not {score_norm!r}")
        if candidate_batch_size is not None and candidate_batch_size < 1:
            raise ConfigError("CausalLMPolicy: candidate_batch_size must be >= 1 or None")
        self.mode, self.temperature = mode, float(temperature)
        self.system_prompt, self.list_actions = system_prompt, list_actions
        self.history_window = history_window
        self.max_prompt_tokens, self.kv_cache = max_prompt_tokens, kv_cache
        self.candidate_batch_size, self.end_of_action = candidate_batch_size, end_of_action
        self.score_norm = score_norm
        self.max_new_tokens = max_new_tokens
        self.format_penalty, self.format_instruction = float(format_penalty), format_instruction
        self.stop_at_answer = stop_at_answer
        if lora is not None and lora is not False:
            if _is_peft(model):
                raise ConfigError("CausalLMPolicy: the model already has adapters; leave lora=None")
            model = _add_lora(model, lora)
        self.model = model
        self.tokenizer = tokenizer
        self.base_source: dict | None = None  # where from_pretrained read the base model (for LoRA saves)
        self.model.eval()
        hidden = self.model.config.get_text_config().hidden_size
        param = next(self.model.parameters())
        self.value_head = torch.nn.Linear(hidden, 1).to(param.device) if value_head else None
        if self.value_head is not None:  # starts at 0 everywhere (and the same for the same model)
            torch.nn.init.zeros_(self.value_head.weight)
            torch.nn.init.zeros_(self.value_head.bias)
        self.end_token_id = _end_of_turn_id(tokenizer)
        pads = (tokenizer.pad_token_id, tokenizer.eos_token_id)
        self.pad_token_id = next((t for t in pads if t is not None), 0)
        self._cache_arg = _cache_argument(self.model)

    # -- construction ----------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path_or_dir: str | Path, gguf_file: str | None = None, lora: Any = None,
                        device: str | torch.device | None = None, dtype: Any = None,
                        **settings: Any) -> CausalLMPolicy:
        """A policy on a pretrained model: a ``save_pretrained`` folder or hub id, a folder and the name of a
        GGUF file in it (``gguf_file=``; dequantised to float), or the path of a ``.gguf`` file; a folder
        written by :meth:`save` loads the saved policy. ``device``: CUDA when present, else CPU;
        ``dtype``: bfloat16 on a CUDA device that supports it, else float32. ``settings``: the
        constructor's keyword arguments."""
        path = Path(path_or_dir)
        if (path / _POLICY_FILE).is_file():
            if lora is not None:
                raise ConfigError("CausalLMPolicy.from_pretrained: a saved policy keeps its own adapters; "
                                  "leave lora=None")
            return cls.load(path, device=device, dtype=dtype, **settings)
        if gguf_file is None and path.suffix == ".gguf" and path.is_file():
            path, gguf_file = path.parent, path.name
        device, dtype = _device_dtype(device, dtype)
        model, tokenizer = _load_lm(str(path), gguf_file, device, dtype)
        policy = cls(model, tokenizer, lora=lora, **settings)
        policy.base_source = {"path": str(path.resolve()) if path.exists() else str(path_or_dir),
                              "gguf_file": gguf_file}
        return policy

    @property
    def settings(self) -> dict[str, Any]:
        """The constructor's keyword arguments (but ``lora``) as they are now: what :meth:`save` records."""
        out = {k: getattr(self, k) for k in _SETTINGS}
        out["value_head"] = self.value_head is not None
        return out

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def train(self, mode: bool = True) -> CausalLMPolicy:
        super().train(mode)
        self.model.eval()  # no dropout: acting and evaluating give the same log-probabilities
        return self

    # -- prompts ---------------------------------------------------------------------------------------------

    def messages(self, turn: Turn, history: Sequence[tuple[str, str]] | None = None) -> list[dict[str, str]]:
        """The chat messages of a turn's prompt (``history``: the pairs to show; default: per
        ``history_window``)."""
        if history is None:
            history = turn.history[max(0, len(turn.history) - self.history_window):] \
                if self.history_window is not None else turn.history
        out = []
        system = turn.instructions or self.system_prompt
        if system:
            out.append({"role": "system", "content": system})
        for obs, act in history:
            out += [{"role": "user", "content": obs}, {"role": "assistant", "content": act}]
        parts = [turn.observation]
        if self.list_actions and turn.actions:
            parts.append("Admissible actions:\n" + "\n".join(f"- {a}" for a in turn.actions))
        if self.mode == "generate" and self.format_instruction:
            parts.append(self.format_instruction)
        out.append({"role": "user", "content": "\n\n".join(parts)})
        return out

    def prompt_text(self, turn: Turn, history: Sequence[tuple[str, str]] | None = None) -> str:
        """The prompt as text, ending where the assistant's reply begins."""
        msgs = self.messages(turn, history)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "

    def prompt_budget(self) -> int | None:
        """The most prompt tokens a turn may use: ``max_prompt_tokens`` when set, else the model's positions
        (``config.max_position_embeddings``) less room for the reply (``max_new_tokens`` when generating,
        64 tokens for the longest candidate when scoring); ``None`` when the model states no limit."""
        if self.max_prompt_tokens is not None:
            return self.max_prompt_tokens
        positions = getattr(getattr(self.model, "config", None), "max_position_embeddings", None)
        if not isinstance(positions, int):
            return None
        return max(1, positions - (self.max_new_tokens if self.mode == "generate" else _SCORE_RESERVE))

    def prompt_ids(self, turn: Turn) -> list[int]:
        """The prompt's token ids, the oldest history pairs dropped while over :meth:`prompt_budget`.

        A prompt still over the budget with no history left is a ``ConfigError`` (a model run past its
        positions reads out of bounds)."""
        history = list(turn.history[max(0, len(turn.history) - self.history_window):]
                       if self.history_window is not None else turn.history)
        budget = self.prompt_budget()
        while True:
            ids = self._encode(self.prompt_text(turn, history))
            if budget is None or len(ids) <= budget:
                return ids
            if not history:
                raise ConfigError(
                    f"CausalLMPolicy: the prompt has {len(ids)} tokens even without past turns, over the "
                    f"{budget} this model leaves for it (max_prompt_tokens, or its max_position_embeddings less "
                    "the reply's room): shorten system_prompt or the env's instructions, lower max_new_tokens, "
                    "or use a model with a longer context")
            history.pop(0)

    def action_ids(self, action: str) -> list[int]:
        """The token ids scored for an admissible action (its text, then the end-of-turn token)."""
        ids = self._encode(action)
        if self.end_of_action and self.end_token_id is not None:
            ids.append(self.end_token_id)
        if not ids:
            raise ValueError("CausalLMPolicy: an empty action has no tokens to score "
                             "(set end_of_action=True)")
        return ids

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- the interface ---------------------------------------------------------------------------------------

    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        with torch.no_grad():
            if self.mode == "score":
                return [self._act_score(t, sample, generator) for t in turns]
            return self._act_generate(turns, sample, generator)

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        if len(turns) != len(choices):
            raise ValueError(f"evaluate: {len(turns)} turns but {len(choices)} choices")
        if self.mode == "score":
            return self._evaluate_score(turns, choices)
        return self._evaluate_generate(turns, choices)

    # -- score mode ------------------------------------------------------------------------------------------

    def score_actions(self, turn: Turn, *, kv_cache: bool | None = None,
                      value: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each admissible action's score given the prompt (a [K] float32 tensor, differentiable when
        gradients are on): its summed token log-probability, or their mean with ``score_norm="mean"``; and
        the critic's value when ``value`` (else None)."""
        if not turn.actions:
            raise ValueError("CausalLMPolicy(mode='score') needs admissible actions; use mode='generate' for "
                             "free-text envs")
        prompt = self.prompt_ids(turn)
        candidates = [self.action_ids(a) for a in turn.actions]
        use_cache = self.kv_cache if kv_cache is None else kv_cache
        if use_cache:
            scores, v = self._score_cached(prompt, candidates, value)
        else:
            step = self.candidate_batch_size or len(candidates)
            parts, v = [], None
            for start in range(0, len(candidates), step):
                chunk = candidates[start:start + step]
                out = self._response_logprobs([prompt] * len(chunk), chunk, temperature=1.0,
                                              value=value and start == 0)
                parts.append(out["logprob"])
                v = out["value"][0] if value and start == 0 else v
            scores = torch.cat(parts)
        if self.score_norm == "mean":
            scores = scores / torch.tensor([len(c) for c in candidates], dtype=scores.dtype, device=scores.device)
        return scores, v

    def _score_cached(self, prompt: list[int], candidates: list[list[int]],
                      value: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        from transformers import DynamicCache

        dev = self.device
        out = self.model(input_ids=torch.tensor([prompt], device=dev), use_cache=True, logits_to_keep=1,
                         output_hidden_states=value)
        prompt_cache = _output_cache(out)
        first = out.logits[0, -1].float().log_softmax(-1)  # predicts every candidate's first token
        v = self.value_head(out.hidden_states[-1][0, -1].float()).squeeze(-1) if value else None
        kv = [(layer.keys, layer.values) for layer in prompt_cache.layers]
        step = self.candidate_batch_size or len(candidates)
        scores = []
        for start in range(0, len(candidates), step):
            chunk = candidates[start:start + step]
            ids, mask = self._right_pad(chunk, dev)
            s = first[ids[:, 0]]
            if ids.shape[1] > 1:
                n = len(chunk)
                layers = [(k.expand(n, -1, -1, -1), w.expand(n, -1, -1, -1)) for k, w in kv]
                cache = DynamicCache(ddp_cache_data=layers, config=self.model.config)
                # right padding: a real token sees only the prompt and earlier real tokens (causal attention)
                o = self.model(input_ids=ids[:, :-1], use_cache=True, **{self._cache_arg: cache})
                lp = o.logits.float().log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
                s = s + torch.where(mask[:, 1:], lp, torch.zeros_like(lp)).sum(1)
            scores.append(s)
        return torch.cat(scores), v

    def _act_score(self, turn: Turn, sample: bool, generator: torch.Generator | None) -> Choice:
        scores, v = self.score_actions(turn, value=self.value_head is not None)
        logp = (scores / self.temperature).log_softmax(0)
        idx = _draw(logp, sample, generator)
        return Choice(action=turn.actions[idx], index=idx, logprob=float(logp[idx]),
                      value=None if v is None else float(v),
                      extra={"mode": "score", "action_logprobs": logp.tolist(), "scores": scores.tolist()})

    def _evaluate_score(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        logps, ents, values = [], [], []
        for turn, choice in zip(turns, choices):
            idx = choice.index if choice.index is not None else match_action(choice.action, turn.actions)
            if idx is None:
                raise ValueError(f"evaluate: {choice.action!r} is not one of the turn's admissible actions")
            scores, v = self.score_actions(turn, value=self.value_head is not None)
            logp = (scores / self.temperature).log_softmax(0)
            logps.append(logp[idx])
            ents.append(-(logp.exp() * logp).sum())
            values.append(v)
        out = {"logprob": torch.stack(logps), "entropy": torch.stack(ents)}
        if self.value_head is not None:
            out["value"] = torch.stack(values)
        return out

    # -- generate mode ---------------------------------------------------------------------------------------

    def _act_generate(self, turns: list[Turn], sample: bool,
                      generator: torch.Generator | None) -> list[Choice]:
        dev = self.device
        prompts = [self.prompt_ids(t) for t in turns]
        n, width = len(prompts), max(len(p) for p in prompts)
        ids = torch.full((n, width), self.pad_token_id, dtype=torch.long, device=dev)
        attn = torch.zeros((n, width), dtype=torch.long, device=dev)
        for i, p in enumerate(prompts):  # left padding: every row's last position is its prompt's end
            ids[i, width - len(p):] = torch.tensor(p, device=dev)
            attn[i, width - len(p):] = 1
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        want_value = self.value_head is not None
        out = self.model(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True,
                         logits_to_keep=1, output_hidden_states=want_value)
        values = [None] * n
        if want_value:
            values = self.value_head(out.hidden_states[-1][:, -1].float()).squeeze(-1).tolist()
        cache, logits, next_pos = _output_cache(out), out.logits[:, -1], pos[:, -1:] + 1
        tokens: list[list[int]] = [[] for _ in range(n)]
        token_lps: list[list[float]] = [[] for _ in range(n)]
        done = [False] * n
        stopped = [False] * n
        for _ in range(self.max_new_tokens):
            logp = (logits.float() / self.temperature).log_softmax(-1)
            nxt = _draw_rows(logp, sample, generator)
            picked = logp.gather(-1, nxt[:, None]).squeeze(-1).tolist()
            for i in range(n):
                if done[i]:
                    continue
                tok = int(nxt[i])
                tokens[i].append(tok)
                token_lps[i].append(picked[i])
                if tok == self.end_token_id or tok == self.tokenizer.eos_token_id or (
                        self.stop_at_answer and self.stop_text in self.tokenizer.decode(tokens[i][-12:])):
                    done[i] = stopped[i] = True
            if all(done):
                break
            attn = torch.cat([attn, attn.new_ones((n, 1))], dim=1)
            out = self.model(input_ids=nxt[:, None], attention_mask=attn, position_ids=next_pos,
                             use_cache=True, **{self._cache_arg: cache})
            cache, logits, next_pos = _output_cache(out), out.logits[:, -1], next_pos + 1
        choices = []
        for i, turn in enumerate(turns):
            text = self.tokenizer.decode(tokens[i], skip_special_tokens=True)
            action, ok = parse_response(text)
            index = match_action(action, turn.actions) if turn.actions else None
            choices.append(Choice(
                action=turn.actions[index] if index is not None else action, index=index,
                logprob=float(sum(token_lps[i])), value=values[i],
                extra={"mode": "generate", "text": text, "token_ids": tokens[i],
                       "token_logprobs": token_lps[i], "format_ok": ok,
                       "format_penalty": 0.0 if ok else -self.format_penalty,
                       "valid_action": (index is not None) if turn.actions else None,
                       "truncated": not stopped[i]}))
        return choices

    def _evaluate_generate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        responses = []
        for c in choices:
            if "token_ids" not in c.extra:
                raise ValueError("evaluate (mode='generate'): a choice lacks extra['token_ids'] (made by "
                                 "act in generate mode)")
            responses.append(list(c.extra["token_ids"]))
        out = self._response_logprobs([self.prompt_ids(t) for t in turns], responses,
                                      temperature=self.temperature, value=self.value_head is not None)
        count = out["mask"].sum(1).clamp(min=1)
        out["entropy"] = torch.where(out["mask"], out["token_entropy"], torch.zeros_like(out["token_entropy"])
                                     ).sum(1) / count
        return out

    # -- shared: the log-probabilities of given responses, re-encoding prompt + response ---------------------

    def _right_pad(self, seqs: list[list[int]], dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_token_id, dtype=torch.long, device=dev)
        mask = torch.zeros((len(seqs), width), dtype=torch.bool, device=dev)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = torch.tensor(s, dtype=torch.long, device=dev)
            mask[i, :len(s)] = True
        return ids, mask

    def loss_batch(self, prompts: list[list[int]], responses: list[list[int]]) -> dict[str, torch.Tensor]:
        """The padded batch ``evaluate`` runs: ``input_ids`` [B, T] (prompt + response, right-padded) and
        ``loss_mask`` [B, T], true exactly at the response tokens (the tokens whose log-probabilities
        count)."""
        seqs = [p + r for p, r in zip(prompts, responses)]
        ids, real = self._right_pad(seqs, self.device)
        loss_mask = torch.zeros_like(real)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            loss_mask[i, len(p):len(p) + len(r)] = True
        return {"input_ids": ids, "attention_mask": real.long(), "loss_mask": loss_mask}

    def _response_logprobs(self, prompts: list[list[int]], responses: list[list[int]], *, temperature: float,
                           value: bool) -> dict[str, torch.Tensor]:
        batch = self.loss_batch(prompts, responses)
        ids, loss_mask = batch["input_ids"], batch["loss_mask"]
        dev, width = ids.device, ids.shape[1]
        # the scored tokens are exactly the loss mask's: row i's run starts at its first true position
        starts, lengths = loss_mask.long().argmax(1), loss_mask.sum(1)
        keep = width - int(starts.min()) + 1  # logits from the earliest prompt end on
        out = self.model(input_ids=ids, logits_to_keep=keep, output_hidden_states=value)
        offset = width - keep  # out.logits[:, c]: position offset + c's, predicting token offset + c + 1
        j = torch.arange(int(lengths.max()), device=dev)[None]
        mask = j < lengths[:, None]
        pos = (starts[:, None] + j).clamp(max=width - 1)  # the response tokens' positions
        rows = torch.arange(len(prompts), device=dev)[:, None]
        logp = (out.logits[rows, pos - 1 - offset].float() / temperature).log_softmax(-1)  # [B, L, V]
        targets = torch.where(mask, ids[rows, pos], torch.zeros_like(pos))
        picked = logp.gather(-1, targets[..., None]).squeeze(-1)
        token_logprob = torch.where(mask, picked, torch.zeros((), device=dev))
        res = {"logprob": token_logprob.sum(1), "token_logprob": token_logprob,
               "token_entropy": -(logp.exp() * logp).sum(-1), "mask": mask}
        if value:
            hidden = out.hidden_states[-1][rows.squeeze(1), starts - 1]  # the last prompt token
            res["value"] = self.value_head(hidden.float()).squeeze(-1)
        return res

    # -- persistence -----------------------------------------------------------------------------------------

    @property
    def uses_lora(self) -> bool:
        return _is_peft(self.model)

    def save(self, path: str | Path, *, include_base: bool | None = None) -> None:
        """Write the policy to the folder ``path``: ``policy.json`` (settings), the tokenizer, and either the
        model's ``save_pretrained`` files (a folder :func:`~sparsegym.llm.gguf_export.export_gguf` reads) or,
        with LoRA, the adapters in ``adapter/`` and the base model in ``base/``: written when
        ``include_base`` (default: when the policy was not built by :meth:`from_pretrained`, which knows
        where its base is and records that instead); the value head in ``value_head.safetensors``."""
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"format": _FORMAT_NAME, "version": 1, "settings": self.settings,
                                "lora": self.uses_lora, "base": None}
        self.tokenizer.save_pretrained(path)
        if self.uses_lora:
            self.model.save_pretrained(path / "adapter")
            if include_base or (include_base is None and self.base_source is None):
                self._save_full(path / "base", merged=False)
            else:
                if self.base_source is None:
                    raise ConfigError("save(include_base=False): this policy does not know where its base "
                                      "model is")
                meta["base"] = self.base_source
        else:
            self._save_full(path, merged=False, tokenizer=False)
        if self.value_head is not None:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.value_head.state_dict().items()},
                      str(path / "value_head.safetensors"))
        (path / _POLICY_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device | None = None, dtype: Any = None,
             base: str | Path | None = None, **settings: Any) -> CausalLMPolicy:
        """A policy written by :meth:`save` (``base``: where the base model is now, when its recorded path
        moved; ``settings`` override the saved ones)."""
        path = Path(path)
        meta = json.loads((path / _POLICY_FILE).read_text())
        if meta.get("format") != _FORMAT_NAME:
            raise ConfigError(f"{path / _POLICY_FILE} is not a saved CausalLMPolicy")
        device, dtype = _device_dtype(device, dtype)
        if meta["lora"]:
            peft = require("peft", "lora", "CausalLMPolicy with LoRA")
            if base is not None:
                bpath, gguf_file = Path(base), None
                if bpath.suffix == ".gguf":
                    bpath, gguf_file = bpath.parent, bpath.name
                model, _ = _load_lm(str(bpath), gguf_file, device, dtype)
            elif (path / "base").is_dir():
                model, _ = _load_lm(str(path / "base"), None, device, dtype)
            else:
                model, _ = _load_lm(meta["base"]["path"], meta["base"].get("gguf_file"), device, dtype)
            model = peft.PeftModel.from_pretrained(model, str(path / "adapter"), is_trainable=True)
        else:
            model, _ = _load_lm(str(path), None, device, dtype)
        tokenizer = require("transformers", "lm", "CausalLMPolicy").AutoTokenizer.from_pretrained(str(path))
        policy = cls(model, tokenizer, **{**meta["settings"], **settings})
        policy.base_source = meta.get("base")
        if policy.value_head is not None and (path / "value_head.safetensors").is_file():
            from safetensors.torch import load_file

            state = load_file(str(path / "value_head.safetensors"), device=str(policy.device))
            policy.value_head.load_state_dict(state)
        return policy

    def export_gguf(self, out_path: str | Path, *, dtype: str = "f16", **kwargs: Any) -> Path:
        """Write a GGUF file of the policy's language model (LoRA merged in; the value head is not part of
        it) that ``sparsegym serve --model FILE`` serves. ``kwargs``:
        :func:`~sparsegym.llm.gguf_export.export_gguf`'s."""
        from sparsegym.llm.gguf_export import export_gguf

        with tempfile.TemporaryDirectory() as tmp:
            self._save_full(Path(tmp) / "model", merged=True)
            kwargs.setdefault("name", Path(out_path).stem)
            return export_gguf(Path(tmp) / "model", out_path, dtype=dtype, **kwargs)

    def _save_full(self, folder: Path, *, merged: bool, tokenizer: bool = True) -> None:
        """A plain ``save_pretrained`` folder of the language model (LoRA merged in when ``merged``, else the
        base weights without the adapters)."""
        folder.mkdir(parents=True, exist_ok=True)
        if not self.uses_lora:
            self.model.save_pretrained(folder)
        else:
            base = self.model.get_base_model()
            state = {}
            for key, value in base.state_dict().items():
                if "lora_" in key:
                    continue
                state[key.replace(".base_layer.", ".")] = value
            if merged:
                with torch.no_grad():
                    for name, module in base.named_modules():
                        if hasattr(module, "get_delta_weight") and hasattr(module, "base_layer"):
                            for adapter in module.active_adapters:
                                if adapter in getattr(module, "lora_A", {}):
                                    key = f"{name}.weight"
                                    delta = module.get_delta_weight(adapter)
                                    state[key] = state[key] + delta.to(state[key].dtype)
            base.save_pretrained(folder, state_dict={k: v.detach().contiguous() for k, v in state.items()})
        if tokenizer:
            self.tokenizer.save_pretrained(folder)


# --- helpers ------------------------------------------------------------------------------------------------

def _draw(logp: torch.Tensor, sample: bool, generator: torch.Generator | None) -> int:
    """An index drawn from a row of log-probabilities (its argmax when not sampling)."""
    if not sample:
        return int(logp.argmax())
    probs = logp.detach().double().exp()
    if generator is not None:
        probs = probs.to(generator.device)
    return int(torch.multinomial(probs, 1, generator=generator))


def _cache_argument(model: Any) -> str:
    """The forward argument that takes a key/value cache: ``cache`` (newer transformers 5) or
    ``past_key_values``."""
    base = model.get_base_model() if _is_peft(model) else model
    return "cache" if "cache" in inspect.signature(type(base).forward).parameters else "past_key_values"


def _output_cache(out: Any) -> Any:
    cache = out.get("cache")
    return cache if cache is not None else out.past_key_values


def _draw_rows(logp: torch.Tensor, sample: bool, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of a [B, V] log-probability matrix (on logp's device)."""
    if not sample:
        return logp.argmax(-1)
    probs = logp.detach().exp()
    if generator is not None:
        probs = probs.to(generator.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1).to(logp.device)


def _is_peft(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "get_base_model")


def _add_lora(model: Any, lora: Any) -> Any:
    peft = require("peft", "lora", "CausalLMPolicy(lora=...)")
    if lora is True:
        lora = {}
    if isinstance(lora, dict):
        lora = peft.LoraConfig(task_type="CAUSAL_LM", **{**DEFAULT_LORA, **lora})
    return peft.get_peft_model(model, lora)


def _end_of_turn_id(tokenizer: Any) -> int | None:
    """The token that closes an assistant message in the chat template (``<|im_end|>``, ``<|eot_id|>``, ...):
    the first special token after a rendered assistant message; else the tokenizer's EOS."""
    marker = "SPARSEGYMMARKER"
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}], tokenize=False)
        except Exception:  # noqa: BLE001 (a template that refuses this conversation: fall back to EOS)
            text = ""
        if marker in text:
            special = set(tokenizer.all_special_ids)
            for tok in tokenizer(text.split(marker, 1)[1], add_special_tokens=False)["input_ids"]:
                if tok in special:
                    return int(tok)
    return tokenizer.eos_token_id


def _device_dtype(device: Any, dtype: Any) -> tuple[torch.device, torch.dtype]:
    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype is None:
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    return device, dtype


def _load_lm(path: str, gguf_file: str | None, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    transformers = require("transformers", "lm", "CausalLMPolicy")
    if gguf_file is not None:
        require("gguf", "lm", "CausalLMPolicy on a GGUF file")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
    model = transformers.AutoModelForCausalLM.from_pretrained(path, gguf_file=gguf_file, dtype=torch.float32)
    if gguf_file is not None:
        # A GGUF-loaded model carries a quantization config that save_pretrained refuses: rebuild it plainly
        # from its (dequantised) weights.
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(model.state_dict())
        plain.generation_config = model.generation_config
        model = plain
    return model.to(device=device, dtype=dtype).eval(), tokenizer


# --- a tiny model for tests and examples --------------------------------------------------------------------

CHATML_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                   "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
_TINY_CORPUS = [
    "You are in a kitchen. There is a closed fridge, a wooden table and a door to the north.",
    "> take coin\nTaken. Your score has just gone up by one point.", "> go north\nYou can't go that way.",
    "> open the chest\nYou open the chest, revealing a key and 3 coins.",
    "examine the red key; unlock door with key",
    "Admissible actions:\n- take coin\n- go east\n- go west\n- open door\n- inventory\n- look",
    "<think>the key opens the door</think><answer>unlock door with key</answer>",
    "You are carrying: a lamp, a sword and 12 gold coins. Welcome to TextWorld!",
]


def tiny_causal_lm(*, seed: int = 0, hidden_size: int = 64, num_layers: int = 2, vocab_size: int = 512,
                   tie_word_embeddings: bool = True) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a randomly initialised ``LlamaForCausalLM`` (about 0.1 M parameters by default)
    and a byte-level BPE tokenizer trained here on a few lines of game text, with a ChatML chat template
    (``<|im_start|>``/``<|im_end|>``): for tests and examples that need a real causal LM without a download.
    Deterministic in ``seed``."""
    transformers = require("transformers", "lm", "tiny_causal_lm")
    tokenizers = require("tokenizers", "lm", "tiny_causal_lm")
    tk = tokenizers.Tokenizer(tokenizers.models.BPE())
    tk.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tk.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(_TINY_CORPUS * 4, trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>", unk_token="<|endoftext|>",
        pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML_TEMPLATE
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 5 // 2,
        num_hidden_layers=num_layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=tie_word_embeddings, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, initializer_range=0.02,
        rms_norm_eps=1e-5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.LlamaForCausalLM(config).eval()
    return model, tokenizer
