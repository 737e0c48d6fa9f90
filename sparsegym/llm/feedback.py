"""LLM feedback on captions: the ONI/Motif prompts and parsers, a store of labels and preferences that
survives restarts, and an annotator that asks the LLM in the background so env steps never wait.

What the papers do, and where this follows them (facts from the authors' code: ``rlaif/prompts.py``,
``rlaif/reward_model.py``, ``sample_factory/algorithms/appo/llm_annotator.py`` in facebookresearch/oni;
``scripts/train_reward.py`` in facebookresearch/motif):

* **Captions** are NetHack's on-screen message (an empty message included). Here any text works: the
  wrapper (:class:`sparsegym.wrappers.llm_feedback.LLMFeedbackReward`) asks the env's family for one.
* **Labels** (ONI's retrieval and classification variants): the LLM, told it is a judge of good play,
  states its knowledge of the game and the goal, analyses the message in a sentence, and labels messages
  that are *helpful for progress toward the goal* (not merely informative) ``FOO``, everything else
  ``BAR``, in ``<knowledge>…</knowledge><analysis>…</analysis><label>FOO|BAR</label>`` form, after four
  worked examples. FOO is 1, BAR is 0. The prompt text here is this package's own, with that structure.
* **Preferences** (ONI's ranking variant, Motif): two messages, the LLM states its knowledge, analyses
  each, compares them and ends with ``("best_description": 1|2|None)``. 1 and 2 name the winner; None
  (a tie) and replies that name neither are 0.5 (a tie), as both codebases treat them; an unparseable
  reply is recorded as such, so it is never mistaken for a judgement.
* **Sampling**: ONI samples at temperature 0.1. The annotator sends ``seed=0`` with it, so a request is
  deterministic where the server honours seeds and the client's response cache can serve it again.

:class:`FeedbackStore` is an SQLite file keyed by the prompt's identity (prompt version, goal, model),
so changing any of them starts a fresh set of labels while old ones stay on disk. :class:`Annotator`
sends requests from a small thread pool; the env thread only enqueues captions and reads finished
labels. Errors never become silent zeros: an unparseable reply is stored as unparsed (no label, or a
tie), a failed request is counted with its message and retried the next time the caption is asked for,
and when the very first requests fail because the server cannot be reached or does not serve the model
(a configuration mistake) the error is raised in the caller's thread with the fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsegym.errors import ConfigError

#: Bump when the prompt text or the parsing changes: stored labels are keyed by it.
PROMPT_VERSION = "1"

#: Goal strings (ONI ships a score goal and combat/gold variants; the wording here is the package's own).
GOALS: dict[str, str] = {
    "score": ("maximise the in-game score: kill monsters, collect gold, find useful items, gain experience "
              "and go down the stairs to deeper dungeon levels"),
    "combat": "kill as many monsters as possible and gain experience levels",
    "gold": "collect as much gold as possible",
    "descend": "go down the stairs and reach the deepest dungeon level possible",
}

_SYSTEM = ("You are a careful, honest judge of game play. You decide whether a message the game printed shows "
           "progress toward the player's goal.")

_LABEL_EXAMPLES = (
    ("Welcome to experience level 2. You kill the jackal!", "FOO",
     "Killing a monster and levelling up is direct progress."),
    ("You hear someone counting money.", "FOO",
     "The sound tells the player that gold is near on this level, a strong lead."),
    ("5 gold pieces.", "FOO", "The player picked up gold."),
    ("That door is closed.", "BAR", "Informative, but it neither helps nor hurts the goal by itself."),
)


def goal_text(goal: str) -> str:
    """A goal name of :data:`GOALS`, or the goal written out (any text of more than one word)."""
    if goal in GOALS:
        return GOALS[goal]
    if not isinstance(goal, str) or len(goal.split()) < 2:
        raise ConfigError(f"unknown goal {goal!r}: use one of {', '.join(GOALS)} or write the goal out as a sentence")
    return goal


def label_messages(caption: str, goal: str = "score", game: str = "NetHack") -> list[dict[str, str]]:
    """The chat messages asking for a FOO/BAR label of ``caption`` (ONI's retrieval/classification prompt)."""
    examples = "\n\n".join(
        f"Message: \"{text}\"\n<knowledge>(your knowledge)</knowledge>\n<analysis>{why}</analysis>\n<label>{label}</label>"
        for text, label, why in _LABEL_EXAMPLES)
    user = (
        f"The player's goal in {game}: {goal_text(goal)}.\n\n"
        "You will see one message the game printed during play (it may be empty). Do three things, in order:\n"
        "1. In <knowledge></knowledge>, state briefly what you know about the game that bears on this message "
        "and the goal.\n"
        "2. In <analysis></analysis>, say in one sentence what the message means.\n"
        "3. In <label></label>, write FOO if the message shows real progress toward the goal (helpful, not just "
        "informative), and BAR if it is unhelpful, neutral or only lukewarm.\n\n"
        f"Examples:\n\n{examples}\n\n"
        f"Now the message to judge.\nMessage: \"{caption}\""
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


_LABEL_TAG = re.compile(r"<\s*label\s*>\s*\W*\s*(FOO|BAR)\b", re.IGNORECASE)
_LABEL_BARE = re.compile(r"\b(FOO|BAR)\b")


def parse_label(reply: str) -> int | None:
    """1 for FOO, 0 for BAR, None when the reply gives no label.

    The ``<label>`` tag wins; without one, the last bare FOO or BAR (uppercase, as the prompt asks) counts,
    so a reply that forgot the tags still counts while reasoning that mentions both words before its
    verdict is read by its verdict.
    """
    if not isinstance(reply, str):
        return None
    found = _LABEL_TAG.findall(reply)
    if not found:
        found = _LABEL_BARE.findall(reply)
    if not found:
        return None
    return 1 if found[-1].upper() == "FOO" else 0


def preference_messages(first: str, second: str, goal: str = "score", game: str = "NetHack") -> list[dict[str, str]]:
    """The chat messages asking which of two captions shows more progress (ONI-ranking's and Motif's prompt)."""
    user = (
        f"The player's goal in {game}: {goal_text(goal)}.\n\n"
        "Two messages the game printed during play are shown below (either may be empty). First state what you "
        "know about the game that matters here, then analyse each message, then compare them from first "
        "principles: which one shows more progress toward the goal? End your reply with exactly one of\n"
        "(\"best_description\": 1)\n(\"best_description\": 2)\n(\"best_description\": None)\n"
        "where None means neither is better.\n\n"
        f"Message 1: \"{first}\"\nMessage 2: \"{second}\""
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


_PREF = re.compile(r"best[_ ]description\W{0,6}(1|2|none|null)\b", re.IGNORECASE)


def parse_preference(reply: str) -> float | None:
    """The probability that the first caption is the better one: 1.0, 0.0 or 0.5 (a tie); None when the
    reply names no choice (the caller records it and treats it as a tie, as Motif does)."""
    if not isinstance(reply, str):
        return None
    found = _PREF.findall(reply)
    if not found:
        return None
    last = found[-1].lower()
    return 1.0 if last == "1" else 0.0 if last == "2" else 0.5


def prompt_id(goal: str, model: str, game: str = "NetHack") -> str:
    """The identity stored labels are keyed by: prompt version, goal text, game and model."""
    raw = json.dumps([PROMPT_VERSION, goal_text(goal), game, model])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------------------
# The store


_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    prompt TEXT NOT NULL, caption TEXT NOT NULL, label INTEGER, reply TEXT, PRIMARY KEY (prompt, caption));
CREATE TABLE IF NOT EXISTS preferences (
    prompt TEXT NOT NULL, first TEXT NOT NULL, second TEXT NOT NULL, preference REAL NOT NULL,
    parsed INTEGER NOT NULL, reply TEXT, PRIMARY KEY (prompt, first, second));
"""


class FeedbackStore:
    """Labels (caption -> 0/1, or NULL when the reply gave none) and pairwise preferences, in SQLite.

    Writes are committed one by one (WAL journal), so an interrupted run keeps every answer it got.
    Thread-safe: one connection behind a lock.

    >>> store = FeedbackStore(":memory:")
    >>> store.put_label("p", "You kill the newt!", 1, "<label>FOO</label>")
    >>> store.labels("p")
    {'You kill the newt!': 1}
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    @classmethod
    def default_path(cls) -> Path:
        from sparsegym._cache import cache_dir

        return cache_dir("llm") / "feedback.sqlite"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put_label(self, prompt: str, caption: str, label: int | None, reply: str | None) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)", (prompt, caption, label, reply))
            self._db.commit()

    def labels(self, prompt: str, *, unparsed: bool = False) -> dict[str, int | None]:
        """Caption -> label for one prompt identity; with ``unparsed`` also the captions whose reply had none."""
        with self._lock:
            rows = self._db.execute("SELECT caption, label FROM labels WHERE prompt = ?", (prompt,)).fetchall()
        return {c: lab for c, lab in rows if unparsed or lab is not None}

    def put_preference(self, prompt: str, first: str, second: str, preference: float, parsed: bool,
                       reply: str | None) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO preferences VALUES (?, ?, ?, ?, ?, ?)",
                             (prompt, first, second, float(preference), int(parsed), reply))
            self._db.commit()

    def preferences(self, prompt: str) -> list[tuple[str, str, float]]:
        """Every stored ``(first, second, P(first is better))`` for one prompt identity (ties and unparsed
        replies as 0.5), in insertion order."""
        with self._lock:
            rows = self._db.execute("SELECT first, second, preference FROM preferences WHERE prompt = ? ORDER BY rowid",
                                    (prompt,)).fetchall()
        return [(a, b, float(p)) for a, b, p in rows]

    def has_preference(self, prompt: str, first: str, second: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM preferences WHERE prompt = ? AND first = ? AND second = ?",
                                   (prompt, first, second)).fetchone()
        return row is not None

    def counts(self, prompt: str) -> dict[str, int]:
        """How many labels (parsed, unparsed) and preferences (parsed, unparsed) one prompt identity holds."""
        with self._lock:
            lab = self._db.execute("SELECT label IS NOT NULL, COUNT(*) FROM labels WHERE prompt = ? GROUP BY 1",
                                   (prompt,)).fetchall()
            pref = self._db.execute("SELECT parsed, COUNT(*) FROM preferences WHERE prompt = ? GROUP BY 1",
                                    (prompt,)).fetchall()
        lab_d, pref_d = dict(lab), dict(pref)
        return {"labels": lab_d.get(1, 0), "labels_unparsed": lab_d.get(0, 0),
                "preferences": pref_d.get(1, 0), "preferences_unparsed": pref_d.get(0, 0)}


# ---------------------------------------------------------------------------------------------------------
# The annotator


@dataclass
class AnnotatorStats:
    """What an annotator did (``requests`` counts answered requests, cache hits included)."""

    requests: int = 0
    labels: int = 0
    preferences: int = 0
    unparsed: int = 0
    errors: int = 0
    last_error: str | None = None
    error_types: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "labels": self.labels, "preferences": self.preferences,
                "unparsed": self.unparsed, "errors": self.errors, "last_error": self.last_error}


class Annotator:
    """Asks an LLM for labels and preferences of captions in the background; answers land in a store.

    Args:
        client: an :class:`~sparsegym.llm.LLMClient`; None makes one from ``base_url``/``model`` (or the
            ``SPARSEGYM_LLM_*`` environment variables) without a response cache (the store is the cache).
        goal: a name of :data:`GOALS` or the goal written out.
        game: the game's name as the prompt says it.
        store: an :class:`FeedbackStore`, a path, or None for the default file in sparsegym's cache folder.
        max_in_flight: requests sent at once (the server batches them).
        temperature: sampling temperature of each request (ONI: 0.1).
        seed: the requests' seed (a seeded request is deterministic where the server honours seeds).
        max_tokens: the longest reply.
        offline: never ask the LLM; only stored answers are used (deployment, or a Motif-style frozen run).

    ``request_label``/``request_preference`` return at once; ``label``/``labels``/``preferences`` read what
    has arrived; :meth:`wait` blocks until nothing is pending.
    """

    def __init__(self, client: Any = None, *, base_url: str | None = None, model: str | None = None,
                 goal: str = "score", game: str = "NetHack", store: FeedbackStore | str | os.PathLike[str] | None = None,
                 max_in_flight: int = 8, temperature: float = 0.1, seed: int | None = 0, max_tokens: int = 512,
                 offline: bool = False):
        self.goal, self.game = goal, game
        goal_text(goal)  # validate early
        self.offline = bool(offline)
        self._own_client = client is None
        if client is None and not self.offline:
            from sparsegym.llm.client import LLMClient

            # No response cache: the store already keeps every answer, keyed by the prompt's identity.
            client = LLMClient(base_url, model, cache=False, max_concurrency=max_in_flight)
        self.client = client
        model_name = model or (client.model if client is not None else None)
        if model_name is None:
            raise ConfigError("an offline Annotator needs model=: the model whose stored labels to use")
        self.model = str(model_name)
        self.prompt = prompt_id(goal, self.model, game)
        self._own_store = not isinstance(store, FeedbackStore)
        self.store = store if isinstance(store, FeedbackStore) else FeedbackStore(store or FeedbackStore.default_path())
        self.temperature, self.seed, self.max_tokens = float(temperature), seed, int(max_tokens)
        self.max_in_flight = int(max_in_flight)
        if self.max_in_flight < 1:
            raise ConfigError(f"max_in_flight must be at least 1, got {max_in_flight}")
        self.stats = AnnotatorStats()
        self._lock = threading.RLock()  # re-entrant: a future already done runs its callback in the caller
        self._labels: dict[str, int | None] = self.store.labels(self.prompt, unparsed=True)
        self._prefs: list[tuple[str, str, float]] = self.store.preferences(self.prompt)
        self._pref_keys = {(a, b) for a, b, _ in self._prefs}
        self._n_labels = sum(lab is not None for lab in self._labels.values())
        self._pending: dict[Any, Future[Any]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._fatal: BaseException | None = None
        self._answered = 0

    # -- reading -----------------------------------------------------------------------------------------

    def label(self, caption: str) -> int | None:
        """The stored label of ``caption``: 1, 0, or None (not labelled yet, or the reply gave none)."""
        with self._lock:
            return self._labels.get(caption)

    def is_labelled(self, caption: str) -> bool:
        """True once an answer for ``caption`` arrived (parsed or not)."""
        with self._lock:
            return caption in self._labels

    def labels(self) -> dict[str, int]:
        """Every parsed label so far."""
        with self._lock:
            return {c: lab for c, lab in self._labels.items() if lab is not None}

    def preferences(self) -> list[tuple[str, str, float]]:
        """Every preference so far, ``(first, second, P(first is better))``."""
        with self._lock:
            return list(self._prefs)

    @property
    def n_labels(self) -> int:
        """How many parsed labels there are (cheap: no copy)."""
        with self._lock:
            return self._n_labels

    @property
    def n_preferences(self) -> int:
        with self._lock:
            return len(self._prefs)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    # -- asking ------------------------------------------------------------------------------------------

    def _check(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _submit(self, key: Any, fn: Any, *args: Any) -> bool:
        if self.offline:
            return False
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="sparsegym-annotator")
        future = self._pool.submit(fn, *args)
        self._pending[key] = future
        future.add_done_callback(lambda f, key=key: self._done(key, f))
        return True

    def request_label(self, caption: str) -> bool:
        """Ask for ``caption``'s label unless it is stored or on its way; True when a request was sent."""
        self._check()
        key = ("label", caption)
        with self._lock:
            if caption in self._labels or key in self._pending:
                return False
            return self._submit(key, self._ask_label, caption)

    def request_preference(self, first: str, second: str) -> bool:
        """Ask which of two captions is better unless that pair is stored or on its way."""
        self._check()
        key = ("pair", first, second)
        with self._lock:
            if (first, second) in self._pref_keys or key in self._pending:
                return False
            return self._submit(key, self._ask_preference, first, second)

    def annotate_labels(self, captions: Iterable[str], *, progress: bool = False) -> int:
        """Label every caption not labelled yet and wait for the answers (a batch job; resumable, since
        stored answers are skipped). Returns the number of requests sent."""
        sent = sum(self.request_label(c) for c in dict.fromkeys(captions))
        self.wait(progress=progress, total=sent)
        return sent

    def annotate_pairs(self, pairs: Iterable[Sequence[str]], *, progress: bool = False) -> int:
        """Ask for a preference on every pair not stored yet and wait (Motif's offline annotation)."""
        sent = sum(self.request_preference(a, b) for a, b in pairs)
        self.wait(progress=progress, total=sent)
        return sent

    def wait(self, timeout: float | None = None, *, progress: bool = False, total: int | None = None) -> None:
        """Block until no request is pending (or ``timeout`` seconds passed: TimeoutError)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        bar = None
        if progress and total:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="annotating", unit="req")
        try:
            while True:
                with self._lock:
                    futures = list(self._pending.values())
                if not futures:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"{len(futures)} annotation requests still pending after {timeout} s")
                futures[0].exception(timeout=None if deadline is None else max(deadline - time.monotonic(), 0.01))
                if bar is not None:
                    bar.n = max(total - len(futures) + 1, 0)
                    bar.refresh()
        finally:
            if bar is not None:
                bar.n = total
                bar.close()
        self._check()

    # -- the worker threads ------------------------------------------------------------------------------

    def _reply(self, messages: list[dict[str, str]]) -> str:
        result = self.client.chat(messages, temperature=self.temperature, seed=self.seed, max_tokens=self.max_tokens)
        return result.text

    def _ask_label(self, caption: str) -> None:
        reply = self._reply(label_messages(caption, self.goal, self.game))
        label = parse_label(reply)
        self.store.put_label(self.prompt, caption, label, reply)
        with self._lock:
            self._labels[caption] = label
            self._n_labels += label is not None
            self.stats.labels += label is not None
            self.stats.unparsed += label is None

    def _ask_preference(self, first: str, second: str) -> None:
        reply = self._reply(preference_messages(first, second, self.goal, self.game))
        pref = parse_preference(reply)
        value = 0.5 if pref is None else pref
        self.store.put_preference(self.prompt, first, second, value, pref is not None, reply)
        with self._lock:
            self._prefs.append((first, second, value))
            self._pref_keys.add((first, second))
            self.stats.preferences += pref is not None
            self.stats.unparsed += pref is None

    def _done(self, key: Any, future: Future[Any]) -> None:
        from sparsegym.llm.errors import LLMUnreachableError, ModelNotServedError

        if future.cancelled():  # dropped by close()
            with self._lock:
                self._pending.pop(key, None)
            return
        exc = future.exception()
        with self._lock:
            self._pending.pop(key, None)
            if exc is None:
                self.stats.requests += 1
                self._answered += 1
                return
            self.stats.errors += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            name = type(exc).__name__
            self.stats.error_types[name] = self.stats.error_types.get(name, 0) + 1
            # A server that was never reached, or that does not serve the model, is a setup mistake: say so
            # loudly in the caller's thread. Later outages are counted and the caption is asked again later.
            if self._answered == 0 and isinstance(exc, (LLMUnreachableError, ModelNotServedError, ConfigError)):
                self._fatal = exc

    def close(self) -> None:
        """Stop the worker threads (answers in flight are finished and stored, queued requests dropped) and
        close an owned store and client."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # queued requests are dropped
            self._pool = None
        if self._own_store:
            self.store.close()
        if self._own_client and self.client is not None:
            self.client.close()

    def __enter__(self) -> Annotator:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Annotator:
        """Shared, not copied: an annotator is a handle on threads, a client and a store (env specs that hold
        one, and the envs rebuilt from them, use this one)."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Annotator(model={self.model!r}, goal={self.goal!r}, store={self.store.path!r}, "
                f"labels={len(self.labels())}, preferences={len(self._prefs)}, pending={self.pending})")


# ---------------------------------------------------------------------------------------------------------
# A scripted judge (tests and benchmarks: not a language model)


def _quoted_after(content: str, marker: str, end: str | None = None) -> str | None:
    """The quoted text after the last ``marker`` (up to ``end``'s last occurrence, or the end)."""
    start = content.rfind(marker)
    if start < 0:
        return None
    rest = content[start + len(marker):]
    if end is not None:
        stop = rest.rfind(end)
        if stop < 0:
            return None
        rest = rest[:stop]
    rest = rest.rstrip()
    return rest[:-1] if rest.endswith('"') else None


class ScriptedJudge:
    """A reply function for :class:`sparsegym.llm.testing.ScriptedLLMServer` that answers this module's
    prompts from ground truth instead of a language model, with label noise.

    ``truth(caption) -> float`` is the caption's true value (e.g. 1 for messages of events that raise the
    score, 0 otherwise). A label prompt is answered FOO when the value is positive; a pair prompt names the
    caption of higher value, or None on equal values. With probability ``noise`` an answer is corrupted (a
    label flipped; a preference replaced by one of the three answers at random), and with probability
    ``garbage`` the reply is prose without a verdict (it exercises the unparseable path). Benchmarks name
    it in their outputs ("scripted judge"), so its numbers are never taken for a model's.
    """

    name = "scripted judge"

    def __init__(self, truth: Callable[[str], float], noise: float = 0.0, garbage: float = 0.0, seed: int = 0):
        if not 0.0 <= noise <= 1.0 or not 0.0 <= garbage <= 1.0:
            raise ConfigError(f"noise and garbage are probabilities in [0, 1], got {noise} and {garbage}")
        self.truth, self.noise, self.garbage = truth, float(noise), float(garbage)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, request: dict[str, Any]) -> str:
        content = request["messages"][-1]["content"]
        with self._lock:
            self.calls += 1
            garbage = self._rng.random() < self.garbage
            corrupt = self._rng.random() < self.noise
            pick = self._rng.choice(("1", "2", "None"))
        if garbage:
            return "<knowledge>The game is hard.</knowledge><analysis>Hard to say.</analysis>"
        first = _quoted_after(content, '\nMessage 1: "', '\nMessage 2: "')
        second = _quoted_after(content, '\nMessage 2: "')
        if first is not None and second is not None:
            a, b = self.truth(first), self.truth(second)
            best = pick if corrupt else "1" if a > b else "2" if b > a else "None"
            return f"<analysis>Compared by ground truth.</analysis>\n(\"best_description\": {best})"
        single = _quoted_after(content, '\nMessage: "')
        if single is None:
            return "I cannot find a message to judge."
        good = self.truth(single) > 0
        if corrupt:
            good = not good
        return f"<knowledge>Scripted.</knowledge><analysis>Ground truth.</analysis><label>{'FOO' if good else 'BAR'}</label>"


def make_pairs(captions: Sequence[str], n: int, *, seed: int = 0, dedupe: bool = True) -> list[tuple[str, str]]:
    """``n`` random pairs of different captions (Motif's dataset: pairs of observations of play), each
    unordered pair at most once while there are enough of them."""
    pool = list(dict.fromkeys(captions)) if dedupe else list(captions)
    if len(set(pool)) < 2:
        raise ConfigError("pairs need at least two different captions: collect more play")
    rng = random.Random(seed)
    seen: set[frozenset[str]] = set()
    possible = len(set(pool)) * (len(set(pool)) - 1) // 2
    out: list[tuple[str, str]] = []
    while len(out) < n:
        a, b = rng.sample(pool, 2)
        if a == b:
            continue
        key = frozenset((a, b))
        if key in seen and len(seen) < possible:
            continue
        seen.add(key)
        out.append((a, b))
    return out
