"""Pod Security admission on the lab cluster, through stock kubectl: a namespace labelled
enforce=restricted refuses a privileged pod with upstream's message and runs a compliant one;
warn=baseline admits a hostPath pod and kubectl prints upstream's warning."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cluster, wait_for

pytestmark = pytest.mark.lab
NAMESPACE = "psa-e2e"
LABEL = "pod-security.kubernetes.io/"
IMAGE = "kprov.local/busybox:1"


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Any:
    cluster.create_namespace(NAMESPACE)
    yield NAMESPACE
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _apply(cluster: Cluster, tmp_path: Any, manifest: str, check: bool = True) -> Any:
    path = tmp_path / "pod.yaml"
    path.write_text(manifest)
    return cluster.kubectl("apply", "-n", NAMESPACE, "-f", str(path), check=check)


def test_restricted_refuses_a_privileged_pod_and_runs_a_compliant_one(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    cluster.kubectl("label", "--overwrite", "namespace", namespace, LABEL + "enforce=restricted")
    privileged = f"""apiVersion: v1
kind: Pod
metadata: {{name: priv}}
spec:
  containers:
    - {{name: c, image: {IMAGE}, command: [sleep, "3600"], securityContext: {{privileged: true}}}}
"""
    refused = _apply(cluster, tmp_path, privileged, check=False)
    assert refused.returncode != 0
    assert (
        'pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged '
        '(container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false'
    ) in refused.stderr
    compliant = f"""apiVersion: v1
kind: Pod
metadata: {{name: fine}}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}
  containers:
    - name: c
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: [sleep, "3600"]
      securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}
"""
    created = _apply(cluster, tmp_path, compliant)
    assert "Warning" not in created.stderr
    def running() -> bool:
        return cluster.kubectl_json("get", "pod", "fine", "-n", namespace)["status"].get("phase") == "Running"

    wait_for("the compliant pod to run", running, timeout=45)


def test_warn_baseline_admits_a_hostpath_pod_with_upstreams_warning(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    cluster.kubectl("label", "--overwrite", "namespace", namespace, LABEL + "enforce=privileged")
    cluster.kubectl("label", "--overwrite", "namespace", namespace, LABEL + "warn=baseline")
    hostpath = f"""apiVersion: v1
kind: Pod
metadata: {{name: hostpath}}
spec:
  containers:
    - {{name: c, image: {IMAGE}, command: [sleep, "3600"]}}
  volumes:
    - {{name: h, hostPath: {{path: /tmp}}}}
"""
    created = _apply(cluster, tmp_path, hostpath)
    assert "pod/hostpath created" in created.stdout
    assert created.stderr.strip() == (
        'Warning: would violate PodSecurity "baseline:latest": hostPath volumes (volume "h")'
    )
