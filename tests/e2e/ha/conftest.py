"""One 5-host cluster with an API VIP (h1..h3 control plane + etcd, h4 and h5 workers;
``apiserver_vip`` 10.77.<lab>.10), applied once for the HA tests, and a client that polls
the API through the default admin kubeconfig, as an operator's kubectl would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kprov.lab import Lab, LabError
from tests.bench._ha import NEW_VERSION, OLD_VERSION, Poller, changed_build

__all__ = ["CONTROL_PLANE", "HOSTS", "NEW_VERSION", "OLD_VERSION", "WORKERS", "HaCluster", "Poller",
           "changed_build", "failures"]

KPROV = [sys.executable, "-m", "kprov.cli.main"]
HOSTS = 5
CONTROL_PLANE = ("h1", "h2", "h3")
WORKERS = ("h4", "h5")

@dataclass
class HaCluster:
    lab: Lab
    inventory: Path

    @property
    def vip(self) -> str:
        return self.lab.layout.apiserver_vip

    @property
    def admin_kubeconfig(self) -> Path:
        return self.inventory.parent / "pki" / "kubeconfigs" / "admin.conf"

    def kprov(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, COLUMNS="200")
        return subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def apply(self, *extra: str) -> tuple[int, dict[str, Any]]:
        proc = self.kprov("apply", "-i", str(self.inventory), "--json", *extra)
        assert proc.stdout.strip(), proc.stderr[-3000:]
        return proc.returncode, json.loads(proc.stdout)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", str(self.admin_kubeconfig), "--request-timeout=10s",
                               *args], capture_output=True, text=True, timeout=60)

    def vip_holder(self, skip: tuple[str, ...] = ()) -> str | None:
        """The control-plane host holding the VIP (``skip``: hosts known to be off)."""
        for host in CONTROL_PLANE:
            if host in skip:
                continue
            try:
                rc, out, _ = self.lab.ssh(host, f"ip -4 -o addr show | grep -qw {self.vip}/24 && echo held",
                                          timeout=20)
            except LabError:
                continue
            if rc == 0 and "held" in out:
                return host
        return None


def failures(report: dict[str, Any]) -> list[str]:
    return [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"]
            if r["status"] in ("failed", "unreachable") and not r.get("ignored")] + report["errors"]


@pytest.fixture(scope="package")
def ha_cluster(lab_hosts: Callable[[int], Lab],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaCluster]:
    lab = lab_hosts(HOSTS)
    inventory = lab.write_inventory(tmp_path_factory.mktemp("ha-inventory") / "hosts.yml", HOSTS, vip=True)
    cluster = HaCluster(lab, inventory)
    rc, report = cluster.apply()
    assert rc == 0 and report["ok"], "\n".join(failures(report))
    yield cluster
    for host in CONTROL_PLANE:  # a test that stopped a host and failed midway
        if lab.host_status(host).state == "stopped":
            lab.start(host)
