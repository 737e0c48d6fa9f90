"""The package face: light import, the registry table, lookups, and the errors users see."""

import subprocess
import sys
import textwrap

import gymnasium
import pytest

import sparsegym
from sparsegym.envs import registry
from sparsegym.errors import MissingDependencyError, UnknownEnvError


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)


def test_import_is_light_and_registers_every_id():
    out = _run(
        """
        import sys, gymnasium, sparsegym
        heavy = [m for m in ("minigrid", "torch", "nle", "minihack", "textworld", "alfworld",
                             "stable_baselines3", "pygame", "ray", "docker") if m in sys.modules]
        print(heavy)
        print(all(i in gymnasium.registry for i in sparsegym.list_envs()))
        """
    )
    assert out.returncode == 0, out.stderr
    heavy, registered = out.stdout.split()
    assert heavy == "[]"
    assert registered == "True"


def test_the_command_line_parser_is_light_too():
    # every `sparsegym` command builds the whole parser; `train`'s choices list the text-RL algorithms by name
    out = _run(
        """
        import sys
        from sparsegym.cli import build_parser
        parser = build_parser()
        text = parser.format_help() + parser._subparsers._group_actions[0].choices["train"].format_help()
        print([m for m in ("torch", "minigrid", "openai") if m in sys.modules], "gigpo" in text, "ppo-text" in text)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "True", "True"]


def test_ids_follow_the_naming_contract():
    for entry in registry.ENTRIES:
        ns, name = entry.id.split("/", 1)
        assert ns == "sparsegym"
        assert name.rsplit("-", 1)[1].startswith("v"), entry.id
        assert entry.extra in {"core", "minigrid", "nethack", "text", "webshop", "swe", "llm", "sb3", "ray"}


def test_issue_suite_is_registered():
    wanted = [
        "MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-8x8-v0", "MiniGrid-DoorKey-16x16-v0", "MiniGrid-Unlock-v0",
        "MiniGrid-UnlockPickup-v0", "MiniGrid-BlockedUnlockPickup-v0", "MiniGrid-KeyCorridorS3R3-v0",
        "MiniGrid-KeyCorridorS4R3-v0", "MiniGrid-KeyCorridorS5R3-v0", "MiniGrid-KeyCorridorS6R3-v0",
        "MiniGrid-MultiRoom-N2-S4-v0", "MiniGrid-MultiRoom-N4-S5-v0", "MiniGrid-MultiRoom-N6-v0",
        "MiniGrid-FourRooms-v0", "MiniGrid-LockedRoom-v0", "MiniGrid-ObstructedMaze-1Dlh-v0",
        "MiniGrid-ObstructedMaze-2Dlh-v0", "MiniGrid-ObstructedMaze-Full-v0", "MiniGrid-MemoryS13-v0",
    ]
    ids = set(sparsegym.list_envs(family="minigrid"))
    assert {f"sparsegym/{w}" for w in wanted} <= ids
    assert len(sparsegym.list_envs(tag="babyai")) >= 3
    assert sparsegym.list_envs(tag="noisy-tv") and sparsegym.list_envs(tag="sticky")


def test_list_envs_filters():
    easy = sparsegym.list_envs(tag="minigrid-easy")
    assert "sparsegym/MiniGrid-DoorKey-5x5-v0" in easy
    assert "sparsegym/MiniGrid-DoorKey-16x16-v0" not in easy
    assert set(easy) <= set(sparsegym.list_envs(family="minigrid"))
    assert sparsegym.list_envs() == [e.id for e in registry.ENTRIES]


def test_unknown_family_or_tag_names_the_known_ones():
    with pytest.raises(ValueError, match="known families: .*minigrid"):
        sparsegym.list_envs(family="minigird")
    with pytest.raises(ValueError, match="unknown tag 'nope'; known tags: .*minigrid-easy"):
        sparsegym.list_envs(tag="nope")
    with pytest.raises(ValueError, match="unknown tag 'nope'; known tags: .*box-obs"):
        registry.TagQuery(all_of="minigrid", none_of="nope").ids()


def test_old_suite_spellings_still_work_and_warn():
    entry = registry.get_entry("sparsegym/MiniGrid-DoorKey-5x5-v0")
    with pytest.warns(DeprecationWarning, match="use EnvEntry.tags"):
        assert entry.suites == entry.tags
    with pytest.warns(DeprecationWarning, match=r"use list_envs\(tag=...\)"):
        assert sparsegym.list_envs(suite="minigrid-easy") == sparsegym.list_envs(tag="minigrid-easy")
    with pytest.warns(DeprecationWarning, match=r"use entries\(tag=...\)"):
        assert registry.entries(suite="babyai") == registry.entries(tag="babyai")
    with pytest.warns(DeprecationWarning, match=r"use tags\(\)"):
        assert registry.suites() == registry.tags()
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="known tags"):
        sparsegym.list_envs(suite="nope")


def test_tag_query_selects_in_table_order():
    q = registry.TagQuery(all_of="minigrid", any_of=("babyai", "smoke"), none_of=("minigrid-hard", "noisy-tv"))
    ids = q.ids()
    assert ids == [e.id for e in registry.ENTRIES
                   if "minigrid" in e.tags and ({"babyai", "smoke"} & set(e.tags))
                   and not ({"minigrid-hard", "noisy-tv"} & set(e.tags))]
    assert "sparsegym/MiniGrid-DoorKey-5x5-v0" in ids and "sparsegym/BabyAI-PutNextLocal-v0" in ids
    assert "sparsegym/BabyAI-KeyInBox-v0" not in ids
    assert str(q) == "minigrid & (babyai | smoke) & !minigrid-hard & !noisy-tv"
    assert registry.TagQuery(all_of="swe").ids(family="swe") == ["sparsegym/SWE-Mutation-v0"]
    with pytest.raises(ValueError, match="needs a tag"):
        registry.TagQuery(none_of="box-obs")


def test_box_variants_follow_one_rule_and_cover_every_grid_id():
    variants = registry.entries(tag="box-obs")
    bases = [e for e in registry.ENTRIES if e.family in registry.BOX_OBS_KEYS and e.base_id is None]
    assert [v.base_id for v in variants] == [b.id for b in bases]
    assert {e.family for e in bases} == {"minigrid", "nethack"}
    for v in variants:
        base = registry.get_entry(v.base_id)
        key = registry.BOX_OBS_KEYS[base.family]
        stem, version = base.id.rsplit("-", 1)
        assert v.id == f"{stem}-{key.capitalize()}-{version}"
        assert dict(v.kwargs) == {**base.kwargs, "obs": key}
        assert v.tags == ("box-obs",)  # not its base's: every other tag selects what it did before
        assert registry.box_variant(base.id) == registry.box_variant(v.id) == v.id
        assert (v.family, v.entry_point, v.max_episode_steps, v.limit_in_env, v.extra) == (
            base.family, base.entry_point, base.max_episode_steps, base.limit_in_env, base.extra)
    assert registry.get_entry("sparsegym/MiniGrid-DoorKey-5x5-Image-v0").base_id == "sparsegym/MiniGrid-DoorKey-5x5-v0"
    assert registry.get_entry("sparsegym/MiniHack-Room-5x5-Glyphs-v0").kwargs["obs"] == "glyphs"
    with pytest.raises(ValueError, match="has no Box-observation variant"):
        registry.box_variant("sparsegym/WebShop-v1")


def test_tags_that_existed_before_the_variants_select_the_same_ids():
    # Sizes of every tag before Box variants and the new tags (smoke, alias, alfworld-mixed, webshop-*);
    # the MiniHack tags grew by the E3B paper's tasks (and minihack-e3b became exactly its buildable list).
    before = {"minigrid": 36, "minigrid-easy": 8, "minigrid-hard": 15, "babyai": 7, "noisy-tv": 4, "sticky": 4,
              "bandits": 9, "nethack": 43, "nle": 7, "minihack-navigation": 22, "minihack-skills": 14,
              "minihack-e3b": 14, "textworld": 12, "textworld-train": 6, "textworld-test": 6, "alfworld": 14,
              "alfworld-unseen": 7, "webshop": 3, "webshop-real": 2, "swe": 1, "swe-docker": 1}
    assert {t: len(registry.list_envs(tag=t)) for t in before} == before
    assert all(registry.get_entry(i).base_id is None for t in before for i in registry.list_envs(tag=t))


def test_unknown_id_suggests_nearest():
    with pytest.raises(UnknownEnvError) as info:
        sparsegym.make("sparsegym/MiniGrid-DoorKey-9x9-v0")
    assert "sparsegym/MiniGrid-DoorKey-8x8-v0" in info.value.suggestions
    assert "sparsegym list" in str(info.value)
    # The error is also Gymnasium's own NameNotFound, so generic handlers catch it.
    assert isinstance(info.value, gymnasium.error.NameNotFound)


def test_missing_namespace_or_wrong_case_is_suggested_first():
    assert registry.suggest("MiniGrid-FourRooms-v0")[0] == "sparsegym/MiniGrid-FourRooms-v0"
    assert registry.suggest("sparsegym/minigrid-fourrooms-v0")[0] == "sparsegym/MiniGrid-FourRooms-v0"
    with pytest.raises(UnknownEnvError, match="Did you mean: 'sparsegym/MiniGrid-FourRooms-v0'"):
        registry.get_entry("MiniGrid-FourRooms-v0")


def test_far_off_id_says_nothing_is_close():
    with pytest.raises(UnknownEnvError, match="No registered id is close"):
        sparsegym.make("sparsegym/Zzzzzzzzzzzzzz-v9")


def test_non_sparsegym_ids_pass_through_to_gymnasium():
    env = sparsegym.make("CartPole-v1")
    assert env.spec.id == "CartPole-v1"


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    from sparsegym._deps import require

    monkeypatch.setitem(sys.modules, "minigrid", None)  # makes `import minigrid` fail
    with pytest.raises(MissingDependencyError, match=r'pip install "sparsegym\[minigrid\]"') as info:
        require("minigrid", "minigrid", "The MiniGrid family")
    assert info.value.extra == "minigrid"
    assert isinstance(info.value, ImportError)


def test_make_without_the_extra_fails_with_the_install_command():
    out = _run(
        """
        import sys
        sys.modules["minigrid"] = None
        import sparsegym
        try:
            sparsegym.make("sparsegym/MiniGrid-DoorKey-5x5-v0")
        except sparsegym.MissingDependencyError as exc:
            print(exc)
        """
    )
    assert out.returncode == 0, out.stderr
    assert 'The MiniGrid family needs' in out.stdout
    assert 'pip install "sparsegym[minigrid]"' in out.stdout


def test_broken_import_inside_a_dependency_is_not_masked(monkeypatch, tmp_path):
    from sparsegym._deps import require

    (tmp_path / "fakepkg_sg").mkdir()
    (tmp_path / "fakepkg_sg" / "__init__.py").write_text("import does_not_exist_anywhere_sg\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="does_not_exist_anywhere_sg"):
        require("fakepkg_sg", "minigrid")
