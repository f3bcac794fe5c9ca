"""ValidatingAdmissionPolicy on the lab cluster, through stock kubectl: a CEL policy bound
with Deny refuses a Deployment of 10 replicas with its message right after the binding is
created (no wait, no retry), and admits one of 2."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cluster

pytestmark = pytest.mark.lab
NAMESPACE = "vap-e2e"
POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: vap-e2e-replicas}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
    - {expression: "object.spec.replicas <= 5", message: "at most 5 replicas"}
"""
BINDING = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: vap-e2e-replicas}
spec:
  policyName: vap-e2e-replicas
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: vap-e2e}
"""


@pytest.fixture(scope="module")
def namespace(cluster: Cluster) -> Any:
    cluster.create_namespace(NAMESPACE)
    yield NAMESPACE
    cluster.kubectl("delete", "validatingadmissionpolicybinding", "vap-e2e-replicas", check=False)
    cluster.kubectl("delete", "validatingadmissionpolicy", "vap-e2e-replicas", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_policy_refuses_ten_replicas_right_after_binding(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "binding.yaml").write_text(BINDING)
    cluster.kubectl("apply", "-f", str(tmp_path / "policy.yaml"))
    cluster.kubectl("apply", "-f", str(tmp_path / "binding.yaml"))
    refused = cluster.kubectl(
        "create",
        "deployment",
        "big",
        "--image=kprov.local/busybox:1",
        "--replicas=10",
        "-n",
        namespace,
        check=False,
    )
    assert refused.returncode != 0
    assert (
        "deployments.apps \"big\" is forbidden: ValidatingAdmissionPolicy 'vap-e2e-replicas' with binding "
        "'vap-e2e-replicas' denied request: at most 5 replicas"
    ) in refused.stderr
    cluster.kubectl(
        "create", "deployment", "small", "--image=kprov.local/busybox:1", "--replicas=2", "-n", namespace
    )
