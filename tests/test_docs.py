"""The docs stay in sync with the registry and the README with CI."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_table_page_is_up_to_date():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_env_table.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_env_table_check_detects_a_stale_page(tmp_path):
    stale = (ROOT / "docs" / "envs.md").read_text().replace("| `sparsegym/MiniGrid-FourRooms-v0`", "| `sparsegym/Old-v0`")
    (tmp_path / "envs.md").write_text(stale)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_env_table.py"), "--check", "--page", str(tmp_path / "envs.md")],
        capture_output=True, text=True,
    )
    assert out.returncode == 1
    assert "out of date" in out.stderr


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quickstart_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _quickstart_commands()
    assert len(commands) == 2
    main_job, test_cmd = commands
    assert "sparsegym submit examples/random_agent.yaml" in main_job
    assert "torch==2.13.0" in test_cmd and test_cmd.rstrip().endswith("pytest")
    assert test_cmd in (ROOT / ".ci" / "run").read_text()
