"""networking.k8s.io/v1 Ingresses and IngressClasses are served: stock kubectl creates,
lists (by their short name too), patches status and deletes them, and the group is in
discovery — what the suite's Ingress/IngressClass API tests walk through. No controller
acts on them (kprov ships no ingress controller)."""

from __future__ import annotations

import json

INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: example
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"""
CLASS = """
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: example, labels: {suite: e2e}}
spec: {controller: example.com/ingress}
"""


def test_ingress_and_ingress_class_round_trip(kubectl, namespace) -> None:  # type: ignore[no-untyped-def]
    groups = json.loads(kubectl("get", "--raw", "/apis").stdout)["groups"]
    networking = next(g for g in groups if g["name"] == "networking.k8s.io")
    assert networking["preferredVersion"]["groupVersion"] == "networking.k8s.io/v1"
    kubectl("apply", "-f", "-", input=CLASS)
    kubectl("apply", "-n", namespace, "-f", "-", input=INGRESS)
    listed = kubectl("get", "ing", "-n", namespace, "-o", "json").stdout
    (ingress,) = json.loads(listed)["items"]
    assert ingress["spec"]["rules"][0]["host"] == "web.example.com"
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}}
    kubectl("patch", "ingress", "web", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", json.dumps(status))
    patched = json.loads(kubectl("get", "ingress", "web", "-n", namespace, "-o", "json").stdout)
    assert patched["status"]["loadBalancer"]["ingress"] == [{"ip": "10.0.0.9"}]
    classes = json.loads(kubectl("get", "ingressclasses", "-l", "suite=e2e", "-o", "json").stdout)["items"]
    assert [c["metadata"]["name"] for c in classes] == ["example"]
    kubectl("delete", "ingress", "web", "-n", namespace)
    kubectl("delete", "ingressclass", "example")
    gone = kubectl("get", "ingressclass", "example", check=False)
    assert gone.returncode == 1 and 'ingressclasses.networking.k8s.io "example" not found' in gone.stderr
