"""Benchmark: the day-2 operations an operator runs on a live cluster, with a client polling
the API through the VIP (the default admin kubeconfig) every 0.2 s throughout.

    python tests/bench/bench_day2.py [--lab N] [--hosts 5] [--reuse INVENTORY]

Set-up (not timed): a fresh lab cluster with ``apiserver_vip`` (or ``--reuse`` an inventory
of a running one applied from this checkout), and a copy of this checkout whose kubelet
reports another version (a new runtime digest, as bench_upgrade makes it). Figures:

  rotate_apply_verify_s     `kprov pki rotate`, then `kprov apply`, then `kprov verify
                            --no-smoke` (the smoke workload is no rotation matter, and has no
                            node to run on when every host is a tainted control-plane host),
                            back to back: the wall time until verify is green (the issue's
                            "at once": no second apply); the bench stops if any of them fails
  rotate_failed_requests    the client's failed requests meanwhile (target 0)
  upgrade_failed_requests   the client's failed requests during `kprov upgrade -i INV
                            --source COPY`, after the rotation (target 0)
  upgrade_s                 that upgrade's wall time
  load_avg_1m               the machine's load when it finished (the machine is shared)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench._ha import Poller, changed_build  # noqa: E402
from tests.bench._lab_cluster import KPROV, fresh_cluster  # noqa: E402


def _kprov(*args: str) -> None:
    proc = subprocess.run([*KPROV, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"kprov {args[0]} failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")


def _timed_under_poller(admin: Path, *commands: tuple[str, ...]) -> tuple[float, int]:
    """Run ``commands`` (kprov's arguments) one after the other while a client polls through
    ``admin``'s server: (their wall time, the client's failed requests)."""
    with Poller(admin) as poller:
        start = time.monotonic()
        for command in commands:
            _kprov(*command)
        took = time.monotonic() - start
    for started, _, what in poller.failed[:5]:
        print(f"# failed request at +{started - start:.1f} s: {what}")
    return took, len(poller.failed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=8)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--reuse", type=Path, help="an inventory of a running cluster with apiserver_vip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-day2-") as tmp:
        inventory = args.reuse or fresh_cluster(args.lab, Path(tmp), args.hosts, vip=True)
        inv = str(inventory)
        admin = inventory.parent / "pki" / "kubeconfigs" / "admin.conf"
        # the rotation first: its apply runs this checkout's build, which the cluster runs
        rotate_s, rotate_failed = _timed_under_poller(
            admin, ("pki", "rotate", "-i", inv), ("apply", "-i", inv), ("verify", "-i", inv, "--no-smoke"))
        print(f"rotate_apply_verify_s = {rotate_s:.1f}")
        print(f"rotate_failed_requests = {rotate_failed}")
        source = changed_build(Path(tmp) / "new")
        upgrade = ("upgrade", "-i", inv, "--source", str(source))
        upgrade_s, upgrade_failed = _timed_under_poller(admin, upgrade)
        print(f"upgrade_failed_requests = {upgrade_failed}")
        print(f"upgrade_s = {upgrade_s:.1f}")
        print(f"load_avg_1m = {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
