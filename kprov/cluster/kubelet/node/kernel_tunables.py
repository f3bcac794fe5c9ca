"""The kernel settings the kubelet relies on, and ``--protect-kernel-defaults``.

Upstream's kubelet expects vm.overcommit_memory=1, vm.panic_on_oom=0, kernel.panic=10,
kernel.panic_on_oops=1, kernel.keys.root_maxkeys=1000000 and kernel.keys.root_maxbytes=
25000000. With ``--protect-kernel-defaults`` a host whose values differ is an error (the
kubelet does not start, naming each flag as upstream's message does) instead of the kubelet
changing the kernel; the common role sets them on hosts with their own kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

__all__ = ["DESIRED", "kernel_problems", "read_proc_sys"]

DESIRED: dict[str, int] = {
    "vm/overcommit_memory": 1,
    "vm/panic_on_oom": 0,
    "kernel/panic": 10,
    "kernel/panic_on_oops": 1,
    "kernel/keys/root_maxkeys": 1000000,
    "kernel/keys/root_maxbytes": 25000000,
}


def read_proc_sys(flag: str) -> int:
    return int(Path("/proc/sys", flag).read_text().strip())


def kernel_problems(read: Callable[[str], int] = read_proc_sys) -> list[str]:
    """Upstream's error for each setting that differs (empty: the kernel is as expected)."""
    problems = []
    for flag, expected in DESIRED.items():
        actual = read(flag)
        if actual != expected:
            problems.append(
                f"invalid kernel flag: {flag}, expected value: {expected}, actual value: {actual}"
            )
    return problems
