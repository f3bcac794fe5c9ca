"""The fault workload against a real API server with no fault: every write it saw
acknowledged is readable with its value and came through its watch, in order.

What the lab's fault tests stand on (tests/faults/workload.py over tests/faults/background.py:
the writer and the watch on their own thread), checked here without a lab."""

from __future__ import annotations

import time

from tests.faults.checks import lost_writes, watch_gaps
from tests.faults.workload import Workload
from tests.integration.conftest import ControlPlane


def test_the_workload_writes_and_its_watch_sees_every_acknowledged_write(control_plane: ControlPlane) -> None:
    kubeconfig = control_plane.admin_kubeconfig
    with Workload(kubeconfig, "fault-harness", interval_s=0.05) as workload:
        time.sleep(1.5)
        workload.stop_writing()
        assert workload.wait_watch_caught_up(10)
    assert len(workload.acks) >= 10, workload.failures[-3:]
    assert lost_writes(kubeconfig, "fault-harness", workload.acks) == []
    assert watch_gaps(workload.acks, workload.watch) == []
    assert workload.watch.out_of_order == []
    assert workload.outage_s() == 0.0
