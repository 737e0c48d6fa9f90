"""The docs stay in sync with what they describe: the generated pages with their sources, the README's
links with the files, and the README's test command with CI."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, cwd=ROOT)


# ------------------------------------------------------------------------------------------------------
# Generated pages


def test_env_table_page_is_up_to_date():
    out = _script("gen_env_table.py", "--check")
    assert out.returncode == 0, out.stderr


def test_env_table_check_detects_a_stale_page(tmp_path):
    stale = (ROOT / "docs" / "envs.md").read_text().replace("| `sparsegym/MiniGrid-FourRooms-v0`", "| `sparsegym/Old-v0`")
    (tmp_path / "envs.md").write_text(stale)
    out = _script("gen_env_table.py", "--check", "--page", str(tmp_path / "envs.md"))
    assert out.returncode == 1
    assert "out of date" in out.stderr


def test_leaderboard_pages_are_up_to_date():
    out = _script("gen_leaderboard_pages.py", "--check")
    assert out.returncode == 0, out.stderr


def test_leaderboard_page_check_detects_a_changed_table(tmp_path):
    folder = tmp_path / "leaderboards"
    shutil.copytree(ROOT / "docs" / "leaderboards", folder)
    data = json.loads((folder / "smoke.json").read_text())
    data["ranking"][0]["agent"] = "renamed"
    (folder / "smoke.json").write_text(json.dumps(data))
    out = _script("gen_leaderboard_pages.py", "--check", "--folder", str(folder))
    assert out.returncode == 1
    assert "smoke.md" in out.stderr and "published.md" in out.stderr


def test_llm_rows_get_their_statistics_on_the_suite_page(tmp_path):
    import importlib.util

    from sparsegym.leaderboards.store import EpisodeRecord, ResultsStore

    spec = importlib.util.spec_from_file_location("make_baseline_leaderboard", SCRIPTS / "make_baseline_leaderboard.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with ResultsStore(tmp_path / "r.db") as store:
        for seed, (agent, stats) in enumerate([
            ("llm", {"calls": 10, "requests": 4, "cache_hits": 6, "invalid_replies": 5, "unformatted_replies": 8,
                     "truncated_replies": 2, "prompt_tokens": 400, "completion_tokens": 40, "llm_seconds": 5.0}),
            ("llm", {"calls": 30, "requests": 16, "cache_hits": 14, "invalid_replies": 1, "unformatted_replies": 0,
                     "truncated_replies": 2, "prompt_tokens": 1600, "completion_tokens": 160, "llm_seconds": 15.0}),
            # stored before the format counts existed: n/a, not a made-up 0%
            ("old", {"calls": 10, "requests": 10, "cache_hits": 0, "invalid_replies": 0, "prompt_tokens": 100,
                     "completion_tokens": 10, "llm_seconds": 1.0}),
            ("old", {"calls": 10, "requests": 10, "cache_hits": 0, "invalid_replies": 0, "unformatted_replies": 1,
                     "truncated_replies": 0, "prompt_tokens": 100, "completion_tokens": 10, "llm_seconds": 1.0}),
            ("random", None),  # an agent that reports nothing is left out
        ]):
            store.add_episode(EpisodeRecord(agent, "smoke", "test", "e", seed, 0.0, False, 3, 1.0, agent_stats=stats))
        text = script.llm_summary(store, "smoke")
    header, row, old_row = text.splitlines()
    assert header.split()[:4] == ["agent", "episodes", "calls", "invalid"] and "no format" in header
    # 40 calls: 6/40 invalid, 8/40 unformatted, 4/40 cut, 20/40 from the cache; 20 served requests:
    # 100 prompt and 10 reply tokens each
    assert row.split() == ["llm", "2", "40", "15.0%", "20.0%", "10.0%", "50.0%", "100", "10.0", "0.50"]
    assert old_row.split()[4:6] == ["n/a", "n/a"]

    folder = tmp_path / "leaderboards"
    shutil.copytree(ROOT / "docs" / "leaderboards", folder)
    (folder / "smoke_llm.txt").write_text("# made by the test\n" + text + "\n")
    _script("gen_leaderboard_pages.py", "--folder", str(folder))
    page = (folder / "smoke.md").read_text()
    assert "## What the LLM agents did" in page and row in page and "# made by the test" not in page


def test_every_stored_leaderboard_has_a_page_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for table in sorted((ROOT / "docs" / "leaderboards").glob("*.json")):
        assert f"leaderboards/{table.stem}.md" in nav, f"{table.stem} has no page in mkdocs.yml's nav"


def test_benchmarks_readme_is_up_to_date():
    out = _script("gen_benchmarks_readme.py", "--check")
    assert out.returncode == 0, out.stderr


def test_benchmarks_readme_check_detects_a_stale_page(tmp_path):
    stale = (ROOT / "benchmarks" / "README.md").read_text().replace("## noisy_tv", "## noisy-tv")
    (tmp_path / "README.md").write_text(stale)
    out = _script("gen_benchmarks_readme.py", "--check", "--readme", str(tmp_path / "README.md"))
    assert out.returncode == 1
    assert "out of date" in out.stderr


def test_benchmarks_readme_shows_every_kept_result():
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    for path in (ROOT / "benchmarks" / "results").iterdir():
        assert f"(results/{path.name})" in readme, f"benchmarks/README.md does not show results/{path.name}"
    assert "## Other results" not in readme, "a kept result belongs to no benchmark script"


# ------------------------------------------------------------------------------------------------------
# The README


def test_readme_links_point_at_files():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local, "the README links to no docs"
    for link in local:
        assert (ROOT / link).exists(), f"README.md links to {link}, which does not exist"
    for family in ("minigrid", "nethack", "textworld", "alfworld", "webshop", "swe", "bandits"):
        assert f"docs/families/{family}.md" in local


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


# ------------------------------------------------------------------------------------------------------
# CI runs the README's command in its own copy of the checkout, never in (or on) the developer's .venv


def test_ci_runs_the_readme_command_inside_its_copy_and_leaves_the_developers_venv_alone():
    ci = (ROOT / ".ci" / "run").read_text()
    code = "\n".join(line for line in ci.splitlines() if not line.lstrip().startswith("#"))
    test_cmd = _quickstart_commands()[1]
    assert "rm -rf .venv" not in code and "rm -rf ./.venv" not in code
    copy = code.index('bash .ci/copy_checkout.sh "$work/repo"')
    enter = code.index('cd "$work/repo"')
    assert copy < enter < code.index(test_cmd), "the README's command must run inside CI's copy"
    assert "work=.ci-work" in code and ".ci-work/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_ci_copy_takes_the_checkouts_files_but_not_ignored_folders(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitignore").write_text(".venv/\n.ci-work/\n")
    (repo / "tracked.py").write_text("edited after staging\n")
    (repo / "deleted.py").write_text("x\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "page.md").write_text("# page\n")
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text("the developer's\n")
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", ".gitignore", "tracked.py", "deleted.py"], cwd=repo, check=True)
    (repo / "tracked.py").write_text("edited\n")
    (repo / "deleted.py").unlink()
    (repo / "untracked.txt").write_text("new\n")

    dest = tmp_path / "copy"
    out = subprocess.run(["bash", str(ROOT / ".ci" / "copy_checkout.sh"), str(dest)], cwd=repo,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (dest / "tracked.py").read_text() == "edited\n"  # the working tree, not the index
    assert (dest / "untracked.txt").exists() and (dest / "docs" / "page.md").exists()
    assert not (dest / "deleted.py").exists()
    assert not (dest / ".venv").exists()
    assert (repo / ".venv" / "bin" / "python").read_text() == "the developer's\n"
