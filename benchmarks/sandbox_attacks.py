"""The software-task sandbox against hostile commands: what each attack got, in each isolation mode.

Runs the catalogue of :mod:`sparsegym.envs.swe.attacks` (read the host's files, reach host sockets,
raise privileges, reach host processes) in the local sandbox's modes and writes a table of the
outcomes, so the sandbox's guarantees are measured, not claimed:

* ``strict``: the default (bubblewrap, an unprivileged user, the seccomp filter), as the user running
  this script;
* ``strict-user``: the same, with sparsegym itself run by an unprivileged user (``nobody``, through
  ``setpriv`` and the system Python; only when this script runs as root);
* ``no-seccomp``: the named weaker mode without the system-call filter;
* ``none``: no isolation at all (resource limits only), the control: the attacks that are harmless to
  run on the host show that each check can see an escape.

    python benchmarks/sandbox_attacks.py [--modes strict strict-user no-seccomp none]

Results: ``benchmarks/results/sandbox_attacks.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sparsegym.envs.swe import attacks as A  # noqa: E402
from sparsegym.envs.swe.sandbox import SANDBOX_UID, isolation_problems  # noqa: E402

MODES = ("strict", "strict-user", "no-seccomp", "none")


def _as_nobody() -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="sparsegym-nobody-home-"))
    os.chown(home, 65534, 65534)
    path = os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "-i",
                        "PATH=/usr/bin:/bin", f"PYTHONPATH={path}", "/usr/bin/python3", "-m",
                        "sparsegym.envs.swe.attacks", "--json", "--home", str(home)],
                       capture_output=True, text=True, cwd="/tmp", timeout=600)
    os.rmdir(home)
    if not r.stdout.strip():
        raise SystemExit(f"the unprivileged run failed:\n{r.stderr}")
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    for row in rows:
        row["mode"] = "strict-user"
    return rows


def _cell(row: dict) -> str:
    if row["got_through"] is None:
        return "not run"
    last = (row["output"].strip().splitlines() or [""])[-1].replace("|", "/").strip()
    if len(last) > 70:
        last = last[:67] + "..."
    verdict = "**GOT THROUGH**" if row["got_through"] else "blocked"
    return f"{verdict}: `{last}`" if last else verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sandbox_attacks.md")
    args = parser.parse_args()
    as_root = os.geteuid() == 0
    rows: list[dict] = []
    for mode in args.modes:
        if mode == "strict-user":
            if not as_root:
                print("strict-user: skipped (run this script as root to measure an unprivileged caller too)")
                continue
            rows += _as_nobody()
        else:
            problems = isolation_problems(mode)
            if problems:
                print(f"{mode}: cannot run here: {'; '.join(problems)}")
                continue
            rows += [asdict(o) for o in A.run_attacks(mode)]
        print(f"{mode}: {sum(1 for r in rows if r['mode'] == mode and r['got_through'])} of "
              f"{sum(1 for r in rows if r['mode'] == mode and r['got_through'] is not None)} attacks got through")
    modes = [m for m in args.modes if any(r["mode"] == m for r in rows)]
    by = {(r["attack"], r["mode"]): r for r in rows}
    caller = f"root (sandboxed commands run as uid {SANDBOX_UID})" if as_root else f"uid {os.geteuid()}"
    lines = [
        "# The software-task sandbox against hostile commands",
        "",
        f"Made by `python benchmarks/sandbox_attacks.py` on {platform.platform()} ({platform.machine()}), "
        f"sparsegym run by {caller}. Each cell: whether the attack got through, and the last line the command "
        "printed. `strict-user` is the default mode with sparsegym run by `nobody`; `none` is the control "
        "with no isolation (attacks that would change the host are not run there).",
        "",
        "| attack | group | what it tries | " + " | ".join(modes) + " |",
        "|---|---|---|" + "---|" * len(modes),
    ]
    for attack in A.ATTACKS:
        cells = [_cell(by[(attack.name, m)]) if (attack.name, m) in by else "-" for m in modes]
        lines.append(f"| {attack.name} | {attack.group} | {attack.what} | " + " | ".join(cells) + " |")
    lines += ["", "Resource limits (fork bomb, disk fill, endless command, network) are tested in "
              "`tests/envs/test_swe.py`; what each mode enforces is documented in `sparsegym/envs/swe/sandbox.py`.", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.out}")
    strict_escapes = [r["attack"] for r in rows if r["mode"] != "none" and r["mode"] != "no-seccomp" and r["got_through"]]
    if strict_escapes:
        print(f"ATTACKS GOT THROUGH THE DEFAULT SANDBOX: {strict_escapes}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
