"""The density bench's short form, so the script keeps working (the full run is for the closing note).

It runs the issue's topology (3 etcd members, 2 API servers, a hollow fleet per API server)
at 200 hollow nodes x 3 pods, then 20 latency pods, and checks every figure line is printed with a sane value;
it asserts nothing about how fast (a shared CI machine's timings are not figures).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_density.py"
NODES, PER_NODE, LATENCY_PODS = 200, 3, 20
POSITIVE = (
    "density_s", "density_pods_per_s", "pod_startup_p50_s", "pod_startup_p99_s",
    "saturation_pod_startup_p50_s", "saturation_pod_startup_p99_s", "api_mutating_p99_ms",
    "api_get_p99_ms", "api_list_pods_p99_ms", "apiserver_rss_mib", "etcd_rss_mib",
    "controller_manager_rss_mib", "scheduler_rss_mib", "hollow_rss_mib", "etcd_db_mib",
    "cpu_s_apiserver", "cpu_s_etcd",
)
PRESENT = ("nodes_ready_s", "cpu_s_scheduler", "cpu_s_controller_manager", "cpu_s_hollow", "cpu_s_bench",
           "cpu_s_others", "cpu_s_probe", "loadavg_1m_before", "loadavg_1m_after", "api_list_pods_samples",
           "create_to_schedule_p99_s", "schedule_to_run_p99_s", "run_to_watch_p99_s",
           "pod_startup_watch_p50_s", "pod_startup_watch_p99_s")


@pytest.mark.skipif(shutil.which("etcd") is None, reason="etcd is not installed (Debian package etcd-server)")
def test_the_density_bench_runs_in_the_issues_topology_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--nodes", str(NODES), "--pods-per-node", str(PER_NODE),
         "--latency-pods", str(LATENCY_PODS)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {
        name: float(value)
        for name, value in (line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    }
    assert figures["density_nodes"] == NODES and figures["density_pods"] == NODES * PER_NODE
    assert figures["etcd_members"] == 3 and figures["apiservers"] == 2
    assert figures["latency_pods"] == LATENCY_PODS
    for name in POSITIVE:
        assert figures.get(name, 0.0) > 0, f"{name} = {figures.get(name)}"
    for name in PRESENT:
        assert figures.get(name, -1.0) >= 0, f"{name} = {figures.get(name)}"
    assert figures["pod_startup_p50_s"] <= figures["pod_startup_p99_s"]
    assert figures["saturation_pod_startup_p50_s"] <= figures["saturation_pod_startup_p99_s"]
    assert figures["apiserver_rss_mib"] < 4096 and figures["etcd_db_mib"] < 4096
    missed = [line for line in done.stdout.splitlines() if line.startswith("targets_missed:")]
    if missed:  # a miss (a loaded machine) must say where the CPU went
        assert any(line.startswith("cpu_went_to: ") for line in done.stdout.splitlines())
