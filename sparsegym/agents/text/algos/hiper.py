"""HiPER (Peng et al., 2026, arXiv 2602.16165): one language model as planner and executor, trained with
hierarchical advantage estimation (HAE).

**The turn format.** Every reply is three blocks::

    <switch>KEEP or SWITCH</switch>
    <subgoal>the sub-goal to follow next</subgoal>
    <action>one admissible action</action>

The prompt shows the current sub-goal (the one written at the previous turn; "None" at the first). On
KEEP the model must copy it; on SWITCH it writes a new short one. :func:`parse_reply` reads a reply; one
that breaks the format counts as KEEP with the previous sub-goal and gets the format penalty (its action
is still read as well as can be: the last ``<action>`` block, else the last line).

**Segments.** A boundary is the first turn or any SWITCH turn; a segment runs from one boundary to the
turn before the next (:func:`segments`).

**HAE** (:func:`hae`, one episode), with three value estimates per turn: ``V_L`` (the turn value),
``V_H`` (the boundary value) and ``V_term`` (the switch value). ``d`` is 1 only after the last turn of a
terminated episode:

* low level, GAE *inside* each segment (:func:`low_level_gae`)::

      delta_t = r_t + gamma * next_t - V_L(t)      A^L_t = delta_t + gamma * lambda_turn * A^L_{t+1}

  with ``next_t = V_L(t + 1)`` inside the segment and, at its last turn, the next boundary's *high* value
  ``V_H(s_{k+1})``; the recursion restarts at every segment end. After the episode's last turn ``next``
  is 0, or the turn's own ``V_L`` when the episode was truncated and ``bootstrap_truncated``;
* high level, SMDP GAE over the segments (:func:`high_level_gae`), segment ``k`` of ``d_k`` turns::

      R_k = sum_j gamma^j r_{s_k + j}     delta_k = R_k + gamma^d_k * V_H(s_{k+1}) - V_H(s_k)
      A^H_k = delta_k + gamma^d_k * lambda_seg * A^H_{k+1}

  After the last segment ``V_H(s_{k+1})`` is 0, or (truncated, ``bootstrap_truncated``) the segment's own
  ``V_H(s_k)``, as the released code does;
* termination (switch), two forms (option ``termination``):

  - ``"released"`` (default; ``hiper_hae/core_hae.py``): ``A^term_t = G_t - V_term(t)``, with ``G_t`` the
    discounted return inside the segment bootstrapped with the high value at its end (the same value the
    high level bootstraps with), :func:`switch_returns`. ``V_term`` learns ``G_t``;
  - ``"paper"``: ``A^term_t = (q_t - beta_t) * (V_H(t) - V_L(t))``, ``q_t`` 1 on SWITCH, ``beta_t`` the
    policy's probability of SWITCH (:func:`paper_termination_advantage`). The policy only knows the
    probability of the words it wrote, so ``beta_t`` is that probability on a SWITCH turn and one minus it
    on a KEEP turn (an approximation: it ignores replies that are neither word). ``V_term`` is unused.

**Token assignment** (:func:`assign_tokens`): ``A^L`` goes to the action block's tokens on every turn,
``A^H`` to the sub-goal block's tokens on boundary turns only, ``A^term`` to the switch block's tokens
(tags included). Other tokens get 0. With ``norm_adv`` each of the three is first whitened over the turns
that carry it (:func:`whiten`: population std, as the released code). The value targets are ``A^L + V_L``
(every turn), ``A^H + V_H`` (boundary turns) and ``G_t`` (every turn), taken before whitening.

**Reward shaping** (options, 0 by default as in the released config; its ALFWorld script uses 0.3 for both
against a success reward of 10): ``keep_penalty`` per KEEP turn (``keep_penalty_mode="fixed"``), or
``keep_penalty * (KEEP turns / turns)`` spread evenly over the KEEP turns (``"normalized"``: an episode
loses at most ``keep_penalty``); ``keep_change_penalty`` on a well-formed KEEP turn whose sub-goal differs
from the one it was shown. ``TextRLConfig.invalid_penalty`` is subtracted per refused action, and a
malformed reply's format penalty is part of the turn's reward (``Trajectory.train_rewards``).

Options (``TextRLConfig.algo_kwargs``) and their defaults (the released ``ppo_trainer.yaml`` and ALFWorld
script): ``gamma`` (1.0; HiPER's own, ``TextRLConfig.gamma`` is not used), ``lambda_turn`` (1.0),
``lambda_seg`` (0.95), ``norm_adv`` (True), ``bootstrap_truncated`` (True), ``termination``
(``"released"``), ``vf_coef`` (0.5), ``keep_penalty`` (0.0), ``keep_penalty_mode`` (``"normalized"``),
``keep_change_penalty`` (0.0).

Examples:
    >>> from sparsegym.agents.text.algos.hiper import segments, parse_reply
    >>> segments([True, False, True, False, False])     # the first turn is always a boundary
    [(0, 1), (2, 4)]
    >>> r = parse_reply("<switch>SWITCH</switch><subgoal>find the key</subgoal><action>go east</action>", None)
    >>> r.switch, r.subgoal, r.action, r.format_ok
    (True, 'find the key', 'go east', True)
    >>> r = parse_reply("go east", "find the key")     # malformed: KEEP, the previous sub-goal
    >>> r.switch, r.subgoal, r.action, r.format_ok
    (False, 'find the key', 'go east', False)
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsegym.agents.text.algos.base import Algorithm, Batch, register
from sparsegym.agents.text.lm_policy import CausalLMPolicy, match_action
from sparsegym.agents.text.losses import value_loss
from sparsegym.agents.text.policy import Choice, Turn, torch
from sparsegym.errors import ConfigError

__all__ = ["HIPER_INSTRUCTION", "HiPER", "HiPEROptions", "HiPERPolicy", "HiPERReply", "assign_tokens", "boundaries", "hae", "high_level_gae", "low_level_gae",
           "paper_termination_advantage", "parse_reply", "reply_spans", "segments", "shaping_rewards",
           "switch_returns", "switch_word_mask", "token_masks", "whiten"]


# --- segments and hierarchical advantage estimation (numpy, one episode) -------------------------------------

def boundaries(switch: Sequence[bool]) -> np.ndarray:
    """Which turns start a segment: the first, and every SWITCH turn."""
    b = np.asarray(switch, dtype=bool).copy()
    if len(b):
        b[0] = True
    return b


def segments(switch: Sequence[bool]) -> list[tuple[int, int]]:
    """The segments ``(start, end)`` (both included) of an episode from its per-turn SWITCH flags."""
    starts = np.flatnonzero(boundaries(switch)).tolist()
    ends = [s - 1 for s in starts[1:]] + [len(switch) - 1]
    return list(zip(starts, ends))


def _episode_arrays(rewards: Any, *values: Any) -> list[np.ndarray]:
    out = [np.asarray(rewards, dtype=np.float64)]
    for v in values:
        out.append(np.asarray(v, dtype=np.float64))
    if any(a.ndim != 1 or a.shape != out[0].shape for a in out):
        raise ConfigError(f"rewards and values must be 1-D of one length, got {[a.shape for a in out]}")
    return out


def _last_bootstrap(terminated: bool, bootstrap_truncated: bool, value: float) -> float:
    return 0.0 if terminated or not bootstrap_truncated else float(value)


def low_level_gae(rewards: Any, v_low: Any, v_high: Any, switch: Sequence[bool], *, gamma: float, lam: float,
                  terminated: bool = True, bootstrap_truncated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(A^L, A^L + V_L)`` per turn: GAE inside each segment, bootstrapped at a segment's end with the next
    boundary's high value (module docstring)."""
    r, vl, vh = _episode_arrays(rewards, v_low, v_high)
    adv = np.zeros_like(r)
    segs = segments(switch)
    for k, (s, e) in enumerate(segs):
        if k + 1 < len(segs):
            nxt = vh[segs[k + 1][0]]
        else:
            nxt = _last_bootstrap(terminated, bootstrap_truncated, vl[e])
        running = 0.0
        for t in range(e, s - 1, -1):
            delta = r[t] + gamma * nxt - vl[t]
            running = delta + gamma * lam * running
            adv[t] = running
            nxt = vl[t]
    return adv, adv + vl


def high_level_gae(rewards: Any, v_high: Any, switch: Sequence[bool], *, gamma: float, lam: float,
                   terminated: bool = True, bootstrap_truncated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(A^H, A^H + V_H)`` per turn, set on each segment's first turn (0 on the others): SMDP GAE over the
    segments with ``gamma ** d_k`` for a segment of ``d_k`` turns (module docstring)."""
    r, vh = _episode_arrays(rewards, v_high)
    adv = np.zeros_like(r)
    segs = segments(switch)
    running = 0.0
    for k in range(len(segs) - 1, -1, -1):
        s, e = segs[k]
        d = e - s + 1
        seg_return = float(np.sum(r[s:e + 1] * gamma ** np.arange(d)))
        last = k + 1 == len(segs)
        boot = _last_bootstrap(terminated, bootstrap_truncated, vh[s]) if last else vh[segs[k + 1][0]]
        delta = seg_return + gamma ** d * boot - vh[s]
        running = delta + gamma ** d * lam * running  # 0 after the last segment
        adv[s] = running
    ret = np.where(boundaries(switch), adv + vh, 0.0)
    return adv, ret


def switch_returns(rewards: Any, v_high: Any, switch: Sequence[bool], *, gamma: float, terminated: bool = True,
                   bootstrap_truncated: bool = True) -> np.ndarray:
    """``G_t``: the discounted return from turn ``t`` to its segment's end, plus the high value the segment
    bootstraps with (the next boundary's; after the last segment 0, or its own ``V_H(s_k)`` when truncated
    with ``bootstrap_truncated``): the released termination head's target."""
    r, vh = _episode_arrays(rewards, v_high)
    out = np.zeros_like(r)
    segs = segments(switch)
    for k, (s, e) in enumerate(segs):
        last = k + 1 == len(segs)
        g = _last_bootstrap(terminated, bootstrap_truncated, vh[s]) if last else vh[segs[k + 1][0]]
        for t in range(e, s - 1, -1):
            g = r[t] + gamma * g
            out[t] = g
    return out


def paper_termination_advantage(switch: Sequence[bool], beta: Any, v_high: Any, v_low: Any) -> np.ndarray:
    """The paper's termination advantage ``(q_t - beta_t) * (V_H(t) - V_L(t))``, ``q_t`` 1 on SWITCH turns
    and ``beta_t`` the probability of SWITCH."""
    q = np.asarray(switch, dtype=np.float64)
    _, beta, vh, vl = _episode_arrays(q, beta, v_high, v_low)
    return (q - beta) * (vh - vl)


def whiten(x: Any, where: Any | None = None) -> np.ndarray:
    """``(x - mean) / (std + 1e-8)`` with the mean and population std over ``x[where]`` (all by default);
    ``x`` unchanged when ``where`` selects nothing."""
    x = np.asarray(x, dtype=np.float64)
    sel = x if where is None else x[np.asarray(where, dtype=bool)]
    if sel.size == 0:
        return x.copy()
    return (x - sel.mean()) / (sel.std() + 1e-8)


def shaping_rewards(switch: Sequence[bool], keep_changed: Sequence[bool], *, keep_penalty: float = 0.0,
                    mode: str = "normalized", keep_change_penalty: float = 0.0) -> np.ndarray:
    """The reward shaping of one episode (added to its turn rewards; module docstring): ``-keep_penalty``
    per KEEP turn (``mode="fixed"``) or ``-keep_penalty * keep_fraction`` spread over the KEEP turns
    (``"normalized"``), and ``-keep_change_penalty`` on the turns flagged ``keep_changed``."""
    if mode not in ("fixed", "normalized"):
        raise ConfigError(f"hiper keep_penalty_mode must be 'fixed' or 'normalized', got {mode!r}")
    keep = ~np.asarray(switch, dtype=bool)
    out = np.zeros(len(keep))
    if keep.any() and keep_penalty:
        if mode == "fixed":
            out[keep] -= keep_penalty
        else:  # the episode's total is -keep_penalty * (KEEP turns / turns)
            out[keep] -= keep_penalty * (keep.sum() / len(keep)) / keep.sum()
    out[np.asarray(keep_changed, dtype=bool)] -= keep_change_penalty
    return out


def hae(rewards: Any, v_low: Any, v_high: Any, v_term: Any, switch: Sequence[bool], *, gamma: float = 1.0,
        lambda_turn: float = 1.0, lambda_seg: float = 0.95, terminated: bool = True,
        bootstrap_truncated: bool = True, termination: str = "released",
        beta: Any | None = None) -> dict[str, np.ndarray]:
    """The three advantages and value targets of one episode (module docstring), before whitening:
    ``low``/``ret_low``, ``high``/``ret_high`` (on boundary turns, 0 elsewhere), ``term``/``ret_term``
    (``G_t``) and ``boundary``. ``termination="paper"`` needs ``beta`` (the probability of SWITCH per turn)."""
    kw = {"terminated": terminated, "bootstrap_truncated": bootstrap_truncated}
    low, ret_low = low_level_gae(rewards, v_low, v_high, switch, gamma=gamma, lam=lambda_turn, **kw)
    high, ret_high = high_level_gae(rewards, v_high, switch, gamma=gamma, lam=lambda_seg, **kw)
    g = switch_returns(rewards, v_high, switch, gamma=gamma, **kw)
    if termination == "released":
        term = g - np.asarray(v_term, dtype=np.float64)
    elif termination == "paper":
        if beta is None:
            raise ConfigError("hiper termination='paper' needs beta, the probability of SWITCH at each turn")
        term = paper_termination_advantage(switch, beta, v_high, v_low)
    else:
        raise ConfigError(f"hiper termination must be 'released' or 'paper', got {termination!r}")
    return {"low": low, "ret_low": ret_low, "high": high, "ret_high": ret_high, "term": term, "ret_term": g,
            "boundary": boundaries(switch)}


def assign_tokens(adv_low: float, adv_high: float, adv_term: float, boundary: bool,
                  masks: dict[str, Any]) -> np.ndarray:
    """One turn's per-token advantage: ``adv_low`` on its ``masks["action"]`` tokens, ``adv_high`` on its
    ``masks["subgoal"]`` tokens when the turn is a ``boundary``, ``adv_term`` on its ``masks["switch"]``
    tokens, 0 elsewhere (the masks do not overlap: :func:`token_masks`)."""
    action = np.asarray(masks["action"], dtype=bool)
    out = adv_low * action.astype(np.float64)
    if boundary:
        out = out + adv_high * np.asarray(masks["subgoal"], dtype=np.float64)
    return out + adv_term * np.asarray(masks["switch"], dtype=np.float64)


# --- the turn format ----------------------------------------------------------------------------------------

_REPLY = re.compile(r"\s*<switch>(.*?)</switch>\s*<subgoal>(.*?)</subgoal>\s*<action>(.*?)</action>\s*", re.S)
_TAG = re.compile(r"</?(?:switch|subgoal|action|think|answer)>")
_ACTION = re.compile(r"<action>(.*?)(?:</action>|\Z)", re.S)
_BLOCKS = {name: re.compile(rf"<{name}>.*?</{name}>", re.S) for name in ("switch", "subgoal", "action")}


@dataclass
class HiPERReply:
    """A parsed reply: ``switch`` (True on a well-formed SWITCH), ``subgoal`` (the current sub-goal after the
    turn), ``written`` (the sub-goal the reply wrote; None when malformed), ``action``, ``format_ok``."""

    switch: bool
    subgoal: str | None
    written: str | None
    action: str
    format_ok: bool


def parse_reply(text: str, previous: str | None) -> HiPERReply:
    """Read a reply in the HiPER format (module docstring); ``previous`` is the sub-goal the prompt showed.

    Well-formed: the three blocks in order and nothing else but white space, the switch ``KEEP`` or
    ``SWITCH`` (any case), a non-empty sub-goal and action without nested tags. The written sub-goal becomes
    the current one (on KEEP too, as the released code does; ``keep_change_penalty`` punishes a change).
    Malformed: KEEP, ``previous`` stays, and the action is the last (possibly unclosed) ``<action>`` block's
    text, else the last non-empty line with the tags removed.

    >>> parse_reply("<switch>keep</switch> <subgoal>open the door</subgoal>\\n<action>open door</action>", "x")
    HiPERReply(switch=False, subgoal='open the door', written='open the door', action='open door', format_ok=True)
    >>> parse_reply("<switch>MAYBE</switch><subgoal>a</subgoal><action>look</action>", "a").format_ok
    False
    """
    m = _REPLY.fullmatch(text)
    if m:
        word, sub, act = (g.strip() for g in m.groups())
        if word.upper() in ("KEEP", "SWITCH") and sub and act and not any(_TAG.search(g) for g in m.groups()):
            return HiPERReply(word.upper() == "SWITCH", sub, sub, act, True)
    actions = [a.strip() for a in _ACTION.findall(text)]
    if actions and _TAG.sub("", actions[-1]).strip():
        action = _TAG.sub("", actions[-1]).strip()
    else:
        rest = text
        for name in ("switch", "subgoal"):
            rest = _BLOCKS[name].sub("", rest)
        lines = [ln.strip() for ln in _TAG.sub("", rest).splitlines() if ln.strip()]
        action = lines[-1] if lines else ""
    return HiPERReply(False, previous, None, action, False)


def reply_spans(text: str) -> dict[str, tuple[int, int] | None]:
    """The character span ``[start, end)`` of each block (``"switch"``, ``"subgoal"``, ``"action"``), tags
    included: the first ``<name>...</name>`` of the text, None when there is none.

    >>> reply_spans("<switch>KEEP</switch><subgoal>a</subgoal>go")
    {'switch': (0, 21), 'subgoal': (21, 41), 'action': None}
    """
    out: dict[str, tuple[int, int] | None] = {}
    for name, pattern in _BLOCKS.items():
        m = pattern.search(text)
        out[name] = m.span() if m else None
    return out


def _overlapping(pieces: Sequence[str], span: tuple[int, int] | None) -> np.ndarray:
    """Which of the tokens (their texts ``pieces``, concatenated) overlap the character span."""
    lengths = np.array([len(p) for p in pieces], dtype=int)
    ends = np.cumsum(lengths)
    if span is None:
        return np.zeros(len(pieces), dtype=bool)
    return (ends - lengths < span[1]) & (ends > span[0])


def switch_word_mask(pieces: Sequence[str]) -> np.ndarray:
    """The tokens that overlap the switch block's word (between ``<switch>`` and ``</switch>``).

    >>> switch_word_mask(["<switch>", "SW", "ITCH", "</switch>"]).tolist()
    [False, True, True, False]
    """
    m = re.search(r"<switch>(.*?)</switch>", "".join(pieces), re.S)
    return _overlapping(pieces, m.span(1) if m and m.end(1) > m.start(1) else None)


def token_masks(pieces: Sequence[str]) -> dict[str, np.ndarray]:
    """Which generated tokens belong to each block, from the tokens' texts ``pieces`` (their concatenation is
    the reply): a token belongs to the first block whose span it overlaps. Without an action block, the
    action is every token outside the switch and sub-goal blocks (the released code's fallback trains the
    whole reply as the action).

    >>> m = token_masks(["<switch>", "KEEP</switch>", "<subgoal>a</subgoal>", "<action>", "look", "</action>"])
    >>> [m[k].astype(int).tolist() for k in ("switch", "subgoal", "action")]
    [[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]
    """
    spans = reply_spans("".join(pieces))
    taken = np.zeros(len(pieces), dtype=bool)
    out: dict[str, np.ndarray] = {}
    for name in ("switch", "subgoal", "action"):
        out[name] = _overlapping(pieces, spans[name]) & ~taken
        taken |= out[name]
    if spans["action"] is None:
        out["action"] = ~(out["switch"] | out["subgoal"])
    return out


# --- the policy: a causal LM in generate mode with the HiPER turn format and three value heads ---------------

HIPER_INSTRUCTION = (
    "Keep a short-term sub-goal: a small objective reachable in a few actions, not the whole task. At every "
    "step reconsider it, then answer with exactly these three blocks and nothing else:\n"
    "<switch>KEEP or SWITCH</switch>\n"
    "<subgoal>on KEEP, the current sub-goal copied exactly; on SWITCH, a new short sub-goal</subgoal>\n"
    "<action>exactly one admissible action</action>")
_HEADS = ("low", "high", "term")


class HiPERPolicy(CausalLMPolicy):
    """A :class:`~sparsegym.agents.text.lm_policy.CausalLMPolicy` in generate mode that plays the HiPER turn
    format (module docstring) with three value heads.

    * The prompt is CausalLMPolicy's, with ``Your current sub-goal: ...`` (``None`` at the first turn) after
      the observation and :data:`HIPER_INSTRUCTION` as the format instruction. The current sub-goal travels
      from turn to turn in ``Choice.extra["state"]`` (the rollout hands it back as ``Turn.state``), so
      ``evaluate`` rebuilds exactly the prompt the policy acted on.
    * A reply stops at ``</action>`` and is read by :func:`parse_reply`; a malformed one gets
      ``extra["format_penalty"] = -format_penalty``.
    * The value heads: one linear layer with three outputs ``(V_L, V_H, V_term)`` on the hidden state
      CausalLMPolicy's value head reads (the last prompt token's), zero at the start. ``Choice.value`` and
      ``evaluate``'s ``"value"`` are ``V_L`` (so ppo-text runs on it too); ``evaluate`` adds
      ``"value_low"``, ``"value_high"``, ``"value_term"``.
    * ``Choice.extra`` also records ``switch`` (a boundary other than the first turn), ``subgoal`` (current
      after the turn), ``written_subgoal``, ``shown_subgoal``, ``keep_changed`` (a well-formed KEEP that
      rewrote the sub-goal it was shown), ``masks`` (per generated token: ``switch``, ``subgoal``, ``action``
      blocks, :func:`token_masks`), ``values`` (the three heads) and ``switch_prob`` (``beta``, the paper
      termination form's probability of SWITCH; 0 on a malformed reply).

    Keyword arguments are CausalLMPolicy's (``mode`` must stay ``"generate"``, ``value_head`` True).
    """

    stop_text = "</action>"
    hiper_format = True  # what the hiper algorithm checks

    def __init__(self, model: Any, tokenizer: Any, *, mode: str = "generate", value_head: bool = True,
                 format_instruction: str = HIPER_INSTRUCTION, **settings: Any):
        if mode != "generate" or not value_head:
            raise ConfigError("HiPERPolicy writes its replies and needs its value heads: leave mode='generate' "
                              "and value_head=True")
        super().__init__(model, tokenizer, mode="generate", value_head=True, format_instruction=format_instruction,
                         **settings)
        hidden = self.value_head.in_features
        self.value_head = torch.nn.Linear(hidden, len(_HEADS)).to(self.device)
        torch.nn.init.zeros_(self.value_head.weight)
        torch.nn.init.zeros_(self.value_head.bias)

    def messages(self, turn: Turn, history: Sequence[tuple[str, str]] | None = None) -> list[dict[str, str]]:
        current = (turn.state or {}).get("subgoal")
        shown = dataclasses.replace(turn, observation=f"{turn.observation}\n\nYour current sub-goal: "
                                                      f"{current if current else 'None'}")
        return super().messages(shown, history)

    def act(self, turns: list[Turn], *, sample: bool = True,
            generator: torch.Generator | None = None) -> list[Choice]:
        choices = super().act(turns, sample=sample, generator=generator)
        return [self._read_reply(turn, choice) for turn, choice in zip(turns, choices)]

    def _read_reply(self, turn: Turn, choice: Choice) -> Choice:
        extra = choice.extra
        shown = (turn.state or {}).get("subgoal")
        reply = parse_reply(extra["text"], shown)
        index = match_action(reply.action, turn.actions) if turn.actions else None
        pieces = [self.tokenizer.decode([t], skip_special_tokens=False) for t in extra["token_ids"]]
        masks = token_masks(pieces)
        values = dict(zip(_HEADS, (float(v) for v in choice.value)))
        beta = 0.0
        if reply.format_ok:  # the probability of the word written; of SWITCH is 1 minus it on a KEEP turn
            p = math.exp(float(np.sum(np.asarray(extra["token_logprobs"])[switch_word_mask(pieces)])))
            beta = p if reply.switch else 1.0 - p
        keep_changed = bool(reply.format_ok and not reply.switch and shown and reply.written != shown.strip())
        extra.update(switch=reply.switch, subgoal=reply.subgoal, written_subgoal=reply.written,
                     shown_subgoal=shown, keep_changed=keep_changed,
                     masks={k: v.tolist() for k, v in masks.items()}, values=values, switch_prob=beta,
                     format_ok=reply.format_ok, format_penalty=0.0 if reply.format_ok else -self.format_penalty,
                     valid_action=(index is not None) if turn.actions else None, state={"subgoal": reply.subgoal})
        return Choice(action=turn.actions[index] if index is not None else reply.action, index=index,
                      logprob=choice.logprob, value=values["low"], extra=extra)

    def evaluate(self, turns: list[Turn], choices: list[Choice]) -> dict[str, torch.Tensor]:
        out = super().evaluate(turns, choices)
        heads = out["value"]
        out.update({f"value_{name}": heads[:, k] for k, name in enumerate(_HEADS)})
        out["value"] = heads[:, 0]
        return out

    def save(self, path: str | Path, **kwargs: Any) -> None:
        """CausalLMPolicy's folder, with ``policy.json`` naming this class (so that ``TextPolicy.load`` and
        ``load_text_agent`` rebuild a HiPERPolicy, value heads included)."""
        super().save(path, **kwargs)
        meta_file = Path(path) / "policy.json"
        meta = json.loads(meta_file.read_text())
        meta["class"] = f"{type(self).__module__}:{type(self).__qualname__}"
        meta_file.write_text(json.dumps(meta, indent=2) + "\n")


# --- the algorithm ------------------------------------------------------------------------------------------

_NOT_HIPER = ("hiper needs a policy that writes the HiPER turn format and has the three value heads: "
              "HiPERPolicy(model, tokenizer) (sparsegym.agents.text.algos.hiper), not {}")


@dataclasses.dataclass
class HiPEROptions:
    gamma: float = 1.0  # discount of HAE (HiPER's own; TextRLConfig.gamma is not used)
    lambda_turn: float = 1.0  # GAE lambda inside a segment (the released config's algorithm.lam)
    lambda_seg: float = 0.95  # GAE lambda over segments (hae.lam_seg)
    norm_adv: bool = True  # whiten each advantage type over the turns that carry it (the ALFWorld script)
    bootstrap_truncated: bool = True  # a truncated episode bootstraps (the ALFWorld script; the yaml says False)
    termination: str = "released"  # "released": G_t - V_term; "paper": (q - beta) (V_H - V_L)
    vf_coef: float = 0.5  # weight of the three heads' value losses (summed)
    keep_penalty: float = 0.0  # subtracted for KEEP turns (the ALFWorld script: 0.3 against a reward of 10)
    keep_penalty_mode: str = "normalized"  # "normalized": at most keep_penalty per episode; "fixed": per turn
    keep_change_penalty: float = 0.0  # subtracted on a KEEP turn that rewrote its sub-goal (script: 0.3)

    def __post_init__(self) -> None:
        for name in ("lambda_turn", "lambda_seg", "gamma"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"hiper {name} must be in [0, 1], got {getattr(self, name)}")
        if self.termination not in ("released", "paper"):
            raise ConfigError(f"hiper termination must be 'released' (G_t - V_term) or 'paper' "
                              f"((q - beta) * (V_H - V_L)), got {self.termination!r}")
        if self.keep_penalty_mode not in ("fixed", "normalized"):
            raise ConfigError(f"hiper keep_penalty_mode must be 'fixed' or 'normalized', got {self.keep_penalty_mode!r}")
        for name in ("vf_coef", "keep_penalty", "keep_change_penalty"):
            if getattr(self, name) < 0:
                raise ConfigError(f"hiper {name} must be at least 0 (a penalty is subtracted), "
                                  f"got {getattr(self, name)}")


@register
class HiPER(Algorithm):
    """HiPER's hierarchical advantage estimation with per-token advantages (module docstring)."""

    name = "hiper"
    Options = HiPEROptions
    needs_value = True

    def __init__(self, options: HiPEROptions | None = None):
        super().__init__(options)
        self._targets: dict[str, Any] = {}  # torch (N,) per head, and the boundary mask
        self._stats: dict[str, float] = {}

    def bind(self, trainer: Any) -> None:
        if trainer.config.vf_coef > 0:
            raise ConfigError("hiper trains its three value heads with its own option vf_coef "
                              "(algo_kwargs={'vf_coef': ...}): set TextRLConfig.vf_coef to 0")
        if not getattr(trainer.policy, "hiper_format", False):
            raise ConfigError(_NOT_HIPER.format(type(trainer.policy).__name__))
        super().bind(trainer)

    def rewards(self, traj: Any) -> np.ndarray:
        """One episode's training rewards: the env's, the format penalty, minus ``invalid_penalty`` per refused
        action, plus the KEEP shaping."""
        opt = self.options
        switch = [c.extra["switch"] for c in traj.choices]
        shaping = shaping_rewards(switch, [c.extra.get("keep_changed", False) for c in traj.choices],
                                  keep_penalty=opt.keep_penalty, mode=opt.keep_penalty_mode,
                                  keep_change_penalty=opt.keep_change_penalty)
        invalid = np.asarray(traj.invalid, dtype=np.float64)
        return np.asarray(traj.train_rewards, dtype=np.float64) - self.trainer.config.invalid_penalty * invalid \
            + shaping

    def advantages(self, trajectories: Sequence) -> list[np.ndarray]:
        opt = self.options
        parts: dict[str, list[np.ndarray]] = {}
        masks: list[dict[str, Any]] = []
        for traj in trajectories:
            if any("masks" not in c.extra for c in traj.choices):
                raise ConfigError(_NOT_HIPER.format("a policy whose choices lack extra['masks']"))
            switch = [bool(c.extra["switch"]) for c in traj.choices]
            v = {h: [c.extra["values"][h] for c in traj.choices] for h in _HEADS}
            out = hae(self.rewards(traj), v["low"], v["high"], v["term"], switch, gamma=opt.gamma,
                      lambda_turn=opt.lambda_turn, lambda_seg=opt.lambda_seg, terminated=traj.terminated,
                      bootstrap_truncated=opt.bootstrap_truncated, termination=opt.termination,
                      beta=[c.extra["switch_prob"] for c in traj.choices])
            out.update({f"v_{h}": np.asarray(v[h], dtype=np.float64) for h in _HEADS})
            out["switch"] = np.asarray(switch, dtype=bool)
            for k, a in out.items():
                parts.setdefault(k, []).append(a)
            masks += [{k: np.asarray(m, dtype=bool) for k, m in c.extra["masks"].items()} for c in traj.choices]
        if not masks:
            return []
        cat = {k: np.concatenate(a) for k, a in parts.items()}
        low, high, term, boundary = cat["low"], cat["high"], cat["term"], cat["boundary"]
        if opt.norm_adv:  # each type over the turns whose tokens receive it
            low = whiten(low, [m["action"].any() for m in masks])
            high = whiten(high, boundary & np.array([m["subgoal"].any() for m in masks]))
            term = whiten(term, [m["switch"].any() for m in masks])
        per_token = [assign_tokens(lo, hi, te, b, m) for lo, hi, te, b, m in zip(low, high, term, boundary, masks)]
        self._targets = {"low": torch.as_tensor(cat["ret_low"], dtype=torch.float32),
                         "high": torch.as_tensor(cat["ret_high"], dtype=torch.float32),
                         "term": torch.as_tensor(cat["ret_term"], dtype=torch.float32),
                         "boundary": torch.as_tensor(boundary)}
        lengths = [t.length for t in trajectories]
        self._stats = {"switch_rate": float(cat["switch"].mean()),
                       "segment_length": float(np.sum(lengths) / max(1, boundary.sum())),
                       "format_ok": float(np.mean([c.extra.get("format_ok", False)
                                                   for t in trajectories for c in t.choices])),
                       "explained_variance_low": _explained_variance(cat["v_low"], cat["ret_low"]),
                       "explained_variance_high": _explained_variance(cat["v_high"][boundary],
                                                                      cat["ret_high"][boundary]),
                       **{f"value_{h}_mean": float(cat[f"v_{h}"].mean()) for h in _HEADS},
                       **{f"advantage_{h}_mean": float(cat[h].mean()) for h in _HEADS}}
        return per_token

    def extra_loss(self, batch: Batch) -> tuple[Any, dict[str, float]]:
        if "value_low" not in batch.out:
            raise ConfigError(_NOT_HIPER.format(type(self.trainer.policy).__name__))
        index = torch.as_tensor(np.asarray(batch.index, dtype=np.int64))
        dev = batch.out["value_low"].device
        logs: dict[str, float] = {}
        total = None
        heads = ("low", "high", "term") if self.options.termination == "released" else ("low", "high")
        for h in heads:
            values, target = batch.out[f"value_{h}"], self._targets[h][index].to(dev)
            if h == "high":  # the boundary value learns on boundary turns only
                keep = self._targets["boundary"][index].to(dev)
                if not bool(keep.any()):
                    continue
                values, target = values[keep], target[keep]
            loss = value_loss(values, target)
            logs[f"value_loss_{h}"] = loss.item()
            total = loss if total is None else total + loss
        if total is None:
            return None, logs
        logs["value_loss"] = total.item()
        return self.options.vf_coef * total, logs

    def after_update(self, trajectories: Sequence, stats: dict[str, float]) -> None:
        stats.update(self._stats)


def _explained_variance(values: np.ndarray, returns: np.ndarray) -> float:
    var = float(returns.var()) if len(returns) else 0.0
    return float(1 - (returns - values).var() / var) if var > 0 else float("nan")


def hiper_format_demonstrations(trajectories: Any, subgoal: str = "explore") -> list:
    """Warm-start examples that teach only HiPER's turn format (:func:`~sparsegym.agents.text.sft.supervised_finetune`
    fits them): at each turn of the trajectories (random play is enough), the action that was played in the
    three blocks, ``SWITCH`` to ``subgoal`` at the first turn and ``KEEP`` with it after (the prompt then shows
    it as the current sub-goal). Nothing in them says which action is good: what the policy learns to do
    comes from RL."""
    from sparsegym.agents.text.sft import format_demonstrations

    def reply(turn: Turn, action: str, t: int) -> str:
        return (f"<switch>{'SWITCH' if t == 0 else 'KEEP'}</switch>\n<subgoal>{subgoal}</subgoal>\n"
                f"<action>{action}</action>")

    return format_demonstrations(trajectories, reply, lambda turn, action, t: None if t == 0 else {"subgoal": subgoal})
