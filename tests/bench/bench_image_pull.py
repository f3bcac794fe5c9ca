"""Benchmark: pulling a ~50 MiB image from the cluster's image mirror to a node.

    python tests/bench/bench_image_pull.py --inventory INV [--size-mib 50] [--node h4]
    python tests/bench/bench_image_pull.py --lab N          # fresh 5-host lab, applied (not timed)

Builds an image of ``--size-mib`` incompressible bytes on a busybox root under a fresh public
name (quay.io/kprov-bench/pull:<random>, so no node has it), loads it into every mirror
with ``kprov images load`` (timed: image_load_s), then on the node pulls it the way the
CRI plugin does (containerd's resolver with the node's hosts.toml: ``ctr images pull
--hosts-dir``), once with nothing cached (image_pull_first_s) and once more with the
content in place (image_pull_cached_s), and removes it. Prints ``figure = value`` lines.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kprov.images.oci import FileEntry, ImageSpec, build_archive
from kprov.images.recipes import busybox_files
from kprov.provision.inventory import load_inventory

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench._lab_cluster import KPROV, fresh_cluster  # noqa: E402


def _ssh(inventory: Path, host: str, command: str) -> tuple[int, str]:
    proc = subprocess.run([*KPROV, "exec", "-i", str(inventory), "--limit", host, "--", command],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


def _timed(inventory: Path, host: str, command: str) -> float:
    """Seconds ``command`` took on ``host``, measured there (no SSH set-up in the figure)."""
    script = (f"s=$(date +%s.%N); {command} >/dev/null 2>&1 || exit 7; e=$(date +%s.%N); "
              "echo BENCH $(echo \"$e - $s\" | awk '{print $1 - $3}')")
    rc, out = _ssh(inventory, host, script)
    for line in out.splitlines():
        if "BENCH " in line:
            return float(line.split("BENCH ", 1)[1].split()[0])
    sys.exit(f"{host}: {command} failed (rc {rc}):\n{out[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=9)
    parser.add_argument("--inventory", type=Path, help="a running cluster's inventory (no lab set-up)")
    parser.add_argument("--size-mib", type=int, default=50)
    parser.add_argument("--node", default="", help="the node pulling (default: the first worker)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kprov-bench-pull-") as tmp:
        workdir = Path(tmp)
        inventory = args.inventory or fresh_cluster(args.lab, workdir)
        node = args.node or (load_inventory(inventory).members("workers") or ["h4"])[0]
        name = f"quay.io/kprov-bench/pull:{secrets.token_hex(4)}"
        files = [*busybox_files(), FileEntry("data.bin", data=os.urandom(args.size_mib << 20))]
        archive = workdir / "pull.tar"
        build_archive(ImageSpec(name, files=files, cmd=["/bin/sh"]), archive)
        print(f"image_size_mib = {archive.stat().st_size / 2**20:.1f}")
        t0 = time.monotonic()
        proc = subprocess.run([*KPROV, "images", "load", "-i", str(inventory), str(archive)],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            sys.exit(f"kprov images load failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        print(f"image_load_s = {time.monotonic() - t0:.2f}")
        pull = f"ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d {shlex.quote(name)}"
        print(f"image_pull_first_s = {_timed(inventory, node, pull):.2f}")
        print(f"image_pull_cached_s = {_timed(inventory, node, pull):.2f}")
        _ssh(inventory, node, f"ctr -n k8s.io images rm {shlex.quote(name)}")


if __name__ == "__main__":
    main()
