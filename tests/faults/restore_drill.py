"""The restore drill (issue 76): every etcd member's data destroyed, the cluster back from a snapshot.

The steps are kprov's documented restore path (`kprov etcd backup`, `kprov etcd restore`) inside
the procedure upstream documents for a cluster's etcd ("Operating etcd clusters for Kubernetes":
stop every API server, restore every etcd member, start the API servers again):

1. ``objects`` ConfigMaps in a namespace of the drill's own (stock kubectl, through the VIP);
2. ``kprov etcd backup``; then one more ConfigMap, written after the snapshot;
3. every API server stopped; on every member etcd stopped and its ``member`` directory removed;
4. ``kprov etcd restore`` from the snapshot, the API servers started;
5. the API answers through the VIP with every object of the snapshot, and without the one
   written after it; then a new write through the VIP is acknowledged (retried up to 60 s:
   ``first_write_s`` and the first failure's error are reported).

``dr_restore_s`` runs from the restore's start to step 5 passing; ``etcd_restored_s`` to the
restore command's return (the members healthy); ``nodes_ready_s`` after that, until every node
is Ready again.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kprov.lab import Lab

__all__ = ["DrillResult", "run_restore_drill"]

KPROV = [sys.executable, "-m", "kprov.cli.main"]
ETCD_DATA_DIR = "/var/lib/kprov/etcd"


@dataclass
class DrillResult:
    objects: int
    snapshot: str
    etcd_restored_s: float
    dr_restore_s: float
    nodes_ready_s: float
    restored: int
    after_snapshot_present: bool
    writes_after_restore: bool  # a ConfigMap created through the VIP once restored (retried 60 s)
    first_write_s: float = 0.0  # from the reads passing to that write acknowledged
    write_error: str = ""  # the first failed attempt's error, if any

    def _first_failure(self) -> str:
        return f" (first failure: {self.write_error})" if self.write_error else ""

    def summary(self) -> str:
        return (f"restore drill: {self.restored}/{self.objects} objects back, written-after-snapshot "
                f"{'present' if self.after_snapshot_present else 'absent'}, a write after it "
                f"{'acknowledged' if self.writes_after_restore else 'never acknowledged'} after "
                f"{self.first_write_s:.1f} s{self._first_failure()}, "
                f"etcd_restored_s="
                f"{self.etcd_restored_s:.1f} dr_restore_s={self.dr_restore_s:.1f} "
                f"nodes_ready_s={self.nodes_ready_s:.1f} ({self.snapshot})")


def _run(args: list[str], *, stdin: str | None = None, timeout: float = 300) -> str:
    proc = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout,
                          stdin=None if stdin is not None else subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])}...: rc={proc.returncode} "
                           f"{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return proc.stdout


def _ssh(lab: Lab, host: str, command: str) -> None:
    rc, _, err = lab.ssh(host, command, timeout=120)
    if rc != 0:
        raise RuntimeError(f"{host}: {command}: rc={rc} {err.strip()[-300:]}")


def _configmaps(namespace: str, count: int, prefix: str) -> str:
    items = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{prefix}-{i:04d}"},
              "data": {"value": f"{prefix}-{i}"}} for i in range(count)]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def _names(kubectl: list[str], namespace: str) -> set[str] | None:
    proc = subprocess.run([*kubectl, "get", "configmaps", "-n", namespace, "-o", "name",
                           "--request-timeout=5s"], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return None
    return {line.split("/", 1)[1] for line in proc.stdout.split()}


def _nodes_ready(kubectl: list[str]) -> bool:
    proc = subprocess.run([*kubectl, "get", "nodes", "-o", "json", "--request-timeout=5s"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return False
    nodes = json.loads(proc.stdout)["items"]
    return bool(nodes) and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
        for n in nodes)


def run_restore_drill(lab: Lab, inventory: Path, kubeconfig: Path, members: tuple[str, ...],
                      apiservers: tuple[str, ...], workdir: Path, *, objects: int = 200,
                      timeout_s: float = 300) -> DrillResult:
    kubectl = ["kubectl", "--kubeconfig", str(kubeconfig)]
    namespace = f"dr-drill-{secrets.token_hex(3)}"
    prefix = "drill"
    _run([*kubectl, "create", "namespace", namespace])
    _run([*kubectl, "apply", "-n", namespace, "-f", "-"], stdin=_configmaps(namespace, objects, prefix))
    expected = {f"{prefix}-{i:04d}" for i in range(objects)}
    backups = workdir / "dr-backups"
    _run([*KPROV, "etcd", "backup", "-i", str(inventory), "--out", str(backups)])
    (snapshot,) = sorted(backups.glob("etcd-snapshot-*.db"))[-1:]
    _run([*kubectl, "create", "configmap", "after-snapshot", "-n", namespace])

    for host in apiservers:
        _ssh(lab, host, "systemctl stop kprov-apiserver")
    for host in members:
        _ssh(lab, host, f"systemctl stop kprov-etcd && rm -rf {ETCD_DATA_DIR}/member")

    start = time.monotonic()
    _run([*KPROV, "etcd", "restore", "-i", str(inventory), str(snapshot), "--yes"])
    etcd_restored_s = time.monotonic() - start
    for host in apiservers:
        _ssh(lab, host, "systemctl start kprov-apiserver")
    names: set[str] | None = None
    while time.monotonic() - start < timeout_s:
        names = _names(kubectl, namespace)
        if names is not None and expected <= names:
            break
        time.sleep(0.5)
    dr_restore_s = time.monotonic() - start
    ready_from = time.monotonic()
    while time.monotonic() - ready_from < timeout_s and not _nodes_ready(kubectl):
        time.sleep(1)
    nodes_ready_s = time.monotonic() - ready_from
    found = names or set()
    write_from, error, wrote = time.monotonic(), "", False
    while not wrote and time.monotonic() - write_from < 60:
        write = subprocess.run([*kubectl, "create", "configmap", "after-restore", "-n", namespace,
                                "--request-timeout=10s"], capture_output=True, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        wrote = write.returncode == 0 or "AlreadyExists" in write.stderr  # an answer lost, the write made
        if not wrote:
            error = error or write.stderr.strip()[-300:]
            time.sleep(0.5)
    first_write_s = time.monotonic() - write_from
    subprocess.run([*kubectl, "delete", "namespace", namespace, "--wait=false"], capture_output=True,
                   timeout=60, stdin=subprocess.DEVNULL)
    return DrillResult(objects=objects, snapshot=snapshot.name, etcd_restored_s=etcd_restored_s,
                       dr_restore_s=dr_restore_s, nodes_ready_s=nodes_ready_s, restored=len(expected & found),
                       after_snapshot_present="after-snapshot" in found,
                       writes_after_restore=wrote, first_write_s=first_write_s, write_error=error)
