"""Benchmark: `kprov upgrade` to a new kprov build on a 5-host lab cluster with an API VIP,
with a client polling the API through the default admin kubeconfig (the VIP) every 0.2 s,
then the VIP's failover when its host is powered off.

    python tests/bench/bench_upgrade.py [--lab N] [--hosts 5] [--reuse INVENTORY]

Set-up (not timed): a fresh lab cluster with ``apiserver_vip`` (or ``--reuse`` an inventory
of a running one), and a copy of this checkout whose kubelet version string is changed
(``v1.32.0-kprov`` -> ``v1.32.0-kprov.upgraded``), so its runtime digest differs and the
nodes' reported version proves the new build runs. Figures:

  upgrade_s            wall time of `kprov upgrade -i INV --source COPY` (includes building
                       the new runtime archive and the etcd backup)
  api_failed_requests  failed requests of the client during the upgrade (target 0)
  vip_failover_s       a power cut of the VIP's host (all its processes killed at once): from
                       the cut to the first answer to a request started after it (target
                       <= 3); requests start every 0.1 s, each on its own thread (5 s timeout)
  vip_failover_failed_requests  requests that failed meanwhile
  vip_orderly_failed_requests
                       the same client's failed requests through an orderly power-off of the
                       holder (keepalived leaves with a priority-0 advert, so a backup takes
                       over at once). The host is started again after each.
  load_avg_1m          the machine's load when it finished (the machine is shared)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kprov.lab import Lab  # noqa: E402
from tests.bench._ha import Poller, changed_build  # noqa: E402
from tests.bench._lab_cluster import KPROV, fresh_cluster  # noqa: E402


def _vip_holder(lab: Lab) -> str:
    vip = lab.layout.apiserver_vip
    for host in ("h1", "h2", "h3"):
        rc, out, _ = lab.ssh(host, f"ip -4 -o addr show | grep -qw {vip}/24 && echo held", timeout=20)
        if rc == 0 and "held" in out:
            return host
    sys.exit(f"no control-plane host holds {vip}")


def _power_off_vip_holder(lab: Lab, admin: Path, hard: bool) -> tuple[float, int]:
    """Power the VIP's holder off (``hard``: a power cut, every process of the host killed at
    once; else an orderly shutdown) under a client starting a request every 0.1 s; start it
    again and wait for its API server. Returns (seconds from the power-off's start to the first
    answer to a request started once the host was off, failed requests meanwhile)."""
    holder = _vip_holder(lab)
    with Poller(admin, interval_s=0.1) as poller:
        time.sleep(1)
        stopping = time.monotonic()
        lab.stop(holder, timeout=0) if hard else lab.stop(holder)
        stopped = time.monotonic()
        time.sleep(6)
    lab.start(holder)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rc, _, _ = lab.ssh(holder, "curl -sfk --max-time 2 https://127.0.0.1:6443/readyz", timeout=10)
        if rc == 0:
            break
        time.sleep(2)
    else:
        sys.exit(f"{holder}'s API server did not come back")
    moved = poller.first_answer_after(stopped)
    print(f"# {'power cut' if hard else 'orderly power-off'} of {holder}: off in {stopped - stopping:.2f} s, "
          f"longest run of failed requests {poller.outage_s():.2f} s")
    return (moved + stopped - stopping if moved is not None else float("inf")), len(poller.failed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=8)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--reuse", type=Path, help="an inventory of a running cluster with apiserver_vip")
    args = parser.parse_args()
    lab = Lab(args.lab)
    with tempfile.TemporaryDirectory(prefix="bench-upgrade-") as tmp:
        inventory = args.reuse or fresh_cluster(args.lab, Path(tmp), args.hosts, vip=True)
        admin = inventory.parent / "pki" / "kubeconfigs" / "admin.conf"
        source = changed_build(Path(tmp) / "new")
        with Poller(admin) as poller:
            start = time.monotonic()
            proc = subprocess.run([*KPROV, "upgrade", "-i", str(inventory), "--source", str(source)],
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL)
            upgrade_s = time.monotonic() - start
        if proc.returncode != 0:
            sys.exit(f"kprov upgrade failed:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
        nodes = subprocess.run(["kubectl", "--kubeconfig", str(admin), "get", "nodes",
                                "-o", "json"], capture_output=True, text=True, check=True)
        versions = {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"]
                    for n in json.loads(nodes.stdout)["items"]}
        print(f"upgrade_s = {upgrade_s:.1f}")
        print(f"api_failed_requests = {len(poller.failed)}")
        print(f"# kubelet versions after: {versions}")
        orderly = _power_off_vip_holder(lab, admin, hard=False)
        cut = _power_off_vip_holder(lab, admin, hard=True)
        print(f"vip_failover_s = {cut[0]:.2f}")
        print(f"vip_failover_failed_requests = {cut[1]}")
        print(f"vip_orderly_failed_requests = {orderly[1]}")
        print(f"load_avg_1m = {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
