"""Fixtures of the kubelet e2e tests: one lab host running a real kprov-kubelet."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.lab import Lab
from tests.e2e.kubelet.cluster import BUSYBOX, HOST, NodeCluster


@pytest.fixture(scope="package")  # after the package's fresh-hosts wipe, never before it
def node_cluster(lab_hosts: Callable[[int], Lab]) -> Iterator[NodeCluster]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    lab = lab_hosts(1)
    workdir = Path(tempfile.mkdtemp(prefix="kprov-kubelet-e2e-"))
    cluster = NodeCluster(lab, workdir)
    try:
        cluster.start_control_plane()
        cluster.prepare_node()
        cluster.start_kubelet()
        yield cluster
    finally:
        cluster.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def namespace(node_cluster: NodeCluster) -> Iterator[str]:
    name = "e2e-" + uuid.uuid4().hex[:8]
    node_cluster.kubectl("create", "namespace", name)
    # No controller manager here: the fixture makes the namespace's default ServiceAccount (pods
    # naming a missing one are refused, as upstream refuses them). It does not automount: no
    # kube-root-ca.crt publisher runs either, and its volume could not be filled.
    node_cluster.kubectl("create", "-n", name, "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"},
        "automountServiceAccountToken": False,
    }))
    yield name
    node_cluster.kubectl("delete", "pods", "--all", "-n", name, "--wait=false", check=False)


def pod_manifest(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    for c in containers:
        c.setdefault("image", BUSYBOX)
        c.setdefault("imagePullPolicy", "IfNotPresent")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"nodeName": HOST, "terminationGracePeriodSeconds": 5, "containers": containers, **spec},
    }


def apply(cluster: NodeCluster, namespace: str, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(objects))
