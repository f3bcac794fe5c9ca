"""Volumes that persist, on a real cluster (real kubelets, containerd, busybox): a pod writes
to a claim of the default class (local-path) and is deleted, a new pod with the same claim
reads it back on the node the volume lives on; a StatefulSet of 2 keeps each replica's data
across a pod deletion; deleting a claim (reclaim Delete) removes its volume and directory.
Everything lives in one namespace, deleted (with its volumes' directories) at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cluster.conftest import Cluster, wait_for

NS = "storage-e2e"
IMAGE = "kprov.local/busybox:1"
VOLUMES = "/var/lib/kprov/volumes"


def _pod_spec(command: str, claim: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", command],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
    }
    if claim:
        spec["restartPolicy"] = "Never"
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]
    return spec


def _apply(cluster: Cluster, tmp_path: Path, body: dict[str, Any]) -> None:
    manifest = tmp_path / f"{body['kind']}-{body['metadata']['name']}.json"
    manifest.write_text(json.dumps(body))
    cluster.kubectl("apply", "-f", str(manifest))


def _get(cluster: Cluster, *what: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", "-n", NS, *what, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def _phase(cluster: Cluster, kind: str, name: str, phase: str) -> dict[str, Any] | None:
    obj = _get(cluster, kind, name)
    return obj if obj and (obj.get("status") or {}).get("phase") == phase else None


def _volumes_of_namespace(cluster: Cluster) -> list[dict[str, Any]]:
    pvs = cluster.kubectl_json("get", "pv")["items"]
    return [v for v in pvs if ((v["spec"].get("claimRef") or {}).get("namespace")) == NS]


def _node_of(volume: dict[str, Any]) -> str:
    term = volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    return str(term["matchExpressions"][0]["values"][0])


def _dir_exists(cluster: Cluster, node: str, name: str) -> bool:
    rc, _, _ = cluster.lab.ssh(node, f"test -d {VOLUMES}/{name}")
    return rc == 0


@pytest.fixture(scope="module")
def storage(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cluster.create_namespace(NS)
    try:
        yield cluster
    finally:
        leftover = [(v["metadata"]["name"], _node_of(v)) for v in _volumes_of_namespace(cluster)
                    if v["spec"].get("nodeAffinity")]
        cluster.kubectl("delete", "namespace", NS, "--wait=true", timeout=180, check=False)
        # the provisioner deletes the released volumes, each node's kubelet their directories
        wait_for("the namespace's volumes deleted", lambda: not _volumes_of_namespace(cluster), 120, 2)
        wait_for("their directories removed",
                 lambda: not any(_dir_exists(cluster, node, name) for name, node in leftover), 60, 2)


def test_the_default_class_is_local_path(storage: Cluster) -> None:
    classes = storage.kubectl("get", "storageclass").stdout
    assert "local-path (default)" in classes and "kprov.io/local-path" in classes
    assert "WaitForFirstConsumer" in classes


def test_data_outlives_its_pod_and_the_claim_takes_its_directory(storage: Cluster, tmp_path: Path) -> None:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "data", "namespace": NS},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}}
    _apply(storage, tmp_path, claim)
    assert _phase(storage, "pvc", "data", "Pending"), "a WaitForFirstConsumer claim waits for its pod"
    writer = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "writer", "namespace": NS},
              "spec": _pod_spec("echo kept-$(hostname) > /data/file", claim="data")}
    _apply(storage, tmp_path, writer)
    done = wait_for("writer Succeeded", lambda: _phase(storage, "pod", "writer", "Succeeded"), 180, 2)
    node = done["spec"]["nodeName"]
    bound = wait_for("claim Bound", lambda: _phase(storage, "pvc", "data", "Bound"), 30)
    volume = storage.kubectl_json("get", "pv", bound["spec"]["volumeName"])
    assert volume["spec"]["storageClassName"] == "local-path" and _node_of(volume) == node
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert _dir_exists(storage, node, volume["metadata"]["name"])
    storage.kubectl("delete", "-n", NS, "pod", "writer", "--wait=true", timeout=120)
    reader = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader", "namespace": NS},
              "spec": _pod_spec("cat /data/file", claim="data")}
    _apply(storage, tmp_path, reader)
    read = wait_for("reader Succeeded", lambda: _phase(storage, "pod", "reader", "Succeeded"), 180, 2)
    assert read["spec"]["nodeName"] == node
    assert storage.kubectl("logs", "-n", NS, "reader").stdout.strip() == "kept-writer"
    storage.kubectl("delete", "-n", NS, "pod", "reader", "--wait=true", timeout=120)
    storage.kubectl("delete", "-n", NS, "pvc", "data", "--wait=true", timeout=120)
    name = volume["metadata"]["name"]
    wait_for("the volume deleted",
             lambda: storage.kubectl("get", "pv", name, check=False).returncode != 0, 60)
    wait_for("its directory removed", lambda: not _dir_exists(storage, node, name), 60, 2)


def test_statefulset_replicas_keep_their_data(storage: Cluster, tmp_path: Path) -> None:
    labels = {"app": "kv"}
    sts = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kv", "namespace": NS},
        "spec": {
            "replicas": 2, "serviceName": "kv", "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": _pod_spec("[ -f /data/id ] || hostname > /data/id; exec sleep 100000")},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                      "spec": {"accessModes": ["ReadWriteOnce"],
                                               "resources": {"requests": {"storage": "32Mi"}}}}],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete", "whenScaled": "Delete"},
        },
    }
    _apply(storage, tmp_path, sts)

    def ready() -> dict[str, Any] | None:
        obj = _get(storage, "statefulset", "kv")
        return obj if obj and (obj.get("status") or {}).get("readyReplicas") == 2 else None

    wait_for("2 ready replicas", ready, 180, 2)

    def read(pod: str) -> str:
        # sh -c: the fixture's kubectl appends its own flags, which become sh's $0 and $1
        proc = storage.kubectl("exec", "-n", NS, pod, "--", "sh", "-c", "cat /data/id", timeout=60)
        return proc.stdout.strip()

    assert [read("kv-0"), read("kv-1")] == ["kv-0", "kv-1"]
    storage.kubectl("exec", "-n", NS, "kv-1", "--", "sh", "-c", "echo second > /data/extra")
    first = _get(storage, "pod", "kv-1")
    assert first is not None
    storage.kubectl("delete", "-n", NS, "pod", "kv-1", "--wait=true", timeout=120)

    def replaced() -> bool:
        pod = _get(storage, "pod", "kv-1")
        return bool(pod and pod["metadata"]["uid"] != first["metadata"]["uid"]
                    and any(c["type"] == "Ready" and c["status"] == "True"
                            for c in pod["status"].get("conditions", [])))

    wait_for("kv-1 replaced and ready", replaced, 180, 2)
    assert read("kv-1") == "kv-1"
    extra = storage.kubectl("exec", "-n", NS, "kv-1", "--", "sh", "-c", "cat /data/extra").stdout.strip()
    assert extra == "second"
    claims = {c["metadata"]["name"] for c in storage.kubectl_json("get", "pvc", "-n", NS)["items"]}
    assert {"data-kv-0", "data-kv-1"} <= claims
    storage.kubectl("delete", "-n", NS, "statefulset", "kv", "--wait=true", timeout=120)
