"""ALFWorld's text engine as a sparsegym text env.

:class:`ALFWorldEnv` plays ALFWorld games (``traj_data.json`` + ``game.tw-pddl`` folders) in ALFWorld's
own text engine: TextWorld's ``PddlEnv`` with ALFWorld's ``AlfredDemangler`` and ``AlfredInfos``
wrappers, the stack ``AlfredTWEnv`` builds. What the agent sees is ALFWorld's text, unchanged:

* reset: the intro (``-= Welcome to TextWorld, ALFRED! =-``, the room, ``Your task is to: ...``);
* step: the engine's feedback (``You arrive at fridge 1. The fridge 1 is closed.``), and
  ``Nothing happens.`` for a command that is not admissible, as in ALFWorld. In that case
  ``info["action_error"]`` also says so and points at ``info["admissible_actions"]``;
* ``info["admissible_actions"]``: the engine's admissible commands (ALFWorld's list, sorted);
* reward 1.0 on the step that wins, 0 otherwise (sparse, ALFWorld's ``won``); ``terminated`` on a win;
  ``truncated`` after ``max_steps`` steps (50, ALFWorld's evaluation limit); ``info["success"]`` is
  ``won`` at the episode's end.

Commands are normalised by :mod:`sparsegym.envs.alfworld.actions`: ``put X in/on Y`` (alfworld 0.3
and the prompts published with it) is accepted as well as 0.4's ``move X to Y``.

Which games:

* generated (default): games from :mod:`sparsegym.envs.alfworld.generator`, made on first use and
  cached on disk. Each split has a fixed pool of game indices; the reset seed picks the task type (for
  the mixed env) and the index, so a seed names one game everywhere.
* the real dataset: when ``data_dir`` (or ``$ALFWORLD_DATA``) holds ALFWorld's ``json_2.1.1`` tree,
  the same env plays those games instead: ``train``, ``seen`` -> ``valid_seen``, ``unseen`` ->
  ``valid_unseen``, filtered as ``AlfredTWEnv`` does (task type, ``solvable``, no sliced or
  movable-receptacle games). ``data_dir="generated"`` forces generated games.

``info`` also carries ``task_type``, ``gamefile`` and ``task`` (the task sentence).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sparsegym.envs.alfworld import generator as gen
from sparsegym.envs.alfworld._paths import import_alfworld
from sparsegym.envs.alfworld._speedups import engine_memo
from sparsegym.envs.alfworld.actions import normalize
from sparsegym.envs.alfworld.generator import GameFileError
from sparsegym.envs.text_env import TextEnv
from sparsegym.errors import ConfigError

#: ALFWorld's folder name of each split in ``json_2.1.1``.
REAL_SPLIT_DIRS = {"train": "train", "seen": "valid_seen", "unseen": "valid_unseen"}
_SPLIT_ALIASES = {"valid_seen": "seen", "valid_unseen": "unseen", "eval_in_distribution": "seen",
                  "eval_out_of_distribution": "unseen", "test": "unseen"}


def _task_type(task: str | None) -> str | None:
    if task in (None, "mixed", "all"):
        return None
    if task in gen.TASK_SHORT:
        return gen.TASK_SHORT[task]
    if task in gen.TASK_TYPES:
        return task
    known = ", ".join(["mixed", *gen.TASK_SHORT, *gen.TASK_TYPES])
    raise ConfigError(f"unknown ALFWorld task {task!r}; use one of {known}")


def find_real_data(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The ``json_2.1.1`` folder under ``data_dir`` (or ``$ALFWORLD_DATA``), or None when absent."""
    candidates = [data_dir] if data_dir is not None else [os.environ.get("ALFWORLD_DATA")]
    for cand in candidates:
        if not cand:
            continue
        root = Path(cand).expanduser()
        for path in (root, root / "json_2.1.1"):
            if path.is_dir() and any((path / d).is_dir() for d in REAL_SPLIT_DIRS.values()):
                return path
    return None


def read_game(folder: str | os.PathLike) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(traj_data, game)`` of a game folder; :class:`GameFileError` naming the file if one is bad."""
    folder = Path(folder)
    out = []
    for name, required in (("traj_data.json", ("task_type", "pddl_params")),
                           ("game.tw-pddl", ("pddl_domain", "grammar", "pddl_problem"))):
        path = folder / name
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise GameFileError(f"ALFWorld game file {str(path)!r} is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GameFileError(f"ALFWorld game file {str(path)!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise GameFileError(f"ALFWorld game file {str(path)!r} must hold a JSON object, got {type(data).__name__}")
        missing = [k for k in required if k not in data]
        if missing:
            raise GameFileError(f"ALFWorld game file {str(path)!r} lacks the key(s) {', '.join(missing)}")
        out.append(data)
    return out[0], out[1]


@lru_cache(maxsize=32)
def real_games(json_dir: str, split: str, task_type: str | None) -> tuple[str, ...]:
    """Game folders of the real dataset, as ``AlfredTWEnv.collect_game_files`` selects them, sorted."""
    root = Path(json_dir) / REAL_SPLIT_DIRS[split]
    found = []
    for dirpath, _, files in os.walk(root):
        if "traj_data.json" not in files or "movable" in dirpath or "Sliced" in dirpath:
            continue
        if "game.tw-pddl" not in files:
            continue
        try:
            traj = json.loads((Path(dirpath) / "traj_data.json").read_text())
            game = json.loads((Path(dirpath) / "game.tw-pddl").read_text())
        except (OSError, json.JSONDecodeError):
            continue  # ALFWorld skips what it cannot read, too
        if traj.get("task_type") not in gen.TASK_TYPES or (task_type and traj["task_type"] != task_type):
            continue
        if not game.get("solvable"):
            continue
        found.append(dirpath)
    return tuple(sorted(found))


class ALFWorldEnv(TextEnv):
    """ALFWorld household tasks in ALFWorld's text engine (see the module docstring).

    Args:
        task: ``"mixed"`` (all six task types), a short name (``PickAndPlace``, ``LookAtInLight``,
            ``Clean``, ``Heat``, ``Cool``, ``PickTwo``) or ALFWorld's task-type name.
        split: ``train``, ``seen`` (held-in floor plans, other games) or ``unseen`` (held-out floor plans);
            ALFWorld's ``valid_seen``/``valid_unseen`` are accepted too.
        data_dir: a folder holding ALFWorld's ``json_2.1.1`` (or that folder itself); default
            ``$ALFWORLD_DATA`` when it holds one; ``"generated"`` always uses generated games.
        max_steps: steps before truncation (ALFWorld evaluates with 50).
        cache_dir: where generated games are kept (default ``<sparsegym cache>/alfworld/games``, see :mod:`sparsegym._cache`).
        num_games: use only the first ``num_games`` games of the pool (a small fixed set, e.g. for tests).

    Example:
        >>> import sparsegym
        >>> env = sparsegym.make("sparsegym/ALFWorld-PickAndPlace-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.startswith("-= Welcome to TextWorld, ALFRED! =-")
        True
        >>> "Your task is to: " in obs and "look" in info["admissible_actions"]
        True
    """

    rules = (
        "You are a household robot in a text world. The first observation describes the room and says "
        "\"Your task is to: ...\". Commands: go to a place, take an object from a place, put it in or on a "
        "place (move X to Y), open and close receptacles, heat, cool and clean objects with the appliances, "
        "use a lamp, look, inventory. The episode ends when the task is done.")

    def __init__(
        self,
        task: str | None = "mixed",
        split: str = "train",
        data_dir: str | os.PathLike | None = None,
        max_steps: int = 50,
        cache_dir: str | os.PathLike | None = None,
        num_games: int | None = None,
        render_mode: str | None = None,
        max_observation_length: int = 8192,
        strict_actions: bool = False,
    ):
        super().__init__(max_observation_length=max_observation_length, render_mode=render_mode,
                         strict_actions=strict_actions)
        split = _SPLIT_ALIASES.get(split, split)
        if split not in gen.SPLITS:
            raise ConfigError(f"unknown split {split!r}; use one of {', '.join(gen.SPLITS)}")
        if max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {max_steps}")
        self.task_type = _task_type(task)
        self.split = split
        self.max_steps = int(max_steps)
        self.cache_dir = cache_dir
        import_alfworld()
        self.real_data = None if data_dir == "generated" else find_real_data(data_dir)
        if data_dir not in (None, "generated") and self.real_data is None:
            raise FileNotFoundError(
                f"data_dir {str(data_dir)!r} holds no ALFWorld json_2.1.1 tree (train/, valid_seen/, valid_unseen/)")
        if self.real_data is not None:
            self._games = real_games(str(self.real_data), split, self.task_type)
            if not self._games:
                raise FileNotFoundError(f"no solvable ALFWorld games for {task!r} under "
                                        f"{self.real_data / REAL_SPLIT_DIRS[split]}")
            self.num_games = len(self._games) if num_games is None else min(int(num_games), len(self._games))
        else:
            self._games = ()
            self.num_games = gen.POOL_SIZES[split] if num_games is None else min(int(num_games), gen.POOL_SIZES[split])
        if self.num_games < 1:
            raise ConfigError("num_games must be >= 1")
        self._engine: Any = None
        self._loaded: str | None = None
        self._steps = 0
        self._done = True
        self._state: Any = None
        self._task = ""
        self.game_dir: Path | None = None
        self.traj_data: dict[str, Any] = {}
        self.walkthrough: list[str] | None = None

    # -- games -------------------------------------------------------------------------------------
    def _pick_game(self, options: dict[str, Any] | None) -> Path:
        if options and options.get("game_dir"):
            return Path(options["game_dir"])
        if self.real_data is not None:
            return Path(self._games[int(self.np_random.integers(self.num_games))])
        task_type = self.task_type or gen.TASK_TYPES[int(self.np_random.integers(len(gen.TASK_TYPES)))]
        index = int(self.np_random.integers(self.num_games))
        return gen.generate_game(task_type, self.split, index, cache_dir=self.cache_dir)

    def _load(self, folder: Path) -> None:
        traj, game = read_game(folder)
        game_file = str(folder / "game.tw-pddl")
        if self._engine is None:
            import textworld
            from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
            from textworld.envs import PddlEnv

            infos = textworld.EnvInfos(admissible_commands=True, won=True, extras=["gamefile"])
            self._engine = AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))
        if self._loaded != game_file:
            try:
                with engine_memo():
                    self._engine.load(game)  # the parsed JSON: PddlEnv would leave the file open
            except Exception as exc:
                self._loaded = None
                raise GameFileError(f"ALFWorld game file {game_file!r} could not be loaded by the text engine: "
                                    f"{type(exc).__name__}: {exc}") from exc
            self._loaded = game_file
        self.game_dir = folder
        self.traj_data = traj
        self.walkthrough = game.get("walkthrough")

    # -- TextEnv -----------------------------------------------------------------------------------
    def _reset(self, options: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
        self._load(self._pick_game(options))
        try:
            with engine_memo():
                self._state = self._engine.reset()
        except Exception as exc:
            raise GameFileError(f"ALFWorld game file {self._loaded!r} failed to start in the text engine: "
                                f"{type(exc).__name__}: {exc}") from exc
        self._steps = 0
        self._done = False
        intro = self._state.feedback
        self._task = intro.split("Your task is to: ", 1)[1].strip() if "Your task is to: " in intro else ""
        return intro, self._info(None)

    def _step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        command = normalize(action)
        admissible = self._state["admissible_commands"]
        error = None
        if command not in admissible:
            error = (f"{action!r} is not a command the game accepts here (the game answers 'Nothing happens.'). "
                     "Use one of info['admissible_actions'], e.g. 'look', 'go to <receptacle>', "
                     "'take <object> from <receptacle>', 'move <object> to <receptacle>' "
                     "(or the older 'put <object> in/on <receptacle>').")
        with engine_memo():
            self._state, _, _ = self._engine.step(command)
        self._steps += 1
        won = bool(self._state["won"])
        truncated = not won and self._steps >= self.max_steps
        self._done = won or truncated
        info = self._info(error)
        info["success"] = won
        return self._state.feedback, 1.0 if won else 0.0, won, truncated, info

    def _info(self, error: str | None) -> dict[str, Any]:
        info = {
            "admissible_actions": list(self._state["admissible_commands"]),
            "action_error": error,
            "won": bool(self._state["won"]),
            "task_type": self.traj_data.get("task_type"),
            "gamefile": self._loaded,
            "steps": self._steps,
            "task": self._task,
        }
        return info

    def expert_plan(self) -> list[str]:
        """Commands that win the current game from its start: the game's stored walkthrough, or else
        (real games without one) what ALFWorld's handcoded expert plays, computed once."""
        if self.walkthrough:
            return list(self.walkthrough)
        if self._loaded is None:
            raise RuntimeError("reset() the env before asking for its expert plan")
        plan = gen.expert_walkthrough(self._loaded, max_steps=self.max_steps)
        if plan is None:
            raise RuntimeError(f"ALFWorld's handcoded expert did not solve {self._loaded!r} within {self.max_steps} steps")
        self.walkthrough = plan
        return list(plan)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self._loaded = None
        super().close()


def make_alfworld(task: str | None = "mixed", split: str = "train", **kwargs: Any) -> ALFWorldEnv:
    """Build an :class:`ALFWorldEnv` (the registry's entry point)."""
    return ALFWorldEnv(task=task, split=split, **kwargs)
