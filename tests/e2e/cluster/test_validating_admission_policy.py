"""ValidatingAdmissionPolicy on the lab cluster, through stock kubectl: a CEL policy bound
with Deny refuses a Deployment of 10 replicas with its message right after the binding is
created (no wait, no retry), and admits one of 2; a policy reading a field the kind does not
have gets upstream's type-checking warning in its status from the controller manager."""

from __future__ import annotations

import json
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
TYPO_POLICY = """apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: vap-e2e-typo}
spec:
  matchConstraints:
    resourceRules:
      - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  validations:
    - {expression: "object.spec.replicaz > 0"}
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
    cluster.kubectl("delete", "validatingadmissionpolicy", "vap-e2e-replicas", "vap-e2e-typo", check=False)
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


def test_a_policy_reading_an_unknown_field_gets_upstreams_type_checking_warning(
    cluster: Cluster, namespace: str, tmp_path: Any
) -> None:
    (tmp_path / "typo.yaml").write_text(TYPO_POLICY)
    cluster.kubectl("apply", "-f", str(tmp_path / "typo.yaml"))
    cluster.kubectl("wait", "--for=jsonpath={.status.observedGeneration}=1", "--timeout=60s",
                    "validatingadmissionpolicy/vap-e2e-typo")
    status = json.loads(cluster.kubectl("get", "validatingadmissionpolicy", "vap-e2e-typo", "-o",
                                        "jsonpath={.status}").stdout)
    assert status["typeChecking"]["expressionWarnings"] == [{
        "fieldRef": "spec.validations[0].expression",
        "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:12: undefined field 'replicaz'\n"
                   " | object.spec.replicaz > 0\n | ...........^\n",
    }]
