"""`kprov plan` with a new host in the inventory: it exits 0 and lists the new host's
changes, its wait_for tasks skipped (check mode never waits on a port only the run opens)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import yaml

from kprov.lab import Lab
from tests.e2e.safety.conftest import SafetyCluster


def test_plan_with_a_new_host_exits_0_and_lists_its_changes(
        safety_cluster: SafetyCluster, lab_hosts: Callable[[int], Lab]) -> None:
    lab_hosts(4)
    doc = yaml.safe_load(safety_cluster.inventory.read_text())
    doc["all"]["hosts"]["h4"] = {"ansible_host": safety_cluster.lab.ip("h4")}
    doc["all"]["children"].setdefault("workers", {"hosts": {}})
    doc["all"]["children"]["workers"] = {"hosts": {**(doc["all"]["children"]["workers"].get("hosts") or {}),
                                                   "h4": None}}
    grown = safety_cluster.inventory.with_name("hosts-plus-h4.yml")  # beside the cluster's pki
    grown.write_text(yaml.safe_dump(doc))
    try:
        proc = safety_cluster.kprov("plan", "-i", str(grown), "--json")
    finally:
        grown.unlink()
        shutil.rmtree(safety_cluster.inventory.parent / "pki" / "kubelet" / "h4", ignore_errors=True)
    report = json.loads(proc.stdout)
    failed = [f"{r['host']}: {r['task']}: {r['msg']}" for r in report["results"] if r["status"] == "failed"]
    assert proc.returncode == 0 and report["ok"], failed + report["errors"]
    changes = [r for r in report["results"] if r["host"] == "h4" and r["status"] == "changed"]
    assert len(changes) > 25, len(changes)  # the whole node: packages, runtime, kubelet, kube-proxy
    waits = [r for r in report["results"] if r["host"] == "h4" and r["action"].endswith("wait_for")]
    assert waits and all(r["status"] == "skipped" for r in waits)
