"""TextWorld as a Gymnasium text env (the contract in :mod:`sparsegym.envs.text_env`).

Each ``reset`` picks a game of the env's challenge and split from the env's RNG (so the reset seed
decides the game), makes it on first use (:mod:`.games`) and plays it in TextWorld's engine.

* **Observation**: the game's own text after each command. On reset, TextWorld's ASCII-art banner is
  dropped (``banner=True`` keeps it); the objective and the first room follow as the game prints them.
* **Actions**: one command per step (``go north``, ``take key from chest``). A trailing ``.`` or ``!``
  is ignored; a command holding several sentences (``take key. go north``), which the game's parser
  would run as several turns, is refused with ``info["action_error"]``, so a step is one turn.
* **Reward**: ``reward="dense"`` (default) pays the game's score increments as the game awards them
  (TextWorld's intermediate rewards; tw-simple with ``rewards="dense"`` awards many). ``"sparse"``
  pays the final score once, on the step the game is won, and nothing otherwise. On a won game both
  modes sum to the same final score.
* **End**: ``terminated`` when the game is won or lost; ``info["success"]`` is ``won``. Step limits are
  the registry's (a Gymnasium ``TimeLimit``), giving truncation.
* **Info**: ``admissible_actions`` (TextWorld's admissible commands, sorted), ``score``,
  ``max_score``, ``won``, ``lost``, ``moves``, ``game`` (the game file) and, when requested with
  ``extra_infos=("description", "inventory")``, the room description and inventory (each costs the
  engine a hidden command per step).
* The walkthrough of the current game is ``env.unwrapped.walkthrough`` (for oracles and tests; it is
  kept out of ``info`` so a leaderboard agent cannot read the answer).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sparsegym._deps import require
from sparsegym.envs.text_env import TextEnv
from sparsegym.envs.textworld.games import GameSpec, game_file, game_metadata, quiet_textworld, split_seed
from sparsegym.errors import ConfigError

#: Games per split an env draws from (game ``i`` has seed ``split base + i``); generated lazily.
DEFAULT_POOL = 10_000
_BANNER_CHARS = frozenset("_|\\/$<> \t")
_EXTRA_INFOS = ("description", "inventory")


def strip_banner(text: str) -> str:
    """Drop TextWorld's ASCII-art title lines from an intro text.

    >>> strip_banner("  ___\\n |$$|\\n\\nWelcome home.")
    'Welcome home.'
    """
    lines = text.split("\n")
    i = 0
    while i < len(lines) and all(c in _BANNER_CHARS for c in lines[i]):
        i += 1
    return "\n".join(lines[i:]).strip("\n")


def clean_command(command: str) -> tuple[str, str | None]:
    """The command as the game should get it, and an error message when it must be refused.

    >>> clean_command("open the chest.")
    ('open the chest', None)
    >>> clean_command("take key. go north")[1] is not None
    True
    >>> clean_command("take\\x08 \\x14key")
    ('take key', None)
    """
    # Backslashes are escape codes for the Z-machine interpreter's own console (``\\q`` and friends),
    # never part of a game command. Control characters (backspace and the like, which a language model can
    # emit) crash the interpreter's line editor (a segmentation fault in frotz's os_read_line): they become
    # spaces. A newline stays, to be refused below as a second command.
    cmd = re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", " ", command.replace("\\", " "))
    cmd = re.sub(r"[ ]{2,}", " ", cmd).strip().rstrip(".!").strip()
    if not cmd:
        return cmd, "Empty command: type one command, e.g. 'look', 'go north' or 'take key'."
    if re.search(r"[.;!?\n]", cmd):
        return cmd, (
            f"One command per step: {command!r} holds several sentences. "
            "Send them one at a time; info['admissible_actions'] lists the commands available now."
        )
    return cmd, None


class TextWorldEnv(TextEnv):
    """A TextWorld challenge as a Gymnasium env.

    Args:
        challenge: ``custom``, ``simple``, ``coin_collector``, ``treasure_hunter`` or ``cooking``.
        settings: the challenge's settings (see :class:`~sparsegym.envs.textworld.games.GameSpec`).
        split: ``train`` or ``test`` (disjoint game seeds; held-out object sets where TextWorld has them).
        pool: number of games in the split the env draws from.
        reward: ``dense`` (score increments) or ``sparse`` (final score on a win).
        banner: keep TextWorld's ASCII-art title in the first observation.
        extra_infos: any of ``description``, ``inventory`` to add to ``info``.
        game_seed: play this one game seed on every reset (ignores ``split``/``pool``).
        cache_dir: where games are kept (default: the sparsegym cache).

    Example:
        >>> import gymnasium as gym, sparsegym
        >>> env = gym.make("sparsegym/TextWorld-W2-O3-Q4-v0")   # doctest: +SKIP
        >>> obs, info = env.reset(seed=0)                        # doctest: +SKIP
        >>> obs, reward, terminated, truncated, info = env.step(info["admissible_actions"][0])  # doctest: +SKIP
    """

    rules = (
        "You are playing a text adventure. The first observation states your objective. Commands are short "
        "imperative phrases (go north, take the key, open the door, put the apple on the table); your score "
        "rises as you make progress, and the game ends when the objective is met.")

    def __init__(
        self,
        challenge: str = "custom",
        settings: dict[str, Any] | None = None,
        split: str = "train",
        pool: int = DEFAULT_POOL,
        reward: str = "dense",
        banner: bool = False,
        extra_infos: tuple[str, ...] = (),
        game_seed: int | None = None,
        cache_dir: str | Path | None = None,
        render_mode: str | None = None,
        max_observation_length: int = 8192,
        strict_actions: bool = False,
    ):
        super().__init__(render_mode=render_mode, max_observation_length=max_observation_length,
                         max_action_length=256, strict_actions=strict_actions)
        self._tw = require("textworld", "text", "the TextWorld envs")
        self.spec_ = GameSpec.make(challenge, **(settings or {}))
        split_seed(split, 0)  # validates the split
        if reward not in ("dense", "sparse"):
            raise ConfigError(f"reward must be 'dense' or 'sparse', got {reward!r}")
        if int(pool) < 1:
            raise ConfigError(f"pool must be >= 1, got {pool!r}")
        bad = sorted(set(extra_infos) - set(_EXTRA_INFOS))
        if bad:
            raise ConfigError(f"unknown extra_infos {bad}; choose from {list(_EXTRA_INFOS)}")
        self.split, self.pool, self.reward_mode, self.banner = split, int(pool), reward, banner
        self.extra_infos = tuple(extra_infos)
        self.game_seed = game_seed
        self.cache_dir = cache_dir
        self._requested = self._tw.EnvInfos(
            admissible_commands=True, score=True, max_score=True, won=True, lost=True, moves=True,
            description="description" in self.extra_infos, inventory="inventory" in self.extra_infos,
        )
        self._engine: Any = None
        self._loaded: Path | None = None
        self.game_path: Path | None = None
        self.walkthrough: list[str] = []
        self._score = 0
        self._over = False

    # -- episodes --------------------------------------------------------------------------------
    def _pick_game(self, options: dict[str, Any] | None) -> int:
        if options and "game_seed" in options:
            return int(options["game_seed"])
        if self.game_seed is not None:
            return int(self.game_seed)
        return split_seed(self.split, int(self.np_random.integers(self.pool)))

    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        seed = self._pick_game(options)
        path = game_file(self.spec_, self.split, seed, root=self.cache_dir)
        with quiet_textworld():
            if self._engine is None:
                self._engine = self._tw.start(str(path), request_infos=self._requested)
            elif path != self._loaded:
                self._engine.load(str(path))
            state = self._engine.reset()
        self._loaded = self.game_path = path
        meta = game_metadata(path)
        self.walkthrough = list(meta.get("walkthrough", []))
        self._score = int(state["score"] or 0)
        self._over = False
        text = state.feedback if self.banner else strip_banner(state.feedback)
        return text, self._info(state)

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._engine is None:
            raise RuntimeError("call reset() before step()")
        command, error = clean_command(action)
        if error is not None or self._over:
            if self._over:
                error = "The game is over; call reset() to play again."
            info = self._info(self._last_state)
            info["action_error"] = error
            return error, 0.0, self._over, False, info
        with quiet_textworld():
            state, score, done = self._engine.step(command)
        score = int(score or 0)
        won, lost = bool(state["won"]), bool(state["lost"])
        if self.reward_mode == "dense":
            reward = float(score - self._score)
        else:
            reward = float(score) if won else 0.0
        self._score = score
        self._over = bool(done or won or lost)
        return state.feedback.strip("\n"), reward, self._over, False, self._info(state)

    def _info(self, state: Any) -> dict[str, Any]:
        self._last_state = state
        info: dict[str, Any] = {
            "admissible_actions": sorted(state["admissible_commands"] or []),
            "score": int(state["score"] or 0),
            "max_score": int(state["max_score"] or 0),
            "won": bool(state["won"]),
            "lost": bool(state["lost"]),
            "moves": int(state["moves"] or 0),
            "game": str(self.game_path),
            "success": bool(state["won"]),
        }
        for key in self.extra_infos:
            info[key] = str(state[key] or "").strip()
        return info

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self._loaded = None
        super().close()


def make_textworld(**kwargs: Any) -> TextWorldEnv:
    """Factory registered for every ``sparsegym/TextWorld-*`` id (kwargs: :class:`TextWorldEnv`)."""
    return TextWorldEnv(**kwargs)
