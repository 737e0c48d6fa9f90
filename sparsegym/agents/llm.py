"""``LLMAgent``: a zero-shot language-model agent for every text surface of sparsegym (BALROG's design).

It plays any env that speaks text: the text-native families (TextWorld, ALFWorld, WebShop, software
repair) as they are, and every other family through its text view (``observation: text`` in a
leaderboard submission, or :class:`sparsegym.wrappers.TextObservation` by hand), talking to any
OpenAI-compatible server through :class:`sparsegym.llm.LLMClient` (``sparsegym serve`` starts a local
one with SmolLM2-135M-Instruct).

The prompt, as BALROG builds it (Paglieri et al. 2024):

* first the env's instructions (its rules, the actions with one line each, the step budget) and, with
  ``prompt="few-shot"``, a transcript of the family's oracle solving another episode (BALROG sends them
  as the first user turn; here they are the system turn, the same tokens at the head of every request,
  so the server's prompt cache skips them);
* then the last ``history`` turns: each observation as a user turn and the agent's action as the
  assistant's reply;
* the last user turn starts with "Current observation:", lists the valid actions when the env gives
  them, and says how to answer.

Prompt styles (``prompt=``): ``"naive"`` (answer with the action only), ``"cot"`` (think, then a last line
``ACTION: <action>``), ``"tagged"`` (think, then ``<action>...</action>``), ``"few-shot"`` (naive, with an
oracle transcript). Beyond BALROG, ``constrained=True`` restricts the reply to the admissible actions by
grammar where the server supports JSON-schema constraints (llama.cpp's server does): an ``enum`` of the
listed commands, a ``pattern`` for each form with ``<...>`` placeholders (WebShop's ``search[<query>]``),
and, on an env whose actions are verbs with free syntax, the env's ``action_pattern`` of one-line commands
(the software env's ``run``/``view``/``undo``/``submit``; the continuous bandits' ``play`` with numbers in
[0, 1]). The model then cannot answer anything else (with ``cot`` the schema has a ``reasoning`` string
before ``action``).

Replies are parsed forgivingly (:func:`parse_reply`: quotes, case, numbering, "Action:" prefixes,
reasoning around the action; :func:`parse_command` on verb envs: the command from the first line that
begins with a verb, e.g. inside a code block). A reply that names no valid action is counted, and on a text view the
view's documented default action is played with a feedback line in the next prompt (MiniGrid "done",
NetHack "wait"); on a text-native env the reply goes to the game, which answers with its own error (the
text-env contract). ``episode_stats()`` reports, per episode: LLM calls, HTTP requests, cache hits,
prompt and completion tokens, invalid replies, replies without the answer line their style asks for
(``unformatted_replies``: no ``ACTION:`` line after chain-of-thought, no tag; :func:`follows_format`),
replies cut at ``max_tokens`` (``truncated_replies``), and seconds waiting for the server; the
leaderboard stores them with each episode.

Leaderboard submission::

    name: smollm2-cot
    authors: [me]
    agent: sparsegym.agents:LLMAgent
    suite: textworld
    observation: text
    agent_kwargs: {model: smollm2, base_url: "http://127.0.0.1:8080/v1", prompt: cot, constrained: false}

Example (a scripted stand-in server; a real one is ``sparsegym serve``):

>>> import sparsegym
>>> from sparsegym.llm.testing import ScriptedLLMServer
>>> from sparsegym.wrappers import TextObservation
>>> env = TextObservation(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"))
>>> with ScriptedLLMServer(reply=lambda request: "I will turn left.") as server:
...     agent = LLMAgent(env, base_url=server.base_url, cache=False)
...     agent.reset(0)
...     obs, info = env.reset(seed=0)
...     action = agent.act(obs, info)
>>> action, agent.episode_stats()["calls"], agent.episode_stats()["invalid_replies"]
('turn left', 1, 0)
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium

from sparsegym.errors import ConfigError
from sparsegym.llm.errors import ContextTooLongError

PROMPTS = ("naive", "cot", "tagged", "few-shot")
_STYLE_INSTRUCTION = {
    "naive": "Answer with exactly one of the valid actions and nothing else.",
    "few-shot": "Answer with exactly one of the valid actions and nothing else.",
    "cot": "First think step by step about what to do, briefly. Then write your final answer on the last line as "
           "ACTION: <one valid action>",
    "tagged": "First think briefly about what to do. Then give your final answer as <action>one valid action</action>",
}
_DEFAULT_MAX_TOKENS = {"naive": 32, "few-shot": 32, "cot": 256, "tagged": 256}
_PREFIX = re.compile(r"^\s*(?:[-*>#]+|\d+[.)]|\(?[a-z]\)|final answer\s*:|answer\s*:|action\s*:|next action\s*:|"
                     r"command\s*:|i will\s+|i'll\s+|i choose\s+|i should\s+|let's\s+|let me\s+)\s*", re.I)
_QUOTES = "\"'`*_"
_TEMPLATE = re.compile(r"<[^<>]+>")
# The answer markers of the thinking styles: cot's "ACTION:" and tagged's <action>...</action> (BALROG's
# <|ACTION|>...<|END|> too). parse_reply reads the answer after them; follows_format checks they are there.
_ACTION_LINE = re.compile(r"action\s*:", re.I)
_ACTION_TAGS = (re.compile(r"<action>(.*?)</action>", re.I | re.S), re.compile(r"<\|action\|>(.*?)<\|end\|>", re.I | re.S))


def _normalise(text: str) -> str:
    """Lower-case, whitespace collapsed, surrounding quotes, markup and final punctuation removed."""
    text = " ".join(text.split()).lower()
    for _ in range(4):
        before = text
        text = _PREFIX.sub("", text).strip().strip(_QUOTES).strip().rstrip(".!,;:").strip()
        if text == before:
            break
    return text


def _fill(template: str, answer: str) -> str | None:
    """The part of ``answer`` that fills ``template`` in: from the last occurrence of the template's text
    before its first placeholder (``search[``, ``play ``) to the text after its last one (``]``), or to the
    end of that line when there is none; None when the placeholders would be empty."""
    prefix = template[: template.index("<")]
    suffix = template[template.rindex(">") + 1:]
    at = answer.lower().rfind(prefix.lower()) if prefix else 0
    if at < 0:
        return None
    rest = answer[at:].splitlines()[0] if answer[at:].strip() else ""
    if suffix:
        end = rest.find(suffix, len(prefix))
        if end < 0:
            return None
        rest = rest[: end + len(suffix)]
    else:
        rest = rest.rstrip(" .!,;:")
    inside = rest[len(prefix): len(rest) - len(suffix)] if suffix else rest[len(prefix):]
    return rest.strip() if inside.strip() else None


def _answer_text(reply: str, style: str, all_lines: bool = False) -> str:
    """The part of a reply that should hold the action: after the last ``ACTION:`` (cot; its first line, or
    every line with ``all_lines``), inside the last ``<action>`` tag (tagged; BALROG's
    ``<|ACTION|>...<|END|>`` too), else the whole reply."""
    if style == "tagged":
        found = _ACTION_TAGS[0].findall(reply) or _ACTION_TAGS[1].findall(reply)
        if found:
            return found[-1]
    if style in ("cot", "tagged"):
        parts = _ACTION_LINE.split(reply)
        if len(parts) > 1:
            if all_lines:
                return parts[-1]
            return parts[-1].strip().splitlines()[0] if parts[-1].strip() else ""
    return reply


def follows_format(reply: str, style: str) -> bool:
    """Whether a reply has the answer line its prompt style asks for: ``ACTION: ...`` (cot) or an action tag
    (tagged). Naive and few-shot replies are the answer itself, so they always do. A reply that does not
    may still name a valid action somewhere (``parse_reply`` looks for one); the count tells a model that
    ignores the format apart from one that answers it wrongly.

    >>> follows_format("The door is ahead.\\nACTION: go forward", "cot"), follows_format("go forward", "cot")
    (True, False)
    >>> follows_format("<action>open door</action>", "tagged"), follows_format("anything", "naive")
    (True, True)
    """
    if style == "cot":
        return _ACTION_LINE.search(reply or "") is not None
    if style == "tagged":
        return any(tag.search(reply or "") for tag in _ACTION_TAGS)
    return True


def parse_reply(reply: str, actions: Sequence[str] = (), style: str = "naive") -> str | None:
    """The action a reply names, or None when it names none.

    ``actions``: the valid actions (``info["admissible_actions"]``); entries with ``<...>`` placeholders are
    templates (``search[<query>]`` accepts ``search[red shoes]``). Without actions (free-text envs), the
    reply's answer part, stripped, is the action (None when empty).

    >>> acts = ["turn left", "turn right", "go forward"]
    >>> parse_reply("Go forward.", acts), parse_reply('"TURN LEFT"', acts), parse_reply("2. turn right", acts)
    ('go forward', 'turn left', 'turn right')
    >>> parse_reply("I think the key is ahead, so I go forward", acts)
    'go forward'
    >>> parse_reply("Let me think: turning left is bad.\\nACTION: turn right", acts, style="cot")
    'turn right'
    >>> parse_reply("jump", acts) is None, parse_reply("", acts) is None
    (True, True)
    >>> parse_reply("search[red running shoes]", ["search[<query>]"])
    'search[red running shoes]'
    """
    if not isinstance(reply, str):
        return None
    answer = _answer_text(reply, style).strip()
    if not actions:
        return answer.strip().strip("`").strip() or None
    complete = [a for a in actions if not _TEMPLATE.search(a)]
    templates = [a for a in actions if _TEMPLATE.search(a)]
    key = _normalise(answer)
    by_norm = {_normalise(a): a for a in complete}
    if key in by_norm:
        return by_norm[key]
    for template in templates:  # a template filled in
        filled = _fill(template, answer)
        if filled is not None:
            return filled
    # The action named inside a longer reply: the one mentioned last, and the longest at that place.
    best: tuple[int, int, str] | None = None
    for norm, action in by_norm.items():
        for m in re.finditer(r"(?<![a-z0-9])" + re.escape(norm) + r"(?![a-z0-9])", key):
            cand = (m.start(), len(norm), action)
            if best is None or cand[:2] > best[:2]:
                best = cand
    return best[2] if best else None


_FENCE = "```"
_COMMAND_LEAD = re.compile(r"^(?:[-*>]+\s+|\d+[.)]\s+|\$\s+|(?:final answer|answer|action|next action|command)\s*:\s*)+", re.I)


def parse_command(reply: str, verbs: Sequence[str], style: str = "naive") -> str | None:
    r"""The command a reply gives to an env whose actions are verbs with free syntax (the software env's
    ``run``, ``view``, ``create`` ...), or None when no line of the reply begins with one of ``verbs``.

    The command starts at the first line that begins with a verb (after list markers, a shell prompt
    ``$``, an ``Action:`` label or backticks; the verb's case is fixed) and keeps the lines after it (a
    file's contents, a script) up to a Markdown code fence. With ``cot``/``tagged`` only the answer part is
    read (after the last ``ACTION:``, inside the last action tag), all of its lines.

    >>> verbs = ["run", "view", "create", "submit"]
    >>> parse_command("run pytest -q", verbs), parse_command("Let me test it:\n```\nrun pytest -q\n```\nDone.", verbs)
    ('run pytest -q', 'run pytest -q')
    >>> parse_command("```bash\ncreate hello.py\nprint('hi')\n```", verbs)
    "create hello.py\nprint('hi')"
    >>> parse_command("1. Submit.", verbs), parse_command("$ view calc.py", verbs)
    ('submit', 'view calc.py')
    >>> parse_command("You can run the following command to test it.", verbs) is None
    True
    """
    if not isinstance(reply, str):
        return None
    by_lower = {v.lower(): v for v in verbs}
    lines = _answer_text(reply, style, all_lines=True).splitlines()
    for i, line in enumerate(lines):
        head = _COMMAND_LEAD.sub("", line.strip().strip("`").strip()).strip("`").strip()
        word, _, rest = head.partition(" ")
        # "Submit." alone is the verb; "Run; view; create" (a list of the verbs) is not a command
        verb = by_lower.get(word.lower() if rest.strip() else word.lower().rstrip(".!"))
        if verb is None:
            continue
        body = []
        for later in lines[i + 1:]:
            if later.lstrip().startswith(_FENCE):
                break
            body.append(later)
        while body and not body[-1].strip():
            body.pop()
        return "\n".join([verb + (" " + rest.strip() if rest.strip() else "")] + body)
    return None


def _escape(text: str) -> str:
    """Regex metacharacters escaped, nothing else (``re.escape`` also escapes spaces, which a grammar
    converter need not understand); a dot as ``[.]``, since llama-cpp-python's server (0.3.36) dies on a
    grammar made from ``\\.``."""
    return "".join("[.]" if c == "." else "\\" + c if c in "^$*+?()[]{}|\\" else c for c in text)


def template_pattern(template: str) -> str:
    r"""A JSON-schema ``pattern`` (anchored, as llama.cpp's grammar converter wants) for the commands that
    fill in ``template``: its literal text as is, each ``<...>`` placeholder one or more characters of one
    line, none of them an angle bracket, a JSON quote or backslash, or the character the template puts
    right after the placeholder (``]`` in ``search[<query>]``), so the form must be closed.

    >>> print(template_pattern("search[<query>]"))
    ^search\[[^<>"\\\n\]]+\]$
    >>> pattern = template_pattern("search[<query>]")
    >>> [bool(re.match(pattern, s)) for s in ("search[red shoes]", "search[<query>]", "search[]", "search[a]b]")]
    [True, False, False, False]
    """
    pieces = _TEMPLATE.split(template)
    out = "^" + _escape(pieces[0])
    for piece in pieces[1:]:
        stop = ("\\" + piece[0] if piece[0] in "]\\^-[" else piece[0]) if piece else ""  # inside a class
        out += r'[^<>"\\\n' + stop + "]+" + _escape(piece)
    return out + "$"


_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def shared_client(base_url: str | None, model: str | None, api_key: str | None, cache: Any, max_concurrency: int,
                  timeout: float) -> Any:
    """One :class:`~sparsegym.llm.LLMClient` per server and settings in this process, shared by every
    agent, so its concurrency limit and accounting cover all episodes in flight."""
    from sparsegym.llm import LLMClient

    key = (base_url, model, api_key, str(cache), max_concurrency, timeout)
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = LLMClient(base_url, model, api_key, cache=cache, max_concurrency=max_concurrency,
                                               timeout=timeout)
        return client


class LLMAgent:
    """A zero-shot LLM agent (module docstring) in the leaderboard protocol (``reset``, ``act``, ``aact``).

    A leaderboard run's identity covers what it does (model name, prompt style, sampling, history), not
    where its server listens: ``IDENTITY_IGNORES`` names the arguments left out of it.

    Args:
        env: the text surface it plays (a text-native env, or an env wrapped in ``TextObservation``).
        model: the model to ask for (default: ``SPARSEGYM_LLM_MODEL``, else the server's only model).
        base_url: the server's URL (default: ``SPARSEGYM_LLM_BASE_URL``, see :class:`sparsegym.llm.LLMClient`).
        api_key: the server's key (default: ``SPARSEGYM_LLM_API_KEY``; local servers need none).
        prompt: ``"naive"``, ``"cot"``, ``"tagged"`` or ``"few-shot"``.
        constrained: restrict replies to the admissible actions by grammar (JSON-schema ``enum``).
        history: past turns (observation + action) kept in the prompt (BALROG: 16). When a prompt overflows
            the server's context, the episode keeps half as many from then on; with no past turn left, its
            observations are cut in the middle to half their length, down to 256 characters, before the
            error stands (``context_trims`` counts each step down).
        temperature: sampling temperature (0: greedy).
        max_tokens: the reply's token limit (default: 32 for answers, 256 with thinking, or the env's
            ``reply_tokens`` where that is more: 512 on software repair, whose edits carry file text).
        seed: the base seed of sampled requests (used when ``temperature > 0``).
        demos: oracle episodes shown with ``prompt="few-shot"``.
        cache: the response cache (see :class:`sparsegym.llm.LLMClient`); a warm rerun makes no requests.
        max_concurrency: requests in flight to the server from this process (shared by all agents).
        timeout: seconds per request.
        client: an :class:`~sparsegym.llm.LLMClient` to use instead of making one.
    """

    IDENTITY_IGNORES = ("base_url", "api_key", "cache", "max_concurrency", "timeout", "client")

    def __init__(self, env: gymnasium.Env, *, model: str | None = None, base_url: str | None = None,
                 api_key: str | None = None, prompt: str = "naive", constrained: bool = False, history: int = 16,
                 temperature: float = 0.0, max_tokens: int | None = None, seed: int | None = 0, demos: int = 1,
                 cache: Any = True, max_concurrency: int = 16, timeout: float = 120.0, client: Any = None):
        if prompt not in PROMPTS:
            raise ConfigError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
        if not isinstance(env.observation_space, gymnasium.spaces.Text):
            raise ConfigError(
                f"LLMAgent plays text: {env.spec.id if env.spec else type(env.unwrapped).__name__} observes "
                f"{type(env.observation_space).__name__}. Submit with `observation: text` (or `--observation text`), "
                "or wrap the env in sparsegym.wrappers.TextObservation")
        self.env, self.prompt, self.constrained = env, prompt, bool(constrained)
        self.history, self.temperature, self.seed, self.demos = int(history), float(temperature), seed, int(demos)
        # the style's budget, or the env's where one action can be long (TextEnv.reply_tokens: software repair)
        self.max_tokens = max_tokens or max(_DEFAULT_MAX_TOKENS[prompt], int(self._declared("reply_tokens", None) or 0))
        self.client = client if client is not None else shared_client(base_url, model, api_key, cache,
                                                                       max_concurrency, timeout)
        self._instructions = self._make_instructions()
        self._demo_text: str | None = None
        self.reset(None)

    # -- the prompt ----------------------------------------------------------------------------------
    def _make_instructions(self) -> str:
        try:
            text = self.env.get_wrapper_attr("instructions")()
        except AttributeError:
            text = "You are playing a text-based game. Each turn, reply with one command."
        budget = self.env.spec.max_episode_steps if self.env.spec is not None else None
        if budget is None:
            from sparsegym.envs.registry import get_entry

            try:
                budget = get_entry(self.env.spec.id).max_episode_steps if self.env.spec else None
            except Exception:
                budget = None
        if budget:
            text += f"\nYou have at most {budget} steps."
        return text

    def _view(self) -> Any:
        try:
            return self.env.get_wrapper_attr("view")
        except AttributeError:
            return None

    def _few_shot(self) -> str:
        """A transcript of the family's oracle solving an episode of another seed (made once)."""
        if self._demo_text is None:
            from sparsegym.agents.demos import oracle_transcript

            self._demo_text = oracle_transcript(self.env, episodes=self.demos)
        return self._demo_text

    def messages(self, observation: str, info: dict[str, Any]) -> list[dict[str, str]]:
        """The chat messages for the next action (module docstring)."""
        first = self._instructions
        if self.prompt == "few-shot":
            demo = self._few_shot()
            if demo:
                first += "\n\nHere is an example of an episode played well:\n" + demo
        # The instructions are the system turn: the same tokens at the head of every request, so a server's
        # prompt cache (llama.cpp's) skips them after the first call.
        msgs = [{"role": "system", "content": first}]
        keep = min(self.history, self._history_cap)
        for obs, action in list(self._turns)[-keep:] if keep else []:
            msgs.append({"role": "user", "content": f"Observation:\n{self._clip(obs)}"})
            msgs.append({"role": "assistant", "content": action})
        actions = list(info.get("admissible_actions") or [])
        parts = []
        if self._feedback:
            parts.append(self._feedback)
        parts.append(f"Current observation:\n{self._clip(observation)}")
        complete = bool(actions) and self._complete(actions)
        if actions:
            parts.append(("Valid actions: " if complete else "Action forms: ") + "; ".join(actions))
        if complete:
            parts.append(_STYLE_INSTRUCTION[self.prompt])
        elif self.prompt in ("cot", "tagged"):
            parts.append(_STYLE_INSTRUCTION[self.prompt].replace("one valid action", "your action, in the syntax described"))
        else:
            parts.append("Answer with your next action only, in the syntax described.")
        msgs.append({"role": "user", "content": "\n\n".join(parts)})
        return msgs

    def _declared(self, name: str, default: Any) -> Any:
        """What the env (its text view, where it is played through one) declares as ``name``."""
        owner = self._view() or self.env
        try:  # the outermost declaration: a wrapper that fills in templates (InstructionSearch) overrides its env
            return owner.get_wrapper_attr(name)
        except AttributeError:
            return getattr(owner, name, default)

    def _declared_complete(self) -> bool:
        """The env's ``complete_actions``: its lists hold whole commands and forms with ``<...>`` placeholders
        to fill in, nothing the agent must complete otherwise (verbs with free syntax)."""
        return bool(self._declared("complete_actions", True))

    def _complete(self, actions: list[str]) -> bool:
        """Whether ``actions`` are whole commands to pick from (not templates or verbs to complete). Decided
        per step: on WebShop the search page lists a template and the click pages whole commands."""
        return self._declared_complete() and not any(_TEMPLATE.search(a) for a in actions)

    def _response_format(self, actions: list[str]) -> dict[str, Any] | None:
        if not self.constrained or not actions:
            return None  # free text: nothing to constrain to
        if self._declared_complete():
            forms = [a for a in actions if _TEMPLATE.search(a)]
            whole = [a for a in actions if a not in forms]
            choices: list[dict[str, Any]] = [{"type": "string", "enum": whole}] if whole else []
            choices += [{"type": "string", "pattern": template_pattern(form)} for form in forms]
        else:  # verbs with free syntax: the env's own pattern of one-line commands, where it declares one
            pattern = self._declared("action_pattern", None)
            if not pattern:
                return None
            choices = [{"type": "string", "pattern": pattern}]
        props: dict[str, Any] = {"action": choices[0] if len(choices) == 1 else {"anyOf": choices}}
        required = ["action"]
        if self.prompt in ("cot", "tagged"):
            props = {"reasoning": {"type": "string"}, **props}
            required = ["reasoning", "action"]
        return {"type": "json_object", "schema": {"type": "object", "properties": props, "required": required}}

    # -- acting ----------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        self._turns: deque[tuple[str, str]] = deque(maxlen=max(self.history, 1))
        self._feedback = ""
        self._episode_seed = seed
        self._step = 0
        self._history_cap = self.history  # lowered for the rest of the episode when a prompt overflows
        self._observation_cap: int | None = None  # then observations are cut to this many characters
        self._stats = {"calls": 0, "requests": 0, "cache_hits": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0,
                       "completion_tokens": 0, "invalid_replies": 0, "unformatted_replies": 0, "truncated_replies": 0,
                       "llm_seconds": 0.0, "context_trims": 0}

    def episode_stats(self) -> dict[str, Any]:
        """What this episode cost and how often the model's reply named no valid action."""
        return dict(self._stats, seconds_per_call=self._stats["llm_seconds"] / max(1, self._stats["calls"]))

    def _request(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        actions = list(info.get("admissible_actions") or [])
        seed = None if self.seed is None else int(self.seed) + 1000 * int(self._episode_seed or 0) + self._step
        return {"messages": self.messages(observation, info), "temperature": self.temperature,
                "max_tokens": self.max_tokens, "seed": seed if self.temperature > 0 else None,
                "response_format": self._response_format(actions)}

    def _decide(self, observation: str, info: dict[str, Any], result: Any, seconds: float) -> str:
        usage = result.usage
        self._stats["calls"] += 1
        self._stats["requests"] += usage.requests
        self._stats["cache_hits"] += usage.cache_hits
        self._stats["prompt_tokens"] += usage.prompt_tokens
        self._stats["cached_prompt_tokens"] += usage.cached_prompt_tokens
        self._stats["completion_tokens"] += usage.completion_tokens
        self._stats["llm_seconds"] += seconds
        reply = result.text or ""
        if (result.finish_reasons or [None])[0] == "length":  # the reply hit max_tokens
            self._stats["truncated_replies"] += 1
        actions = list(info.get("admissible_actions") or [])
        templates = bool(actions) and any(_TEMPLATE.search(a) for a in actions)
        usable = actions if actions and (self._complete(actions) or templates) else []
        verbs = actions if actions and not templates and not self._declared_complete() else []
        constrained = self.constrained and bool(actions) and reply.lstrip().startswith("{")
        if constrained:  # the grammar gave the format; a JSON reply is not checked for an ACTION line
            try:
                reply = str(json.loads(reply).get("action", reply))
            except (ValueError, AttributeError):
                pass
        elif not follows_format(reply, self.prompt):
            self._stats["unformatted_replies"] += 1
        style = "naive" if self.prompt == "few-shot" else self.prompt
        action = parse_command(reply, verbs, style) if verbs else parse_reply(reply, usable, style)
        self._feedback = ""
        if action is None:
            self._stats["invalid_replies"] += 1
            view = self._view()
            if view is not None:  # a text view: its documented default action, and say so next turn
                action = view.default_name()
                self._feedback = (f"Your last reply ({reply.strip()[:80]!r}) named no valid action, so "
                                  f"'{action}' was played.")
            else:  # a text-native game answers the reply itself (and counts it)
                action = _answer_text(reply, self.prompt).strip() or "look"
        self._turns.append((observation, action))
        self._step += 1
        return action

    _MIN_OBSERVATION = 256  # characters: an observation is never cut shorter than this

    def _clip(self, text: str) -> str:
        """``text`` cut in the middle to ``_observation_cap`` characters (its head and tail kept, the cut
        said where it was), or as it is when no cap is set or it fits."""
        cap = self._observation_cap
        if cap is None or len(text) <= cap:
            return text
        head, tail = cap * 2 // 3, cap - cap * 2 // 3
        cut = f"\n[... {len(text) - cap} characters cut to fit the model's context ...]\n"
        return text[:head] + cut + text[len(text) - tail:]

    def _trim_history(self, error: Exception, observation: str) -> None:
        """A prompt overflowed the server's context: keep half as many past turns for the rest of the
        episode (BALROG drops old turns the same way); with none left, cut the observations to half their
        length (an env's page or file view alone can fill a small model's context); when that would go
        under ``_MIN_OBSERVATION`` characters, the error stands."""
        shown = min(self.history, self._history_cap, len(self._turns))
        if shown:
            self._history_cap = shown // 2
        else:
            cap = min(self._observation_cap or len(observation), len(observation)) // 2
            if cap < self._MIN_OBSERVATION:
                raise error
            self._observation_cap = cap
        self._stats["context_trims"] += 1

    def act(self, observation: str, info: dict[str, Any]) -> str:
        start = time.perf_counter()
        while True:
            try:
                result = self.client.chat(**self._request(observation, info))
                break
            except ContextTooLongError as exc:
                self._trim_history(exc, observation)
        return self._decide(observation, info, result, time.perf_counter() - start)

    async def aact(self, observation: str, info: dict[str, Any]) -> str:
        start = time.perf_counter()
        while True:
            try:
                result = await self.client.achat(**self._request(observation, info))
                break
            except ContextTooLongError as exc:
                self._trim_history(exc, observation)
        return self._decide(observation, info, result, time.perf_counter() - start)
