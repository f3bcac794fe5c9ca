"""Events through core/v1 and events.k8s.io/v1 on a real API server: one stored object, two
views (the conformance specs' flow: create through events.k8s.io, find it through both
groups, by label and by field — core `source` falls back to the reporting controller —,
strategic-merge-patch the note, update a series, delete; delete a collection by label), and
events.k8s.io's strict validation answered with 422 and core field paths."""

from __future__ import annotations

import json
from typing import Any

from ._http import request, ssl_context


def _raw(control_plane, method: str, path: str, body: Any = None, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    context = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
    data = None if body is None else json.dumps(body).encode()
    status, _headers, payload = request(control_plane.server, context, method, path, data, content_type)
    return status, payload


def _event(name: str, namespace: str, label: str) -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "labels": {label: "true"}},
        "regarding": {"namespace": namespace},
        "eventTime": "2017-09-19T13:49:16.000000Z",
        "note": f"This is {name}",
        "action": "Do",
        "reason": "Test",
        "type": "Normal",
        "reportingController": "test-controller",
        "reportingInstance": "test-node",
    }


def _names(payload: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in payload["items"]]


def test_one_event_seen_fetched_patched_updated_and_deleted_through_both_groups(control_plane, namespace):
    v1 = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    core = f"/api/v1/namespaces/{namespace}/events"
    status, created = _raw(control_plane, "POST", v1, _event("event-test", namespace, "constant"))
    assert status == 201, created
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"] == "This is event-test"

    status, listed = _raw(control_plane, "GET", "/apis/events.k8s.io/v1/events?labelSelector=constant%3Dtrue")
    assert status == 200 and "event-test" in _names(listed)
    status, stored = _raw(control_plane, "GET", f"{core}/event-test")
    assert status == 200 and stored["message"] == "This is event-test"
    assert stored["involvedObject"] == {"namespace": namespace}
    assert stored["reportingComponent"] == "test-controller"
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]  # the same object
    status, by_source = _raw(control_plane, "GET", f"{core}?fieldSelector=source%3Dtest-controller")
    assert status == 200 and _names(by_source) == ["event-test"]
    status, by_controller = _raw(
        control_plane, "GET", f"{v1}?fieldSelector=reportingController%3Dtest-controller"
    )
    assert status == 200 and _names(by_controller) == ["event-test"]
    status, unknown = _raw(control_plane, "GET", f"{v1}?fieldSelector=involvedObject.name%3Dx")
    assert status == 400 and "field label not supported: involvedObject.name" in unknown["message"]

    status, before = _raw(control_plane, "GET", f"{v1}/event-test")
    status, patched = _raw(
        control_plane,
        "PATCH",
        f"{v1}/event-test",
        {"note": "patched"},
        "application/strategic-merge-patch+json",
    )
    assert status == 200, patched
    status, after = _raw(control_plane, "GET", f"{v1}/event-test")
    for obj in (before, after):
        obj["metadata"].pop("resourceVersion")
        obj["metadata"].pop("managedFields", None)
    assert after == {**before, "note": "patched"}

    series = {"count": 100, "lastObservedTime": "2017-09-19T13:49:16.000000Z"}
    status, updated = _raw(control_plane, "PUT", f"{v1}/event-test", {**after, "series": series})
    assert status == 200, updated
    status, stored = _raw(control_plane, "GET", f"{core}/event-test")
    assert stored["series"] == series and stored["message"] == "patched"

    status, refused = _raw(
        control_plane, "PUT", f"{v1}/event-test", {**after, "series": series, "reason": "X"}
    )
    assert status == 422 and refused["details"]["causes"][0]["field"] == "reason", refused

    assert _raw(control_plane, "DELETE", f"{v1}/event-test")[0] == 200
    assert _raw(control_plane, "GET", f"{core}/event-test")[0] == 404


def test_a_collection_deleted_through_events_k8s_io(control_plane, namespace):
    v1 = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    for name in ("test-event-1", "test-event-2", "test-event-3"):
        assert _raw(control_plane, "POST", v1, _event(name, namespace, "set"))[0] == 201
    status, listed = _raw(control_plane, "GET", f"{v1}?labelSelector=set%3Dtrue")
    assert status == 200 and len(listed["items"]) == 3
    assert _raw(control_plane, "DELETE", f"{v1}?labelSelector=set%3Dtrue")[0] == 200
    assert _raw(control_plane, "GET", f"{v1}?labelSelector=set%3Dtrue")[1]["items"] == []
    assert (
        _raw(control_plane, "GET", f"/api/v1/namespaces/{namespace}/events?labelSelector=set%3Dtrue")[1][
            "items"
        ]
        == []
    )


def test_strict_validation_through_events_k8s_io_only(control_plane, namespace):
    v1 = f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"
    bad = {**_event("bad", namespace, "x"), "type": "Odd", "deprecatedCount": 2}
    status, refused = _raw(control_plane, "POST", v1, bad)
    assert status == 422, refused
    fields = {c["field"] for c in refused["details"]["causes"]}
    assert fields == {"type", "count"}
    core = {
        "metadata": {"name": "old-style"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": namespace},
        "reason": "Pulled",
        "message": "m",
        "type": "Normal",
        "count": 2,
        "source": {"component": "kubelet"},
    }
    status, created = _raw(control_plane, "POST", f"/api/v1/namespaces/{namespace}/events", core)
    assert status == 201, created
    status, shown = _raw(control_plane, "GET", f"{v1}/old-style")
    assert status == 200 and shown["deprecatedCount"] == 2 and shown["regarding"]["name"] == "p"
    assert shown["deprecatedSource"] == {"component": "kubelet"} and shown["note"] == "m"
