"""CustomResourceDefinitions on a real cluster through stock kubectl: a CRD applied through
one API server is served by all three, its objects print their printer columns, an invalid
object is a 422 naming the field, and deleting the CRD deletes its objects and the resource
on every API server."""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import Cluster, wait_for

pytestmark = pytest.mark.lab

API_SERVERS = ("h1", "h2", "h3")
GROUP = "e2e.kprov.example.com"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"gadgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "kind": "Gadget", "shortNames": ["gdg"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "x-kubernetes-validations": [
                                    {"rule": "self.size % 2 == 0", "message": "size must be even"}
                                ],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 0, "maximum": 100},
                                    "color": {"type": "string", "default": "green"},
                                },
                            }
                        },
                    }
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                ],
            }
        ],
    },
}


def _gadget(name: str, size: object) -> str:
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Gadget",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"size": size},
        }
    )


def _apply(
    cluster: Cluster, text: str, via: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "--request-timeout=10s"]
    if via:
        cmd.append(f"--context=kubernetes-admin@kprov-{via}")
    proc = subprocess.run(
        [*cmd, "apply", "-f", "-", "--cache-dir", "/tmp/kprov-e2e-kube-cache"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_crd_served_everywhere_validated_printed_and_deleted(cluster: Cluster) -> None:
    _apply(cluster, json.dumps(CRD), via="h1")
    cluster.kubectl("wait", "--for=condition=Established", f"crd/gadgets.{GROUP}", "--timeout=30s")
    for via in API_SERVERS:  # every API server serves it (within a second, by the watch)
        wait_for(
            f"gadgets on {via}",
            lambda via=via: cluster.kubectl("get", "gdg", via=via, check=False).returncode == 0,
            10,
            0.2,
        )

    _apply(cluster, _gadget("small", 2), via="h2")
    _apply(cluster, _gadget("big", 40), via="h3")
    table = cluster.kubectl("get", "gadgets", via="h1").stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR"]
    assert sorted(line.split() for line in table[1:]) == [["big", "40", "green"], ["small", "2", "green"]]

    invalid = _apply(cluster, _gadget("huge", 101), check=False)
    assert invalid.returncode != 0
    assert (
        "spec.size: Invalid value: 101: spec.size in body should be less than or equal to 100"
        in invalid.stderr
    )
    odd = _apply(cluster, _gadget("odd", 3), check=False)
    assert odd.returncode != 0 and "size must be even" in odd.stderr

    cluster.kubectl("delete", "crd", f"gadgets.{GROUP}", "--timeout=60s", timeout=90)
    for via in API_SERVERS:
        gone = cluster.kubectl("get", "gadgets", via=via, check=False)
        # kubectl's discovery cache may still name the resource: then the server's 404 says it
        assert gone.returncode != 0
        assert "the server doesn't have a resource type" in gone.stderr or "NotFound" in gone.stderr
    # a new CRD of the same name starts empty: the objects went with the old one
    _apply(cluster, json.dumps(CRD))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/gadgets.{GROUP}", "--timeout=30s")
    wait_for(
        "gadgets served again",
        lambda: cluster.kubectl("get", "gadgets", check=False).returncode == 0,
        10,
        0.2,
    )
    assert cluster.kubectl_json("get", "gadgets")["items"] == []
    cluster.kubectl("delete", "crd", f"gadgets.{GROUP}", "--timeout=60s", timeout=90)
