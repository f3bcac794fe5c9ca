"""Benchmark: the upstream conformance suite's pass count on a kprov lab cluster.

    python tests/bench/bench_conformance.py [--lab N] [--inventory INV] [--parallel P]
                                            [--serial] [--focus RE]

Brings up lab N (default 9) with 5 fresh hosts and applies the cluster (not timed), unless
``--inventory`` names a running one; then runs ``kprov conformance`` over every non-serial
conformance test (``--serial``: all of them) with ../shared/conformance's e2e.test and
agnhost (KPROV_CONFORMANCE_DIR overrides where), in the suite's own protobuf unless
``--content-type json``. Prints conformance_passed, conformance_failed, conformance_not_run,
conformance_total, conformance_pass_ratio and conformance_run_s, and where the report is.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("KPROV_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))


def _unpack(name: str, into: Path) -> Path:
    target = into / name
    with gzip.open(SHARED / f"{name}.gz", "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
    target.chmod(0o755)
    return target


def _cluster(lab_index: int, workdir: Path) -> Path:
    lab = Lab(lab_index)
    lab.wipe()
    lab.up(5)
    inventory = lab.write_inventory(workdir / "hosts.yml", 5)
    proc = subprocess.run([*KPROV, "apply", "-i", str(inventory)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        sys.exit(f"kprov apply failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return inventory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=9)
    parser.add_argument("--inventory", type=Path, help="a running cluster's inventory (no lab set-up)")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--serial", action="store_true", help="also the [Serial] tests")
    parser.add_argument("--focus", default=r"\[Conformance\]")
    parser.add_argument("--content-type", default="protobuf", choices=("protobuf", "json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kprov-bench-conformance-"))
    inventory = args.inventory or _cluster(args.lab, workdir)
    command = [*KPROV, "conformance", "-i", str(inventory), "--e2e-test", str(_unpack("e2e.test", workdir)),
               "--agnhost", str(_unpack("agnhost", workdir)), "--parallel", str(args.parallel),
               "--focus", args.focus, "--report-dir", str(workdir / "report"), "--timeout", "90",
               "--content-type", args.content_type]
    if not args.serial:
        command += ["--skip", r"\[Serial\]|\[Disruptive\]"]
    started = time.monotonic()
    subprocess.run(command, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    summary = json.loads((workdir / "report" / "summary.json").read_text())
    print(f"conformance_passed = {summary['passed']}")
    print(f"conformance_failed = {summary['failed']}")
    print(f"conformance_not_run = {summary['not_run']}")
    print(f"conformance_total = {summary['total']}")
    print(f"conformance_pass_ratio = {summary['pass_ratio']:.3f}")
    print(f"conformance_run_s = {elapsed:.0f}")
    print(f"# report: {workdir / 'report' / 'report.md'}")


if __name__ == "__main__":
    main()
