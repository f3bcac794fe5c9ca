"""The node's CPU and memory figures from its root cgroup, as cAdvisor's root container.

Upstream's kubelet reports the node in ``/stats/summary`` (and so in ``kubectl top nodes``)
from the root cgroup ``/``. Read from the cgroup the kubelet sees as its root, a node that
is itself a container (a kind node, a kprov lab host under systemd-nspawn) shows its own
usage, not the whole machine's; /proc/stat and /proc/meminfo show the machine's to every
host that shares its kernel. On a machine of its own the two agree.

- cgroup v2 with ``memory.current`` at the root (a namespaced root: containers): memory as
  ``memory.current`` - ``inactive_file``, CPU as ``cpu.stat``'s ``usage_usec``;
- cgroup v1 (the ``memory`` and ``cpuacct`` controllers): memory as ``usage_in_bytes`` -
  ``total_inactive_file``, CPU as ``cpuacct.usage`` (ns);
- a cgroup v2 host root (no ``memory.current`` there) or no cgroup file system: None, and
  the caller reads /proc.

The working set is cAdvisor's (usage less inactive file pages), usage and rss too (``anon``,
v1's ``total_rss``); the capacity is the cgroup's memory limit when it has one below the
machine's RAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupFigures", "read_cgroup_figures"]

_NO_LIMIT = 1 << 62  # v1 reports "no limit" as a page-rounded 2^63 - 1


@dataclass(frozen=True)
class CgroupFigures:
    cpu_ns: int  # cumulative core-nanoseconds
    working_set: int  # bytes
    limit: int | None  # bytes; None when the cgroup has none
    usage: int = 0  # bytes charged, page cache included (cAdvisor's usage)
    rss: int = 0  # anonymous memory (cAdvisor's rss)


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _stat(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def _limit(value: int | None) -> int | None:
    return value if value is not None and value < _NO_LIMIT else None


def _v2(root: Path) -> CgroupFigures | None:
    usage = _read_int(root / "memory.current")
    cpu_usec = _stat(root / "cpu.stat").get("usage_usec")
    if usage is None or cpu_usec is None:
        return None
    stat = _stat(root / "memory.stat")
    inactive = stat.get("inactive_file", 0)
    return CgroupFigures(cpu_usec * 1000, max(0, usage - inactive), _limit(_read_int(root / "memory.max")),
                         usage, stat.get("anon", 0))


def _v1(root: Path) -> CgroupFigures | None:
    usage = _read_int(root / "memory" / "memory.usage_in_bytes")
    cpu_ns = _read_int(root / "cpuacct" / "cpuacct.usage")
    if usage is None or cpu_ns is None:
        return None
    stat = _stat(root / "memory" / "memory.stat")
    inactive = stat.get("total_inactive_file", 0)
    limit = _limit(_read_int(root / "memory" / "memory.limit_in_bytes"))
    return CgroupFigures(cpu_ns, max(0, usage - inactive), limit, usage, stat.get("total_rss", 0))


def read_cgroup_figures(root: Path = Path("/sys/fs/cgroup")) -> CgroupFigures | None:
    """The root cgroup's figures, or None where it has none to give (see the module doc)."""
    if (root / "cgroup.controllers").exists():
        return _v2(root)
    return _v1(root)
