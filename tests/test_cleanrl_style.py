"""A CleanRL-style script that is told only an env id (examples/cleanrl_style_ppo.py), run as a user runs
it: on a Box-observation variant it trains; on the plain Dict id it fails as CleanRL's ppo.py does,
which is why the variants are registered."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("minigrid")
pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "cleanrl_style_ppo.py"


def _run(env_id: str, steps: int = 512) -> subprocess.CompletedProcess:
    # PYTHONPATH: "sparsegym:<id>" must import this checkout's sparsegym, whatever is installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, str(SCRIPT), "--env-id", env_id, "--total-timesteps", str(steps), "--num-envs", "2", "--seed", "1"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_script_trains_on_the_image_variant_given_only_its_id():
    out = _run("sparsegym:sparsegym/MiniGrid-DoorKey-5x5-Image-v0")
    assert out.returncode == 0, out.stderr
    updates = re.findall(r"^update (\d+)/2 global_step=(\d+) .* value_loss=([\d.]+)", out.stdout, re.M)
    assert [(u, int(s)) for u, s, _ in updates] == [("1", 256), ("2", 512)]
    done = re.search(r"^done: global_step=(\d+) episodes=(\d+) mean_return=([\d.]+) success_rate=([\d.]+)$",
                     out.stdout, re.M)
    assert done, out.stdout
    # DoorKey-5x5 truncates at 250 steps, so each of the 2 envs finishes an episode within 256 steps.
    assert int(done[1]) == 512 and int(done[2]) >= 2
    assert 0.0 <= float(done[3]) <= 1.0 and 0.0 <= float(done[4]) <= 1.0


def test_script_fails_on_the_dict_id_the_way_cleanrl_does():
    # The plain id observes a Dict (image and direction): its shape is None, so sizing the network
    # from envs.single_observation_space.shape fails before any step.
    out = _run("sparsegym:sparsegym/MiniGrid-DoorKey-5x5-v0")
    assert out.returncode != 0
    assert "TypeError" in out.stderr and "NoneType" in out.stderr
    assert "agent = Agent(envs" in out.stderr  # it fails while building the network
    assert "update 1" not in out.stdout
