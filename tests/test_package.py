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
    assert len(sparsegym.list_envs(suite="babyai")) >= 3
    assert sparsegym.list_envs(suite="noisy-tv") and sparsegym.list_envs(suite="sticky")


def test_list_envs_filters():
    easy = sparsegym.list_envs(suite="minigrid-easy")
    assert "sparsegym/MiniGrid-DoorKey-5x5-v0" in easy
    assert "sparsegym/MiniGrid-DoorKey-16x16-v0" not in easy
    assert set(easy) <= set(sparsegym.list_envs(family="minigrid"))
    assert sparsegym.list_envs() == [e.id for e in registry.ENTRIES]


def test_unknown_family_or_suite_names_the_known_ones():
    with pytest.raises(ValueError, match="known families: .*minigrid"):
        sparsegym.list_envs(family="minigird")
    with pytest.raises(ValueError, match="known suites: .*minigrid-easy"):
        sparsegym.list_envs(suite="nope")


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
