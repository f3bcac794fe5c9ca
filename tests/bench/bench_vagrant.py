"""Benchmark of real VMs through Vagrant: the box, a 3-VM `vagrant up`, the cluster on them.

    python tests/bench/bench_vagrant.py [--rebuild-box] [--stages box,up,cluster]   (root)

accel                  kvm or tcg (QEMU's software emulation: 1 CPU, 1 GiB per VM by default)
vm_memory_mib, vm_cpus what each VM gets (KPROV_VM_MEMORY / KPROV_VM_CPUS, else the
                       Vagrantfile's defaults for the accelerator)
box_build_s            `kprov vm box`: with --rebuild-box a fresh box from the cached rootfs
                       (add the rootfs build's minutes for a box from nothing); without it, the
                       cache check
vagrant_up_3_s         `vagrant up` of h1..h3 from nothing (box registered; its volume
                       uploaded within the measurement)
cluster_on_vms_cold_s  `kprov apply` of roles/site.yml on the 3 VMs (packages from an offline
                       bundle: the VMs have no route out)
cluster_on_vms_noop_s  the same apply again (nothing to change)
loadavg                the machine's 1-minute load average at the start and the end (figures
                       from a shared, loaded 2-core machine are not comparable with idle ones)
Everything the benchmark makes in libvirt is purged at the end; the libvirt daemons it
started are stopped.
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

from kprov.bundle.packages import HOST_PACKAGES
from kprov.vm.accel import detect_accel
from kprov.vm.box import add_box, build_box
from kprov.vm.libvirt import start_daemons, stop_daemons
from kprov.vm.recipe import BoxRecipe
from kprov.vm.vagrant import VagrantLab, purge

REPO = Path(__file__).resolve().parents[2]
KPROV = [sys.executable, "-m", "kprov.cli.main"]
BUNDLE = Path("/var/cache/kprov/vm/cluster-bundle")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def _kprov(*args: str, timeout: float = 3600) -> str:
    proc = subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"kprov {' '.join(args[:2])} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rebuild-box", action="store_true")
    parser.add_argument("--stages", default="box,up,cluster")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    accel = detect_accel()
    print(f"accel = {accel}")
    print(f"vm_memory_mib = {os.environ.get('KPROV_VM_MEMORY', '2048' if accel == 'kvm' else '1024')}")
    print(f"vm_cpus = {os.environ.get('KPROV_VM_CPUS', '2' if accel == 'kvm' else '1')}")
    print(f"loadavg_start = {_load()}")
    started = start_daemons()
    try:
        recipe = BoxRecipe()
        start = time.monotonic()
        result = build_box(recipe, force=args.rebuild_box)
        add_box(result.path, recipe.box_digest())
        if "box" in stages:
            print(f"box_build_s = {time.monotonic() - start:.1f}  # {'built' if result.built else 'cached'}")
        if not stages & {"up", "cluster"}:
            return
        purge()
        with tempfile.TemporaryDirectory(prefix="kprov-bench-vagrant-") as tmp:
            vms = VagrantLab(REPO / "vagrant", Path(tmp), 3)
            try:
                print(f"vagrant_up_3_s = {vms.up(timeout=3600):.1f}")
                if "cluster" in stages:
                    status = recipe.rootfs_dir() / "var/lib/dpkg/status"
                    packages = [a for p in HOST_PACKAGES for a in ("--package", p)]
                    _kprov("bundle", "--out", str(BUNDLE), *packages, "--status", str(status),
                           "--no-wheelhouse", "--no-images")
                    extra = Path(tmp) / "bundle.json"
                    extra.write_text(_kprov("bundle", "--out", str(BUNDLE), "--vars"))
                    inventory = vms.write_inventory(Path(tmp) / "hosts.yml", {"offline_repo_exclusive": True})
                    for figure in ("cluster_on_vms_cold_s", "cluster_on_vms_noop_s"):
                        start = time.monotonic()
                        out = _kprov("apply", "-i", str(inventory), "-e", f"@{extra}", "--json")
                        report = json.loads(out)
                        changed = sum(s["changed"] for s in report["stats"].values())
                        print(f"{figure} = {time.monotonic() - start:.1f}"
                              f"  # ok={report['ok']} changed={changed}")
            finally:
                vms.destroy()
    finally:
        purge()
        stop_daemons(started)
        print(f"loadavg_end = {_load()}")


if __name__ == "__main__":
    main()
