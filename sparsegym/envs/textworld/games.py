"""TextWorld games made with TextWorld's own generator, cached on disk by their parameters and seed.

A :class:`GameSpec` names a challenge and its settings:

* ``custom``: ``world_size`` (rooms), ``nb_objects``, ``quest_length`` (and optionally
  ``quest_breadth``), the knobs of ``tw-make custom``; the "w2-o3-q4" and "w4-o6-q8" settings of
  "A Practitioner's Guide to Multi-turn Agentic RL" are ``custom`` specs.
* ``simple``: ``tw-make tw-simple`` (``rewards`` dense|balanced|sparse, ``goal`` detailed|brief|none).
* ``coin_collector``: ``level`` 1-300; ``treasure_hunter``: ``level`` 1-30.
* ``cooking``: the First TextWorld Problems games (``recipe``, ``take``, ``go`` in 1/6/9/12, and the
  ``open``/``cook``/``cut``/``drop`` skills).

:func:`game_file` returns the compiled game for ``(spec, split, seed)``, making it the first time
(1-3 s) and reusing it after. Games are written to a temporary folder and renamed into place, so
processes that race to make the same game never see a half-written one. The cache key carries
TextWorld's version, since another version may generate a different game from the same seed.

Splits: ``train`` and ``test`` games come from disjoint seed ranges (:data:`SPLIT_SEED_BASE`); where
the challenge has its own held-out distribution (tw-simple's ``test`` objects, cooking's ``test`` foods)
the test split uses it as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsegym._cache import cache_dir
from sparsegym._deps import require
from sparsegym.errors import SparseGymError

#: First game seed of each split; a split's game ``i`` has seed ``base + i``.
SPLIT_SEED_BASE = {"train": 0, "test": 1_000_000}

_DEFAULTS: dict[str, dict[str, Any]] = {
    "custom": {"world_size": 2, "nb_objects": 3, "quest_length": 4, "quest_breadth": None},
    "simple": {"rewards": "dense", "goal": "detailed"},
    "coin_collector": {"level": 1},
    "treasure_hunter": {"level": 1},
    "cooking": {"recipe": 1, "take": 0, "go": 1, "open": False, "cook": False, "cut": False, "drop": False,
                "recipe_seed": 0},
}
CHALLENGES = tuple(_DEFAULTS)


class GameSpecError(SparseGymError, ValueError):
    """A TextWorld game spec with an unknown challenge or a setting out of range."""


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        rng = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise GameSpecError(f"TextWorld setting {name!r} must be {rng}, got {value!r}")
    return value


def _check_choice(name: str, value: Any, choices: tuple) -> Any:
    if value not in choices:
        raise GameSpecError(f"TextWorld setting {name!r} must be one of {list(choices)}, got {value!r}")
    return value


@dataclass(frozen=True)
class GameSpec:
    """A challenge and its settings: everything but the seed that decides a game."""

    challenge: str
    settings: tuple[tuple[str, Any], ...]

    @classmethod
    def make(cls, challenge: str, **settings: Any) -> GameSpec:
        """Validate ``settings`` against ``challenge`` and fill in its defaults."""
        if challenge not in _DEFAULTS:
            raise GameSpecError(f"unknown TextWorld challenge {challenge!r}; use one of {list(CHALLENGES)}")
        unknown = sorted(set(settings) - set(_DEFAULTS[challenge]))
        if unknown:
            raise GameSpecError(
                f"TextWorld challenge {challenge!r} has no setting(s) {unknown}; "
                f"its settings are {sorted(_DEFAULTS[challenge])}"
            )
        s = {**_DEFAULTS[challenge], **settings}
        if challenge == "custom":
            _check_int("world_size", s["world_size"], 1, 50)
            _check_int("nb_objects", s["nb_objects"], 0, 200)
            _check_int("quest_length", s["quest_length"], 1, 50)
            if s["quest_breadth"] is not None:
                _check_int("quest_breadth", s["quest_breadth"], 1, 10)
        elif challenge == "simple":
            _check_choice("rewards", s["rewards"], ("dense", "balanced", "sparse"))
            _check_choice("goal", s["goal"], ("detailed", "brief", "none"))
        elif challenge == "coin_collector":
            _check_int("level", s["level"], 1, 300)
        elif challenge == "treasure_hunter":
            _check_int("level", s["level"], 1, 30)
        elif challenge == "cooking":
            _check_int("recipe", s["recipe"], 1, 5)
            _check_int("take", s["take"], 0, s["recipe"])
            _check_choice("go", s["go"], (1, 6, 9, 12))
            for flag in ("open", "cook", "cut", "drop"):
                _check_choice(flag, s[flag], (False, True))
            _check_int("recipe_seed", s["recipe_seed"], 0)
        return cls(challenge, tuple(sorted(s.items())))

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.settings)

    @property
    def key(self) -> str:
        """A readable, filesystem-safe name unique to this spec."""
        parts = [self.challenge] + [f"{k}={v}" for k, v in self.settings if v is not None]
        readable = "-".join(p.replace("_", "") for p in parts)
        digest = hashlib.sha1(json.dumps(self.settings, default=str).encode()).hexdigest()[:8]
        return f"{readable}-{digest}"


def split_seed(split: str, index: int) -> int:
    """The game seed of game ``index`` of ``split``."""
    if split not in SPLIT_SEED_BASE:
        raise GameSpecError(f"unknown split {split!r}; use one of {list(SPLIT_SEED_BASE)}")
    return SPLIT_SEED_BASE[split] + int(index)


def _find_game(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    for ext in (".z8", ".ulx"):
        found = sorted(folder.glob(f"*{ext}"))
        if found and (folder / "spec.json").is_file():
            return found[0]
    return None


#: Attempts at a game seed before giving up: some challenge settings cannot build a quest on every map
#: (TextWorld raises QuestGenerationError); attempt ``k`` uses a seed derived from ``(seed, k)``.
GENERATION_ATTEMPTS = 20


def _attempt_seed(seed: int, attempt: int) -> int:
    if attempt == 0:
        return int(seed)
    digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _generate(spec: GameSpec, split: str, seed: int, out_dir: Path) -> Path:
    textworld = require("textworld", "text", "TextWorld games")
    from textworld.generator.chaining import QuestGenerationError

    last: Exception | None = None
    for attempt in range(GENERATION_ATTEMPTS):
        try:
            with quiet_textworld():
                return _generate_once(spec, split, seed, _attempt_seed(seed, attempt), out_dir, textworld)
        except QuestGenerationError as exc:
            last = exc
    raise GameSpecError(
        f"TextWorld could not build a quest for {spec.key} (split {split}, seed {seed}) in "
        f"{GENERATION_ATTEMPTS} attempts ({last}); relax the settings (a shorter quest or more rooms)."
    )


@contextlib.contextmanager
def quiet_textworld() -> Iterator[None]:
    """Silence the warnings TextWorld's Z-machine backend (jericho) prints for every generated game:
    jericho only knows its own catalogue of classic games and warns about any other, although
    TextWorld tracks score and admissible commands itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is not fully supported.*")
        warnings.filterwarnings("ignore", message=r".*Unable to find valid actions.*")
        yield


def _generate_once(spec: GameSpec, split: str, seed: int, gen_seed: int, out_dir: Path, textworld: Any) -> Path:
    from textworld.challenges import CHALLENGES as TW_CHALLENGES
    from textworld.generator import compile_game, make_game

    opts = textworld.GameOptions()
    opts.seeds = int(gen_seed)
    opts.path = str(out_dir) + os.sep
    opts.file_ext = ".z8"
    opts.force_recompile = True
    s = spec.options
    if spec.challenge == "custom":
        opts.nb_rooms = s["world_size"]
        opts.nb_objects = s["nb_objects"]
        # As tw-make custom's --quest-length: exactly that many actions, breadth 1-5 unless given.
        opts.chaining.min_length = opts.chaining.max_length = s["quest_length"]
        opts.chaining.max_depth = s["quest_length"]
        opts.chaining.min_breadth, opts.chaining.max_breadth = (
            (s["quest_breadth"], s["quest_breadth"]) if s["quest_breadth"] else (1, 5)
        )
        game = make_game(opts)
    else:
        settings = dict(s)
        if spec.challenge == "simple":
            settings["test"] = split == "test"
        elif spec.challenge == "cooking":
            settings["split"] = "test" if split == "test" else "train"
        maker = TW_CHALLENGES[f"tw-{spec.challenge}"][1]
        game = maker(settings=settings, options=opts)
    path = Path(compile_game(game, opts))
    meta = {
        "challenge": spec.challenge,
        "settings": spec.options,
        "split": split,
        "seed": int(seed),
        "generator_seed": int(gen_seed),
        "textworld": textworld.__version__,
        "walkthrough": list(game.metadata.get("walkthrough") or game.walkthrough or []),
        "max_score": game.max_score,
        "objective": game.objective,
    }
    (out_dir / "spec.json").write_text(json.dumps(meta, indent=1, default=str))
    return path


def game_file(spec: GameSpec, split: str, seed: int, root: str | Path | None = None) -> Path:
    """The compiled game of ``(spec, split, seed)``; made and cached on first use."""
    if split not in SPLIT_SEED_BASE:
        raise GameSpecError(f"unknown split {split!r}; use one of {list(SPLIT_SEED_BASE)}")
    textworld = require("textworld", "text", "TextWorld games")
    base = Path(root) if root is not None else cache_dir("textworld", f"tw{textworld.__version__}")
    folder = base / spec.key / split / str(int(seed))
    found = _find_game(folder)
    if found is not None:
        return found
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{seed}-", dir=folder.parent))
    try:
        _generate(spec, split, seed, tmp)
        try:
            os.rename(tmp, folder)
        except OSError:  # another process made it first (or a broken leftover): use theirs if whole
            if _find_game(folder) is None:
                shutil.rmtree(folder, ignore_errors=True)
                os.rename(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    found = _find_game(folder)
    if found is None:  # pragma: no cover - generation wrote no game file
        raise RuntimeError(f"TextWorld wrote no game file into {folder}")
    return found


def game_metadata(path: str | Path) -> Mapping[str, Any]:
    """What :func:`game_file` recorded next to a game (walkthrough, max score, objective, ...)."""
    return json.loads((Path(path).parent / "spec.json").read_text())
