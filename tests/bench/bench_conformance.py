"""Benchmark: the upstream conformance suite's pass count on a kprov lab cluster.

    python tests/bench/bench_conformance.py [--lab N] [--inventory INV] [--parallel P]
                                            [--serial] [--focus RE]

Brings up lab N (default 9) with 5 fresh hosts and applies the cluster (not timed), unless
``--inventory`` names a running one; then runs ``kprov conformance`` over every non-serial
conformance test (``--serial``: all of them) with ../shared/conformance's e2e.test and
agnhost (KPROV_CONFORMANCE_DIR overrides where), in the suite's own protobuf unless
``--content-type json``. Prints conformance_passed, conformance_failed, conformance_skipped
(specs that skipped themselves at run time), conformance_not_run, conformance_total,
conformance_pass_ratio and conformance_run_s, and where the report is.
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
from tests.bench._lab_cluster import KPROV, fresh_cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("KPROV_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))


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
    inventory = args.inventory or fresh_cluster(args.lab, workdir)
    command = [*KPROV, "conformance", "-i", str(inventory), "--e2e-test", str(SHARED / "e2e.test.gz"),
               "--agnhost", str(SHARED / "agnhost.gz"), "--parallel", str(args.parallel),
               "--focus", args.focus, "--report-dir", str(workdir / "report"), "--timeout", "90",
               "--content-type", args.content_type]
    if not args.serial:
        command += ["--skip", r"\[Serial\]|\[Disruptive\]"]
    started = time.monotonic()
    proc = subprocess.run(command, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    if not (workdir / "report" / "summary.json").exists():
        sys.exit(f"kprov conformance wrote no report (exit {proc.returncode}); its error is above")
    summary = json.loads((workdir / "report" / "summary.json").read_text())
    print(f"conformance_passed = {summary['passed']}")
    print(f"conformance_failed = {summary['failed']}")
    print(f"conformance_skipped = {summary.get('skipped', 0)}")
    print(f"conformance_not_run = {summary['not_run']}")
    print(f"conformance_total = {summary['total']}")
    print(f"conformance_pass_ratio = {summary['pass_ratio']:.3f}")
    print(f"conformance_run_s = {elapsed:.0f}")
    print(f"# report: {workdir / 'report' / 'report.md'}")


if __name__ == "__main__":
    main()
