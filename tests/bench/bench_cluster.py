"""Benchmark: wall time from freshly started lab hosts to a passing verify, and a no-op apply.

    python tests/bench/bench_cluster.py [--lab N]

Starts lab instance N (default 8) with 5 fresh hosts (the base image is built beforehand
and not timed), then times `kprov apply` + `kprov verify` (cluster_cold_s) and a second
`kprov apply` with nothing changed. Prints `name = value` lines.

A no-op apply is what an operator runs on a cluster that has been up a while, so
cluster_noop_s is taken on a settled cluster: right after its cold apply the five fresh
hosts start pods, pull images and compact etcd, on the same two cores as the operator, and
a no-op timed then measures that start-up more than kprov. The bench first times one no-op
right after verify (cluster_noop_unsettled_s, the figure earlier runs of this bench
printed), then waits until the machine's CPU has been mostly idle (below half a core busy
over a window, tests/bench/_settle.py; cluster_settle_s), then times
NOOP_RUNS no-ops (cluster_noop_s: their median, with min and max; cluster_noop_changed: the
most changed of any no-op).

kprov runs from a snapshot of this checkout's sources (a temporary copy): other work in the
same tree would otherwise change the source digest mid-run, and the no-op apply would then
really install new code. The snapshot is byte-compiled before the clock, as pip compiles an
installed package: this machine sets PYTHONDONTWRITEBYTECODE=1, so without it every timed
run would compile kprov's ~70 imported modules from source again (~0.1 s); ``--no-compile``
measures that way. The operator-side artifacts of that snapshot (the PKI, the
wheelhouse and kprov's runtime: made once per cluster / per code version and cached) are made
before the clock starts; their time is printed apart as cluster_prepare_s.

For the no-op apply it also prints the engine's own time (cluster_noop_engine_s, from the
run report: the rest of cluster_noop_s is Python's start, imports and output) and the most
commands any host got (cluster_noop_round_trips, from the run log): wall times are noisy
on a shared machine, round trips are not (noop_round_trips_per_host: the same count under
its issue's name, kprov's commands and file transfers of the busiest host). preflight_s is
the no-op apply's preflight (one probe per host before any play, kprov.deploy.preflight;
budget 0.3 s), from its run log. load_avg_1m: the machine's load when it finished.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kprov.lab import Lab

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.bench._settle import settle  # noqa: E402

KPROV = [sys.executable, "-m", "kprov.cli.main"]
REPO = Path(__file__).resolve().parents[2]
_SNAPSHOT = ("kprov", "roles", "templates", "inventories", "pyproject.toml")
NOOP_RUNS = 3


def _snapshot(into: Path) -> Path:
    for name in _SNAPSHOT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, into / name)
    return into


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPROV, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          cwd=cwd)


def _prepare(cwd: Path, inventory: Path) -> None:
    code = "import sys; from kprov.deploy.prepare import prepare_cluster; prepare_cluster(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(inventory)], check=True, cwd=cwd)


def _round_trips(log: str) -> int:
    """The most remote operations (commands and file transfers) any host had in a run log."""
    counts: dict[str, int] = {}
    for line in Path(log).read_text().splitlines():
        fields = line.split("\t")
        if len(fields) > 2 and fields[2] in ("run", "put", "get"):
            counts[fields[1]] = counts.get(fields[1], 0) + 1
    return max(counts.values(), default=0)


def _preflight_s(log: str) -> float:
    """The preflight phase's own time, as the run log records it (-1: none ran)."""
    for line in Path(log).read_text().splitlines():
        detail = line.split("\t")[-1]
        if detail.startswith("preflight: ") and " in " in detail:
            return float(detail.rsplit(" in ", 1)[1].rstrip("s"))
    return -1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lab", type=int, default=8)
    parser.add_argument("--no-compile", action="store_true", help="leave the snapshot without byte-code")
    args = parser.parse_args()
    lab = Lab(args.lab)
    lab.wipe()
    lab.up(5)  # base image, package repository and fresh hosts: not part of the figure
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        src = _snapshot(Path(tmp) / "src")
        if not args.no_compile:
            compileall.compile_dir(src / "kprov", quiet=1, workers=0)
        inventory = lab.write_inventory(Path(tmp) / "hosts.yml", 5)
        start = time.monotonic()
        _run(src, "pki", "init", "-i", str(inventory))  # operator-side certificates: made once per cluster
        _prepare(src, inventory)  # and the runtime of this code version (cached by source digest)
        prepare_s = time.monotonic() - start
        start = time.monotonic()
        applied = _run(src, "apply", "-i", str(inventory), "--json")
        apply_s = time.monotonic() - start
        verified = _run(src, "verify", "-i", str(inventory), "--json", "--no-drift")
        cold_s = time.monotonic() - start
        def timed_noop() -> tuple[float, dict]:
            start = time.monotonic()
            noop = _run(src, "apply", "-i", str(inventory), "--json")
            return time.monotonic() - start, json.loads(noop.stdout) if noop.stdout else {}

        unsettled_s, unsettled = timed_noop()
        settle_s = settle()
        runs = [timed_noop() for _ in range(NOOP_RUNS)]  # (wall seconds, report): their median
        walls = sorted(wall for wall, _ in runs)
        noop_s, report = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
        noop_changed = max((sum(s["changed"] for s in r["stats"].values()) if r.get("stats") else -1)
                           for _, r in [*runs, (unsettled_s, unsettled)])
        print(f"cluster_prepare_s = {prepare_s:.1f}")
        print(f"cluster_apply_s = {apply_s:.1f}")
        print(f"cluster_cold_s = {cold_s:.1f}")
        print(f"cluster_noop_unsettled_s = {unsettled_s:.2f}")
        print(f"cluster_settle_s = {settle_s:.1f}")
        print(f"cluster_noop_s = {noop_s:.2f}")
        print(f"cluster_noop_min_s = {walls[0]:.2f}")
        print(f"cluster_noop_max_s = {walls[-1]:.2f}")
        print(f"cluster_noop_engine_s = {report.get('duration_s', -1):.2f}")
        trips = _round_trips(report['log']) if report.get('log') else -1
        print(f"cluster_noop_round_trips = {trips}")
        print(f"noop_round_trips_per_host = {trips}")
        print(f"cluster_noop_changed = {noop_changed}")
        print(f"preflight_s = {_preflight_s(report['log']) if report.get('log') else -1:.3f}")
        print(f"cluster_verify_ok = {int(applied.returncode == 0 and verified.returncode == 0)}")
        print(f"load_avg_1m = {os.getloadavg()[0]:.2f}")  # figures are only comparable at the same load
    lab.wipe()


if __name__ == "__main__":
    main()
