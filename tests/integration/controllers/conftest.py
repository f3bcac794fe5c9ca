"""Fixtures: a kprov-controller-manager process (short node-monitor grace period and
eviction timeout so the tests are quick) against the session's control plane."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.controllers.hollow import start_component, stop_component

GRACE_SECONDS = 4
EVICTION_SECONDS = 3


@pytest.fixture(scope="module")
def controller_manager(control_plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen]:  # type: ignore[no-untyped-def]
    override = os.environ.get("KPROV_COMPONENT_LOGS")  # keep logs somewhere known when debugging
    logs = Path(override) if override else tmp_path_factory.mktemp("cm-logs")
    proc = start_component(
        "kprov.cluster.controllers",
        control_plane.controller_manager_kubeconfig(),
        logs,
        "cm",
        "--leader-elect=false",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={control_plane.plane.pki.path('sa', 'key')}",
        f"--node-monitor-grace-period={GRACE_SECONDS}s",
        "--node-monitor-period=1s",
        f"--pod-eviction-timeout={EVICTION_SECONDS}s",
        "-v",
        "2",
    )
    try:
        yield proc
    finally:
        stop_component(proc)
        if proc.returncode not in (0, -15):
            print(Path(logs / "cm.log").read_text()[-5000:])
