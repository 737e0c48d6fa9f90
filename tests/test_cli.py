"""The `sparsegym` command: list, check and play, as a user runs them."""

import io
import subprocess
import sys
from types import SimpleNamespace

import pytest

from sparsegym import cli
from sparsegym.envs import registry

pytest.importorskip("minigrid")


def test_list_prints_a_table_filtered_by_tag(capsys):
    assert cli.main(["list", "--tag", "minigrid-easy"]) == 0
    out = capsys.readouterr().out
    assert "sparsegym/MiniGrid-DoorKey-5x5-v0" in out
    assert "sparsegym/MiniGrid-DoorKey-16x16-v0" not in out
    header = out.splitlines()[0].split()
    assert header[:4] == ["id", "family", "tags", "extra"]


def test_list_and_check_accept_the_deprecated_suite_option(capsys):
    with pytest.warns(DeprecationWarning, match="use --tag smoke"):
        assert cli.main(["list", "--suite", "smoke"]) == 0
    assert "5 environments" in capsys.readouterr().out
    with pytest.warns(DeprecationWarning, match="use --tag smoke"):
        assert cli._select(cli.build_parser().parse_args(["check", "--suite", "smoke"])) == registry.list_envs(tag="smoke")
    assert cli._select(cli.build_parser().parse_args(["check", "--tag", "box-obs", "--family", "nethack"])) == [
        e.id for e in registry.entries(family="nethack", tag="box-obs")]


def test_list_box_variants(capsys):
    assert cli.main(["list", "--tag", "box-obs", "--family", "minigrid"]) == 0
    out = capsys.readouterr().out
    assert "sparsegym/MiniGrid-DoorKey-5x5-Image-v0" in out and "sparsegym/MiniGrid-DoorKey-5x5-v0 " not in out


def test_check_passes_and_prints_a_row_per_id(capsys):
    ids = ["sparsegym/MiniGrid-DoorKey-5x5-v0", "sparsegym/MiniGrid-FourRooms-NoisyTV-v0"]
    assert cli.main(["check", *ids]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("sparsegym/")]
    assert len(rows) == 2 and all(" pass " in r for r in rows)
    assert "2/2 environments passed" in out


def test_check_fails_with_nonzero_exit_on_a_bad_id(capsys):
    assert cli.main(["check", "sparsegym/MiniGrid-DoorKey-9x9-v0"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "Did you mean" in out


def test_check_needs_a_selection():
    with pytest.raises(SystemExit, match="name env ids"):
        cli.main(["check"])


def test_console_script_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "sparsegym.cli", "list", "--family", "minigrid"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "environments" in out.stdout


def test_play_solves_doorkey_from_typed_input(capsys):
    keys = "d\np\nw\nw\nturn right\nfly\nt\nw\nw\nd\nw\nw\nq\n"
    args = SimpleNamespace(id="sparsegym/MiniGrid-DoorKey-5x5-v0", seed=0, view=None)
    assert cli.cmd_play(args, stdin=io.StringIO(keys)) == 0
    out = capsys.readouterr().out
    assert "unknown action 'fly'" in out
    assert "Episode over after 11 steps: SUCCESS, return 0.960" in out


def test_play_ends_cleanly_at_end_of_input(capsys):
    args = SimpleNamespace(id="sparsegym/MiniGrid-Unlock-v0", seed=0, view="full")
    assert cli.cmd_play(args, stdin=io.StringIO("a\n")) == 0
    assert "Mission: open the door" in capsys.readouterr().out


def test_play_on_a_box_variant_plays_its_base(capsys):
    args = SimpleNamespace(id="sparsegym/MiniGrid-Unlock-Image-v0", seed=0, view=None)
    assert cli.cmd_play(args, stdin=io.StringIO("a\n")) == 0
    out = capsys.readouterr().out
    assert "playing sparsegym/MiniGrid-Unlock-v0" in out and "Mission: open the door" in out
