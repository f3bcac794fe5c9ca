"""A HorizontalPodAutoscaler scales a busy Deployment up and, once it idles, back down (issue 19),
on the package's lab cluster: real kubelets' CPU figures through metrics.k8s.io, the
controller manager's HPA controller (its scale-down window set to 10 s for this cluster).
The busy pods are held to 200m each by their CPU limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.cluster.conftest import Cluster, wait_for

pytestmark = pytest.mark.lab


def _deployment(command: str) -> dict[str, Any]:
    labels = {"app": "burner"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "burner"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "burn", "image": "kprov.local/busybox:1", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", command],
                "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}},
            }]}}},
    }


def test_an_hpa_scales_a_busy_deployment_up_and_back_down(cluster: Cluster, tmp_path) -> None:
    manifest = tmp_path / "burner.json"
    manifest.write_text(json.dumps(_deployment("while true; do :; done")))
    cluster.kubectl("apply", "-f", str(manifest))
    try:
        cluster.kubectl("autoscale", "deployment", "burner", "--cpu-percent=50", "--min=1", "--max=3")
        hpa = wait_for("the HPA scaled burner to 3",
                       lambda: (h := cluster.kubectl_json("get", "hpa", "burner"))
                       and (h.get("status") or {}).get("desiredReplicas") == 3 and h, 180)
        assert hpa["status"]["currentCPUUtilizationPercentage"] > 50, hpa["status"]
        assert hpa["status"].get("lastScaleTime")
        wait_for("3 burner pods ready", lambda: cluster.kubectl_json("get", "deployment", "burner")
                 .get("status", {}).get("readyReplicas") == 3, 120)
        table = cluster.kubectl("get", "hpa", "burner").stdout
        assert "Deployment/burner" in table and "/50%" in table, table
        events = cluster.kubectl_json("get", "events", "--field-selector", "involvedObject.name=burner,"
                                      "involvedObject.kind=HorizontalPodAutoscaler")["items"]
        assert any(e["reason"] == "SuccessfulRescale" and "New size: " in e["message"]
                   for e in events), events
        manifest.write_text(json.dumps(_deployment("sleep 100000")))  # the load stops
        cluster.kubectl("apply", "-f", str(manifest))
        wait_for("the HPA scaled burner back to 1",
                 lambda: cluster.kubectl_json("get", "deployment", "burner")["spec"]["replicas"] == 1, 240)
    finally:
        cluster.kubectl("delete", "hpa,deployment", "burner", "--wait=false", check=False)
