"""The density bench's short form, so the script keeps working (the full run is for the closing note)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_density.py"
FIGURES = (
    "density_pods_per_s", "pod_startup_p99_s", "api_mutating_p99_ms", "api_get_p99_ms",
    "api_list_pods_p99_ms", "apiserver_rss_mib", "controller_manager_rss_mib", "etcd_db_mib",
)


@pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd is not installed (Debian package etcd-server)")
def test_the_density_bench_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--nodes", "20", "--pods-per-node", "3", "--apiserver-workers", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    assert figures["density_nodes"] == "20" and figures["density_pods"] == "60"
    for name in FIGURES:
        assert float(figures[name]) > 0, f"{name} = {figures.get(name)}"
