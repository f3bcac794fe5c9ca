"""A pod's identity on a real node: the ServiceAccount admission's kube-api-access volume,
mounted by kprov-kubelet (token from a TokenRequest bound to the pod, the root CA, the
namespace) at /var/run/secrets/kubernetes.io/serviceaccount, the KUBERNETES_SERVICE_*
variables, and the token authenticating to the API server until the pod is deleted.

This harness has no controller manager, so the test makes what it would: the namespace's
``default`` ServiceAccount and its ``kube-root-ca.crt`` ConfigMap (the publisher itself is
proven in tests/integration/controllers).
"""

from __future__ import annotations

import json
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.kubelet.cluster import NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest
from tests.e2e.kubelet.test_pods import running, wait_for

pytestmark = pytest.mark.lab

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
AUTOMOUNT = '{"automountServiceAccountToken":true}'  # the fixture's default account mounts nothing


def _whoami(cluster: NodeCluster, token: str) -> tuple[int, Any]:
    context = ssl.create_default_context(cadata=cluster._ca.cert_pem.decode())
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
    req = urllib.request.Request(
        f"{cluster.server}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=context, timeout=20) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_pod_gets_token_ca_namespace_and_service_env(node_cluster: NodeCluster, namespace: str) -> None:
    cluster = node_cluster
    cluster.kubectl("patch", "serviceaccount", "default", "-n", namespace, "-p", AUTOMOUNT)
    ca = cluster._ca.cert_pem.decode()
    cluster.kubectl("create", "configmap", "kube-root-ca.crt", "-n", namespace, f"--from-literal=ca.crt={ca}")
    apply(cluster, namespace, pod_manifest("who", [{"name": "c", "command": ["sleep", "3600"]}]))
    pod = wait_for(cluster, namespace, "who", running, timeout=90)
    volumes = [v["name"] for v in pod["spec"]["volumes"]]
    assert any(v.startswith("kube-api-access-") for v in volumes), volumes
    assert pod["spec"]["serviceAccountName"] == "default"

    def in_pod(*command: str) -> str:
        return cluster.kubectl("exec", "-n", namespace, "who", "--", *command).stdout

    listing = in_pod("ls", "-a", MOUNT).split()
    for name in ("token", "ca.crt", "namespace", "..data"):
        assert name in listing, listing
    assert in_pod("cat", f"{MOUNT}/namespace") == namespace
    assert in_pod("cat", f"{MOUNT}/ca.crt") == ca
    env = dict(line.split("=", 1) for line in in_pod("env").splitlines() if "=" in line)
    service = json.loads(
        cluster.kubectl("get", "service", "kubernetes", "-n", "default", "-o", "json").stdout
    )
    assert env["KUBERNETES_SERVICE_HOST"] == service["spec"]["clusterIP"]
    assert env["KUBERNETES_SERVICE_PORT"] == str(service["spec"]["ports"][0]["port"])
    assert (
        env["KUBERNETES_PORT"]
        == f"tcp://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}"
    )

    token = in_pod("cat", f"{MOUNT}/token")
    status, review = _whoami(cluster, token)
    assert status == 201, review
    info = review["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{namespace}:default"
    assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["who"]
    assert info["extra"]["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]

    _in_cluster_client_needs_a_binding(cluster, namespace, token, ca)

    cluster.kubectl("delete", "pod", "who", "-n", namespace, "--wait=true", timeout=90)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _whoami(cluster, token)[0] != 401:
        time.sleep(0.5)
    status, body = _whoami(cluster, token)
    assert status == 401 and body["reason"] == "Unauthorized", body


def _in_cluster_client_needs_a_binding(cluster: NodeCluster, namespace: str, token: str, ca: str) -> None:
    """The official Python client's in-cluster configuration, fed the pod's files: listing
    the namespace's pods is 403 until a RoleBinding to ``view`` exists, then 200."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    host, port = cluster.server.removeprefix("https://").rsplit(":", 1)
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "token").write_text(token)
        (Path(directory) / "ca.crt").write_text(ca)
        configuration = client.Configuration()
        environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
        loader = InClusterConfigLoader(f"{directory}/token", f"{directory}/ca.crt", environ=environ)
        loader.load_and_set(configuration)
        with client.ApiClient(configuration) as api:
            pods = client.CoreV1Api(api)
            with pytest.raises(ApiException) as denied:
                pods.list_namespaced_pod(namespace)
            assert denied.value.status == 403
            cluster.kubectl(
                "create",
                "rolebinding",
                "default-view",
                "-n",
                namespace,
                "--clusterrole=view",
                f"--serviceaccount={namespace}:default",
            )
            deadline = time.monotonic() + 10
            while True:
                try:
                    names = [p.metadata.name for p in pods.list_namespaced_pod(namespace).items]
                    break
                except ApiException as exc:
                    if exc.status != 403 or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            assert "who" in names


def test_automount_false_mounts_nothing(node_cluster: NodeCluster, namespace: str) -> None:
    cluster = node_cluster
    cluster.kubectl("patch", "serviceaccount", "default", "-n", namespace, "-p", AUTOMOUNT)
    manifest = pod_manifest(
        "quiet", [{"name": "c", "command": ["sleep", "3600"]}], automountServiceAccountToken=False
    )
    apply(cluster, namespace, manifest)
    pod = wait_for(cluster, namespace, "quiet", running, timeout=90)
    assert not any(v["name"].startswith("kube-api-access-") for v in pod["spec"].get("volumes") or [])
    ls = cluster.kubectl("exec", "-n", namespace, "quiet", "--", "ls", MOUNT, check=False)
    assert ls.returncode != 0
