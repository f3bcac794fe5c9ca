"""API Priority and Fairness objects on a real API server, driven by stock kubectl: the
mandatory and suggested FlowSchemas and PriorityLevelConfigurations exist from the start with
upstream's table columns; the v1 defaults; a user's own objects round-trip with status."""

from __future__ import annotations

import json
import time
import uuid

from tests.integration.apiserver.conftest import Kubectl

SCHEMAS = {
    "exempt": ("exempt", "1", "<none>"),
    "probes": ("exempt", "2", "<none>"),
    "system-leader-election": ("leader-election", "100", "ByUser"),
    "endpoint-controller": ("workload-high", "150", "ByUser"),
    "workload-leader-election": ("leader-election", "200", "ByUser"),
    "system-node-high": ("node-high", "400", "ByUser"),
    "system-nodes": ("system", "500", "ByUser"),
    "kube-controller-manager": ("workload-high", "800", "ByNamespace"),
    "kube-scheduler": ("workload-high", "800", "ByNamespace"),
    "kube-system-service-accounts": ("workload-high", "900", "ByNamespace"),
    "service-accounts": ("workload-low", "9000", "ByUser"),
    "global-default": ("global-default", "9900", "ByUser"),
    "catch-all": ("catch-all", "10000", "ByUser"),
}
LEVELS = {
    "catch-all": ("Limited", "5", "<none>", "<none>", "<none>"),
    "exempt": ("Exempt", "<none>", "<none>", "<none>", "<none>"),
    "global-default": ("Limited", "20", "128", "6", "50"),
    "leader-election": ("Limited", "10", "16", "4", "50"),
    "node-high": ("Limited", "40", "64", "6", "50"),
    "system": ("Limited", "30", "64", "6", "50"),
    "workload-high": ("Limited", "40", "128", "6", "50"),
    "workload-low": ("Limited", "100", "128", "6", "50"),
}


def _rows(text: str) -> dict[str, list[str]]:
    lines = text.strip().splitlines()
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def test_bootstrap_objects_listed_with_upstream_columns(kubectl: Kubectl) -> None:
    schemas = kubectl("get", "flowschemas").stdout
    assert schemas.splitlines()[0].split() == [
        "NAME",
        "PRIORITYLEVEL",
        "MATCHINGPRECEDENCE",
        "DISTINGUISHERMETHOD",
        "AGE",
        "MISSINGPL",
    ]
    rows = _rows(schemas)
    for name, (level, precedence, method) in SCHEMAS.items():
        assert rows[name][:3] == [level, precedence, method], name
    levels = kubectl("get", "prioritylevelconfigurations").stdout
    assert levels.splitlines()[0].split() == [
        "NAME",
        "TYPE",
        "NOMINALCONCURRENCYSHARES",
        "QUEUES",
        "HANDSIZE",
        "QUEUELENGTHLIMIT",
        "AGE",
    ]
    rows = _rows(levels)
    for name, columns in LEVELS.items():
        assert tuple(rows[name][:5]) == columns, name
    both = kubectl("get", "flowschemas,prioritylevelconfigurations", "-o", "name").stdout.split()
    assert "flowschema.flowcontrol.apiserver.k8s.io/catch-all" in both
    assert "prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/exempt" in both
    exempt = json.loads(kubectl("get", "flowschema", "exempt", "-o", "json").stdout)
    assert exempt["metadata"]["annotations"] == {"apf.kubernetes.io/autoupdate-spec": "true"}
    assert exempt["spec"]["rules"][0]["subjects"] == [{"kind": "Group", "group": {"name": "system:masters"}}]


def test_user_objects_defaulted_and_status_served(kubectl: Kubectl) -> None:
    name = f"t-{uuid.uuid4().hex[:6]}"
    kubectl(
        "apply",
        "-f",
        "-",
        input=(
            "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: PriorityLevelConfiguration\n"
            f"metadata: {{name: {name}}}\n"
            "spec: {type: Limited, limited: {limitResponse: {type: Queue, queuing: {}}}}\n"
            "---\napiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\n"
            f"metadata: {{name: {name}}}\n"
            f"spec: {{priorityLevelConfiguration: {{name: {name}}}, rules: []}}\n"
        ),
    )
    level = json.loads(kubectl("get", "prioritylevelconfiguration", name, "-o", "json").stdout)
    assert level["spec"]["limited"] == {
        "nominalConcurrencyShares": 30,
        "lendablePercent": 0,
        "limitResponse": {"type": "Queue", "queuing": {"queues": 64, "handSize": 8, "queueLengthLimit": 50}},
    }
    schema = json.loads(kubectl("get", "flowschema", name, "-o", "json").stdout)
    assert schema["spec"]["matchingPrecedence"] == 1000
    status = kubectl(
        "get", "--raw", f"/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/{name}/status"
    ).stdout
    assert json.loads(status)["metadata"]["name"] == name
    # the server keeps the Dangling condition: False while the level exists, True once it is gone
    found = _dangling(kubectl, name, "False")
    assert found["reason"] == "Found" and found["lastTransitionTime"]
    assert found["message"] == (
        f'This FlowSchema references the PriorityLevelConfiguration object named "{name}" and it exists'
    )
    assert _rows(kubectl("get", "flowschemas").stdout)[name][-1] == "False"  # MISSINGPL
    kubectl("delete", "prioritylevelconfiguration", name)
    assert _dangling(kubectl, name, "True")["reason"] == "NotFound"
    kubectl("delete", "flowschema", name)


def _dangling(kubectl: Kubectl, name: str, status: str) -> dict[str, str]:
    """The schema's Dangling condition once it has ``status`` (the server's loop runs every second)."""
    condition: dict[str, str] = {}
    for _ in range(100):
        schema = json.loads(kubectl("get", "flowschema", name, "-o", "json").stdout)
        conditions = (schema.get("status") or {}).get("conditions") or []
        condition = next((c for c in conditions if c["type"] == "Dangling"), {})
        if condition.get("status") == status:
            return condition
        time.sleep(0.1)
    raise AssertionError(f"flowschema {name}: Dangling is {condition}, expected status {status}")
