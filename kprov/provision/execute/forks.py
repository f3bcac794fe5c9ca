"""How many hosts run at once when the operator did not say (``--forks 0``, the default).

As wide as the inventory, so a play's hosts never wait in waves behind each other, as long as
the operator machine can hold it. A host costs the run one thread and one SSH session: a
socket (a file descriptor; paramiko's transport thread holds no more) and little memory
(``operator_rss_mib_50`` of tests/bench/bench_scale_engine.py; figures:
docs/decisions/0051-figures-live-in-records.md). The limits below leave room for everything
else: file descriptors for the log, the operator-side build's files and the local connector,
and memory for the rest of the machine. Ansible's default is 5 and kprov's was 10: with 50
hosts that was five waves of every play.
"""

from __future__ import annotations

import os
import resource

__all__ = ["MAX_AUTO_FORKS", "auto_forks", "resolve_forks"]

MAX_AUTO_FORKS = 256
_FDS_PER_HOST = 4  # the session's socket, with room for a delegated second session
_FDS_RESERVED = 128
_MIB_PER_HOST = 8  # four times what a host measured, so a loaded machine still fits


def _available_mib() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def auto_forks(hosts: int) -> int:
    """The fork count for ``hosts`` targeted hosts that this machine can hold (at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = [max(1, hosts), MAX_AUTO_FORKS]
    if soft != resource.RLIM_INFINITY:
        limits.append((soft - _FDS_RESERVED) // _FDS_PER_HOST)
    available = _available_mib()
    if available is not None:
        limits.append(available // _MIB_PER_HOST)
    return max(1, min(limits))


def resolve_forks(forks: int, hosts: int) -> int:
    """``forks`` as asked (> 0), else ``KPROV_FORKS`` if set, else :func:`auto_forks`."""
    if forks > 0:
        return forks
    env = os.environ.get("KPROV_FORKS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return auto_forks(hosts)
