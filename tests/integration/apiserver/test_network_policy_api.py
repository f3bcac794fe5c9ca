"""networking.k8s.io/v1 NetworkPolicies are served: stock kubectl applies one (defaults filled
as upstream's), lists it by its short name with the POD-SELECTOR column, sees upstream's
validation message for a bad one, and deletes it; the kind is in discovery and OpenAPI."""

from __future__ import annotations

import json

POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {role: api}}}]
    ports: [{port: 5432}]
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
"""
BAD = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 100, endPort: 99}]
"""


def test_network_policy_round_trip(kubectl, namespace) -> None:  # type: ignore[no-untyped-def]
    resources = json.loads(kubectl("get", "--raw", "/apis/networking.k8s.io/v1").stdout)["resources"]
    (served,) = [r for r in resources if r["name"] == "networkpolicies"]
    assert served["kind"] == "NetworkPolicy" and served["shortNames"] == ["netpol"] and served["namespaced"]
    explained = kubectl("explain", "networkpolicy.spec.podSelector")
    assert "LabelSelector" in explained.stdout
    kubectl("apply", "-n", namespace, "-f", "-", input=POLICY)
    stored = json.loads(kubectl("get", "netpol", "db-from-api", "-n", namespace, "-o", "json").stdout)
    assert stored["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert stored["spec"]["ingress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]
    table = kubectl("get", "networkpolicies", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "POD-SELECTOR", "AGE"]
    assert table[1].split()[:2] == ["db-from-api", "app=db"]
    rejected = kubectl("apply", "-n", namespace, "-f", "-", input=BAD, check=False)
    assert rejected.returncode == 1
    assert "spec.ingress[0].ports[0].endPort: Invalid value: 99: must be greater than or equal to `port`" in (
        rejected.stderr
    )
    kubectl("apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", input=POLICY)
    kubectl("delete", "netpol", "db-from-api", "-n", namespace)
    gone = kubectl("get", "netpol", "db-from-api", "-n", namespace, check=False)
    assert gone.returncode == 1 and 'networkpolicies.networking.k8s.io "db-from-api" not found' in gone.stderr
