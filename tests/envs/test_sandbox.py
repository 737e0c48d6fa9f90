"""The local sandbox of the software-repair tasks against hostile commands (sparsegym.envs.swe.attacks).

Every attack must be blocked in the sandbox; run with no sandbox, the host-independent ones must get
through (so each check can see an escape). Set SPARSEGYM_REQUIRE_SANDBOX=1 (CI does) to fail instead
of skipping where bubblewrap is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from pathlib import Path

import pytest

from sparsegym.envs.swe import attacks as A
from sparsegym.envs.swe import sandbox as S
from sparsegym.envs.swe.sandbox import LocalSandbox, SandboxError, isolation_available, isolation_problems

REQUIRED = os.environ.get("SPARSEGYM_REQUIRE_SANDBOX") == "1"
if not isolation_available():
    if REQUIRED:
        raise RuntimeError("SPARSEGYM_REQUIRE_SANDBOX=1 but the sandbox cannot run: " + "; ".join(isolation_problems()))
    pytest.skip("the local sandbox cannot run here: " + "; ".join(isolation_problems()), allow_module_level=True)

AS_ROOT = os.geteuid() == 0
# Attacks that get through with no sandbox on any Linux host where the tests run as root.
CONTROL = {"read-home-file", "read-tmp-file", "read-results-store", "find-secret", "host-environ", "unix-socket",
           "abstract-socket", "ptrace-host", "mknod", "list-root", "proc-sys-write"}


@pytest.fixture(scope="module")
def strict_outcomes():
    return {o.attack: o for o in A.run_attacks("strict")}


@pytest.mark.parametrize("attack", [a.name for a in A.ATTACKS])
def test_every_attack_is_blocked_in_the_sandbox(strict_outcomes, attack):
    o = strict_outcomes[attack]
    assert o.got_through is False, f"{attack} ({o.what}) got through the sandbox:\n{o.output}"


@pytest.mark.skipif(not AS_ROOT, reason="the control set assumes root on the host (the tests run as root in CI)")
def test_without_a_sandbox_the_same_checks_see_the_attacks_get_through():
    outcomes = {o.attack: o for o in A.run_attacks("none", [a for a in A.ATTACKS if a.name in CONTROL])}
    through = {name for name, o in outcomes.items() if o.got_through}
    assert through == CONTROL, f"expected every control attack to get through unsandboxed; blocked: {CONTROL - through}"


def test_without_seccomp_the_namespaces_still_hide_the_host():
    outcomes = A.run_attacks("no-seccomp", [a for a in A.ATTACKS if a.group in ("host files", "host sockets")])
    assert outcomes and not any(o.got_through for o in outcomes), [o.attack for o in outcomes if o.got_through]


def _unprivileged_python() -> list[str] | None:
    """A command line running the system Python as `nobody` with this checkout and its packages importable."""
    if not AS_ROOT or shutil.which("setpriv") is None or not os.path.exists("/usr/bin/python3"):
        return None
    paths = [str(Path(__file__).resolve().parents[2]), sysconfig.get_paths()["purelib"]]
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i",
                            "PATH=/usr/bin:/bin", f"PYTHONPATH={os.pathsep.join(paths)}", "/usr/bin/python3", "-c",
                            "import sparsegym.envs.swe.attacks"], capture_output=True, cwd="/tmp")
    if probe.returncode != 0:
        return None
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i", "PATH=/usr/bin:/bin",
            f"PYTHONPATH={os.pathsep.join(paths)}", "/usr/bin/python3"]


def test_every_attack_is_blocked_when_sparsegym_runs_as_a_normal_user():
    cmd = _unprivileged_python()
    if cmd is None:
        pytest.skip("needs root, setpriv and a system /usr/bin/python3 that can import this checkout as `nobody`")
    home = Path(tempfile.mkdtemp(prefix="sparsegym-nobody-home-"))  # pytest's tmp_path is root's alone
    os.chown(home, 65534, 65534)
    try:
        r = subprocess.run([*cmd, "-m", "sparsegym.envs.swe.attacks", "--json", "--home", str(home)],
                           capture_output=True, text=True, cwd="/tmp", timeout=300)
    finally:
        shutil.rmtree(home)
    assert r.stdout.strip(), r.stderr
    outcomes = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(outcomes) == len(A.ATTACKS)
    assert [o["attack"] for o in outcomes if o["got_through"]] == [], r.stdout
    assert r.returncode == 0


def test_the_command_runs_unprivileged_filtered_and_without_capabilities(tmp_path):
    (tmp_path / "repo").mkdir()
    sb = LocalSandbox(timeout=20)
    sb.start(tmp_path / "repo")
    try:
        r = sb.run("id -u; grep -E '^(Seccomp|NoNewPrivs|CapEff|CapBnd|CapPrm):' /proc/self/status; pwd; echo $HOME")
        lines = r.output.split()
        assert r.exit_code == 0 and lines[0] == "1000"
        status = dict(zip(lines[1:11:2], lines[2:11:2]))
        assert status == {"CapPrm:": "0000000000000000", "CapEff:": "0000000000000000", "CapBnd:": "0000000000000000",
                          "NoNewPrivs:": "1", "Seccomp:": "2"}
        assert lines[11:13] == ["/testbed", "/home/sandbox"]
        # Seen from the host, the command's processes belong to an unprivileged uid.
        box: dict = {}
        t = threading.Thread(target=lambda: box.update(r=sb.run("sleep 3.217")))
        t.start()
        uids = set()
        for _ in range(100):
            time.sleep(0.05)
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if b"sleep\x003.217" in Path(f"/proc/{pid}/cmdline").read_bytes():
                        uids.add(os.stat(f"/proc/{pid}").st_uid)
                except OSError:
                    continue
            if uids:
                break
        t.join()
        assert uids == {S.SANDBOX_UID if AS_ROOT else os.geteuid()}
        assert 0 not in uids
    finally:
        sb.close()


def test_files_the_env_writes_stay_editable_inside_and_sandbox_paths_resolve(tmp_path):
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "a.py").write_text("x = 1\n")
    sb = LocalSandbox(timeout=20)
    sb.start(repo)
    try:
        new = sb.path("/testbed/pkg/sub/b.py")
        assert new == sb.root.resolve() / "repo" / "pkg" / "sub" / "b.py"
        sb.write_file(new, "y = 2\n")
        r = sb.run("echo 'z = 3' >> pkg/sub/b.py && touch pkg/sub/c.py && cat pkg/sub/b.py")
        assert r.exit_code == 0 and r.output.split() == ["y", "=", "2", "z", "=", "3"]
        with pytest.raises(SandboxError, match="outside the repository"):
            sb.path("/etc/passwd")
        with pytest.raises(SandboxError, match="outside the repository"):
            sb.path("../../x")
    finally:
        root = sb.root
        sb.close()
    assert not root.exists()


def test_a_private_tmp_and_home_last_the_episode_and_are_not_the_hosts(tmp_path):
    (tmp_path / "repo").mkdir()
    marker = Path("/tmp") / f"sparsegym-host-marker-{os.getpid()}"
    marker.write_text("host")
    sb = LocalSandbox(timeout=20)
    sb.start(tmp_path / "repo")
    try:
        assert sb.run(f"test -e {marker} && echo VISIBLE || echo hidden").output.strip() == "hidden"
        sb.run("echo kept > /tmp/note && echo kept > ~/note")
        assert sb.run("cat /tmp/note ~/note").output.split() == ["kept", "kept"]
        assert not (Path("/tmp") / "note").exists()
    finally:
        sb.close()
        marker.unlink()


def test_a_python_install_under_tmp_is_mounted_over_the_private_tmp(monkeypatch, tmp_path):
    # A venv in /tmp (CI machines often make one there): its bind must come after the private /tmp, which
    # would otherwise hide it, and /tmp must not become a pass-through folder (mode 0111: unlistable).
    import sparsegym.envs.swe.sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "_python_paths", lambda: ["/tmp/venv-x", "/opt/py/base"])
    sb = LocalSandbox(timeout=20)
    sb.root = tmp_path
    argv = sb._bwrap_argv(["true"], None)
    private_tmp = argv.index("/tmp", argv.index(str(tmp_path / ".tmp")))
    venv = argv.index("/tmp/venv-x", argv.index("--ro-bind"))
    assert venv > private_tmp
    chmods = {argv[i + 2] for i, x in enumerate(argv) if x == "--chmod"}
    assert "/opt" in chmods and "/opt/py" in chmods and "/tmp" not in chmods


def test_the_sandbox_refuses_to_start_without_bubblewrap_and_names_the_ways_out(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(S.shutil, "which", lambda name, *a, **k: None if name == "bwrap" else real_which(name, *a, **k))
    S._probe.cache_clear()
    try:
        with pytest.raises(SandboxError) as err:
            LocalSandbox()
        msg = str(err.value)
        assert "bubblewrap (`bwrap`) is not installed" in msg and "apt-get install bubblewrap" in msg
        assert "runtime='docker'" in msg and "'no-seccomp'" in msg and "'none'" in msg
        LocalSandbox(isolation="none")  # the weakest mode, chosen by name, still starts
    finally:
        S._probe.cache_clear()


def test_strict_needs_seccomp_and_no_seccomp_is_a_named_choice(monkeypatch):
    monkeypatch.setattr(S.seccomp, "available", lambda: "libseccomp is not installed (test)")
    S._probe.cache_clear()
    try:
        with pytest.raises(SandboxError, match=r"isolation='strict'.*no seccomp filter can be built: libseccomp is not"):
            LocalSandbox()
        LocalSandbox(isolation="no-seccomp")
    finally:
        S._probe.cache_clear()


def test_unknown_and_legacy_isolation_names():
    with pytest.raises(ValueError, match="isolation must be one of 'strict', 'no-seccomp', 'none'"):
        LocalSandbox(isolation="docker")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert LocalSandbox(isolation="namespaces").isolation == "strict"
    assert any(issubclass(w.category, DeprecationWarning) and "isolation='strict'" in str(w.message) for w in caught)


def test_the_filter_refuses_what_the_docs_list():
    from sparsegym.envs.swe import seccomp

    names = seccomp.denied_syscalls()
    for must in ("mount", "ptrace", "unshare", "setns", "bpf", "keyctl", "init_module", "process_vm_readv"):
        assert must in names
    assert len(seccomp.filter_program()) % 8 == 0  # whole BPF instructions


def test_the_report_script_writes_a_table(tmp_path):
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "report.md"
    r = subprocess.run([sys.executable, str(root / "benchmarks" / "sandbox_attacks.py"), "--modes", "strict", "none",
                        "--out", str(out)], capture_output=True, text=True, cwd=root, timeout=300)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert "| read-home-file |" in text and "GOT THROUGH" in text and "blocked" in text
    data = json.loads(out.with_suffix(".json").read_text())
    assert {row["mode"] for row in data} >= {"strict", "none"}
