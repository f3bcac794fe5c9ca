"""The sample-apiserver stand-in's REST semantics (kprov.conformance.wardle.api), on a
memory store: the answers the Aggregator conformance test checks, and upstream's errors."""

from __future__ import annotations

import json

from kprov.conformance.wardle.api import WardleAPI, attributes
from kprov.conformance.wardle.store import MemoryStore

_BASE = "/apis/wardle.example.com/v1alpha1"
_FLUNDERS = f"{_BASE}/namespaces/default/flunders"


def _flunder(name: str, **labels: str) -> bytes:
    return json.dumps({"apiVersion": "wardle.example.com/v1alpha1", "kind": "Flunder",
                       "metadata": {"name": name, "namespace": "default", "labels": labels}}).encode()


def test_create_list_delete_as_the_aggregator_test_drives_them() -> None:
    api = WardleAPI(MemoryStore())
    created = api.handle("POST", _FLUNDERS, {}, _flunder("rest-flunder-1", **{"sample-label": "true"}))
    assert created.status == 201
    body = created.body
    assert (body["apiVersion"], body["kind"], body["metadata"]["name"]) == (
        "wardle.example.com/v1alpha1", "Flunder", "rest-flunder-1")
    assert body["metadata"]["uid"] and body["metadata"]["creationTimestamp"].endswith("Z")
    assert int(body["metadata"]["resourceVersion"]) > 0
    listed = api.handle("GET", _FLUNDERS, {}, b"")
    assert listed.status == 200 and listed.body["kind"] == "FlunderList"
    assert [i["metadata"]["name"] for i in listed.body["items"]] == ["rest-flunder-1"]
    other_namespace = api.handle("GET", f"{_BASE}/namespaces/other/flunders", {}, b"")
    assert other_namespace.body["items"] == []
    deleted = api.handle("DELETE", f"{_FLUNDERS}/rest-flunder-1", {}, b"")
    assert deleted.status == 200 and deleted.body["metadata"]["name"] == "rest-flunder-1"
    assert api.handle("GET", _FLUNDERS, {}, b"").body["items"] == []
    gone = api.handle("GET", f"{_FLUNDERS}/rest-flunder-1", {}, b"")
    assert gone.status == 404 and gone.body["reason"] == "NotFound"
    assert gone.body["message"] == 'flunders.wardle.example.com "rest-flunder-1" not found'


def test_a_namespaced_create_takes_the_namespace_of_the_path_and_refuses_another() -> None:
    api = WardleAPI(MemoryStore())
    bare = json.dumps({"apiVersion": "wardle.example.com/v1alpha1", "kind": "Flunder",
                       "metadata": {"name": "dyn"}, "spec": {}}).encode()
    made = api.handle("POST", f"{_BASE}/namespaces/e2e/flunders", {}, bare)
    assert made.status == 201 and made.body["metadata"]["namespace"] == "e2e"
    assert api.handle("POST", f"{_BASE}/namespaces/e2e/flunders", {}, bare).status == 409
    elsewhere = _flunder("x").replace(b'"default"', b'"elsewhere"')
    assert api.handle("POST", _FLUNDERS, {}, elsewhere).status == 400
    assert api.handle("POST", _FLUNDERS, {}, b'{"kind": "Fischer"}').status == 400
    assert api.handle("POST", _FLUNDERS, {}, _flunder("Not_A_Name")).status == 422


def test_updates_check_the_resource_version_and_patches_merge() -> None:
    api = WardleAPI(MemoryStore())
    first = api.handle("POST", _FLUNDERS, {}, _flunder("f")).body
    stale = dict(first, spec={"reference": "a"})
    fresh = api.handle("PUT", f"{_FLUNDERS}/f", {}, json.dumps(stale).encode())
    assert fresh.status == 200 and fresh.body["spec"] == {"reference": "a"}
    assert fresh.body["metadata"]["uid"] == first["metadata"]["uid"]
    again = api.handle("PUT", f"{_FLUNDERS}/f", {}, json.dumps(stale).encode())  # the old resourceVersion
    assert again.status == 409 and again.body["reason"] == "Conflict"
    patched = api.handle("PATCH", f"{_FLUNDERS}/f", {}, b'{"metadata": {"labels": {"p": "1"}}}',
                         "application/merge-patch+json")
    assert patched.status == 200 and patched.body["metadata"]["labels"] == {"p": "1"}
    assert patched.body["spec"] == {"reference": "a"}
    assert api.handle("PATCH", f"{_FLUNDERS}/f", {}, b"[]", "application/json-patch+json").status == 415
    assert api.handle("PUT", f"{_FLUNDERS}/nope", {}, _flunder("nope")).status == 404


def test_label_selectors_and_deletecollection() -> None:
    api = WardleAPI(MemoryStore())
    for name, labels in (("a", {"x": "1"}), ("b", {"x": "2"}), ("c", {})):
        assert api.handle("POST", _FLUNDERS, {}, _flunder(name, **labels)).status == 201

    def names(selector: str) -> list[str]:
        listed = api.handle("GET", _FLUNDERS, {"labelSelector": [selector]}, b"")
        return [i["metadata"]["name"] for i in listed.body["items"]]

    assert names("x=1") == ["a"] and names("x!=1") == ["b", "c"] and names("x") == ["a", "b"]
    assert names("!x") == ["c"]
    assert api.handle("GET", _FLUNDERS, {"labelSelector": ["x in (1"]}, b"").status == 400
    swept = api.handle("DELETE", _FLUNDERS, {"labelSelector": ["x"]}, b"")
    assert sorted(i["metadata"]["name"] for i in swept.body["items"]) == ["a", "b"]
    assert names("") == ["c"]


def test_discovery_documents_and_unknown_paths() -> None:
    api = WardleAPI(MemoryStore())
    resources = api.handle("GET", _BASE, {}, b"").body
    assert resources["groupVersion"] == "wardle.example.com/v1alpha1"
    flunders = next(r for r in resources["resources"] if r["name"] == "flunders")
    assert flunders["namespaced"] and flunders["kind"] == "Flunder" and "watch" not in flunders["verbs"]
    group = api.handle("GET", "/apis/wardle.example.com", {}, b"").body
    assert group["preferredVersion"]["version"] == "v1beta1"  # as the sample-apiserver's scheme orders them
    assert [v["version"] for v in group["versions"]] == ["v1beta1", "v1alpha1"]
    assert api.handle("GET", "/apis", {}, b"").body["groups"][0]["name"] == "wardle.example.com"
    missing = api.handle("GET", f"{_BASE}/namespaces/default/widgets", {}, b"")
    assert missing.status == 404
    assert missing.body["message"] == "the server could not find the requested resource"
    assert api.handle("GET", _FLUNDERS, {"watch": ["true"]}, b"").status == 405


def test_authorization_attributes() -> None:
    assert attributes("GET", _FLUNDERS, {}) == ({
        "verb": "list", "group": "wardle.example.com", "version": "v1alpha1", "resource": "flunders",
        "namespace": "default", "name": ""}, False)
    assert attributes("DELETE", f"{_FLUNDERS}/x", {})[0]["verb"] == "delete"
    assert attributes("DELETE", _FLUNDERS, {})[0]["verb"] == "deletecollection"
    assert attributes("GET", _FLUNDERS, {"watch": ["1"]})[0]["verb"] == "watch"
    assert attributes("GET", f"{_BASE}/fischers/y", {})[0] | {} == {
        "verb": "get", "group": "wardle.example.com", "version": "v1alpha1", "resource": "fischers",
        "namespace": "", "name": "y"}
    assert attributes("GET", _BASE, {}) == ({"path": _BASE, "verb": "get"}, True)


def test_v1beta1_serves_the_same_flunders_and_no_fischers() -> None:
    api = WardleAPI(MemoryStore())
    created = api.handle("POST", _FLUNDERS, {}, b'{"metadata": {"name": "f1"}}')
    assert created.status == 201 and created.body["apiVersion"] == "wardle.example.com/v1alpha1"
    beta = "/apis/wardle.example.com/v1beta1/namespaces/default/flunders"
    shown = api.handle("GET", f"{beta}/f1", {}, b"")
    assert shown.status == 200 and shown.body["apiVersion"] == "wardle.example.com/v1beta1"
    listed = api.handle("GET", beta, {}, b"").body
    assert listed["apiVersion"] == "wardle.example.com/v1beta1"
    assert [i["apiVersion"] for i in listed["items"]] == ["wardle.example.com/v1beta1"]
    assert api.handle("GET", "/apis/wardle.example.com/v1beta1/fischers", {}, b"").status == 404
    assert attributes("GET", beta, {})[0]["version"] == "v1beta1"


def test_openapi_v3_index_names_a_document_per_version() -> None:
    api = WardleAPI(MemoryStore())
    index = api.handle("GET", "/openapi/v3", {}, b"").body["paths"]
    assert sorted(index) == ["apis/wardle.example.com/v1alpha1", "apis/wardle.example.com/v1beta1"]
    url = index["apis/wardle.example.com/v1beta1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/wardle.example.com/v1beta1?hash=")
    doc = api.handle("GET", url.split("?")[0], {}, b"").body
    assert doc["openapi"] == "3.0.0"
    flunder = doc["components"]["schemas"]["com.example.wardle.v1beta1.Flunder"]
    assert flunder["x-kubernetes-group-version-kind"] == [
        {"group": "wardle.example.com", "kind": "Flunder", "version": "v1beta1"}]
    assert "/apis/wardle.example.com/v1beta1/namespaces/{namespace}/flunders/{name}" in doc["paths"]
