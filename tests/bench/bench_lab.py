"""Benchmark of `kprov lab`: cold and warm `up` of 5 hosts, and an idle host's memory.

    python tests/bench/bench_lab.py        (root; uses lab instance KPROV_TEST_LAB, default 9)

lab_up_cold_s  from nothing: a separate lab root, so the base image is built (mmdebstrap) and
               the package bundle downloaded within the measurement (the shared caches
               under /var/lib/kprov/lab are neither used nor touched)
lab_up_warm_s  5 hosts from a wiped instance with base and bundle cached
host_rss_mib   an idle host: summed RSS of every process in its cgroups (its systemd,
               journald, sshd, dbus..., plus nspawn and the supervisor on the machine side)
host_rss_inside_mib  the same, only the processes inside the host
Everything the benchmark makes is wiped at the end.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from kprov.lab import Lab
from kprov.lab.cgroups import find_host_cgroups, processes

HOSTS = 5


def _rss_mib(pids: set[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _timed_up(lab: Lab) -> float:
    start = time.monotonic()
    lab.up(HOSTS)
    return time.monotonic() - start


def main() -> int:
    if os.geteuid() != 0:
        print("bench_lab: run as root", file=sys.stderr)
        return 1
    index = int(os.environ.get("KPROV_TEST_LAB", "9"))
    Lab(index).wipe()
    cold_root = Path(tempfile.mkdtemp(prefix="kprov-lab-bench-", dir="/var/lib/kprov"))
    try:
        cold = Lab(index, root=cold_root)
        try:
            print(f"lab_up_cold_s = {_timed_up(cold):.1f}", flush=True)
        finally:
            cold.wipe()
    finally:
        shutil.rmtree(cold_root, ignore_errors=True)

    warm = Lab(index)
    try:
        warm.up(1)  # make sure the shared caches exist, so only host work is measured
        warm.wipe()
        print(f"lab_up_warm_s = {_timed_up(warm):.1f}", flush=True)
        time.sleep(5)  # let the hosts settle to idle
        pids = processes(find_host_cgroups(warm.layout.cgroup("h1")))
        own_pid_ns = os.readlink("/proc/self/ns/pid")
        inside = {p for p in pids if _pid_ns(p) not in (own_pid_ns, None)}
        print(f"host_rss_mib = {_rss_mib(pids):.1f}")
        print(f"host_rss_inside_mib = {_rss_mib(inside):.1f}")
    finally:
        warm.wipe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
