"""API Priority and Fairness in force on a real API server: every request carries the UIDs
of the FlowSchema and PriorityLevelConfiguration it was classified into; a level with a tiny
share and queue refuses a burst from one user with 429 and Retry-After while another user's
requests are served."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.integration.apiserver import _http
from tests.integration.apiserver.conftest import Kubectl


def _uid(kubectl: Kubectl, kind: str, name: str) -> str:
    return str(json.loads(kubectl("get", kind, name, "-o", "json").stdout)["metadata"]["uid"])


def test_headers_name_the_schema_and_level(control_plane: Any, kubectl: Kubectl) -> None:
    admin = _http.ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    status, headers, _ = _http.request(control_plane.server, admin, "GET", "/api/v1/namespaces/default")
    assert status == 200
    assert headers["X-Kubernetes-PF-FlowSchema-UID"] == _uid(kubectl, "flowschema", "exempt")
    assert headers["X-Kubernetes-PF-PriorityLevel-UID"] == _uid(
        kubectl, "prioritylevelconfiguration", "exempt"
    )
    user = f"apf-{uuid.uuid4().hex[:6]}"
    plain = _http.ssl_context(control_plane.kubeconfig_for(user), control_plane.ca_file)
    status, headers, _ = _http.request(control_plane.server, plain, "GET", "/api/v1/namespaces/default")
    assert status == 403  # classified before authorization, as upstream
    assert headers["X-Kubernetes-PF-FlowSchema-UID"] == _uid(kubectl, "flowschema", "global-default")
    level_uid = _uid(kubectl, "prioritylevelconfiguration", "global-default")
    assert headers["X-Kubernetes-PF-PriorityLevel-UID"] == level_uid


LEVEL = """apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {{name: {name}}}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    limitResponse: {{type: Queue, queuing: {{queues: 1, handSize: 1, queueLengthLimit: 1}}}}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {{name: {name}}}
spec:
  priorityLevelConfiguration: {{name: {name}}}
  matchingPrecedence: 50
  distinguisherMethod: {{type: ByUser}}
  rules:
    - subjects: [{{kind: User, user: {{name: {user}}}}}]
      resourceRules:
        - verbs: ["*"]
          apiGroups: ["*"]
          resources: ["*"]
          namespaces: ["*"]
          clusterScope: true
"""


def test_tiny_level_refuses_a_burst_but_not_other_users(
    control_plane: Any, kubectl: Kubectl, namespace: str
) -> None:
    name, flooder = f"tiny-{uuid.uuid4().hex[:6]}", f"flooder-{uuid.uuid4().hex[:6]}"
    kubectl("apply", "-f", "-", input=LEVEL.format(name=name, user=flooder))
    kubectl("create", "rolebinding", "flooder", "--clusterrole=edit", f"--user={flooder}", "-n", namespace)
    flood = _http.ssl_context(control_plane.kubeconfig_for(flooder), control_plane.ca_file)
    other = _http.ssl_context(control_plane.kubeconfig_for("other-user"), control_plane.ca_file)
    path = f"/api/v1/namespaces/{namespace}/configmaps"

    def create(i: int) -> tuple[int, dict[str, str], Any]:
        body = json.dumps({"metadata": {"name": f"cm-{uuid.uuid4().hex[:8]}"}, "data": {"i": str(i)}})
        return _http.request(control_plane.server, flood, "POST", path, body.encode())

    refused: list[tuple[int, dict[str, str], Any]] = []
    others: list[int] = []
    with ThreadPoolExecutor(max_workers=48) as pool:
        for _ in range(10):  # bounded: a few bursts of 96 creates
            results = list(pool.map(create, range(96)))
            others.append(_http.request(control_plane.server, other, "GET", "/version")[0])
            refused = [r for r in results if r[0] == 429]
            assert {r[0] for r in results} <= {201, 429}
            if refused:
                break
    assert refused, "no 429 from a level with 3 seats and one queue of 1"
    status, headers, body = refused[0]
    assert headers["Retry-After"].isdigit() and int(headers["Retry-After"]) >= 1
    assert body == "Too many requests, please try again later.\n"
    assert headers["X-Kubernetes-PF-FlowSchema-UID"] == _uid(kubectl, "flowschema", name)
    assert set(others) == {200}
    admin = _http.ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    status, _, text = _http.request(control_plane.server, admin, "GET", "/metrics")
    labels = f'flow_schema="{name}",priority_level="{name}"'
    assert f"apiserver_flowcontrol_dispatched_requests_total{{{labels}}}" in text
    assert f'apiserver_flowcontrol_rejected_requests_total{{{labels},reason="queue-full"}}' in text
    seats = re.search(rf'apiserver_flowcontrol_nominal_limit_seats{{priority_level="{name}"}} (\d+)', text)
    assert seats is not None and int(seats.group(1)) >= 1
    assert f'apiserver_flowcontrol_request_wait_duration_seconds_count{{execute="true",{labels}}}' in text
    assert f"apiserver_flowcontrol_current_executing_requests{{{labels}}} 0.0" in text
    kubectl("delete", "flowschema", name)
    kubectl("delete", "prioritylevelconfiguration", name)


DEBUG = "/debug/api_priority_and_fairness/"


def _cells(text: str) -> list[list[str]]:
    return [re.split(r",\s+", line) for line in text.splitlines()]


def test_debug_dumps_for_the_admin_and_whom_rbac_grants(control_plane: Any, kubectl: Kubectl) -> None:
    levels = _cells(kubectl("get", "--raw", DEBUG + "dump_priority_levels").stdout)
    assert levels[0] == [
        "PriorityLevelName",
        "ActiveQueues",
        "IsIdle",
        "IsQuiescing",
        "WaitingRequests",
        "ExecutingRequests",
        "DispatchedRequests",
        "RejectedRequests",
        "TimedoutRequests",
        "CancelledRequests",
    ]
    served = kubectl("get", "prioritylevelconfigurations", "-o", "name").stdout.split()
    bootstrap = {"exempt", "catch-all", "system", "node-high", "leader-election"} | {
        "workload-high",
        "workload-low",
        "global-default",
    }
    assert bootstrap <= {name.rpartition("/")[2] for name in served}
    assert bootstrap <= {row[0] for row in levels[1:]}
    queues = _cells(kubectl("get", "--raw", DEBUG + "dump_queues").stdout)
    assert queues[0][:3] == ["PriorityLevelName", "Index", "PendingRequests"]
    assert {"global-default", "workload-low"} <= {row[0] for row in queues[1:]}  # (levels with queues)
    requests = _cells(kubectl("get", "--raw", DEBUG + "dump_requests?includeRequestDetails=1").stdout)
    assert requests[0][9:11] == ["StartTime", "UserName"] and len(requests[0]) == 18
    itself = [row for row in requests[1:] if row[12] == DEBUG + "dump_requests"]
    assert len(itself) == 1 and itself[0][:4] == ["exempt", "exempt", "-1", "-1"] and itself[0][11] == "get"

    user = f"apf-debug-{uuid.uuid4().hex[:6]}"
    plain = _http.ssl_context(control_plane.kubeconfig_for(user), control_plane.ca_file)
    path = DEBUG + "dump_priority_levels"
    status, _, body = _http.request(control_plane.server, plain, "GET", path)
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == f'forbidden: User "{user}" cannot get path "{path}"'
    kubectl("create", "clusterrole", user, "--verb=get", f"--non-resource-url={DEBUG}*")
    kubectl("create", "clusterrolebinding", user, f"--clusterrole={user}", f"--user={user}")
    try:
        for _ in range(50):  # bounded: the binding reaches the authorizer through the watch cache
            status, headers, text = _http.request(control_plane.server, plain, "GET", path)
            if status == 200:
                break
            time.sleep(0.1)
        assert status == 200 and headers["Content-Type"] == "text/plain; charset=utf-8"
        assert text.startswith("PriorityLevelName, ") and "\nglobal-default, " in text
    finally:
        kubectl("delete", "clusterrolebinding", user)
        kubectl("delete", "clusterrole", user)
