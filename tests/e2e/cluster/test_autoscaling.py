"""An autoscaling/v2 HorizontalPodAutoscaler with a behavior scales a busy Deployment up and,
once it idles, back down one pod per period (issue 19), on the package's lab cluster: real
kubelets' CPU figures through metrics.k8s.io, the controller manager's HPA controller. The
busy pods are held to 200m each by their CPU limit."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.e2e.cluster.conftest import Cluster, wait_for

pytestmark = pytest.mark.lab


def _deployment(command: str) -> dict[str, Any]:
    labels = {"app": "burner"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "burner"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "burn",
                            "image": "kprov.local/busybox:1",
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["sh", "-c", command],
                            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
                        }
                    ],
                },
            },
        },
    }


_HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "burner"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burner"},
        "minReplicas": 1,
        "maxReplicas": 3,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
            }
        ],
        # down one pod per 20 s after a 10 s window: the way back passes through 2
        "behavior": {
            "scaleDown": {
                "stabilizationWindowSeconds": 10,
                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 20}],
            }
        },
    },
}


def _since_last_scale(cluster: Cluster) -> float:
    status = cluster.kubectl_json("get", "horizontalpodautoscalers.v2.autoscaling", "burner")["status"]
    last = dt.datetime.strptime(status["lastScaleTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - last).total_seconds()


def _rescales(cluster: Cluster) -> list[str]:
    events = cluster.kubectl_json(
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=burner,involvedObject.kind=HorizontalPodAutoscaler",
    )["items"]
    return [e["message"] for e in events if e["reason"] == "SuccessfulRescale"]


@pytest.mark.long
def test_a_v2_hpa_with_a_behavior_scales_a_busy_deployment_up_and_back_down(
    cluster: Cluster, tmp_path
) -> None:
    manifest, hpa_file = tmp_path / "burner.json", tmp_path / "hpa.json"
    manifest.write_text(json.dumps(_deployment("while true; do :; done")))
    hpa_file.write_text(json.dumps(_HPA))
    cluster.kubectl("apply", "-f", str(manifest))
    try:
        cluster.kubectl("apply", "-f", str(hpa_file))
        hpa = wait_for(
            "the HPA scaled burner to 3",
            lambda: (
                (h := cluster.kubectl_json("get", "horizontalpodautoscalers.v2.autoscaling", "burner"))
                and (h.get("status") or {}).get("desiredReplicas") == 3
                and h
            ),
            180,
        )
        current = hpa["status"]["currentMetrics"][0]["resource"]["current"]
        assert current["averageUtilization"] > 50, hpa["status"]
        conditions = {c["type"]: c for c in hpa["status"]["conditions"]}
        assert conditions["ScalingActive"]["reason"] == "ValidMetricFound", conditions
        assert conditions["AbleToScale"]["status"] == "True", conditions
        assert hpa["spec"]["behavior"]["scaleUp"]["policies"][0] == {
            "type": "Pods",
            "value": 4,
            "periodSeconds": 15,
        }
        v1 = cluster.kubectl_json(
            "get", "horizontalpodautoscalers.v1.autoscaling", "burner"
        )  # the same object through v1
        assert v1["status"]["desiredReplicas"] == 3 and "currentCPUUtilizationPercentage" in v1["status"], v1
        wait_for(
            "3 burner pods ready",
            lambda: (
                cluster.kubectl_json("get", "deployment", "burner").get("status", {}).get("readyReplicas")
                == 3
            ),
            120,
        )
        table = cluster.kubectl("get", "hpa", "burner").stdout
        assert "Deployment/burner" in table and "cpu: " in table and "/50%" in table, table
        # a scale-up inside the scale-down policy's period would count as that period's
        # start (upstream's rule: 1 pod then, so 3 -> 1 at once); let the period pass first
        wait_for("the scale-up to leave the 20 s period", lambda: _since_last_scale(cluster) > 25, 60)
        # the load stops; a patch of the template only (an apply of the manifest would also
        # reset spec.replicas to its 1, as kubectl's three-way merge does)
        idle = {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "burn", "command": ["sh", "-c", "sleep 100000"]}]}
                }
            }
        }
        cluster.kubectl("patch", "deployment", "burner", "-p", json.dumps(idle))
        wait_for(
            "the HPA scaled burner back to 1",
            lambda: cluster.kubectl_json("get", "deployment", "burner")["spec"]["replicas"] == 1,
            240,
        )
        try:
            messages = wait_for("the rescale events", lambda: len(m := _rescales(cluster)) >= 3 and m, 30)
        except AssertionError as exc:  # name everything the HPA did
            events = cluster.kubectl("get", "events", "--field-selector", "involvedObject.name=burner").stdout
            status = cluster.kubectl_json("get", "horizontalpodautoscalers.v2.autoscaling", "burner")[
                "status"
            ]
            raise AssertionError(f"{exc}\n{events}\n{json.dumps(status)}") from None
        assert any(m.startswith("New size: 2; reason: All metrics below target") for m in messages), messages
        assert any(m.startswith("New size: 1; reason: All metrics below target") for m in messages), messages
    finally:
        cluster.kubectl("delete", "hpa,deployment", "burner", "--wait=false", check=False)
