"""The scale benchmarks' short forms on the lab, so the scripts keep working (their full
figures are measured by hand at 10/25/50 hosts): bench_scale_engine at 3 hosts, kprov only,
prints its figure lines with sane values and leaves the sample role set's footprint reset.
(bench_scale_cluster's short form, ``--hosts 3 --reset``, is a whole cold cluster: some
3 minutes, over this stage's budget, so it is not run here.)"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kprov.lab import Lab

REPO = Path(__file__).resolve().parents[3]


def _figures(script: str, *args: str, timeout: float = 900) -> dict[str, str]:
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "bench" / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line.split(" = ", 1) for line in proc.stdout.splitlines() if " = " in line]
    return {name.strip(): value.split("#", 1)[0].strip() for name, value in lines}  # (value  # note)


def test_bench_scale_engine_short_form(lab_hosts: Callable[[int], Lab]) -> None:
    lab = lab_hosts(3)
    figures = _figures("bench_scale_engine.py", "--lab", str(lab.index), "--hosts", "3", "--no-ansible",
                       "--settle-timeout", "10")  # other labs of the stage may keep the machine busy
    assert 0 < float(figures["engine_cold_3_s"]) < 600
    assert 0 < float(figures["engine_noop_3_s"]) < 120
    assert 0 < float(figures["engine_noop_unsettled_3_s"]) < 120  # (right after the cold run)
    assert 0 <= float(figures["engine_settle_3_s"]) < 60
    assert 0 < float(figures["engine_noop_fresh_3_s"]) < 120  # (every session new)
    assert int(figures["engine_cold_changed_3"]) > 0 and int(figures["engine_noop_changed_3"]) == 0
    assert 10 < float(figures["operator_rss_mib_3"]) < 2000
    assert "noop_s_per_host" in figures and float(figures["load_avg_1m_3"]) >= 0
