"""TextWorld family, the parts that need no TextWorld: the registry rows, game specs, command cleaning."""

from __future__ import annotations

import sys

import pytest

import sparsegym
from sparsegym.envs.registry import get_entry
from sparsegym.envs.textworld.env import clean_command, strip_banner
from sparsegym.envs.textworld.games import GameSpec, GameSpecError, split_seed
from sparsegym.errors import MissingDependencyError

TW_IDS = sparsegym.list_envs(family="textworld")


# -- no TextWorld needed -------------------------------------------------------------------------------

def test_registered_ids_come_in_train_and_test_pairs():
    assert len(TW_IDS) == 12
    for env_id in TW_IDS:
        entry = get_entry(env_id)
        assert entry.extra == "text" and not entry.limit_in_env
        split = entry.kwargs["split"]
        assert ("-Test-" in env_id) == (split == "test")
        assert f"textworld-{split}" in entry.tags
    assert set(sparsegym.list_envs(tag="textworld-test")) == {i for i in TW_IDS if "-Test-" in i}


def test_game_spec_validation_names_the_setting():
    with pytest.raises(GameSpecError, match="unknown TextWorld challenge 'zork'"):
        GameSpec.make("zork")
    with pytest.raises(GameSpecError, match=r"'level' must be an integer in \[1, 30\], got 31"):
        GameSpec.make("treasure_hunter", level=31)
    with pytest.raises(GameSpecError, match="has no setting"):
        GameSpec.make("custom", rooms=3)
    with pytest.raises(GameSpecError, match="'go' must be one of"):
        GameSpec.make("cooking", go=5)
    with pytest.raises(GameSpecError, match="unknown split"):
        split_seed("valid", 0)


def test_spec_keys_are_stable_and_distinct():
    a = GameSpec.make("custom", world_size=2, nb_objects=3, quest_length=4)
    b = GameSpec.make("custom", quest_length=4, nb_objects=3, world_size=2)
    c = GameSpec.make("custom", world_size=4, nb_objects=6, quest_length=8)
    assert a == b and a.key == b.key and a.key != c.key
    assert a.key.startswith("custom-") and "/" not in a.key


def test_command_cleaning():
    assert clean_command("  open the chest. ") == ("open the chest", None)
    assert clean_command("go north!")[1] is None
    assert "One command per step" in clean_command("take key. go north")[1]
    assert "Empty command" in clean_command("  .")[1]
    assert clean_command("look\\q")[0] == "look q"  # interpreter escapes never reach the game


def test_banner_is_stripped():
    intro = "\n  ____  \n |$$$$|\n  \\$$/ \n\nWelcome!\n\n-= Kitchen =-"
    assert strip_banner(intro) == "Welcome!\n\n-= Kitchen =-"


def test_missing_textworld_names_the_extra(monkeypatch):
    from sparsegym.envs.textworld.env import TextWorldEnv

    monkeypatch.setitem(sys.modules, "textworld", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "sparsegym\[text\]"'):
        TextWorldEnv()
