"""Leaderboard suites: env ids, episodes per id, and two disjoint, fixed seed sets.

* ``dev`` seeds are for tuning: use them as often as you like.
* ``test`` seeds are the leaderboard's: ``sparsegym submit`` evaluates on them.

Seeds are fixed by formula so a table is reproducible from the suite name alone: for a suite with
``n`` episodes per env, ``dev`` is ``0 .. n-1`` and ``test`` is ``TEST_SEED_BASE .. TEST_SEED_BASE+n-1``.
Every env of a suite runs the same seeds, which is what the stratified bootstrap over (episodes x
envs) expects.

A suite's env ids are not hand-listed: each suite is defined by a tag query over the registry
(:class:`~sparsegym.envs.registry.TagQuery`: all of / any of / none of some tags), and its ids are the
matching rows in registry order. To put an env in a suite, tag its row. A query may not select a
Box-observation variant (tag ``box-obs``): it is the same task as its base id, and a suite scores
tasks. ("Suite" means only this; the registry's labels are tags.) ``tests/leaderboards/test_suites.py``
pins every suite's ids, so retagging a row cannot silently change a published suite.

What agents observe (``observation``, a default per suite; a submission's ``observation`` field or
``--observation`` overrides it):

* ``native``: the env as registered (arrays/dicts for grid envs, text for text-native envs);
* ``text``: every env as text with free-text actions, so one LLM agent can play every family: envs
  whose observation space is not ``gymnasium.spaces.Text`` are wrapped in
  :class:`sparsegym.wrappers.TextObservation`; text-native envs (TextWorld, ALFWorld, WebShop, SWE)
  are played as they are. Episodes record the view and its version in ``versions``.

The mode is part of a run's identity (:mod:`sparsegym.leaderboards.identity`): the same agent run
``native`` and ``text`` is two runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sparsegym.envs.registry import BOX_OBS_TAG, TagQuery, get_entry
from sparsegym.errors import ConfigError

TEST_SEED_BASE = 1_000_000
SPLITS = ("dev", "test")
#: What an agent may be shown (module docstring).
OBSERVATIONS = ("native", "text")


@dataclass(frozen=True)
class Suite:
    """A named set of env ids with its dev and test seeds.

    Attributes:
        name: the suite's name (``sparsegym suites`` lists them).
        env_ids: registered ids it evaluates, in table order.
        episodes: episodes per env id and split (one per seed).
        description: one line for tables.
        step_timeout: seconds an agent may take for one action before the episode is recorded as
            failed (None: no limit). The ``async`` backend multiplies it by the episodes in flight, whose
            agents share one server.
        query: the tag query ``env_ids`` were computed from (:meth:`from_tags`); None for a suite
            whose ids were given directly (ad-hoc suites, tests).
        observation: what agents see unless their submission says otherwise: ``native`` or
            ``text`` (module docstring).
    """

    name: str
    env_ids: tuple[str, ...]
    episodes: int
    description: str
    step_timeout: float | None = 10.0
    query: TagQuery | None = None
    observation: str = "native"

    @classmethod
    def from_tags(
        cls,
        name: str,
        tags: str | Iterable[str] = (),
        *,
        any_of: str | Iterable[str] = (),
        exclude: str | Iterable[str] = (),
        episodes: int,
        description: str,
        step_timeout: float | None = 10.0,
        observation: str = "native",
    ) -> Suite:
        """A suite of the registered ids carrying every tag of ``tags``, at least one of ``any_of``
        (when given) and none of ``exclude``, in registry order.

        Unknown tags raise ``ValueError`` naming the known ones, and so does a query that selects a
        Box-observation variant.

        >>> Suite.from_tags("hard-babyai", ("babyai", "minigrid-hard"), episodes=5, description="").env_ids
        ('sparsegym/BabyAI-KeyInBox-v0', 'sparsegym/BabyAI-BossLevel-v0')
        """
        query = TagQuery(all_of=tags, any_of=any_of, none_of=exclude)
        rows = query.entries()
        boxed = [e.id for e in rows if BOX_OBS_TAG in e.tags]
        if boxed:
            raise ConfigError(f"suite {name!r}: tags {query} select Box-observation variants ({boxed[0]}, ...); "
                             "a suite scores tasks: use their base ids")
        return cls(name, tuple(e.id for e in rows), episodes, description, step_timeout, query, observation)

    def __post_init__(self) -> None:
        if self.observation not in OBSERVATIONS:
            raise ConfigError(f"suite {self.name!r}: observation must be one of {', '.join(OBSERVATIONS)}, "
                             f"got {self.observation!r}")
        if not self.env_ids:
            raise ConfigError(f"suite {self.name!r} has no env ids")
        if self.episodes < 1:
            raise ConfigError(f"suite {self.name!r}: episodes must be >= 1")
        for env_id in self.env_ids:
            get_entry(env_id)  # raises UnknownEnvError with suggestions
        if set(self.seeds("dev")) & set(self.seeds("test")):  # pragma: no cover - guards the formula
            raise ConfigError(f"suite {self.name!r}: dev and test seeds overlap")

    def seeds(self, split: str) -> list[int]:
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        base = 0 if split == "dev" else TEST_SEED_BASE
        return list(range(base, base + self.episodes))

    def episodes_of(self, split: str) -> list[tuple[str, int]]:
        """Every (env id, seed) pair of a split, env-major."""
        return [(env_id, seed) for env_id in self.env_ids for seed in self.seeds(split)]

    @property
    def extras(self) -> list[str]:
        return sorted({get_entry(i).extra for i in self.env_ids})


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite.from_tags("smoke", "smoke", episodes=10,
                        description="five easy MiniGrid/BabyAI tasks, 10 episodes each (seconds for a fast agent; under a minute on 2 cores)"),
        Suite.from_tags("minigrid-easy", "minigrid-easy", episodes=30, description="easy MiniGrid and BabyAI tasks"),
        Suite.from_tags("minigrid-hard", "minigrid-hard", episodes=30,
                        description="hard-exploration MiniGrid and BabyAI tasks"),
        Suite.from_tags("babyai", "babyai", episodes=30, description="BabyAI language-instruction levels"),
        Suite.from_tags("minigrid-stochastic", any_of=("noisy-tv", "sticky"), episodes=30,
                        description="noisy-TV and sticky-action variants"),
        Suite.from_tags("bandits", "bandits", exclude="alias", episodes=10,
                        description="dynamical linear and last-switch-dependent bandits (returns are summed rewards)"),
        Suite.from_tags("textworld", "textworld-test", episodes=10, step_timeout=120.0,
                        description="TextWorld challenges on held-out test games (games made on first use, ~1-3 s each)"),
        Suite.from_tags("alfworld", "alfworld-unseen", exclude="alfworld-mixed", episodes=20, step_timeout=60.0,
                        description="ALFWorld's six task types on held-out floor plans, 20 games each (text; success = won in 50 steps)"),
        Suite.from_tags("webshop", ("webshop", "webshop-test"), episodes=100, step_timeout=60.0,
                        description="WebShop on the shipped catalog: 100 test goals (score = 100 x mean reward)"),
        Suite.from_tags("swe", "swe", episodes=24, step_timeout=300.0,
                        description="software repair: bugs injected into vendored Python projects (success = resolved)"),
    )
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; a ``ValueError`` naming the known suites otherwise."""
    try:
        return SUITES[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, list(SUITES), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ConfigError(f"unknown suite {name!r}.{hint} Known suites: {', '.join(SUITES)}") from None
