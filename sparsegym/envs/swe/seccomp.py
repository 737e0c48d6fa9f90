"""The system-call filter of the software-task sandbox, built with libseccomp.

A test-running process (a shell, Python, pytest, git, patch) never needs to mount file systems, trace
other processes, make namespaces, load kernel modules or BPF programs, touch the kernel keyring or
create device nodes. :data:`DENIED` lists those calls; the filter answers them with ``EPERM``
(``clone3`` with ``ENOSYS``, so the C library falls back to ``clone``, whose flags the filter *can*
read) and lets every other call through. System calls made for another architecture (32-bit
``int 0x80`` on x86-64) kill the process, libseccomp's default for a foreign architecture.

The filter is compiled to a classic BPF program by libseccomp (``libseccomp.so.2``, present wherever
``apt`` is, since apt links it), through its official Python bindings (module ``seccomp``, Debian's
``python3-seccomp``) when importable, else through ``pyseccomp`` (PyPI, extra ``swe``: the same API
over ctypes). Bubblewrap loads the program (``bwrap --seccomp FD``) right before it runs the command.

What a filter cannot do: it sees only registers, never the memory a pointer points to, so it cannot
tell which *path* a ``connect``/``bind`` on a Unix socket names. Host sockets stay out of reach
because the sandbox's mount namespace does not contain them and abstract Unix sockets belong to its
own network namespace (both tested in ``tests/envs/test_sandbox.py``).
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from functools import lru_cache

from sparsegym.errors import SparseGymError

# Namespace flags of clone(2) (linux/sched.h). Any of them in clone's flags is refused.
CLONE_NAMESPACE_FLAGS = {
    "CLONE_NEWTIME": 0x00000080,
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
TIOCSTI = 0x5412  # push characters into the controlling terminal's input
S_IFMT = 0o170000  # the file-type bits of a mode (stat.S_IFMT is a function in Python)

#: System calls refused with EPERM, grouped by why a test run never needs them.
DENIED: dict[str, tuple[str, ...]] = {
    "file systems and mounts": ("mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
                                "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "swapon", "swapoff",
                                "quotactl", "quotactl_fd", "open_by_handle_at", "name_to_handle_at",
                                "lookup_dcookie", "nfsservctl", "uselib", "fanotify_init"),
    "other processes' memory": ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"),
    "namespaces": ("unshare", "setns"),
    "the kernel": ("bpf", "perf_event_open", "userfaultfd", "kexec_load", "kexec_file_load", "init_module",
                   "finit_module", "delete_module", "reboot", "syslog", "acct", "iopl", "ioperm", "vhangup",
                   "_sysctl", "io_uring_setup", "io_uring_enter", "io_uring_register"),
    "the keyring": ("keyctl", "add_key", "request_key"),
    "the clock and host names": ("settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
                                 "sethostname", "setdomainname"),
}

# Architectures whose clone(2) takes its flags in the first argument (s390 takes them in the second).
_CLONE_FLAGS_FIRST = {"x86_64", "aarch64", "armv7l", "armv8l", "i686", "riscv64", "ppc64le", "loongarch64"}


class SeccompUnavailable(SparseGymError, RuntimeError):
    """libseccomp or its Python bindings are missing; the message says which and how to get them."""


def _bindings():
    try:
        import seccomp  # libseccomp's own bindings (Debian: python3-seccomp)

        return seccomp
    except ImportError:
        pass
    try:
        import pyseccomp
    except ImportError as exc:
        raise SeccompUnavailable(
            "the Python bindings of libseccomp are not installed: pip install \"sparsegym[swe]\" (pyseccomp)"
        ) from exc
    except (RuntimeError, OSError) as exc:  # pyseccomp raises RuntimeError when libseccomp.so is missing
        raise SeccompUnavailable(
            f"libseccomp is not installed ({exc}): apt-get install libseccomp2 (Debian/Ubuntu) or "
            "dnf install libseccomp (Fedora)"
        ) from exc
    return pyseccomp


def denied_syscalls() -> list[str]:
    """Every system call name the filter refuses outright (clone, clone3, mknod(at), ioctl: by argument)."""
    return [name for names in DENIED.values() for name in names]


@lru_cache(maxsize=1)
def filter_program() -> bytes:
    """The compiled BPF program (cached): what ``bwrap --seccomp`` loads."""
    sc = _bindings()
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)

    def add(action: int, name: str, *args) -> None:
        try:
            f.add_rule(action, name, *args)
        except (OSError, ValueError, RuntimeError):
            pass  # a call this architecture does not have (e.g. umount or mknod on aarch64)

    for name in denied_syscalls():
        add(eperm, name)
    if os.uname().machine in _CLONE_FLAGS_FIRST:
        for flag in CLONE_NAMESPACE_FLAGS.values():
            add(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    else:  # flags where the filter cannot find them: no namespaces through clone at all
        add(eperm, "unshare")
    add(sc.ERRNO(errno.ENOSYS), "clone3")  # its flags sit in memory; the C library falls back to clone
    for kind in (stat.S_IFCHR, stat.S_IFBLK):  # device nodes; FIFOs and sockets stay allowed
        add(eperm, "mknod", sc.Arg(1, sc.MASKED_EQ, S_IFMT, kind))
        add(eperm, "mknodat", sc.Arg(2, sc.MASKED_EQ, S_IFMT, kind))
    add(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, TIOCSTI))
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


def available() -> str | None:
    """None when the filter can be built here, else why not."""
    try:
        filter_program()
    except SeccompUnavailable as exc:
        return str(exc)
    except OSError as exc:
        return f"libseccomp could not compile the filter ({exc})"
    return None
