"""Benchmark: the whole cluster on many lab hosts, and adding one worker to it.

    python tests/bench/bench_scale_cluster.py [--lab N] [--hosts 20] [--reset] [--keep DIR]

Brings lab N up to hosts+1 hosts (not timed), makes the operator-side artifacts (PKI,
kprov's runtime: made once per cluster and code version, printed apart as
cluster_prepare_s), then times, for the first ``hosts`` hosts (etcd and control plane on
h1..h3, the rest workers):

* cluster_cold_<n>_s: `kprov apply` + `kprov verify` from hosts without the cluster;
  cluster_cold_busy_cores: the machine's CPU in use during that apply, in cores;
* cluster_noop_<n>_s: `kprov apply` again, nothing to change (cluster_noop_changed_<n>: 0),
  on the settled cluster (tests/bench/_settle.py: cluster_settle_<n>_s); the no-op right after
  the cold apply and verify is printed apart (cluster_noop_unsettled_<n>_s);
* add_one_worker_s: `kprov apply` with h<n+1> added to the inventory as a worker;
  add_one_worker_changed_hosts lists the hosts that reported a change (only the new one).

Fresh hosts come from ``lab.wipe()`` + ``up`` (default), or with ``--reset`` from `kprov
reset` of whatever cluster the hosts hold (it removes everything kprov made; CI uses this,
so the shared lab is not rebuilt under the other tests). Either deletes many files on the
machine's disk; the cold apply starts once that disk allocates inodes at full speed again
(tests/bench/_fresh_disk.py: up to 6 minutes after the deletion on a journal-less ext4, none
on others; printed as cluster_disk_wait_s, --disk-wait-max to bound it). A change to kprov's
sources during the run makes the cold apply rebuild the runtime (~14 s, measured when an edit
landed mid-run): then cluster_sources_changed = 1 is printed and the figure is not one to
keep. load_avg_1m: the
machine's load. The inventories and PKI live in a temporary directory unless ``--keep DIR``:
without them the cluster left behind cannot be applied again (preflight's cluster-ca check).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from kprov.bundle.wheelhouse import source_digest  # noqa: E402
from kprov.lab import Lab  # noqa: E402
from tests.bench._fresh_disk import wait_for_fresh_disk  # noqa: E402
from tests.bench._settle import BusyMeter, settle  # noqa: E402

KPROV = [sys.executable, "-m", "kprov.cli.main"]


def _kprov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPROV, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=1800)


def _apply(inventory: Path) -> tuple[float, dict]:  # type: ignore[type-arg]
    start = time.monotonic()
    done = _kprov("apply", "-i", str(inventory), "--json")
    took = time.monotonic() - start
    if done.returncode != 0 or not done.stdout:
        raise SystemExit(f"kprov apply failed (rc={done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return took, json.loads(done.stdout)


def _changed_hosts(report: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(h for h, s in report["stats"].items() if s["changed"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=int(os.environ.get("KPROV_LAB", "0")))
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--reset", action="store_true",
                        help="kprov reset the hosts instead of wiping the lab")
    parser.add_argument("--disk-wait-max", type=float, default=360.0,
                        help="at most this long for the disk to be out of its recently-deleted window")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the inventories (hosts.yml, grown.yml) and their PKI into DIR and keep "
                             "them, so the cluster left behind can be applied again (profiling a no-op)")
    args = parser.parse_args()
    count = args.hosts
    lab = Lab(args.lab)
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = args.keep.resolve()
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-cluster-")))
        grown = lab.write_inventory(work / "grown.yml", count + 1)
        if args.reset:
            lab.up(count + 1)
            done = _kprov("reset", "-i", str(grown), "--yes")
            if done.returncode != 0:
                raise SystemExit(f"kprov reset failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
            deleted_at = time.monotonic()
        else:
            lab.wipe()
            deleted_at = time.monotonic()
            lab.up(count + 1)
        inventory = lab.write_inventory(work / "hosts.yml", count)
        start = time.monotonic()
        sources = source_digest(REPO)
        _kprov("pki", "init", "-i", str(inventory))
        code = "import sys; from kprov.deploy.prepare import prepare_cluster; prepare_cluster(sys.argv[1])"
        subprocess.run([sys.executable, "-c", code, str(inventory)], check=True)
        print(f"cluster_prepare_s = {time.monotonic() - start:.1f}")
        waited = wait_for_fresh_disk(lab.layout.state_dir, deleted_at, args.disk_wait_max)
        print(f"cluster_disk_wait_s = {waited:.0f}", flush=True)
        start, meter = time.monotonic(), BusyMeter()
        _apply(inventory)
        busy = meter.cores()
        verified = _kprov("verify", "-i", str(inventory), "--json", "--no-drift")
        print(f"cluster_cold_{count}_s = {time.monotonic() - start:.1f}")
        print(f"cluster_cold_busy_cores = {busy:.2f}")  # of os.cpu_count(): near it, CPU-bound
        if source_digest(REPO) != sources:  # the cold apply then built kprov's runtime again
            print("warning: kprov's sources changed during the run: cluster_cold includes a runtime build",
                  file=sys.stderr)
            print("cluster_sources_changed = 1")
        print(f"cluster_verify_ok_{count} = {int(verified.returncode == 0)}", flush=True)
        unsettled_s, _ = _apply(inventory)
        print(f"cluster_noop_unsettled_{count}_s = {unsettled_s:.2f}")
        print(f"cluster_settle_{count}_s = {settle():.1f}")
        noop_s, noop = _apply(inventory)
        print(f"cluster_noop_{count}_s = {noop_s:.2f}")
        print(f"cluster_noop_engine_{count}_s = {noop['duration_s']:.2f}")
        print(f"cluster_noop_changed_{count} = {sum(s['changed'] for s in noop['stats'].values())}",
              flush=True)
        add_s, added = _apply(grown)
        print(f"add_one_worker_s = {add_s:.1f}")
        print(f"add_one_worker_changed_hosts = {','.join(_changed_hosts(added)) or '-'}")
        print(f"load_avg_1m = {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
