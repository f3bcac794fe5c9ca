"""Every write records a field manager, as kube-apiserver's: ``?fieldManager=`` or the
User-Agent's product; bad write options are refused with upstream's 422 bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

E2E_AGENT = "e2e.test/v1.28.0 (linux/amd64) kubernetes/abc1234 -- [sig-api-machinery] ServerSideApply"


def _body(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"], e.get("subresource", "")): e["fieldsV1"]
            for e in obj["metadata"].get("managedFields", [])}


def test_a_write_without_a_field_manager_belongs_to_its_user_agent(admin, namespace):
    """...and a later apply of that field conflicts with it."""
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    agent = {"User-Agent": E2E_AGENT}
    made = _body({"metadata": {"name": "cm"}, "data": {"a": "1"}})
    status, _, created = admin("POST", base, made, headers=agent)
    assert status == 201, created
    assert "f:a" in _entries(created)[("e2e.test", "Update", "")]["f:data"]
    created["data"]["b"] = "2"
    status, _, updated = admin("PUT", f"{base}/cm", _body(created), headers={"User-Agent": "tool/1.0"})
    assert status == 200, updated
    assert set(_entries(updated)[("tool", "Update", "")]["f:data"]) - {"."} == {"f:b"}
    apply = _body({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "9"}})
    status, _, refused = admin("PATCH", f"{base}/cm?fieldManager=applier", apply,
                               content_type="application/apply-patch+yaml")
    assert status == 409, refused
    assert refused["message"] == 'Apply failed with 1 conflict: conflict with "e2e.test" using v1: .data.a'


def test_a_scale_is_recorded_as_the_scale_subresource(admin, namespace):
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    template = {"metadata": {"labels": {"app": "s"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    deployment = {"metadata": {"name": "d"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}}, "template": template}}
    assert admin("POST", f"{base}?fieldManager=creator", _body(deployment))[0] == 201
    status, _, scale = admin("PATCH", f"{base}/d/scale", _body({"spec": {"replicas": 3}}),
                             content_type="application/merge-patch+json", headers={"User-Agent": "scaler/2"})
    assert status == 200 and scale["spec"]["replicas"] == 3, scale
    _, _, live = admin("GET", f"{base}/d")
    entries = _entries(live)
    assert entries[("scaler", "Update", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entries[("creator", "Update", "")]["f:spec"]


@pytest.mark.parametrize(
    ("method", "query", "content_type", "message", "kind"),
    [
        ("POST", "fieldManager=" + "m" * 129, "application/json",
         'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: must have at most 128 bytes',
         "CreateOptions"),
        ("PATCH", "fieldManager=a%07b", "application/merge-patch+json",
         'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Invalid value: "a\\u0007b": '
         "invalid character U+0007 (at position 1)", "PatchOptions"),
        ("PATCH", "force=true", "application/merge-patch+json",
         'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
         "PatchOptions"),
        ("PATCH", "", "application/apply-patch+yaml",
         'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
         "PatchOptions"),
    ],
)
def test_bad_write_options_are_refused_as_upstream(  # type: ignore[no-untyped-def]
    admin, namespace, method, query, content_type, message, kind
):
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    assert admin("POST", base, _body({"metadata": {"name": "o"}}))[0] == 201
    path = f"{base}?{query}" if method == "POST" else f"{base}/o?{query}"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}, "data": {"k": "v"}}
    status, _, refused = admin(method, path, _body(body), content_type=content_type)
    assert status == 422, refused
    assert refused["message"] == message
    assert refused["reason"] == "Invalid"
    assert refused["details"]["group"] == "meta.k8s.io" and refused["details"]["kind"] == kind
    assert "name" not in refused["details"]


def test_kubectl_server_side_apply_of_a_port_without_protocol_is_idempotent(kubectl, namespace):  # type: ignore[no-untyped-def]
    spec = {"selector": {"app": "web"}, "ports": [{"port": 80, "name": "http"}]}  # no protocol
    manifest = json.dumps({"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "web", "namespace": namespace}, "spec": spec})
    for _ in range(2):
        kubectl("apply", "--server-side", "-f", "-", input=manifest)
    live = json.loads(kubectl("get", "service", "web", "-n", namespace, "-o", "json").stdout)
    assert [(p["port"], p["protocol"]) for p in live["spec"]["ports"]] == [(80, "TCP")]
