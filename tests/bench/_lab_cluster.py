"""Benchmarks' shared set-up: a fresh lab instance with the cluster applied (not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]


def fresh_cluster(lab_index: int, workdir: Path, hosts: int = 5, vip: bool = False) -> Path:
    """Wipe lab ``lab_index``, boot ``hosts`` hosts, apply the cluster; the inventory's path
    (``vip``: with an ``apiserver_vip``: keepalived + HAProxy)."""
    lab = Lab(lab_index)
    lab.wipe()
    lab.up(hosts)
    inventory = lab.write_inventory(workdir / "hosts.yml", hosts, vip=vip)
    proc = subprocess.run([*KPROV, "apply", "-i", str(inventory)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"kprov apply failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return inventory
