"""``LLMFeedbackReward``: an intrinsic reward from an LLM's judgement of captions (ONI, Motif).

ONI (Zheng, Henaff et al. 2024, "Online Intrinsic Rewards for Decision Making Agents from Large Language
Model Feedback", arXiv 2410.23022) asks an LLM, while the agent trains, whether the game's messages show
progress toward a goal, and turns the answers into a reward in one of three ways; Motif (Klissarov, D'Oro
et al. 2023, arXiv 2310.00166) does the third one offline, from a fixed dataset of annotated pairs. The
prompts, parsing and the background annotator are :mod:`sparsegym.llm.feedback`'s; the small text models
are :mod:`sparsegym.llm.reward_models`'.

Variants (``variant=``):

* ``"retrieval"`` (ONI-Retrieval): a table caption -> label (FOO 1, BAR 0). A caption not labelled yet
  is sent for annotation and pays 0 until its label arrives.
* ``"classification"`` (ONI-Classification): a byte-level CNN trained online on the labels pays
  ``1[P(FOO | caption) > threshold]`` (threshold 0.5) for every caption, labelled or not. Until the first
  labels have trained it, it pays 0. It stops training after ``max_labels`` labels (ONI: 25,000).
* ``"ranking"`` (ONI-Ranking, Motif): a reward model trained online with the Bradley-Terry loss on pairwise
  preferences of captions. Every ``subsample``-th caption (ONI: 10) joins a pool (de-duplicated by default);
  when fewer than ``pairs_per_request`` requests are pending, that many random pairs from the pool are
  sent. The model's output is normalised by a running mean and std and paid where it clears the
  threshold: ``r_hat * 1[r_hat > threshold]`` (ONI's default threshold: -0.5). With ``reward_model=`` a
  model trained offline (``sparsegym annotate train``, Motif's mode) is used frozen, with the dataset's
  mean, std and quantile threshold stored in its file.

Every variant divides by the caption's count in the episode, ``N_ep(m) ** beta`` (``beta`` 3, ONI's
``beta_count_exponent``; the count includes this step, so a caption's first appearance is divided by 1),
and weighs the result by ``coef`` (ONI's README: 0.4; the extrinsic reward is left as the env gives it, so
set the task's own scale with another wrapper if you follow ONI's ``c_ext``). The term goes to
``info["reward_components"][name]``; ``info["llm_feedback"]`` holds the caption and, once a request has failed, the
number of failures and the last error, so an LLM that is failing is visible; ``annotator.stats`` counts
requests, answers and unparseable replies.

Captions (``caption=``): a function ``(env, observation, info) -> str``, or by default the family's
``message`` state key when it has one (NetHack/MiniHack: the message line, as ONI uses), the observation
itself for text-native envs, and the family's text view otherwise (MiniGrid, BabyAI, bandits).

Differences from the authors' code: ONI trains the reward models on the learner's GPU process next to APPO;
here they train in the env's thread every ``update_every`` steps (CPU, small models), and the annotator
answers from a thread pool, so env steps never wait for the LLM.

>>> import sparsegym
>>> from sparsegym.llm.feedback import Annotator, FeedbackStore
>>> from sparsegym.llm.testing import ScriptedLLMServer
>>> from sparsegym.wrappers.llm_feedback import LLMFeedbackReward
>>> with ScriptedLLMServer(reply=lambda request: "<label>FOO</label>") as server:
...     annotator = Annotator(base_url=server.base_url, store=FeedbackStore(":memory:"))
...     env = LLMFeedbackReward(sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0"), annotator, coef=0.4)
...     _ = env.reset(seed=0)
...     annotator.wait()  # the reset's caption is labelled now
...     _, reward, *_, info = env.step(0)  # turning left: a new caption, not labelled yet, pays 0
...     env.close(); annotator.close()
>>> reward, sorted(info["reward_components"])
(0.0, ['extrinsic', 'llm_feedback'])
"""

from __future__ import annotations

import math
import random
import weakref
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np

from sparsegym.errors import ConfigError
from sparsegym.utils.stats import RunningMeanStd
from sparsegym.wrappers._components import add_component

VARIANTS = ("retrieval", "classification", "ranking")
Caption = Callable[[gymnasium.Env, Any, dict], str]


def caption_function(env: gymnasium.Env, caption: str | Caption | None = None) -> Caption:
    """How captions of ``env``'s observations are made (see the module docstring)."""
    if callable(caption):
        return caption
    if caption not in (None, "message", "text"):
        raise ConfigError(f"caption must be a function (env, observation, info) -> str, 'message' or 'text'; got {caption!r}")
    from sparsegym.envs.family import family_of

    family = family_of(env)
    if caption in (None, "message") and family is not None and "message" in family.state_keys:
        key = family.state_key("message")
        return lambda e, obs, info: str(key(e, obs))
    if caption == "message":
        raise ConfigError(f"the {family.name if family else 'unknown'} family has no 'message' caption; "
                          "use caption='text' or pass a function (env, observation, info) -> str")
    if family is not None and family.text_native:
        return lambda e, obs, info: obs if isinstance(obs, str) else str(obs)
    if family is not None and family.text_view is not None:
        view = family.make_text_view(env)
        return lambda e, obs, info: view.describe(obs, info)
    raise ConfigError("cannot caption this env's observations: make it with sparsegym.make (so its family is "
                      "known) or pass caption=a function (env, observation, info) -> str")


class _Learned:
    """A classifier or reward model with its training state, shared by the wrappers of one annotator."""

    def __init__(self) -> None:
        self.model: Any = None
        self.optimizer: Any = None
        self.generator: Any = None
        self.fitted = 0  # answers the model was last trained on (-1: a loaded model, usable at once)
        self.cache: dict[str, float] = {}  # caption -> the current model's raw score
        self.norm = RunningMeanStd()  # of the model's outputs on the steps' captions (ONI's running mean/std)
        self.losses: list[float] = []
        self.meta: dict[str, Any] = {}


#: annotator -> {settings: _Learned}; an entry goes with its annotator.
_SHARED: weakref.WeakKeyDictionary[Any, dict[tuple, _Learned]] = weakref.WeakKeyDictionary()


class LLMFeedbackReward(gymnasium.Wrapper, gymnasium.utils.RecordConstructorArgs):
    """Add ``coef * r_llm(caption) / N_ep(caption) ** beta`` (see the module docstring for the variants).

    Args:
        env: the env.
        annotator: a :class:`sparsegym.llm.feedback.Annotator` (shared by envs is fine); None makes one from
            the ``SPARSEGYM_LLM_*`` environment variables, except for a frozen ``reward_model``.
        variant: ``"retrieval"``, ``"classification"`` or ``"ranking"``.
        caption: ``(env, observation, info) -> str``, ``"message"`` or ``"text"``; default as the module says.
        coef: weight of the term (ONI: 0.4).
        beta: exponent of the per-episode count scaling (ONI: 3).
        threshold: classification: on P(FOO) (default 0.5); ranking: on the normalised reward (default
            -0.5, or the one stored with a frozen model).
        reward_model: a file written by :func:`sparsegym.llm.reward_models.save_reward_model` (``sparsegym
            annotate train``): used as the classifier or reward model, frozen unless ``learn``.
        learn: train the classifier / reward model online on the annotator's answers.
        update_every: env steps between training rounds (each ``train_steps`` Adam steps on batches of
            ``batch_size`` at ``lr``: ONI's 32, 256 and 1e-4), when new answers arrived.
        max_labels: classification stops training after this many labels (ONI: 25,000).
        subsample: ranking: every this many steps a caption joins the pair pool (ONI: 10).
        pairs_per_request: ranking: pairs sent when the annotator runs low (ONI: 10).
        dedupe: ranking: keep each caption once in the pool.
        pool_size: ranking: the pool's capacity (reservoir sampling beyond it).
        name: the reward component's name.
        seed: seeds pair sampling and the models' minibatches.
    """

    def __init__(self, env: gymnasium.Env, annotator: Any = None, variant: str = "retrieval", *,
                 caption: str | Caption | None = None, coef: float = 0.4, beta: float = 3.0,
                 threshold: float | None = None, reward_model: str | None = None, learn: bool | None = None,
                 update_every: int = 256, train_steps: int = 32, batch_size: int = 256, lr: float = 1e-4,
                 max_labels: int = 25_000, subsample: int = 10, pairs_per_request: int = 10, dedupe: bool = True,
                 pool_size: int = 10_000, name: str = "llm_feedback", seed: int = 0):
        gymnasium.utils.RecordConstructorArgs.__init__(
            self, annotator=annotator, variant=variant, caption=caption, coef=coef, beta=beta, threshold=threshold,
            reward_model=reward_model, learn=learn, update_every=update_every, train_steps=train_steps,
            batch_size=batch_size, lr=lr, max_labels=max_labels, subsample=subsample,
            pairs_per_request=pairs_per_request, dedupe=dedupe, pool_size=pool_size, name=name, seed=seed)
        # The spec records the annotator itself: copying a spec (as outer wrappers do) shares it, never copies it
        # (Annotator.__deepcopy__), so an env rebuilt from the spec asks the same annotator.
        gymnasium.Wrapper.__init__(self, env)
        if variant not in VARIANTS:
            raise ConfigError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}")
        if reward_model is not None and variant == "retrieval":
            raise ConfigError("variant='retrieval' is a table of labels and takes no reward_model; "
                              "use variant='classification' or 'ranking'")
        self.variant, self.coef, self.beta, self.name = variant, float(coef), float(beta), name
        self.learn = (reward_model is None) if learn is None else bool(learn)
        if variant == "retrieval":
            self.learn = True  # the table is the labels
        self.update_every, self.train_steps = int(update_every), int(train_steps)
        self.batch_size, self.lr, self.max_labels = int(batch_size), float(lr), int(max_labels)
        self.subsample, self.pairs_per_request = int(subsample), int(pairs_per_request)
        self.dedupe, self.pool_size = bool(dedupe), int(pool_size)
        for field_name in ("update_every", "subsample", "pairs_per_request", "pool_size"):
            if getattr(self, field_name) < 1:
                raise ConfigError(f"{field_name} must be at least 1, got {getattr(self, field_name)}")
        self._caption = caption_function(env, caption)
        self._own_annotator = annotator is None and self.learn
        if annotator is None and self.learn:
            from sparsegym.llm.feedback import Annotator

            annotator = Annotator()
        self.annotator = annotator
        self._rng = random.Random(seed)
        self._counts: dict[str, int] = {}  # caption -> times seen this episode
        self._steps = 0
        self._answered: dict[str, float] = {}  # caption -> its label once answered (0 for no label): no lock needed
        self._pool: list[str] = []
        self._pool_seen: set[str] = set()
        self._pool_offered = 0
        self._mean: float | None = None
        self._std: float | None = None
        self.threshold = threshold
        # What is learned (the model, its optimiser, the running statistics) is shared by every wrapper on the
        # same annotator with the same settings, as ONI trains one reward model for all its envs: the copies of a
        # vector env train it once per round, not once each.
        key = (variant, reward_model, self.learn, self.lr, self.train_steps, self.batch_size, self.max_labels, seed)
        shared = _SHARED.setdefault(annotator, {}) if annotator is not None else {}
        self._learned = shared.get(key)
        if self._learned is None:
            self._learned = shared[key] = _Learned()
            if variant != "retrieval":
                self._init_model(reward_model, seed)
        elif variant != "retrieval":
            self._set_threshold(self._learned.meta)

    # -- the models ----------------------------------------------------------------------------------------

    def _init_model(self, path: str | None, seed: int) -> None:
        from sparsegym.llm import reward_models as rm

        torch = rm.torch
        torch.manual_seed(seed)
        self._generator = torch.Generator().manual_seed(seed)
        kind = rm.CaptionClassifier if self.variant == "classification" else rm.CaptionRewardModel
        meta: dict[str, Any] = {}
        if path is not None:
            model, meta = rm.load_reward_model(path)
            if not isinstance(model, kind):
                raise ConfigError(f"{path} holds a {model.kind}, and variant={self.variant!r} needs a {kind.kind}")
            self.model = model
            self._fitted = -1  # usable before any answer arrives
        else:
            self.model = kind()
        self._learned.meta = meta
        self._set_threshold(meta)
        self._optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr) if self.learn else None

    def _set_threshold(self, meta: dict[str, Any]) -> None:
        if self.variant == "ranking" and meta:
            self._mean, self._std = meta.get("mean"), meta.get("std")
            if self.threshold is None:
                self.threshold = meta.get("threshold")
        if self.threshold is None:
            self.threshold = 0.5 if self.variant == "classification" else -0.5
        if self.variant == "classification":
            if not 0.0 < self.threshold < 1.0:
                raise ConfigError(f"a classification threshold is a probability in (0, 1), got {self.threshold}")
            self._logit_threshold = math.log(self.threshold / (1.0 - self.threshold))

    # The shared learned state, under the names the methods below use.
    model = property(lambda self: self._learned.model, lambda self, v: setattr(self._learned, "model", v))
    losses = property(lambda self: self._learned.losses)
    _optimizer = property(lambda self: self._learned.optimizer, lambda self, v: setattr(self._learned, "optimizer", v))
    _generator = property(lambda self: self._learned.generator, lambda self, v: setattr(self._learned, "generator", v))
    _fitted = property(lambda self: self._learned.fitted, lambda self, v: setattr(self._learned, "fitted", v))
    _cache = property(lambda self: self._learned.cache)
    _norm = property(lambda self: self._learned.norm, lambda self, v: setattr(self._learned, "norm", v))

    def _answers(self) -> int:
        if self.variant == "classification":
            return self.annotator.n_labels
        return self.annotator.n_preferences

    def _maybe_train(self) -> None:
        if self._steps % self.update_every or not self.learn or self.model is None:  # cheapest test first
            return
        answers = self._answers()
        if answers <= max(self._fitted, 0):
            return
        if self.variant == "classification":
            if self._fitted >= self.max_labels:
                return
            labels = self.annotator.labels()
            loss = self.model.fit(list(labels), list(labels.values()), steps=self.train_steps,
                                  batch_size=self.batch_size, optimizer=self._optimizer, generator=self._generator)
        else:
            loss = self.model.fit(self.annotator.preferences(), steps=self.train_steps, batch_size=self.batch_size,
                                  optimizer=self._optimizer, generator=self._generator)
        self.losses.append(loss)
        self._fitted = answers
        self._cache.clear()

    def _score(self, text: str) -> float:
        """The raw model output for ``text`` (cached until the model changes)."""
        value = self._cache.get(text)
        if value is None:
            value = self._cache[text] = self.model.score([text])[0]
        return value

    def raw_reward(self, text: str) -> float:
        """``r_llm(text)`` before count scaling and ``coef``: the variant's reward for one caption."""
        if self.variant == "retrieval":
            known = self._answered.get(text)
            return known if known is not None else self._lookup(text)
        if self._fitted == 0:  # nothing learned yet: no opinion, no reward
            return 0.0
        score = self._score(text)
        if self.variant == "classification":
            return float(score > self._logit_threshold)  # P(FOO) > threshold, without overflow
        if self._mean is not None:  # a frozen model: the dataset's statistics
            mean, std = self._mean, self._std or 1.0
        else:
            self._norm.update(np.array([score]))
            mean, std = float(self._norm.mean), float(self._norm.std)
        normalised = (score - mean) / max(std, 1e-8)
        return normalised if normalised > self.threshold else 0.0

    def _lookup(self, text: str) -> float:
        """The annotator's label of ``text`` (0 until answered), remembered here once it is answered."""
        label = self.annotator.label(text)
        if label is not None or self.annotator.is_labelled(text):
            self._answered[text] = float(label or 0)
        return float(label or 0)

    # -- asking --------------------------------------------------------------------------------------------

    def _ask(self, text: str) -> None:
        if not self.learn or self.annotator is None:
            return
        if self.variant in ("retrieval", "classification"):
            if text in self._answered:  # answered already: nothing to ask, and no lock to take
                return
            if self.variant == "classification":
                self._lookup(text)
                if text in self._answered or self.annotator.n_labels >= self.max_labels:
                    return
            self.annotator.request_label(text)
            return
        if self._steps % self.subsample == 0:
            self._offer(text)
        if self.annotator.pending < self.pairs_per_request and len(self._pool) >= 2:
            for _ in range(self.pairs_per_request):
                first, second = self._rng.sample(self._pool, 2)
                self.annotator.request_preference(first, second)

    def _offer(self, text: str) -> None:
        if self.dedupe:
            if text in self._pool_seen:
                return
            self._pool_seen.add(text)
        self._pool_offered += 1
        if len(self._pool) < self.pool_size:
            self._pool.append(text)
        else:  # reservoir sampling keeps a uniform sample of everything offered
            j = self._rng.randrange(self._pool_offered)
            if j < self.pool_size:
                self._pool[j] = text

    # -- the env -------------------------------------------------------------------------------------------

    def _info(self, info: dict[str, Any], text: str) -> None:
        # Only the caption, and failures when there are any: counts that move with the annotator's timing
        # would make two runs of one seed differ (annotator.stats has them all).
        entry: dict[str, Any] = {"caption": text}
        stats = self.annotator.stats if self.annotator is not None else None
        if stats is not None and stats.errors:
            entry.update(errors=stats.errors, last_error=stats.last_error)
        info["llm_feedback"] = entry

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._counts.clear()
        text = self._caption(self.env, obs, info)
        self._counts[text] = 1
        self._ask(text)
        self._info(info, text)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        text = self._caption(self.env, obs, info)
        n = self._counts[text] = self._counts.get(text, 0) + 1
        # Every env step passes here: a caption answered already costs two dict lookups, no call and no lock.
        known = self._answered.get(text) if self.variant == "retrieval" else None
        if known is None:  # always, for classification and ranking
            self._ask(text)
        self._maybe_train()
        raw = known if known is not None else self.raw_reward(text)
        bonus = raw / n ** self.beta if raw else 0.0
        self._info(info, text)
        return obs, add_component(info, reward, self.name, self.coef * bonus), terminated, truncated, info

    def close(self) -> None:
        if self._own_annotator and self.annotator is not None:
            self.annotator.close()
        super().close()


def collect_captions(env_id: str, steps: int, *, seed: int = 0, every: int = 1, caption: str | Caption | None = None,
                     env_kwargs: dict[str, Any] | None = None, progress: bool = False) -> list[str]:
    """Captions of ``steps`` steps of uniform random play on ``env_id`` (every ``every``-th step's, ONI's
    subsampling being 10), for an offline dataset (Motif's first step; Motif used the play of a
    score-maximising agent, which you can caption with :func:`caption_function` in your own loop).
    Text envs pick among ``info["admissible_actions"]`` when they list them."""
    import sparsegym

    env = sparsegym.make(env_id, **(env_kwargs or {}))
    fn = caption_function(env, caption)
    rng = random.Random(seed)
    env.action_space.seed(seed)
    out: list[str] = []
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=f"collecting {env_id}", unit="step")
        except ImportError:  # pragma: no cover
            pass
    try:
        obs, info = env.reset(seed=seed)
        episode = 0
        for t in range(steps):
            admissible = info.get("admissible_actions")
            action = rng.choice(admissible) if admissible else env.action_space.sample()
            obs, _, terminated, truncated, info = env.step(action)
            if t % every == 0:
                out.append(fn(env, obs, info))
            if terminated or truncated:
                episode += 1
                obs, info = env.reset(seed=seed + episode)
            if bar is not None:
                bar.update()
    finally:
        env.close()
        if bar is not None:
            bar.close()
    return out
