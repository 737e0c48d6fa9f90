"""Hostile commands, and what the local sandbox gave each of them: its guarantees measured, not claimed.

:data:`ATTACKS` is a catalogue of things an exploring agent's shell might try: read the host's files,
talk to host daemons through Unix sockets, raise its privileges, reach other processes, change the
kernel's settings. Each attack is a shell command aimed at bait that :func:`host_bait` plants on the
host (secret files in the home and temp folders, a results store, a listening Unix socket, an abstract
socket, a process with a secret in its environment), and a test of the command's result that says
whether it got through. Run without a sandbox (``isolation="none"``), the harmless attacks get
through, which shows each test can see an escape; in the sandbox, every one must be blocked.

``tests/envs/test_sandbox.py`` runs the catalogue in every mode; ``benchmarks/sandbox_attacks.py``
writes the report ``benchmarks/results/sandbox_attacks.md``. As a command:

    python -m sparsegym.envs.swe.attacks [--isolation strict] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from sparsegym.envs.swe.sandbox import CommandResult, LocalSandbox, pid_alive

DOCKER_SOCKET = "/var/run/docker.sock"
# keyctl, bpf and perf_event_open numbers (asm/unistd.h), for calling them from Python with ctypes.
_SYSCALLS = {"x86_64": {"keyctl": 250, "bpf": 321, "perf_event_open": 298},
             "aarch64": {"keyctl": 219, "bpf": 280, "perf_event_open": 241}}


@dataclass
class Bait:
    """What an attacker would go after, planted on the host by :func:`host_bait`."""

    token: str                 # the secret every bait holds
    home_file: Path            # a secret file in the user's home folder
    tmp_file: Path             # a secret file in another temporary folder
    store: Path                # a results store (SQLite) holding the secret
    socket_path: Path          # a Unix socket whose server answers with the secret (a stand-in daemon)
    abstract_name: str         # an abstract Unix socket answering likewise
    victim_pid: int            # a host process with the secret in its environment


@dataclass
class Attack:
    name: str
    group: str
    what: str
    command: Callable[[Bait], str]
    got_through: Callable[[CommandResult, Bait], bool]
    #: Harmless to run with no sandbox at all (the control run that shows the test can see an escape).
    safe_unsandboxed: bool = True


def _py(code: str) -> str:
    """A shell command running ``code`` with the sandbox's Python (quotes escaped for single quotes)."""
    return "python3 -c '" + code.replace("'", "'\"'\"'") + "'"


def _connect(address: str) -> str:
    return _py(f"import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect({address}); "
               "print(s.recv(200).decode())")


def _syscalls(names: list[str]) -> str:
    table = _SYSCALLS.get(os.uname().machine, {})
    calls = {n: table[n] for n in names if n in table}
    # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, create); bpf(BPF_MAP_CREATE, attr, size);
    # perf_event_open(NULL attr) -> EFAULT when allowed, EPERM when filtered.
    return _py(
        "import ctypes, struct\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "attr = ctypes.create_string_buffer(struct.pack('IIII', 2, 4, 4, 1) + bytes(112))\n"
        f"for name, nr in {calls!r}.items():\n"
        "    args = {'keyctl': (0, -3, 1), 'bpf': (0, attr, 128), 'perf_event_open': (0, 0, -1, -1, 0)}[name]\n"
        "    r = libc.syscall(nr, *args)\n"
        "    print(name, 'ALLOWED' if r >= 0 or ctypes.get_errno() == 14 else 'refused', r, ctypes.get_errno())\n")


def _ptrace(pid_expr: str) -> str:
    return _py("import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
               f"for pid in {pid_expr}:\n"
               "    r = libc.ptrace(16, pid, 0, 0)\n"  # PTRACE_ATTACH
               "    print('ATTACHED' if r == 0 else 'refused', pid, ctypes.get_errno())\n"
               "    if r == 0: libc.ptrace(17, pid, 0, 0)\n")  # PTRACE_DETACH


def _has(result: CommandResult, text: str) -> bool:
    return text in result.output


ATTACKS: list[Attack] = [
    # -- the host's files --------------------------------------------------------------------------
    Attack("read-home-file", "host files", "read a secret file in the user's home folder",
           lambda b: f"cat {b.home_file}", lambda r, b: _has(r, b.token)),
    Attack("read-tmp-file", "host files", "read a secret file in another program's temp folder",
           lambda b: f"cat {b.tmp_file}", lambda r, b: _has(r, b.token)),
    Attack("read-results-store", "host files", "read the leaderboard's results store",
           lambda b: f"cat {b.store}", lambda r, b: _has(r, b.token)),
    Attack("list-root", "host files", "list /root",
           lambda b: "ls -la /root", lambda r, b: r.exit_code == 0),
    Attack("list-home", "host files", "list /home and the user's home folder",
           lambda b: f"ls -la /home {b.home_file.parent}", lambda r, b: _has(r, b.home_file.name)),
    Attack("find-secret", "host files", "search the file system for the bait files by name and read them",
           lambda b: (f"find / -maxdepth 3 -path /proc -prune -o \\( -name secret.txt -o -name '{b.home_file.name}' \\) "
                      "-print 2>/dev/null | xargs -r cat"),
           lambda r, b: _has(r, b.token)),
    Attack("host-environ", "host files", "read another host process's environment through /proc",
           lambda b: f"cat /proc/{b.victim_pid}/environ /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'",
           lambda r, b: _has(r, b.token)),
    Attack("socket-dirs", "host files", "list the host's socket folders (/run, /var/run)",
           lambda b: "ls /run /var/run", lambda r, b: r.exit_code == 0),
    # -- host daemons ---------------------------------------------------------------------------------
    Attack("unix-socket", "host sockets", "connect to a Unix socket outside the workspace (a stand-in daemon)",
           lambda b: _connect(repr(str(b.socket_path))), lambda r, b: _has(r, b.token)),
    Attack("abstract-socket", "host sockets", "connect to an abstract Unix socket of the host",
           lambda b: _connect(repr("\0" + b.abstract_name)), lambda r, b: _has(r, b.token)),
    Attack("docker-socket", "host sockets", f"ask the Docker daemon for its version through {DOCKER_SOCKET}",
           lambda b: _py("import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(3); "
                         f"s.connect({DOCKER_SOCKET!r}); s.sendall(b'GET /version HTTP/1.0\\r\\n\\r\\n'); "
                         "print(s.recv(4000).decode())"),
           lambda r, b: _has(r, "ApiVersion")),
    # -- privileges -----------------------------------------------------------------------------------
    Attack("setuid-mount", "escalation", "mount a file system with the set-uid `mount` binary",
           lambda b: "mkdir -p mnt && mount -t tmpfs tmpfs mnt && echo MOUNTED && umount mnt",
           lambda r, b: _has(r, "MOUNTED"), safe_unsandboxed=False),
    Attack("unshare-root", "escalation", "become root in a new user namespace (`unshare -r`)",
           lambda b: "unshare --user --map-root-user sh -c 'echo UID=$(id -u)'", lambda r, b: _has(r, "UID=0")),
    Attack("ptrace-host", "escalation", "attach with ptrace to a host process and to the sandbox's pid 1",
           lambda b: _ptrace(f"[{b.victim_pid}, 1]"), lambda r, b: _has(r, "ATTACHED")),
    Attack("kill-host", "escalation", "kill a host process",
           lambda b: f"kill -9 {b.victim_pid}", lambda r, b: not pid_alive(b.victim_pid), safe_unsandboxed=False),
    Attack("proc-sys-write", "escalation", "write a kernel setting through /proc/sys (its own value back)",
           lambda b: "cat /proc/sys/kernel/hostname > /proc/sys/kernel/hostname && echo WROTE",
           lambda r, b: _has(r, "WROTE")),
    Attack("mknod", "escalation", "create a device node (/dev/null's numbers) in the workspace",
           lambda b: "mknod devnode c 1 3 && echo MADE", lambda r, b: _has(r, "MADE")),
    Attack("kernel-interfaces", "escalation", "call keyctl, bpf and perf_event_open",
           lambda b: _syscalls(["keyctl", "bpf", "perf_event_open"]), lambda r, b: _has(r, "ALLOWED")),
    Attack("write-system", "escalation", "write into /usr",
           lambda b: "echo x > /usr/sparsegym-attack && echo WROTE", lambda r, b: _has(r, "WROTE"),
           safe_unsandboxed=False),
]


def _serve(sock: socket.socket, reply: bytes, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except (TimeoutError, OSError):
            continue
        with conn:
            with contextlib.suppress(OSError):
                conn.sendall(reply)


@contextlib.contextmanager
def host_bait(home: str | Path | None = None) -> Iterator[Bait]:
    """Plant the bait on the host (removed on exit). ``home``: where the home-folder secret goes
    (default: the user's home folder)."""
    token = "SPARSEGYM-SECRET-" + secrets.token_hex(8)
    home = Path(home) if home is not None else Path.home()
    home_file = home / f".sparsegym-bait-{token[-8:]}"
    tmp = Path(tempfile.mkdtemp(prefix="sparsegym-bait-"))
    stop = threading.Event()
    socks: list[socket.socket] = []
    victim = None
    try:
        home_file.write_text(token + "\n")
        (tmp / "secret.txt").write_text(token + "\n")
        store = tmp / "store" / "results.db"
        store.parent.mkdir()
        import sqlite3

        with contextlib.closing(sqlite3.connect(store)) as db:
            db.execute("CREATE TABLE submissions (agent TEXT, details TEXT)")
            db.execute("INSERT INTO submissions VALUES (?, ?)", ("someone-else", token))
            db.commit()
        abstract = "sparsegym-bait-" + token[-8:]
        for address in (str(tmp / "daemon.sock"), "\0" + abstract):
            s = socket.socket(socket.AF_UNIX)
            s.bind(address)
            s.listen(4)
            socks.append(s)
            threading.Thread(target=_serve, args=(s, token.encode() + b"\n", stop), daemon=True).start()
        victim = subprocess.Popen(["sleep", "3600"], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                          "SPARSEGYM_BAIT": token})
        yield Bait(token, home_file, tmp / "secret.txt", store, tmp / "daemon.sock", abstract, victim.pid)
    finally:
        stop.set()
        for s in socks:
            s.close()
        if victim is not None:
            victim.kill()
            victim.wait()
        home_file.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Outcome:
    attack: str
    group: str
    what: str
    mode: str
    got_through: bool | None  # None: not run (unsafe without a sandbox)
    exit_code: int | None
    output: str


def run_attacks(isolation: str = "strict", attacks: list[Attack] | None = None, repo: str | Path | None = None,
                home: str | Path | None = None, timeout: float = 20.0) -> list[Outcome]:
    """Run every attack in a fresh sandbox of ``isolation`` mode against freshly planted bait."""
    attacks = ATTACKS if attacks is None else attacks
    out: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="sparsegym-attack-repo-") as scratch, host_bait(home) as bait:
        if repo is None:
            repo = Path(scratch) / "repo"
            repo.mkdir()
            (repo / "README").write_text("a repository for the attacks to run in\n")
        for attack in attacks:
            if isolation == "none" and not attack.safe_unsandboxed:
                out.append(Outcome(attack.name, attack.group, attack.what, isolation, None, None, "(not run unsandboxed)"))
                continue
            sb = LocalSandbox(timeout=timeout, isolation=isolation)
            sb.start(repo)
            try:
                result = sb.run(attack.command(bait))
            finally:
                sb.close()
            text = result.output.strip()
            out.append(Outcome(attack.name, attack.group, attack.what, isolation,
                               bool(attack.got_through(result, bait)), result.exit_code, text[-400:]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the hostile-command catalogue in the local sandbox.")
    parser.add_argument("--isolation", default="strict", choices=("strict", "no-seccomp", "none"))
    parser.add_argument("--home", default=None, help="where to plant the home-folder bait (default: ~)")
    parser.add_argument("--json", action="store_true", help="print one JSON list (for the report)")
    args = parser.parse_args(argv)
    outcomes = run_attacks(args.isolation, home=args.home)
    if args.json:
        print(json.dumps([asdict(o) for o in outcomes]))
    else:
        for o in outcomes:
            verdict = {True: "GOT THROUGH", False: "blocked", None: "not run"}[o.got_through]
            print(f"{o.attack:20s} {verdict:12s} {o.output.splitlines()[-1] if o.output else ''}")
    return 1 if any(o.got_through for o in outcomes) and args.isolation != "none" else 0


if __name__ == "__main__":
    sys.exit(main())
