"""`kprov upgrade` without downtime (issue 21 (b)), on the package's 5-host VIP cluster: the
test builds a copy of this checkout whose kubelet reports another version (a new runtime
digest), then upgrades to it while

- a client polls the API through the default admin kubeconfig (the VIP) every 0.2 s: no
  request may fail while the control-plane hosts restart one by one;
- a Deployment of 4 replicas on the two workers, with a PodDisruptionBudget of
  minAvailable 3, is sampled every 0.5 s: it never has fewer than 3 ready pods (not being
  deleted) while each worker is cordoned, drained through the Eviction API and upgraded;
- the Nodes are sampled too: each worker was cordoned at some point and none is at the end.

Afterwards every kubelet reports the new version."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from kprov.cluster.client.kubeconfig import load_kubeconfig, ssl_context
from tests.e2e.ha.conftest import NEW_VERSION, WORKERS, HaCluster, Poller, changed_build

APP = "upgrade-budget"
MANIFEST = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": "default"},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                "metadata": {"labels": {"app": APP}},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "containers": [{
                        "name": "main", "image": "kprov.local/busybox:1",
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", "touch /tmp/ready; exec sleep 100000"],
                        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]},
                                           "periodSeconds": 1},
                    }],
                },
            },
        },
    },
    {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": APP, "namespace": "default"},
        "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": APP}}},
    },
]


@dataclass
class ClusterSamples:
    """Every ``interval_s``: how many of the app's pods are ready and not being deleted, and
    which Nodes are unschedulable (one GET each, on a new TLS connection through the VIP)."""

    kubeconfig: Path
    interval_s: float = 0.5
    ready: list[tuple[float, int, list[str]]] = field(default_factory=list)
    cordoned: set[str] = field(default_factory=set)
    unschedulable_now: set[str] = field(default_factory=set)
    errors: int = 0

    def _get(self, path: str) -> dict | None:
        config = load_kubeconfig(self.kubeconfig)
        url = urlsplit(config.servers[0])
        conn = http.client.HTTPSConnection(url.hostname or "", url.port or 443, timeout=5,
                                           context=ssl_context(config))
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            body = reply.read()
            return json.loads(body) if reply.status == 200 else None
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def sample(self) -> None:
        pods = self._get(f"/api/v1/namespaces/default/pods?labelSelector=app%3D{APP}")
        nodes = self._get("/api/v1/nodes")
        if pods is None or nodes is None:
            self.errors += 1
            return
        ready = [
            f"{p['metadata']['name']}@{p['spec'].get('nodeName')}" for p in pods["items"]
            if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True"
                    for c in p.get("status", {}).get("conditions", []))
        ]
        self.ready.append((time.monotonic(), len(ready), ready))
        self.unschedulable_now = {n["metadata"]["name"] for n in nodes["items"]
                                  if n["spec"].get("unschedulable")}
        self.cordoned |= self.unschedulable_now

    @contextmanager
    def running(self) -> Iterator[ClusterSamples]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.sample()
                stop.wait(self.interval_s)

        thread = threading.Thread(target=loop, name="cluster-samples", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join(15)
        self.sample()

    def fewest_ready(self) -> tuple[int, list[str]]:
        _, count, names = min(self.ready, key=lambda r: r[1])
        return count, names


def _wait_ready(ha_cluster: HaCluster, replicas: int, timeout_s: float = 240) -> None:
    samples = ClusterSamples(ha_cluster.admin_kubeconfig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        samples.sample()
        if samples.ready and samples.ready[-1][1] == replicas:
            return
        time.sleep(2)
    last = samples.ready[-1:] if samples.ready else "none"
    raise AssertionError(f"{APP}: ready pods {last}, want {replicas}")


@pytest.mark.long
def test_an_upgrade_keeps_the_api_answering_and_a_budgeted_deployment_available(
        ha_cluster: HaCluster, tmp_path: Path) -> None:
    source = changed_build(tmp_path / "kprov-upgraded")
    manifest = tmp_path / "app.yaml"
    manifest.write_text(yaml.safe_dump_all(MANIFEST))
    created = ha_cluster.kubectl("apply", "-f", str(manifest))
    assert created.returncode == 0, created.stderr
    try:
        _wait_ready(ha_cluster, 4)
        samples = ClusterSamples(ha_cluster.admin_kubeconfig)
        with Poller(ha_cluster.admin_kubeconfig) as poller, samples.running():
            proc = ha_cluster.kprov("upgrade", "-i", str(ha_cluster.inventory), "--source", str(source),
                                    timeout=1500)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        print(f"requests={len(poller.results)} failed={len(poller.failed)} samples={len(samples.ready)} "
              f"sample errors={samples.errors} fewest ready={samples.fewest_ready()} "
              f"cordoned={samples.cordoned}")
        assert len(poller.results) > 50
        assert poller.failed == [], poller.failed[:5]
        fewest, names = samples.fewest_ready()
        assert fewest >= 3, f"only {fewest} ready pods of {APP} at one point: {names}"
        assert samples.cordoned >= set(WORKERS), samples.cordoned
        assert samples.unschedulable_now == set(), samples.unschedulable_now
        nodes = ha_cluster.kubectl("get", "nodes", "-o", "json")
        assert nodes.returncode == 0, nodes.stderr
        versions = {n["metadata"]["name"]: n["status"]["nodeInfo"]["kubeletVersion"]
                    for n in json.loads(nodes.stdout)["items"]}
        assert set(versions.values()) == {NEW_VERSION}, versions
    finally:
        ha_cluster.kubectl("delete", "-f", str(manifest), "--wait=false")
