"""A whole cluster on 5 fresh lab hosts, applied once per module with `kprov apply`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.lab import Lab

KPROV = [sys.executable, "-m", "kprov.cli.main"]


@dataclass
class Cluster:
    lab: Lab
    inventory: Path

    @property
    def kubeconfig(self) -> Path:
        return self.inventory.parent / "pki" / "kubeconfigs" / "admin.conf"

    def kprov(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, COLUMNS="200")
        return subprocess.run([*KPROV, *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)

    def apply(self, *extra: str) -> dict[str, Any]:
        proc = self.kprov("apply", "-i", str(self.inventory), "--json", *extra)
        assert proc.stdout.strip(), proc.stderr[-3000:]
        report = json.loads(proc.stdout)
        return report

    def kubectl(self, *args: str, via: str | None = None, timeout: float = 60,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """kubectl with the admin kubeconfig; ``via``: through that host's API server (its context)."""
        cmd = ["kubectl", "--kubeconfig", str(self.kubeconfig), "--request-timeout=10s"]
        if via:
            cmd.append(f"--context=kubernetes-admin@kprov-{via}")
        proc = subprocess.run([*cmd, "--cache-dir", "/tmp/kprov-e2e-kube-cache", *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc

    def kubectl_json(self, *args: str, via: str | None = None) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", via=via).stdout)

    def create_namespace(self, name: str) -> None:
        """Create a namespace and wait for its ``default`` ServiceAccount, as upstream's e2e
        framework does: until the serviceaccounts controller has made it, admission refuses
        pods there ("error looking up service account ...: not found"), as kube-apiserver does."""
        self.kubectl("create", "namespace", name)
        def made() -> bool:
            return self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0

        wait_for(f"namespace {name}'s default ServiceAccount", made, 60)

    def ssh(self, host: str, command: str) -> str:
        rc, out, err = self.lab.ssh(host, command)
        assert rc == 0, f"{host}: {command}: {err}"
        return out.strip()


def changed_count(report: dict[str, Any]) -> int:
    return sum(s["changed"] for s in report["stats"].values())


def failures(report: dict[str, Any]) -> list[str]:
    return [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"]
            if r["status"] in ("failed", "unreachable") and not r.get("ignored")] + report["errors"]


def wait_for(what: str, predicate: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # noqa: BLE001 - polled: a host mid-reboot refuses SSH, etc.
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="package")
def cluster(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Fresh hosts (other e2e modules leave their own software behind), then one cold apply."""
    lab.wipe()
    hosts = int(os.environ.get("KPROV_E2E_CLUSTER_HOSTS", "5"))  # fewer for one test on a busy machine
    lab.up(hosts)
    directory = tmp_path_factory.mktemp("cluster-inventory")
    inventory = lab.write_inventory(directory / "hosts.yml", hosts)
    doc = yaml.safe_load(inventory.read_text())  # an HPA scale-down waits 10 s, not 5 min
    window = "--horizontal-pod-autoscaler-downscale-stabilization=10s"
    doc["all"]["vars"]["controller_manager_extra_args"] = [window]
    if hosts % 2 == 0:  # a 2-host lab: both hosts in etcd, knowingly
        doc["all"]["vars"]["etcd_allow_even_size"] = True
    inventory.write_text(yaml.safe_dump(doc))
    c = Cluster(lab, inventory)
    report = c.apply()
    assert report["ok"], "\n".join(failures(report))
    yield c
    if not os.environ.get("KPROV_KEEP_LAB"):  # set it to look at a failed run's hosts
        lab.wipe()
