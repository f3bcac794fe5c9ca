"""CPU a process tree has used, from /proc: what the benches' CPU-per-operation figures read.

``tree_cpu_seconds(pid)`` sums user + system time of the process and every live descendant
(an API server's workers, HAProxy's master and workers), so a bench can take it before and
after a load and divide by the operations; ``process_cpu_seconds(pid)`` reads one process
alone (a parent apart from the children it runs: kprov-ingress apart from its HAProxy).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["process_cpu_seconds", "tree_cpu_seconds"]


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and all its live descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, ()))
    return total


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` alone (not its children); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
