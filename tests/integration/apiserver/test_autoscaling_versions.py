"""HorizontalPodAutoscalers in autoscaling/v1 and v2 on a real API server (etcd, stock
kubectl, the Python client): one stored object both versions read and write (v2 stored;
v1 keeps v2's other fields in its annotations), v2 the group's preferred version, v2's
defaults and validation, the TARGETS column, `kubectl explain` and `kubectl autoscale`."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from ._http import request, ssl_context

_BEHAVIOR = {
    "scaleDown": {
        "stabilizationWindowSeconds": 30,
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 10}],
    }
}


def _raw(control_plane, method: str, path: str, body: Any = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    data = None if body is None else json.dumps(body).encode()
    status, _headers, payload = request(control_plane.server, context, method, path, data, content_type)
    return status, payload


def _v2(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            **spec,
        },
    }


def _path(version: str, namespace: str, name: str = "") -> str:
    base = f"/apis/autoscaling/{version}/namespaces/{namespace}/horizontalpodautoscalers"
    return f"{base}/{name}" if name else base


def test_a_v2_object_reads_as_v1_and_a_v1_update_keeps_v2_fields(control_plane, namespace):
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}},
    }
    cpu = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
    }
    status, created = _raw(
        control_plane, "POST", _path("v2", namespace), _v2("web", metrics=[memory, cpu], behavior=_BEHAVIOR)
    )
    assert status == 201, created
    behavior = created["spec"]["behavior"]
    assert behavior["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert behavior["scaleDown"] == {
        "stabilizationWindowSeconds": 30,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 10}],
    }
    assert created["spec"]["minReplicas"] == 1

    status, v1 = _raw(control_plane, "GET", _path("v1", namespace, "web"))
    assert status == 200 and v1["apiVersion"] == "autoscaling/v1", v1
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    annotations = v1["metadata"]["annotations"]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    ]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/behavior"]) == behavior

    v1["spec"]["maxReplicas"] = 7  # a v1 client's read-modify-write
    status, updated = _raw(control_plane, "PUT", _path("v1", namespace, "web"), v1)
    assert status == 200, updated
    status, again = _raw(control_plane, "GET", _path("v2", namespace, "web"))
    assert again["spec"]["maxReplicas"] == 7
    assert again["spec"]["metrics"] == [memory, cpu]
    assert again["spec"]["behavior"] == behavior
    assert "annotations" not in again["metadata"], again["metadata"]

    status, listed = _raw(control_plane, "GET", _path("v1", namespace))
    assert [i["apiVersion"] for i in listed["items"]] == ["autoscaling/v1"]


def test_a_v1_object_reads_as_v2_with_its_cpu_target(control_plane, namespace):
    body = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "old"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 42,
        },
    }
    status, created = _raw(control_plane, "POST", _path("v1", namespace), body)
    assert status == 201, created
    assert created["apiVersion"] == "autoscaling/v1" and "annotations" not in created["metadata"]
    status, v2 = _raw(control_plane, "GET", _path("v2", namespace, "old"))
    assert v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 42}},
        }
    ]
    assert "behavior" not in v2["spec"]
    status, _ = _raw(
        control_plane,
        "PUT",
        _path("v2", namespace, "old") + "/status",
        {
            **v2,
            "status": {
                "currentReplicas": 2,
                "desiredReplicas": 3,
                "currentMetrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "current": {"averageUtilization": 90, "averageValue": "180m"},
                        },
                    }
                ],
                "conditions": [
                    {
                        "type": "AbleToScale",
                        "status": "True",
                        "reason": "SucceededRescale",
                        "message": "m",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            },
        },
    )
    assert status == 200
    status, v1 = _raw(control_plane, "GET", _path("v1", namespace, "old"))
    assert v1["status"]["currentCPUUtilizationPercentage"] == 90
    assert (
        json.loads(v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/conditions"])[0]["reason"]
        == "SucceededRescale"
    )


def test_v2_validation_names_upstream_fields(control_plane, namespace):
    bad = _v2(
        "bad",
        metrics=[
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 0}},
            }
        ],
        behavior={
            "scaleUp": {
                "selectPolicy": "Sometimes",
                "policies": [{"type": "Pods", "value": 0, "periodSeconds": 1801}],
            }
        },
    )
    status, body = _raw(control_plane, "POST", _path("v2", namespace), bad)
    assert status == 422, body
    fields = {c["field"]: c["message"] for c in body["details"]["causes"]}
    assert (
        fields["spec.metrics[0].resource.target.averageUtilization"]
        == "Invalid value: 0: must be greater than 0"
    )
    assert fields["spec.behavior.scaleUp.selectPolicy"].startswith('Unsupported value: "Sometimes"')
    assert fields["spec.behavior.scaleUp.policies[0].value"] == "Invalid value: 0: must be greater than zero"
    assert (
        fields["spec.behavior.scaleUp.policies[0].periodSeconds"]
        == "Invalid value: 1801: must be less than or equal to 1800"
    )


def test_discovery_prefers_v2_and_the_python_client_round_trips(control_plane, namespace):
    status, group = _raw(control_plane, "GET", "/apis/autoscaling")
    assert group["preferredVersion"]["version"] == "v2", group
    assert [v["version"] for v in group["versions"]] == ["v2", "v1"]
    k8s_config.load_kube_config(str(control_plane.admin_kubeconfig))
    api = k8s_client.AutoscalingV2Api()
    hpa = api.create_namespaced_horizontal_pod_autoscaler(namespace, _v2("py", behavior=_BEHAVIOR))
    assert hpa.spec.behavior.scale_up.policies[0].type == "Pods"
    assert hpa.spec.metrics[0].resource.target.average_utilization == 80
    listed = k8s_client.AutoscalingV1Api().list_namespaced_horizontal_pod_autoscaler(namespace)
    assert [i.spec.target_cpu_utilization_percentage for i in listed.items] == [80]


def test_kubectl_autoscale_get_and_explain(kubectl, namespace):
    kubectl("create", "deployment", "web", "-n", namespace, "--image=nginx", "--replicas=0")
    kubectl("autoscale", "deployment", "web", "-n", namespace, "--cpu-percent=50", "--min=1", "--max=4")
    hpa = json.loads(kubectl("get", "hpa", "web", "-n", namespace, "-o", "json").stdout)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    v1 = json.loads(
        kubectl("get", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", namespace, "-o", "json").stdout
    )
    assert (v1["apiVersion"], v1["spec"]["targetCPUUtilizationPercentage"]) == ("autoscaling/v1", 50)
    table = kubectl("get", "hpa", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert "Deployment/web" in table[1] and "cpu: <unknown>/50%" in table[1], table
    explained = kubectl("explain", "hpa.spec.behavior").stdout
    assert "scaleDown" in explained and "scaleUp" in explained, explained
    manifest = json.dumps(
        _v2(
            "applied",
            behavior={"scaleUp": {"policies": [{"type": "Percent", "value": 50, "periodSeconds": 30}]}},
        )
    )
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest)  # client-side validation with the schema
    applied = json.loads(
        kubectl(
            "get", "horizontalpodautoscalers.v2.autoscaling", "applied", "-n", namespace, "-o", "json"
        ).stdout
    )
    assert applied["spec"]["behavior"]["scaleUp"]["policies"] == [
        {"type": "Percent", "value": 50, "periodSeconds": 30}
    ]
