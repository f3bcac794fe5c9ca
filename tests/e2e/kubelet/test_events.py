"""A failing pod does not flood the API server: a container whose ConfigMap key is missing is
retried after the kubelet's back-off, and its repeated events fold into counts."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.e2e.kubelet.cluster import NodeCluster
from tests.e2e.kubelet.conftest import apply, pod_manifest

pytestmark = [pytest.mark.lab, pytest.mark.long]

WINDOW_S = 60.0


def _events(cluster: NodeCluster, namespace: str, pod: str) -> list[dict]:
    out = cluster.kubectl("get", "events", "-n", namespace, "-o", "json",
                          "--field-selector", f"involvedObject.name={pod}").stdout
    return list(json.loads(out)["items"])


def test_a_pod_missing_a_config_map_key_writes_at_most_10_events_in_its_first_minute(
    node_cluster: NodeCluster, namespace: str
) -> None:
    node_cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"present": "1"},
    }))
    env = [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "absent"}}}]
    apply(node_cluster, namespace, pod_manifest("nokey", [{"name": "app", "command": ["sleep", "3600"],
                                                           "env": env}]))
    began = time.monotonic()
    most = 0
    events: list[dict] = []
    while time.monotonic() - began < WINDOW_S:  # observed through the window, not timed
        events = _events(node_cluster, namespace, "nokey")
        most = max(most, len(events))
        time.sleep(5)
    assert most <= 10, [(e["reason"], e["message"], e.get("count")) for e in events]
    failed = [e for e in events if e["reason"] == "Failed"]
    assert [e["message"] for e in failed] == [f"Error: couldn't find key absent in ConfigMap {namespace}/cfg"]
    assert failed[0]["count"] >= 2  # retried, and each retry counted on the one Event
