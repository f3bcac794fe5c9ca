"""autoscaling/v1 <-> v2 conversion of HorizontalPodAutoscalers, v2's defaults and validation
(upstream's annotation names, default rules, field paths and messages)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.kinds import hpa_conversion as conv
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

V2_INFO = REGISTRY.get("autoscaling", "v2", "horizontalpodautoscalers")
V1_INFO = REGISTRY.get("autoscaling", "v1", "horizontalpodautoscalers")
REF = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}


def v2(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": conv.V2,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "default"},
        "spec": {"scaleTargetRef": dict(REF), "maxReplicas": 5, **spec},
    }


def resource(name: str, **target: Any) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


def messages(obj: dict[str, Any]) -> dict[str, list[str]]:
    info = V2_INFO if obj["apiVersion"] == conv.V2 else V1_INFO
    apply_defaults(info, obj)
    found: dict[str, list[str]] = {}
    for cause in validate(info, obj):
        found.setdefault(cause.field, []).append(cause.message)
    return found


def test_v2_is_listed_before_v1_so_it_is_preferred():
    versions = [v for g, v in REGISTRY.group_versions() if g == "autoscaling"]
    assert versions == ["v2", "v1"]


@pytest.mark.parametrize(
    "metrics, behavior",
    [
        ([resource("cpu", type="Utilization", averageUtilization=50)], None),
        (
            [
                resource("memory", type="AverageValue", averageValue="1Gi"),
                resource("cpu", type="Utilization", averageUtilization=70),
            ],
            {"scaleUp": {"policies": []}},
        ),
        (
            [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                },
                {
                    "type": "Object",
                    "object": {
                        "describedObject": REF,
                        "metric": {"name": "hits"},
                        "target": {"type": "Value", "value": "5"},
                    },
                },
                {
                    "type": "External",
                    "external": {
                        "metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                        "target": {"type": "AverageValue", "averageValue": "3"},
                    },
                },
                {
                    "type": "ContainerResource",
                    "containerResource": {
                        "name": "cpu",
                        "container": "app",
                        "target": {"type": "Utilization", "averageUtilization": 40},
                    },
                },
            ],
            None,
        ),
    ],
)
def test_v2_to_v1_and_back_keeps_every_field(metrics, behavior):
    obj = v2(minReplicas=2, metrics=metrics)
    if behavior is not None:
        obj["spec"]["behavior"] = behavior
    obj["status"] = {
        "currentReplicas": 2,
        "desiredReplicas": 3,
        "currentMetrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "current": {"averageUtilization": 61, "averageValue": "122m"}},
            }
        ],
        "conditions": [
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "x"}
        ],
    }
    v1 = conv.to_v1(obj)
    assert v1["apiVersion"] == conv.V1
    assert v1["status"]["currentCPUUtilizationPercentage"] == 61
    back = conv.to_v2(v1)
    assert back["status"] == obj["status"]
    cpu_last = sorted(
        metrics,
        key=lambda m: (
            m["type"] == "Resource"
            and m["resource"]["name"] == "cpu"
            and "averageUtilization" in m["resource"]["target"]
        ),
    )
    assert back["spec"]["metrics"] == cpu_last  # upstream's order: the CPU utilization one comes last
    assert back["spec"].get("behavior") == behavior
    assert "annotations" not in back["metadata"]


def test_v1_annotations_carry_upstream_names_and_v1_shapes():
    obj = v2(
        metrics=[
            resource("memory", type="AverageValue", averageValue="100Mi"),
            resource("cpu", type="Utilization", averageUtilization=60),
        ],
        behavior={"scaleDown": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 10}]}},
    )
    obj["metadata"]["annotations"] = {"keep": "me"}
    v1 = conv.to_v1(obj)
    annotations = v1["metadata"]["annotations"]
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 60
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}
    ]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/behavior"]) == obj["spec"]["behavior"]
    assert annotations["keep"] == "me"
    assert "status" not in v1


def test_a_plain_v1_object_gets_the_implicit_cpu_target():
    v1 = {
        "apiVersion": conv.V1,
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": REF, "maxReplicas": 3},
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 7},
    }
    out = conv.to_v2(v1)
    assert out["spec"]["metrics"] == [resource("cpu", type="Utilization", averageUtilization=80)]
    assert out["status"]["currentMetrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 7}}}
    ]


def test_convert_is_identity_for_the_same_version():
    obj = v2()
    assert conv.convert(obj, conv.V2) is obj


def test_v2_defaults_fill_behavior_rules_as_upstream():
    obj = v2(behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    apply_defaults(V2_INFO, obj)
    spec = obj["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [resource("cpu", type="Utilization", averageUtilization=80)]
    assert spec["behavior"]["scaleUp"] == {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    assert spec["behavior"]["scaleDown"] == {
        "stabilizationWindowSeconds": 60,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def test_no_behavior_stays_unset():
    obj = v2()
    apply_defaults(V2_INFO, obj)
    assert "behavior" not in obj["spec"]


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"minReplicas": 0}, "spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1"),
        ({"maxReplicas": 0}, "spec.maxReplicas", "Invalid value: 0: must be greater than 0"),
        (
            {"metrics": [resource("cpu", type="Utilization", averageUtilization=0)]},
            "spec.metrics[0].resource.target.averageUtilization",
            "Invalid value: 0: must be greater than 0",
        ),
        (
            {"metrics": [resource("cpu", type="Percentish", averageUtilization=5)]},
            "spec.metrics[0].resource.target.type",
            'Invalid value: "Percentish": must be either Utilization, Value, or AverageValue',
        ),
        (
            {"metrics": [resource("cpu", type="Utilization")]},
            "spec.metrics[0].resource.target.averageUtilization",
            "Required value: must set either a target raw value or a target utilization",
        ),
        (
            {"metrics": [resource("cpu", type="AverageValue", averageValue="-1", averageUtilization=3)]},
            "spec.metrics[0].resource.target.averageValue",
            "Forbidden: may not set both a target raw value and a target utilization",
        ),
        (
            {"metrics": [resource("", type="AverageValue", averageValue="1")]},
            "spec.metrics[0].resource.name",
            "Required value: must specify a resource name",
        ),
        (
            {"metrics": [{"type": "Pods"}]},
            "spec.metrics[0].pods",
            "Required value: must populate information for the given metric source",
        ),
        (
            {"metrics": [{"type": "Gauge"}]},
            "spec.metrics[0].type",
            'Unsupported value: "Gauge": supported values: "ContainerResource", "External", "Object", '
            '"Pods", "Resource"',
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "q"},
                            "target": {"type": "AverageValue", "averageValue": "1"},
                        },
                        **resource("cpu", type="Utilization", averageUtilization=5),
                    }
                ]
            },
            "spec.metrics[0].pods",
            "Forbidden: must populate the given metric source only",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "Pods",
                        "pods": {"metric": {"name": "q"}, "target": {"type": "Value", "value": "1"}},
                    }
                ]
            },
            "spec.metrics[0].pods.target.averageValue",
            "Required value: must specify a positive target averageValue",
        ),
        (
            {
                "metrics": [
                    {
                        "type": "ContainerResource",
                        "containerResource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 5},
                        },
                    }
                ]
            },
            "spec.metrics[0].containerResource.container",
            "Required value: must specify a container",
        ),
        (
            {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 3601}}},
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "Invalid value: 3601: must be less than or equal to 3600",
        ),
        (
            {"behavior": {"scaleUp": {"selectPolicy": "Often"}}},
            "spec.behavior.scaleUp.selectPolicy",
            'Unsupported value: "Often": supported values: "Disabled", "Max", "Min"',
        ),
        (
            {"behavior": {"scaleUp": {"policies": []}}},
            "spec.behavior.scaleUp.policies",
            "Required value: must specify at least one Policy",
        ),
        (
            {"behavior": {"scaleUp": {"policies": [{"type": "Rate", "value": 1, "periodSeconds": 1}]}}},
            "spec.behavior.scaleUp.policies[0].type",
            'Unsupported value: "Rate": supported values: "Percent", "Pods"',
        ),
        (
            {"behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 0}]}}},
            "spec.behavior.scaleUp.policies[0].periodSeconds",
            "Invalid value: 0: must be greater than zero",
        ),
    ],
)
def test_v2_validation(spec, field, message):
    found = messages(v2(**spec))
    assert message in found.get(field, []), found


def test_a_valid_v2_object_passes():
    obj = v2(
        behavior={"scaleUp": {"selectPolicy": "Disabled"}},
        metrics=[resource("memory", type="AverageValue", averageValue="500Mi")],
    )
    assert messages(copy.deepcopy(obj)) == {}
