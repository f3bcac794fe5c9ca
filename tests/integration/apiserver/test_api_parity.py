"""Replies kube-apiserver v1.32 gives to the byte, and the smaller API behaviours of issue 53
(base64 as Go decodes it, server-side apply of maps, 404 for writes to a deleted pod)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.apiserver._http import ssl_context

Raw = Callable[..., tuple[int, bytes]]


@pytest.fixture
def raw(control_plane: Any) -> Raw:
    """``raw(method, path, body=None, content_type=...)`` -> (status, body bytes), as admin."""
    context: ssl.SSLContext = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)

    def call(
        method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
        agent: str = "kprov-tests",
    ) -> tuple[int, bytes]:
        headers = {"User-Agent": agent}
        if body is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(control_plane.server + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=context, timeout=30) as reply:
                return int(reply.status), bytes(reply.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    return call


def test_get_of_a_missing_pod_is_kube_apiservers_404_to_the_byte(raw: Raw, namespace: str) -> None:
    status, body = raw("GET", f"/api/v1/namespaces/{namespace}/pods/missing")
    assert status == 404
    assert body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"missing\\" not found","reason":"NotFound",'
        b'"details":{"name":"missing","kind":"pods"},"code":404}\n'
    )


def test_curl_and_pretty_get_upstreams_indented_body(raw: Raw, namespace: str) -> None:
    expected = (
        b'{\n  "kind": "Status",\n  "apiVersion": "v1",\n  "metadata": {},\n  "status": "Failure",\n'
        b'  "message": "pods \\"missing\\" not found",\n  "reason": "NotFound",\n'
        b'  "details": {\n    "name": "missing",\n    "kind": "pods"\n  },\n  "code": 404\n}'
    )
    path = f"/api/v1/namespaces/{namespace}/pods/missing"
    assert raw("GET", path, agent="curl/8.5.0") == (404, expected)
    assert raw("GET", path + "?pretty=true") == (404, expected)
    assert raw("GET", path + "?pretty=false", agent="curl/8.5.0")[1].endswith(b'"code":404}\n')


def test_unknown_path_404_keeps_empty_details(raw: Raw) -> None:
    status, body = raw("GET", "/no/such/path")
    assert status == 404
    assert body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"the server could not find the requested resource","reason":"NotFound",'
        b'"details":{},"code":404}\n'
    )


def test_json_object_replies_end_with_a_newline(raw: Raw, namespace: str) -> None:
    status, body = raw("GET", f"/api/v1/namespaces/{namespace}")
    assert status == 200 and body.endswith(b"}\n")
    status, body = raw("GET", f"/api/v1/namespaces/{namespace}/configmaps")
    assert status == 200 and body.endswith(b"]}\n") and json.loads(body)["kind"] == "ConfigMapList"


def _secret(name: str, value: str) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": {"k": value}}
    ).encode()


def test_secret_base64_wrapped_over_lines_is_accepted_as_go_decodes_it(raw: Raw, namespace: str) -> None:
    status, body = raw("POST", f"/api/v1/namespaces/{namespace}/secrets", _secret("wrapped", "aGVs\nbG8=\n"))
    assert status == 201, body
    status, body = raw("GET", f"/api/v1/namespaces/{namespace}/secrets/wrapped")
    assert json.loads(body)["data"] == {"k": "aGVsbG8="}
    status, body = raw("POST", f"/api/v1/namespaces/{namespace}/secrets", _secret("bad", "aGVsbG8"))
    assert status == 400
    assert json.loads(body)["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    )


def test_server_side_apply_of_an_empty_map_then_a_key_keeps_the_key(kubectl: Any, namespace: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa}\ndata: %s\n"
    for data in ("{}", '{a: "3"}'):
        kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest % data)
    shown = kubectl("get", "configmap", "ssa", "-n", namespace, "-o", "jsonpath={.data}").stdout
    assert json.loads(shown) == {"a": "3"}


_TEMPLATE = {
    "metadata": {"labels": {"app": "z"}},
    "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
}


def test_new_statefulset_and_daemonset_carry_the_zero_counts(raw: Raw, namespace: str) -> None:
    selector = {"matchLabels": {"app": "z"}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "z"},
           "spec": {"selector": selector, "serviceName": "z", "replicas": 0, "template": _TEMPLATE}}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "z"},
          "spec": {"selector": selector, "template": _TEMPLATE}}
    status, body = raw("POST", f"/apis/apps/v1/namespaces/{namespace}/statefulsets", json.dumps(sts).encode())
    assert status == 201, body
    assert json.loads(body)["status"] == {"replicas": 0, "availableReplicas": 0}
    status, body = raw("POST", f"/apis/apps/v1/namespaces/{namespace}/daemonsets", json.dumps(ds).encode())
    assert status == 201, body
    assert json.loads(body)["status"] == {
        "currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0,
    }


def _node_client(control_plane: Any, node: str) -> Raw:
    context = ssl_context(control_plane.node_kubeconfig(node), control_plane.ca_file)

    def call(method: str, path: str, body: bytes | None = None,
             content_type: str = "application/strategic-merge-patch+json") -> tuple[int, bytes]:
        headers = {"Content-Type": content_type} if body is not None else {}
        req = urllib.request.Request(control_plane.server + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=context, timeout=30) as reply:
                return int(reply.status), bytes(reply.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    return call


def test_a_node_writing_a_deleted_pod_hears_404_not_403(control_plane: Any, raw: Raw, namespace: str) -> None:
    node = _node_client(control_plane, "parity-n1")
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for name, bound_to in (("mine", "parity-n1"), ("theirs", "parity-n2")):
        containers = [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"nodeName": bound_to, "containers": containers}}
        assert raw("POST", pods, json.dumps(pod).encode())[0] == 201
    patch = json.dumps({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}).encode()
    assert node("PATCH", f"{pods}/mine/status", patch)[0] == 200
    status, body = node("PATCH", f"{pods}/theirs/status", patch)
    assert status == 403, body
    assert raw("DELETE", f"{pods}/mine?gracePeriodSeconds=0")[0] == 200
    for method, path, payload in (
        ("PATCH", f"{pods}/mine/status", patch),
        ("PATCH", f"{pods}/mine", patch),
        ("PUT", f"{pods}/mine/status", json.dumps({"apiVersion": "v1", "kind": "Pod",
                                                   "metadata": {"name": "mine"}}).encode()),
        ("DELETE", f"{pods}/mine", None),
    ):
        status, body = node(method, path, payload, content_type="application/json" if method == "PUT"
                            else "application/strategic-merge-patch+json")
        assert status == 404, (method, path, body)
        assert body == (
            b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
            b'"message":"pods \\"mine\\" not found","reason":"NotFound",'
            b'"details":{"name":"mine","kind":"pods"},"code":404}\n'
        )


def test_objects_come_back_in_gos_field_order(kubectl: Any, raw: Raw, namespace: str) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: order, labels: {a: b}}\ndata: {k: v}\n"
    kubectl("create", "-n", namespace, "-f", "-", input=manifest)  # (kubectl sends keys sorted)
    _, body = raw("GET", f"/api/v1/namespaces/{namespace}/configmaps/order")
    shown = json.loads(body)
    assert list(shown)[:3] == ["kind", "apiVersion", "metadata"]
    meta = [k for k in shown["metadata"] if k not in ("resourceVersion", "managedFields")]
    assert meta == ["name", "namespace", "uid", "creationTimestamp", "labels"]
