"""GET /metrics on a real API server: Prometheus text with kube-apiserver's names, counting the
requests made, and served only to whom RBAC allows the non-resource URL (system:monitoring)."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.apiserver._http import request, ssl_context

NAMES = {
    "apiserver_request",
    "apiserver_request_duration_seconds",
    "apiserver_request_sli_duration_seconds",
    "apiserver_current_inflight_requests",
    "apiserver_storage_objects",
    "apiserver_watch_events",
    "etcd_request_duration_seconds",
}


def _families(text: str) -> dict[str, list]:  # type: ignore[type-arg]
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_count_requests_by_upstream_labels(control_plane, namespace):
    admin = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "metrics-probe"}}
    status, _, _ = request(
        control_plane.server, admin, "POST", f"/api/v1/namespaces/{namespace}/configmaps",
        json.dumps(cm).encode(),
    )
    assert status == 201
    request(control_plane.server, admin, "GET", f"/api/v1/namespaces/{namespace}/configmaps/absent")
    request(control_plane.server, admin, "GET", f"/api/v1/namespaces/{namespace}/configmaps")  # consistent
    status, head, text = request(control_plane.server, admin, "GET", "/metrics")
    assert status == 200, text
    assert head["Content-Type"].startswith("text/plain; version=0.0.4")
    families = _families(text)
    assert set(families) >= NAMES, NAMES - set(families)
    created = [
        s for s in families["apiserver_request"]
        if s.name == "apiserver_request_total" and s.labels["resource"] == "configmaps"
        and s.labels["verb"] == "POST" and s.labels["code"] == "201"
    ]
    assert created and created[0].value >= 1
    assert created[0].labels["scope"] == "resource" and created[0].labels["component"] == "apiserver"
    sli = [
        s for s in families["apiserver_request_sli_duration_seconds"]
        if s.name.endswith("_count") and s.labels["resource"] == "configmaps" and s.labels["verb"] == "POST"
    ]
    assert sli and sli[0].value >= 1 and "dry_run" not in sli[0].labels
    missing = [
        s for s in families["apiserver_request"]
        if s.name == "apiserver_request_total" and s.labels["resource"] == "configmaps"
        and s.labels["verb"] == "GET" and s.labels["code"] == "404"
    ]
    assert missing and missing[0].labels["scope"] == "resource"
    consistent = {
        (s.labels["success"], s.labels["fallback"]): s.value
        for s in families["apiserver_watch_cache_consistent_read"]
        if s.name.endswith("_total") and s.labels["resource"] == "configmaps"
    }
    assert consistent.get(("true", "false"), 0) >= 1, consistent  # from the watch cache
    stored = {s.labels["resource"]: s.value for s in families["apiserver_storage_objects"]}
    assert stored["configmaps"] >= 1 and stored["namespaces"] >= 1
    etcd = {s.labels["operation"] for s in families["etcd_request_duration_seconds"]}
    assert "create" in etcd
    # the admission chain: each plugin that admitted the create, and each stage, timed
    plugins = {
        (s.labels["name"], s.labels["type"], s.labels["rejected"])
        for s in families["apiserver_admission_controller_admission_duration_seconds"]
        if s.labels["operation"] == "CREATE" and s.name.endswith("_count")
    }
    assert ("MutatingAdmissionWebhook", "admit", "false") in plugins
    assert ("ValidatingAdmissionWebhook", "validate", "false") in plugins
    stages = {
        s.labels["type"]
        for s in families["apiserver_admission_step_admission_duration_seconds"]
        if s.labels["operation"] == "CREATE" and s.name.endswith("_count") and s.value >= 1
    }
    assert stages == {"admit", "validate"}


def test_metrics_need_the_monitoring_role(control_plane):
    stranger = ssl_context(control_plane.kubeconfig_for("metrics-stranger"), control_plane.ca_file)
    status, _, body = request(control_plane.server, stranger, "GET", "/metrics")
    assert status == 403
    assert body["message"] == 'forbidden: User "metrics-stranger" cannot get path "/metrics"'
    monitor = ssl_context(
        control_plane.kubeconfig_for("metrics-scraper", ["system:monitoring"]), control_plane.ca_file
    )
    status, _, text = request(control_plane.server, monitor, "GET", "/metrics")
    assert status == 200
    assert "apiserver_request_total" in text
    anonymous = ssl_context(None, control_plane.ca_file)
    assert request(control_plane.server, anonymous, "GET", "/metrics")[0] == 401
