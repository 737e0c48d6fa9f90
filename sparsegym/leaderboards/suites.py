"""Leaderboard suites: env ids, episodes per id, and two disjoint, fixed seed sets.

* ``dev`` seeds are for tuning: use them as often as you like.
* ``test`` seeds are the leaderboard's: ``sparsegym submit`` evaluates on them.

Seeds are fixed by formula so a table is reproducible from the suite name alone: for a suite with
``n`` episodes per env, ``dev`` is ``0 .. n-1`` and ``test`` is ``TEST_SEED_BASE .. TEST_SEED_BASE+n-1``.
Every env of a suite runs the same seeds, which is what the stratified bootstrap over (episodes x
envs) expects.

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

from collections.abc import Sequence
from dataclasses import dataclass

from sparsegym.envs.registry import get_entry, list_envs

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
            failed (None: no limit).
        observation: what agents see unless their submission says otherwise: ``native`` or
            ``text`` (module docstring).
    """

    name: str
    env_ids: tuple[str, ...]
    episodes: int
    description: str
    step_timeout: float | None = 10.0
    observation: str = "native"

    def __post_init__(self) -> None:
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"suite {self.name!r}: observation must be one of {', '.join(OBSERVATIONS)}, "
                             f"got {self.observation!r}")
        if not self.env_ids:
            raise ValueError(f"suite {self.name!r} has no env ids")
        if self.episodes < 1:
            raise ValueError(f"suite {self.name!r}: episodes must be >= 1")
        for env_id in self.env_ids:
            get_entry(env_id)  # raises UnknownEnvError with suggestions
        if set(self.seeds("dev")) & set(self.seeds("test")):  # pragma: no cover - guards the formula
            raise ValueError(f"suite {self.name!r}: dev and test seeds overlap")

    def seeds(self, split: str) -> list[int]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        base = 0 if split == "dev" else TEST_SEED_BASE
        return list(range(base, base + self.episodes))

    def episodes_of(self, split: str) -> list[tuple[str, int]]:
        """Every (env id, seed) pair of a split, env-major."""
        return [(env_id, seed) for env_id in self.env_ids for seed in self.seeds(split)]

    @property
    def extras(self) -> list[str]:
        return sorted({get_entry(i).extra for i in self.env_ids})


def _ids(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"sparsegym/{n}" for n in names)


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "smoke",
            _ids(["MiniGrid-DoorKey-5x5-v0", "MiniGrid-Unlock-v0", "MiniGrid-KeyCorridorS3R1-v0",
                  "MiniGrid-MultiRoom-N2-S4-v0", "BabyAI-GoToRedBallGrey-v0"]),
            episodes=10,
            description="five easy MiniGrid/BabyAI tasks, 10 episodes each (seconds for a fast agent; under a minute on 2 cores)",
        ),
        Suite("minigrid-easy", tuple(list_envs(suite="minigrid-easy")), episodes=30,
              description="easy MiniGrid and BabyAI tasks"),
        Suite("minigrid-hard", tuple(list_envs(suite="minigrid-hard")), episodes=30,
              description="hard-exploration MiniGrid and BabyAI tasks"),
        Suite("babyai", tuple(list_envs(suite="babyai")), episodes=30,
              description="BabyAI language-instruction levels"),
        Suite("minigrid-stochastic", tuple(list_envs(suite="noisy-tv") + list_envs(suite="sticky")), episodes=30,
              description="noisy-TV and sticky-action variants"),
        Suite("bandits", tuple(i for i in list_envs(suite="bandits") if i != "sparsegym/DynLinBandit-v0"), episodes=10,
              description="dynamical linear and last-switch-dependent bandits (returns are summed rewards)"),
        Suite("textworld", tuple(list_envs(suite="textworld-test")), episodes=10, step_timeout=120.0,
              description="TextWorld challenges on held-out test games (games made on first use, ~1-3 s each)"),
        Suite("alfworld", tuple(i for i in list_envs(suite="alfworld-unseen") if i != "sparsegym/ALFWorld-Unseen-v0"),
              episodes=20, step_timeout=60.0,
              description="ALFWorld's six task types on held-out floor plans, 20 games each (text; success = won in 50 steps)"),
        Suite("webshop", ("sparsegym/WebShop-v0",), episodes=100, step_timeout=60.0,
              description="WebShop on the shipped catalog: 100 test goals (score = 100 x mean reward)"),
        Suite("swe", ("sparsegym/SWE-Mutation-v0",), episodes=24, step_timeout=300.0,
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
        raise ValueError(f"unknown suite {name!r}.{hint} Known suites: {', '.join(SUITES)}") from None
