"""Benchmark: wall time from freshly started lab hosts to a passing verify, and a no-op apply.

    python tests/bench/bench_cluster.py [--lab N]

Starts lab instance N (default 8) with 5 fresh hosts (the base image is built beforehand
and not timed), then times `kprov apply` + `kprov verify` (cluster_cold_s) and a second
`kprov apply` with nothing changed (cluster_noop_s). Prints `name = value` lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPROV, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=8)
    args = parser.parse_args()
    lab = Lab(args.lab)
    lab.wipe()
    lab.up(5)  # base image, package repository and fresh hosts: not part of the figure
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        inventory = lab.write_inventory(Path(tmp) / "hosts.yml", 5)
        _run("pki", "init", "-i", str(inventory))  # operator-side certificates: made once per cluster
        start = time.monotonic()
        applied = _run("apply", "-i", str(inventory), "--json")
        apply_s = time.monotonic() - start
        verified = _run("verify", "-i", str(inventory), "--json", "--no-drift")
        cold_s = time.monotonic() - start
        start = time.monotonic()
        noop = _run("apply", "-i", str(inventory), "--json")
        noop_s = time.monotonic() - start
        stats = json.loads(noop.stdout)["stats"].values() if noop.stdout else []
        noop_changed = sum(s["changed"] for s in stats) if stats else -1
        print(f"cluster_apply_s = {apply_s:.1f}")
        print(f"cluster_cold_s = {cold_s:.1f}")
        print(f"cluster_noop_s = {noop_s:.2f}")
        print(f"cluster_noop_changed = {noop_changed}")
        print(f"cluster_verify_ok = {int(applied.returncode == 0 and verified.returncode == 0)}")
    lab.wipe()


if __name__ == "__main__":
    main()
