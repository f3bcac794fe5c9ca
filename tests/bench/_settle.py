"""Waiting for the machine to settle before timing what an operator runs on a running cluster.

Right after a cold apply, new hosts start pods, pull images and compact etcd on the same
cores as the operator; a no-op apply timed then measures that start-up more than kprov.
``settle()`` waits until the machine's CPU (from /proc/stat, idle and iowait excluded) has
been below ``SETTLED_CORES`` over a whole ``WINDOW_S`` window, for at most ``TIMEOUT_S``,
and returns how long that took (the benches print it).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["SETTLED_CORES", "TIMEOUT_S", "WINDOW_S", "BusyMeter", "busy_cores", "settle"]

SETTLED_CORES = 0.5
WINDOW_S = 5.0
TIMEOUT_S = 180.0


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class BusyMeter:
    """The machine's CPU in use, in cores, from its creation to each ``cores()`` call: says
    whether a timed run was bound by the machine's CPU (near ``os.cpu_count()``) or waited."""

    def __init__(self) -> None:
        self._start = _cpu_ticks()

    def cores(self) -> float:
        busy, total = _cpu_ticks()
        return (busy - self._start[0]) / max(total - self._start[1], 1) * (os.cpu_count() or 1)


def busy_cores(window_s: float = WINDOW_S) -> float:
    """The machine's CPU in use over the next ``window_s`` seconds, in cores."""
    busy0, total0 = _cpu_ticks()
    time.sleep(window_s)
    busy1, total1 = _cpu_ticks()
    return (busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1)


def settle(cores: float = SETTLED_CORES, timeout_s: float = TIMEOUT_S) -> float:
    """Seconds until the CPU was below ``cores`` over a whole window (``timeout_s`` at most)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s and busy_cores() >= cores:
        pass
    return time.monotonic() - start
